"""Erlang A (M/M/N+M) against published formulas and values, its exact special cases, and a
discrete-event simulation of the same queue."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from alohub_assets.storage import erlang_a, erlang_c


def published_wait_and_abandon(lam: float, mu: float, theta: float, n: int) -> tuple[float, float]:
    """Mandelbaum and Zeltyn (2007), section 4: with A(x, y) = x e^y y^-x gamma(x, y) and E the
    Erlang B probability, P(W > 0) = E A / (1 + (A - 1) E), P(Ab | W > 0) = 1 / (rho A) + 1 - 1 /
    rho. Evaluated here through scipy's regularized incomplete gamma function (small cases)."""
    from scipy import special  # here: collecting the module on every worker skips its import

    x, y, rho = n * mu / theta, lam / theta, lam / (n * mu)
    big_a = math.exp(math.log(x) + y - x * math.log(y) + special.gammaln(x)) * special.gammainc(
        x, y
    )
    e = erlang_c.erlang_b(n, lam / mu)
    p_wait = e * big_a / (1 + (big_a - 1) * e)
    return p_wait, p_wait * (1 / (rho * big_a) + 1 - 1 / rho)


@pytest.mark.parametrize(
    "calls, aht, patience, agents",
    [
        (100, 180, 120, 12),
        (100, 180, 120, 9),
        (180, 200, 60, 18),
        (300, 300, 90, 45),
        (60, 240, 30, 4),
    ],
)
def test_wait_and_abandon_probabilities_match_the_published_formulas(calls, aht, patience, agents):
    lam, mu, theta = calls / 1800, 1 / aht, 1 / patience
    figures = erlang_a.queue_figures(lam, mu, theta, agents, 20, 5)
    p_wait, p_ab = published_wait_and_abandon(lam, mu, theta, agents)
    assert float(figures.wait_probability) == pytest.approx(p_wait, rel=1e-9)
    assert float(figures.abandon_probability) == pytest.approx(p_ab, rel=1e-9)


def test_without_abandons_it_is_erlang_c_and_the_published_erlang_c_values():
    # 100 calls in 30 min, AHT 180 s, 14 agents: P(wait) 0.1741319 and 80/20 service level 0.88835
    # (the R package ErlangC's documented example; docs/data-contract.md's check).
    figures = erlang_a.queue_figures(100 / 1800, 1 / 180, 1e-9, 14, 20)
    assert float(figures.wait_probability) == pytest.approx(0.1741319, abs=1e-6)
    assert float(figures.answered_within) == pytest.approx(0.88835, abs=1e-5)
    assert float(figures.abandon_probability) < 1e-6


def test_patience_equal_to_handle_time_is_the_infinite_server_queue():
    # theta = mu: everyone in the system leaves at rate mu, so the number in it is Poisson(A).
    lam, mu, n = 150 / 1800, 1 / 200, 14
    load = lam / mu
    figures = erlang_a.queue_figures(lam, mu, mu, n, 20)
    from scipy import stats  # here: collecting the module on every worker skips its import

    in_system = stats.poisson(load)
    assert float(figures.wait_probability) == pytest.approx(in_system.sf(n - 1), rel=1e-9)
    queue = sum((k - n) * in_system.pmf(k) for k in range(n, 200))
    assert float(figures.abandon_probability) == pytest.approx(queue / load, rel=1e-9)


def simulate(lam, mu, theta, n, sl_seconds, short_seconds, calls, seed):
    """First come first served with impatient callers: a caller who would wait longer than their
    patience leaves without taking an agent, so the earliest free agent decides each wait."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / lam, calls))
    services = rng.exponential(1 / mu, calls)
    patience = rng.exponential(1 / theta, calls)
    free = [0.0] * n
    answered_in_time = abandoned = short = waited = 0
    for t, service, tau in zip(
        arrivals.tolist(), services.tolist(), patience.tolist(), strict=True
    ):
        wait = max(free[0] - t, 0.0)
        if wait > 0:
            waited += 1
        if wait > tau:
            abandoned += 1
            short += tau < short_seconds
            continue
        answered_in_time += wait <= sl_seconds
        heapq.heapreplace(free, t + wait + service)
    counted = calls  # the queue starts empty; with this many calls the start is negligible
    return {
        "wait_probability": waited / counted,
        "abandon_rate": (abandoned - short) / (counted - short),
        "service_level": answered_in_time / (counted - short),
    }


@pytest.mark.parametrize("agents", [12, 9])
def test_figures_match_a_discrete_event_simulation_of_the_queue(agents):
    lam, mu, theta = 100 / 1800, 1 / 180, 1 / 120
    simulated = simulate(lam, mu, theta, agents, 20, 5, calls=150_000, seed=agents)
    figures = erlang_a.queue_figures(lam, mu, theta, agents, 20, 5)
    assert float(figures.wait_probability) == pytest.approx(simulated["wait_probability"], abs=0.01)
    assert float(figures.abandon_rate) == pytest.approx(simulated["abandon_rate"], abs=0.01)
    assert float(figures.service_level) == pytest.approx(simulated["service_level"], abs=0.01)


def test_staffing_is_the_fewest_agents_meeting_the_target_and_fewer_than_erlang_c():
    calls = np.array([100.0, 240.0, 12.0, 0.0])
    aht = np.array([180.0, 240.0, 150.0, 180.0])
    patience = np.array([120.0, 90.0, 200.0, 120.0])
    sized = erlang_a.required_agents(calls, aht, patience, 1800, 20, 0.8, 0.85, 5)
    assert sized.agents.tolist()[3] == 1  # no calls: one agent, as Erlang C says
    for k in range(3):
        lam, mu, theta = calls[k] / 1800, 1 / aht[k], 1 / patience[k]
        at = erlang_a.queue_figures(lam, mu, theta, sized.agents[k], 20, 5)
        below = erlang_a.queue_figures(lam, mu, theta, sized.agents[k] - 1, 20, 5)
        assert at.service_level >= 0.8 and at.occupancy <= 0.85
        assert below.service_level < 0.8 or below.occupancy > 0.85
        assert sized.service_level[k] == pytest.approx(float(at.service_level))
        erlang_c_agents = erlang_c.required_agents(calls[k] * aht[k] / 1800, aht[k]).agents
        assert sized.agents[k] <= erlang_c_agents
    assert sized.agents[0] == 12  # the 100-calls case: Erlang C needs 14


def test_patience_estimate_treats_answered_waits_as_censored():
    rng = np.random.default_rng(3)
    patience = rng.exponential(90, 40_000)
    offered_wait = rng.exponential(30, 40_000)  # the wait before an agent would answer
    abandoned = patience < offered_wait
    waits = np.minimum(patience, offered_wait)
    estimate = erlang_a.patience_seconds(abandoned.sum(), waits.sum())
    assert estimate == pytest.approx(90, rel=0.04)
    # Abandoned waits alone (ignoring the censored answered calls) would say about 23 s.
    assert waits[abandoned].mean() < 30
    assert erlang_a.patience_seconds(0, 1000.0) is None
