"""Erlang A (Palm's M/M/N+M queue): staffing when callers hang up. No Dagster; numpy and
scipy, vectorized over intervals.

Calls arrive at rate lambda, agents serve at rate mu = 1 / AHT, and a waiting caller hangs up
after an exponential patience of mean 1 / theta. Erlang C is the case theta = 0 (nobody hangs
up), which is why it overstaffs: callers who leave shorten the queue for the others.

The formulas are exact (no diffusion approximation), from Mandelbaum and Zeltyn, "The
Palm/Erlang-A queue, with applications to call centers" (Technion, 2005/2007, section 4;
Garnett, Mandelbaum and Reiman, MSOM 4(3), 2002, for the model). With c = N mu / theta,
a = lambda / theta, rho = lambda / (N mu), E the Erlang B blocking probability of N agents and
lambda / mu Erlangs, and

    A(x, y) = x e^y y^-x gamma(x, y) = 1 + sum_{j>=1} y^j / ((x+1)...(x+j))

(gamma the lower incomplete gamma function):

    P(W > 0)      = E A(c, a) / (1 + (A(c, a) - 1) E)
    P(Ab | W > 0) = 1 / (rho A(c, a)) + 1 - 1 / rho

For the service level the offered wait V (what a caller would wait with infinite patience)
is needed: P(V > t) = P(W > 0) gamma(c, a z) / gamma(c, a) with z = e^(-theta t) (the sum
over the queue position an arrival finds, each position's wait a sum of exponentials; derived
in docs/forecasting.md). Integrating it against the caller's own patience gives

    P(answered, W <= T) = 1 - P(W > 0) + P(W > 0) (c / a) [1 - R(T) - 1 / A + g(T)]
    P(abandoned, W < t) = P(W > 0) [1 - c / a + (c / a)(1 / A - g(t)) - R(t) (z - c / a)]

with R(t) = gamma(c, a z) / gamma(c, a) and g(t) = z^c e^(a (1 - z)) / A. The tests check
these against the published closed forms evaluated independently, the Erlang C limit, the
theta = mu case (the number in the system is then Poisson, as in M/M/infinity) and a
discrete-event simulation of the queue.

The service level and abandon rate follow the KPI tables' definitions: calls that hang up
within the short-abandon threshold leave the denominator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Below this a / c the series of A converges in a few dozen terms (and the regularized
#: incomplete gamma function would underflow); above it the gamma function is used.
_SERIES_BELOW = 0.8
_SERIES_TERMS = 400
#: A patience this long (or no abandon observed) is Erlang C for all practical purposes.
MAX_PATIENCE_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class QueueFigures:
    """Per interval: the queue's figures at the given number of agents."""

    wait_probability: np.ndarray  # P(W > 0)
    abandon_probability: np.ndarray  # P(Ab), every abandon
    answered_within: np.ndarray  # P(answered with W <= T)
    short_abandon_probability: np.ndarray  # P(abandoned with W < short-abandon threshold)
    occupancy: np.ndarray  # carried traffic / agents

    @property
    def service_level(self) -> np.ndarray:
        """Answered within T / (offered - short abandons), as the KPI tables count it."""
        return self.answered_within / (1 - self.short_abandon_probability)

    @property
    def abandon_rate(self) -> np.ndarray:
        """Abandoned (not short) / (offered - short abandons), as the KPI tables count it."""
        return (self.abandon_probability - self.short_abandon_probability) / (
            1 - self.short_abandon_probability
        )


def erlang_b(agents: np.ndarray, offered_load: np.ndarray) -> np.ndarray:
    """Blocking probability B(N, A) by the recursion B(n) = A B(n-1) / (n + A B(n-1)),
    vectorized over rows (each row stops at its own N)."""
    agents = np.asarray(agents, dtype=np.int64)
    load = np.asarray(offered_load, dtype=float)
    b = np.ones(np.broadcast(agents, load).shape)
    agents, load = np.broadcast_to(agents, b.shape), np.broadcast_to(load, b.shape)
    for n in range(1, int(agents.max(initial=0)) + 1):
        step = n <= agents
        b = np.where(step, load * b / (n + load * b), b)
    return b


