"""Offered calls per interval for the next days: the method, Vietnamese holidays, p10/p90 bands,
the fallbacks for a short history, and the seasonal-naive baseline it is measured against.

No Dagster and no rows: the history is one dense array ``counts[series, day, interval]`` (series
``*`` = every inbound call, then one per hotline; a day without ``call_logs`` is NaN, not 0), and
every step is numpy over that array, so two years of ten hotlines take milliseconds.

The method (``weekday_trend``; docs/forecasting.md says why), per series:

1. Normal days are the days with data that are not holidays (Vietnam's public holidays from the
   ``holidays`` package, Tết by the lunar calendar, plus the center's ``closed_days``), from the
   series' first call on. Only they are learned from, so a holiday never drags its weekday down.
2. Over the last ``WINDOW_WEEKS`` weeks of normal days: a weekday factor (the weekday's mean day
   over the mean of the seven) and an intraday profile per weekday (each interval's share of
   the weekday's calls, shrunk towards the all-week profile by ``PROFILE_PRIOR_CALLS`` calls).
3. A level with a linear trend, fitted by least squares to the days' totals divided by their
   weekday factor, extrapolated to each forecast day (kept within +-50 % of the window's mean).
4. Forecast = level(day) x weekday factor x profile(weekday, interval).
5. A holiday in the horizon is the normal forecast times the ratio actual / normal of the past
   holidays of the same name, else of the same kind (Tết, the center's closed days, other
   holidays), else of all past holidays, else ``holiday_factor``.
6. p10/p90: a negative-binomial-like spread around the forecast, var = phi x mean x (1 + 1/K),
   phi the series' overdispersion measured on the window, with a skew (Cornish-Fisher) term.

With fewer than ``MIN_WEEKS`` weeks of history the same steps run on what there is and say so:
2-7 weeks ``weekday_average`` (no trend), 1 week ``seasonal_naive`` (the weekday a week
before), less than a week ``daily_average`` (each interval's mean over the days there are).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import holidays as holiday_calendars
import numpy as np

ALL_HOTLINES = "*"
HORIZON_DAYS = 14
#: Weeks of normal days the weekday factors, profiles and trend learn from.
WINDOW_WEEKS = 8
#: Below this many weeks of history the forecast falls back (and says so).
MIN_WEEKS = 8
#: Days of call_logs read before as_of: two years, so that last year's Tết is in the history.
LOOKBACK_DAYS = 728
#: How many calls' weight the all-week intraday profile has in each weekday's profile.
PROFILE_PRIOR_CALLS = 20.0
#: Weeks before a past holiday whose same weekday makes its "normal day" baseline.
HOLIDAY_BASELINE_WEEKS = 4
#: A series whose past holidays' baseline holds fewer calls borrows the ratio of ``*``.
HOLIDAY_MIN_BASELINE_CALLS = 50.0
#: The trend may move the level at most this far from the window's mean level.
TREND_MAX_CHANGE = 0.5
#: Extra relative spread of a holiday's forecast (its factor is learned from few days).
HOLIDAY_RELATIVE_SD = 0.25
_Z90 = 1.2815515655446004  # standard normal 0.9 quantile

METHOD_MAIN = "weekday_trend"
METHOD_AVERAGE = "weekday_average"
METHOD_NAIVE = "seasonal_naive"
METHOD_DAILY = "daily_average"
METHOD_HOLIDAY_HISTORY = "holiday_history"
METHOD_HOLIDAY_FACTOR = "holiday_factor"
CLOSED_DAY = "closed (settings closed_days)"


class ForecastError(ValueError):
    """The history cannot give a forecast (no day of call_logs at all)."""


@dataclass(frozen=True)
class History:
    """Inbound calls per series, day and interval. ``counts[s, d, i]``: calls of series ``s``
    (``series[0]`` is ``*``) on ``first_day + d`` in interval ``i``; NaN for a day without
    ``call_logs`` (unknown, not zero)."""

    first_day: date
    series: tuple[str, ...]
    counts: np.ndarray

    @property
    def n_days(self) -> int:
        return self.counts.shape[1]

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.n_days - 1)

    @property
    def n_intervals(self) -> int:
        return self.counts.shape[2]

    def day(self, index: int) -> date:
        return self.first_day + timedelta(days=index)

    def until(self, last_day: date) -> History:
        """The history as it stood on ``last_day`` (for backtests)."""
        keep = (last_day - self.first_day).days + 1
        if keep < 1:
            raise ForecastError(f"no history before {last_day}")
        return History(self.first_day, self.series, self.counts[:, :keep])

    @classmethod
    def from_counts(
        cls,
        first_day: date,
        last_day: date,
        intervals: int,
        loaded_days: Iterable[date],
        days: Sequence[date] | np.ndarray,
        hotlines: Sequence[str | None] | np.ndarray,
        interval_index: Sequence[int] | np.ndarray,
        calls: Sequence[int] | np.ndarray,
    ) -> History:
        """From one row per (day, hotline, interval) with calls; ``hotline`` None is an inbound
        call without a hotline (counted in ``*`` only). Days of ``loaded_days`` without rows had
        no inbound call (zeros); other days are unknown (NaN)."""
        n_days = (last_day - first_day).days + 1
        if n_days < 1:
            raise ForecastError(f"empty history {first_day}..{last_day}")
        day_index = (
            np.asarray(days, dtype="datetime64[D]") - np.datetime64(first_day, "D")
        ).astype(np.int64)
        hotline_arr = np.asarray(hotlines, dtype=object)
        interval_arr = np.asarray(interval_index, dtype=np.int64)
        calls_arr = np.asarray(calls, dtype=np.float64)
        if len(day_index) and (
            day_index.min() < 0
            or day_index.max() >= n_days
            or interval_arr.min() < 0
            or interval_arr.max() >= intervals
        ):
            raise ForecastError("a count row lies outside the history's days or intervals")
        named = np.array([h is not None for h in hotline_arr], dtype=bool)
        names = sorted({str(h) for h in hotline_arr[named]} - {ALL_HOTLINES})
        series = (ALL_HOTLINES, *names)
        position = {name: n + 1 for n, name in enumerate(names)}
        counts = np.zeros((len(series), n_days, intervals))
        np.add.at(counts[0], (day_index, interval_arr), calls_arr)
        if named.any():
            series_index = np.array([position[str(h)] for h in hotline_arr[named]], dtype=np.int64)
            np.add.at(
                counts, (series_index, day_index[named], interval_arr[named]), calls_arr[named]
            )
        loaded = np.zeros(n_days, dtype=bool)
        for day in loaded_days:
            offset = (day - first_day).days
            if 0 <= offset < n_days:
                loaded[offset] = True
        if len(day_index):
            loaded[day_index] = True  # a day with calls was loaded
        counts[:, ~loaded, :] = np.nan
        return cls(first_day, series, counts)


def holiday_calendar(first_day: date, last_day: date, closed_days: Iterable[date] = ()) -> dict:
    """Vietnam's public holidays (``holidays.country_holidays("VN")``: Tết by the lunar
    calendar, Hùng Kings, 30/4, 1/5, 2/9, days in lieu) and the center's own closed days, as
    ``{date: name}`` for ``first_day..last_day``."""
    years = range(first_day.year, last_day.year + 1)
    calendar = holiday_calendars.country_holidays("VN", years=list(years))
    days = {day: str(name) for day, name in calendar.items() if first_day <= day <= last_day}
    for day in closed_days:
        if first_day <= day <= last_day:
            days[day] = CLOSED_DAY
    return days


@dataclass
class Forecast:
    """``mean``, ``p10``, ``p90``: [series, day, interval] for ``days``; ``method``: [series,
    day]; ``info``: what the metadata reports (history, fallback, holiday factors, spread)."""

    series: tuple[str, ...]
    days: list[date]
    mean: np.ndarray
    p10: np.ndarray
    p90: np.ndarray
    method: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def _weekday_onehot(first_day: date, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    weekday = (first_day.weekday() + np.arange(n_days)) % 7
    return weekday, np.eye(7)[weekday]


def _holiday_mask(first_day: date, n_days: int, holidays: dict) -> np.ndarray:
    mask = np.zeros(n_days, dtype=bool)
    for day in holidays:
        offset = (day - first_day).days
        if 0 <= offset < n_days:
            mask[offset] = True
    return mask


def forecast(
    history: History,
    as_of: date,
    holidays: dict[date, str],
    holiday_factor: float = 0.3,
    horizon_days: int = HORIZON_DAYS,
) -> Forecast:
    """The ``horizon_days`` days after ``as_of``, learned from ``history`` (which ends on
    ``as_of`` or before it, when ``as_of`` itself is not complete)."""
    counts = history.counts
    n_series, n_days, n_intervals = counts.shape
    totals = counts.sum(axis=2)  # NaN where the day is unknown
    present = ~np.isnan(totals)
    if not present[0].any():
        raise ForecastError(
            f"no day of call_logs in {history.first_day}..{history.last_day}: nothing to learn"
        )
    filled = np.where(present, totals, 0.0)
    active = np.cumsum(filled > 0, axis=1) > 0  # from the series' first call on
    is_holiday = _holiday_mask(history.first_day, n_days, holidays)
    known = present & active
    normal = known & ~is_holiday
    weekday, onehot = _weekday_onehot(history.first_day, n_days)
    day_offset = np.arange(n_days) - (n_days - 1)  # 0 = the history's last day

    # How much history each series has, and the method that gives.
    weeks = known.sum(axis=1) // 7
    window_weeks = np.minimum(weeks, WINDOW_WEEKS)
    window_days = np.where(window_weeks > 0, 7 * window_weeks, n_days)
    in_window = normal & (day_offset[None, :] > -window_days[:, None])
    base_method = np.where(
        weeks >= MIN_WEEKS,
        METHOD_MAIN,
        np.where(weeks >= 2, METHOD_AVERAGE, np.where(weeks == 1, METHOD_NAIVE, METHOD_DAILY)),
    )
    by_weekday = weeks >= 1
    with_trend = weeks >= MIN_WEEKS
    # A series whose window holds no normal day learns from its holidays too (better than nothing).
    empty = ~in_window.any(axis=1)
    in_window[empty] = known[empty]

    window_totals = np.where(in_window, filled, 0.0)
    window_counts = np.where(in_window[:, :, None], np.nan_to_num(counts), 0.0)

    # Weekday factors: the weekday's mean day over the mean of the weekdays seen.
    weekday_sum = window_totals @ onehot
    weekday_n = in_window.astype(float) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        weekday_mean = weekday_sum / weekday_n
        overall = np.nanmean(np.where(weekday_n > 0, weekday_mean, np.nan), axis=1)
        factor = weekday_mean / overall[:, None]
    factor = np.where(np.isfinite(factor), factor, 1.0)
    factor[~by_weekday] = 1.0

    # Intraday profiles per weekday, shrunk towards the series' all-week profile.
    all_calls = window_counts.sum(axis=1)
    all_total = all_calls.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile_all = np.where(all_total > 0, all_calls / all_total, 1.0 / n_intervals)
    profile_num = np.einsum("sdi,dw->swi", window_counts, onehot)
    profile_den = weekday_sum
    profile = (profile_num + PROFILE_PRIOR_CALLS * profile_all[:, None, :]) / (
        profile_den[:, :, None] + PROFILE_PRIOR_CALLS
    )
    profile[~by_weekday] = profile_all[~by_weekday][:, None, :]

    # Level and trend: least squares on the deseasonalised daily totals of the window.
    day_factor = factor[:, weekday]
    usable = in_window & (day_factor > 0)
    level_obs = np.where(usable, filled / np.where(day_factor > 0, day_factor, 1.0), 0.0)
    t = np.broadcast_to(day_offset.astype(float), usable.shape)
    n = usable.sum(axis=1).astype(float)
    s_t = np.where(usable, t, 0.0).sum(axis=1)
    s_tt = np.where(usable, t * t, 0.0).sum(axis=1)
    s_l = level_obs.sum(axis=1)
    s_tl = (np.where(usable, t, 0.0) * level_obs).sum(axis=1)
    denominator = n * s_tt - s_t**2
    fit_trend = with_trend & (n >= 14) & (denominator > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(fit_trend, (n * s_tl - s_t * s_l) / denominator, 0.0)
        mean_level = np.where(n > 0, s_l / n, 0.0)
        intercept = np.where(n > 0, (s_l - slope * s_t) / n, 0.0)  # the level at offset 0

    # The forecast days, their weekday and holiday status.
    days = [as_of + timedelta(days=h) for h in range(1, horizon_days + 1)]
    ahead = np.array([(d - history.last_day).days for d in days], dtype=float)
    day_weekday = np.array([d.weekday() for d in days])
    level = intercept[:, None] + slope[:, None] * ahead[None, :]
    level = np.clip(
        level,
        (1 - TREND_MAX_CHANGE) * mean_level[:, None],
        (1 + TREND_MAX_CHANGE) * mean_level[:, None],
    )
    level = np.maximum(level, 0.0)
    mean = level[:, :, None] * factor[:, day_weekday][:, :, None] * profile[:, day_weekday, :]

    # Holidays in the horizon: the ratio of past holidays to their normal baseline.
    ratios, ratio_by_name = _past_holiday_ratios(
        history, filled, known, normal, is_holiday, holidays
    )
    method = np.broadcast_to(base_method[:, None], (n_series, horizon_days)).astype(object)
    holiday_rel_var = np.zeros((n_series, horizon_days))
    for h, day in enumerate(days):
        name = holidays.get(day)
        if name is None:
            continue
        chosen = np.full(n_series, np.nan)
        for key in (holiday_key(name), holiday_group(name)):  # the same holiday, then its kind
            learned_here = ratio_by_name.get(key)
            if learned_here is not None:
                chosen = np.where(np.isfinite(chosen), chosen, learned_here)
        chosen = np.where(np.isfinite(chosen), chosen, ratios)  # then any past holiday
        learned = np.isfinite(chosen)
        chosen = np.where(learned, chosen, holiday_factor)
        mean[:, h, :] *= chosen[:, None]
        method[:, h] = np.where(learned, METHOD_HOLIDAY_HISTORY, METHOD_HOLIDAY_FACTOR)
        holiday_rel_var[:, h] = HOLIDAY_RELATIVE_SD**2

    # Spread: overdispersion measured on the window's fitted days.
    fitted = (
        (intercept[:, None] + slope[:, None] * day_offset[None, :])[:, :, None]
        * day_factor[:, :, None]
        * profile[:, weekday, :]
    )
    residual = np.where(usable[:, :, None], np.nan_to_num(counts) - fitted, 0.0)
    fitted_sum = np.where(usable[:, :, None], fitted, 0.0).sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = np.where(fitted_sum > 0, (residual**2).sum(axis=(1, 2)) / fitted_sum, 1.0)
    phi = np.maximum(np.nan_to_num(phi, nan=1.0), 1.0)
    k = np.maximum(window_weeks, 1).astype(float)
    variance = phi[:, None, None] * mean * (1 + 1 / k[:, None, None])
    variance = variance + holiday_rel_var[:, :, None] * mean**2
    p10, p90 = _band(mean, variance, phi)

    info = {
        "history_days": int(known[0].sum()),
        "history_weeks": int(weeks[0]),
        "history_first_day": history.day(int(np.argmax(known[0]))).isoformat(),
        "history_last_day": history.last_day.isoformat(),
        "fallback": bool(weeks[0] < MIN_WEEKS),
        "method": str(base_method[0]),
        "methods_by_series": {s: str(m) for s, m in zip(history.series, base_method, strict=True)},
        "holidays_in_history": int((is_holiday & present[0]).sum()),
        "holiday_ratio": _finite_or_none(ratios[0]),
        "overdispersion": {s: round(float(p), 3) for s, p in zip(history.series, phi, strict=True)},
        "trend_per_week": {
            s: round(float(7 * b / m), 4) if m > 0 else 0.0
            for s, b, m in zip(history.series, slope, mean_level, strict=True)
        },
    }
    return Forecast(history.series, days, mean, p10, p90, method, info)


def _finite_or_none(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None


def _past_holiday_ratios(
    history: History,
    filled: np.ndarray,
    known: np.ndarray,
    normal: np.ndarray,
    is_holiday: np.ndarray,
    holidays: dict[date, str],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per series: sum of calls on past holidays / sum of their normal baselines (the mean of the
    same weekday over the ``HOLIDAY_BASELINE_WEEKS`` weeks before), pooled and by holiday name.
    A series with too small a baseline takes the ratio of ``*``."""
    n_series, n_days = filled.shape
    base_sum = np.zeros_like(filled)
    base_n = np.zeros_like(filled)
    for k in range(1, HOLIDAY_BASELINE_WEEKS + 1):
        lag = 7 * k
        if lag >= n_days:
            break
        base_sum[:, lag:] += np.where(normal[:, :-lag], filled[:, :-lag], 0.0)
        base_n[:, lag:] += normal[:, :-lag]
    with np.errstate(invalid="ignore", divide="ignore"):
        baseline = np.where(base_n > 0, base_sum / base_n, np.nan)
    usable = is_holiday[None, :] & known & np.isfinite(baseline)

    def ratio(mask: np.ndarray) -> np.ndarray:
        actual = np.where(mask, filled, 0.0).sum(axis=1)
        base = np.where(mask, baseline, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(base > 0, actual / base, np.nan)
        small = base < HOLIDAY_MIN_BASELINE_CALLS
        values[small] = values[0] if base[0] > 0 else np.nan
        return values

    pooled = ratio(usable)
    names = [holidays.get(history.day(d)) for d in range(n_days)]
    keys = np.array([holiday_key(n) if n else None for n in names], dtype=object)
    groups = np.array([holiday_group(n) if n else None for n in names], dtype=object)
    by_name: dict[str, np.ndarray] = {}
    for labels in (keys, groups):
        for label in {x for x in labels[usable.any(axis=0)] if x is not None}:
            by_name[label] = ratio(usable & (labels == label)[None, :])
    return pooled, by_name


def holiday_key(name: str) -> str:
    """A holiday's name without "(observed)" or "(substituted from ...)", so that a day in lieu
    learns from the holiday it replaces."""
    return re.sub(r"\s*\(.*?\)", "", name).strip()


def holiday_group(name: str) -> str:
    """Tết (its several days, by whatever name) empties the lines far more than a one-day holiday;
    past holidays are pooled within these groups before all of them are."""
    if name == CLOSED_DAY:
        return "group: closed"
    return "group: Tết" if "Lunar New Year" in name else "group: other holidays"


def _band(mean: np.ndarray, variance: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p10 and p90 of a count with this mean and variance: normal quantiles with a
    Cornish-Fisher skew term (a negative binomial's skew, (2 phi - 1) / sd), floored at 0."""
    sd = np.sqrt(np.maximum(variance, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = np.where(sd > 0, (2 * phi[:, None, None] - 1) / sd, 0.0)
    skew = np.minimum(skew, 3.0)
    shift = (_Z90**2 - 1) * skew / 6
    p10 = np.maximum(mean + sd * (-_Z90 + shift), 0.0)
    p90 = np.maximum(mean + sd * (_Z90 + shift), mean)
    return p10, p90


def seasonal_naive(history: History, as_of: date, horizon_days: int = HORIZON_DAYS) -> np.ndarray:
    """The baseline: each day's intervals as on the same weekday one week earlier (for days more
    than a week ahead, the latest such weekday in the history). [series, day, interval];
    NaN where that day has no data."""
    out = np.full((len(history.series), horizon_days, history.n_intervals), np.nan)
    for h in range(1, horizon_days + 1):
        target = as_of + timedelta(days=h)
        source = target - timedelta(days=7 * -(-(target - history.last_day).days // 7))
        offset = (source - history.first_day).days
        if 0 <= offset < history.n_days:
            out[:, h - 1, :] = history.counts[:, offset, :]
    return out


def wape(predicted: np.ndarray, actual: np.ndarray) -> float | None:
    """sum |predicted - actual| / sum actual over the cells where both are known."""
    both = np.isfinite(predicted) & np.isfinite(actual)
    total = actual[both].sum()
    if total <= 0:
        return None
    return float(np.abs(predicted[both] - actual[both]).sum() / total)


@dataclass(frozen=True)
class Backtest:
    """WAPE of the method and of the seasonal naive over the same scored intervals."""

    origins: list[date]
    method_wape: dict[str, float | None]
    naive_wape: dict[str, float | None]
    scored_days: int

    def improvement(self, series: str = ALL_HOTLINES) -> float | None:
        """1 - method / naive: 0.15 means 15 % better than the baseline."""
        m, n = self.method_wape.get(series), self.naive_wape.get(series)
        return None if m is None or not n else 1 - m / n


def backtest(
    history: History,
    holidays: dict[date, str],
    holiday_factor: float = 0.3,
    weeks: int = 4,
) -> Backtest:
    """Rolling origins one week apart over the last ``weeks`` weeks: from each origin, the
    method and the seasonal naive forecast the next 7 days, scored against what came.
    Keys: ``*``, ``hotlines`` (every hotline's intervals pooled), and each hotline."""
    end = history.last_day
    origins = [end - timedelta(days=7 * k) for k in range(weeks, 0, -1)]
    method_parts, naive_parts, actual_parts = [], [], []
    for origin in origins:
        if origin < history.first_day:
            continue
        past = history.until(origin)
        if np.isnan(past.counts[0]).all():
            continue
        made = forecast(past, origin, holidays, holiday_factor, horizon_days=7)
        start = (origin - history.first_day).days + 1
        actual = history.counts[:, start : start + 7, :]
        method_parts.append(made.mean[:, : actual.shape[1]])
        naive_parts.append(seasonal_naive(past, origin, 7)[:, : actual.shape[1]])
        actual_parts.append(actual)
    if not actual_parts:
        return Backtest(origins, {}, {}, 0)
    method = np.concatenate(method_parts, axis=1)
    naive = np.concatenate(naive_parts, axis=1)
    actual = np.concatenate(actual_parts, axis=1)
    # Both are scored on the same cells: those where the actual and last week's day are known.
    scored_cells = np.isfinite(actual) & np.isfinite(naive)
    method = np.where(scored_cells, method, np.nan)
    naive = np.where(scored_cells, naive, np.nan)
    keys: dict[str, slice | int] = {ALL_HOTLINES: 0, "hotlines": slice(1, None)}
    keys.update({name: n for n, name in enumerate(history.series) if n > 0})
    method_wape = {key: wape(method[idx], actual[idx]) for key, idx in keys.items()}
    naive_wape = {key: wape(naive[idx], actual[idx]) for key, idx in keys.items()}
    scored = int(np.isfinite(actual[0]).all(axis=1).sum())
    return Backtest(origins, method_wape, naive_wape, scored)