def _log_a_series(c: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log A(c, y) from its series (for y < c: the terms shrink at least geometrically)."""
    term = np.ones_like(y)
    total = np.ones_like(y)
    for m in range(1, _SERIES_TERMS + 1):
        term = term * y / (c + m)
        total = total + term
        if np.all(term <= 1e-17 * total):
            break
    return np.log(total)


def _log_a(c: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log A(c, y) = log(c e^y y^-c gamma(c, y)), stable for large c and y."""
    series = y < _SERIES_BELOW * c
    out = np.empty_like(y)
    if series.any():
        out[series] = _log_a_series(c[series], y[series])
    rest = ~series
    if rest.any():
        from scipy import special  # when sizing: scipy stays out of every Dagster process start

        cr, yr = c[rest], y[rest]
        out[rest] = (
            yr - cr * np.log(yr) + special.gammaln(cr + 1) + np.log(special.gammainc(cr, yr))
        )
    return out


def _gamma_ratio(c: np.ndarray, a: np.ndarray, z: np.ndarray, log_a_ca: np.ndarray) -> np.ndarray:
    """R = gamma(c, a z) / gamma(c, a) for 0 < z <= 1."""
    y = a * z
    out = np.empty_like(a)
    series = a < _SERIES_BELOW * c  # then a z < 0.8 c too
    if series.any():
        # gamma(c, y) = y^c e^-y A(c, y) / c, so R = z^c e^(a (1 - z)) A(c, a z) / A(c, a).
        cs, as_, zs = c[series], a[series], z[series]
        log_r = cs * np.log(zs) + as_ * (1 - zs) + _log_a_series(cs, as_ * zs) - log_a_ca[series]
        out[series] = np.exp(np.minimum(log_r, 0.0))
    rest = ~series
    if rest.any():
        from scipy import special

        out[rest] = special.gammainc(c[rest], y[rest]) / special.gammainc(c[rest], a[rest])
    return np.clip(out, 0.0, 1.0)


def queue_figures(
    arrival_rate: np.ndarray,
    service_rate: np.ndarray,
    patience_rate: np.ndarray,
    agents: np.ndarray,
    service_level_seconds: float,
    short_abandon_seconds: float = 0.0,
) -> QueueFigures:
    """The M/M/N+M queue's figures per row (rates per second, ``agents`` >= 1). A row with no
    arrivals has nothing waiting: service level 1, no abandon."""
    lam, mu, theta, n = np.broadcast_arrays(
        np.asarray(arrival_rate, dtype=float),
        np.asarray(service_rate, dtype=float),
        np.asarray(patience_rate, dtype=float),
        np.asarray(agents, dtype=float),
    )
    shape = lam.shape
    lam, mu, theta, n = (x.ravel() for x in (lam, mu, theta, n))
    if np.any(n < 1) or np.any(mu <= 0) or np.any(theta <= 0) or np.any(lam < 0):
        raise ValueError("Erlang A needs agents >= 1, AHT > 0, patience > 0 and arrivals >= 0")
    busy = lam > 0
    wait = np.zeros_like(lam)
    abandon = np.zeros_like(lam)
    answered = np.ones_like(lam)
    short = np.zeros_like(lam)
    if busy.any():
        lb, mb, tb, nb = lam[busy], mu[busy], theta[busy], n[busy]
        c, a = nb * mb / tb, lb / tb
        log_big_a = _log_a(c, a)
        blocking = erlang_b(nb.astype(np.int64), lb / mb)
        # P(W > 0) = E A / (1 + (A - 1) E) = 1 / (1 + (1 - E) / (E A))
        with np.errstate(over="ignore", divide="ignore"):
            p_wait = 1 / (1 + (1 - blocking) * np.exp(-(np.log(blocking) + log_big_a)))
        inv_a = np.exp(-log_big_a)
        ratio = c / a  # 1 / rho
        p_ab = p_wait * (1 - ratio + ratio * inv_a)

        def at(seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            z = np.exp(-tb * seconds)
            g = np.exp(np.minimum(-nb * mb * seconds + a * (1 - z) - log_big_a, 0.0))
            return z, g, _gamma_ratio(c, a, z, log_big_a)

        _, g_t, r_t = at(service_level_seconds)
        served = 1 - p_wait + p_wait * ratio * (1 - r_t - inv_a + g_t)
        if short_abandon_seconds > 0:
            z_s, g_s, r_s = at(short_abandon_seconds)
            p_short = p_wait * (1 - ratio + ratio * (inv_a - g_s) - r_s * (z_s - ratio))
        else:
            p_short = np.zeros_like(p_wait)
        wait[busy] = p_wait
        abandon[busy] = np.clip(p_ab, 0.0, 1.0)
        answered[busy] = np.clip(served, 0.0, 1.0)
        short[busy] = np.clip(p_short, 0.0, abandon[busy])
    occupancy = lam * (1 - abandon) / mu / n
    return QueueFigures(*(x.reshape(shape) for x in (wait, abandon, answered, short, occupancy)))


@dataclass(frozen=True)
class ErlangAStaffing:
    agents: np.ndarray
    service_level: np.ndarray
    abandon_rate: np.ndarray
    occupancy: np.ndarray


def required_agents(
    offered_calls: np.ndarray,
    aht_seconds: np.ndarray,
    patience_seconds: np.ndarray,
    interval_seconds: float,
    service_level_seconds: float = 20,
    target_level: float = 0.8,
    max_occupancy: float = 0.85,
    short_abandon_seconds: float = 0.0,
) -> ErlangAStaffing:
    """Per interval, the smallest N >= 1 whose service level reaches ``target_level`` with
    occupancy at most ``max_occupancy``, and the service level, abandon rate and occupancy at
    that N. A bisection over N, every interval at once (O(log N) evaluations)."""
    if not 0 < target_level < 1 or not 0 < max_occupancy <= 1:
        raise ValueError("target_level must be in (0, 1) and max_occupancy in (0, 1]")
    calls, aht, patience = np.broadcast_arrays(
        np.asarray(offered_calls, dtype=float),
        np.asarray(aht_seconds, dtype=float),
        np.asarray(patience_seconds, dtype=float),
    )
    if np.any(~np.isfinite(calls) | (calls < 0)) or np.any(~np.isfinite(aht) | (aht <= 0)):
        raise ValueError("offered calls must be >= 0 and AHT > 0 (finite)")
    patience = np.clip(np.nan_to_num(patience, nan=MAX_PATIENCE_SECONDS), 1.0, MAX_PATIENCE_SECONDS)
    lam, mu, theta = calls / interval_seconds, 1 / aht, 1 / patience

    def meets(agents: np.ndarray) -> tuple[np.ndarray, QueueFigures]:
        figures = queue_figures(
            lam, mu, theta, agents, service_level_seconds, short_abandon_seconds
        )
        ok = (figures.service_level >= target_level) & (figures.occupancy <= max_occupancy)
        return ok, figures

    load = lam / mu
    hi = np.maximum(np.ceil(load / max_occupancy), 1).astype(np.int64)
    for _ in range(64):
        ok, _ = meets(hi)
        if ok.all():
            break
        hi = np.where(ok, hi, hi * 2)
    else:
        raise ArithmeticError("Erlang A: no staffing reaches the target")
    lo = np.zeros_like(hi)  # never enough
    while np.any(hi - lo > 1):
        mid = np.where(hi - lo > 1, (lo + hi) // 2, hi)
        ok, _ = meets(mid)
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    _, figures = meets(hi)
    return ErlangAStaffing(hi, figures.service_level, figures.abandon_rate, figures.occupancy)


def patience_seconds(abandoned_calls: float, total_wait_seconds: float) -> float | None:
    """Mean patience, the maximum-likelihood estimate for exponential patience from call logs:
    abandoned calls are observed patiences, answered calls' waits are censored ones (the caller
    would have waited at least that long), so 1 / theta = sum of all waits / abandons
    (Mandelbaum and Zeltyn: P(Ab) / E[W] estimates theta). None when nobody abandoned."""
    if abandoned_calls <= 0 or total_wait_seconds <= 0 or math.isnan(total_wait_seconds):
        return None
    return min(total_wait_seconds / abandoned_calls, MAX_PATIENCE_SECONDS)
