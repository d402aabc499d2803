"""The forecast on a generated history whose expected volumes are known: the sandbox's volume
model (weekly pattern, +30 %/year, Vietnamese holidays, three hotlines) draws the inbound calls
exactly as its API serves them, and says what each interval should get on average."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import numpy as np
import pytest

from alohub_assets.api.client import tls_context
from alohub_assets.storage import forecasting as fc
from alohub_dev.sandbox.calls import CallStore
from alohub_dev.sandbox.volumes import VolumeModel, inbound_offsets

MODEL = VolumeModel()


def history(first: date, last: date, seed: int = 7, model: VolumeModel = MODEL) -> fc.History:
    """Inbound calls per hotline and 30-minute interval, drawn as the sandbox draws them."""
    days, hotlines, intervals = [], [], []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        for hotline, second in inbound_offsets(model, seed, day):
            days.append(day)
            hotlines.append(hotline)
            intervals.append(second // 1800)
    every_day = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return fc.History.from_counts(
        first, last, 48, every_day, days, hotlines, intervals, np.ones(len(days))
    )


def expected(series, days, model: VolumeModel = MODEL) -> np.ndarray:
    return np.array([[model.expected_calls(day)[s] for day in days] for s in series])


def made(as_of: date, weeks: int, closed=(), seed: int = 7, factor: float = 0.3):
    past = history(as_of - timedelta(days=7 * weeks - 1), as_of, seed)
    holidays = fc.holiday_calendar(past.first_day, as_of + timedelta(days=14), closed)
    return past, holidays, fc.forecast(past, as_of, holidays, factor)


@pytest.mark.parametrize("seed", [7, 8])
def test_beats_the_seasonal_naive_by_more_than_15_percent(seed):
    as_of = date(2026, 6, 14)  # ten weeks of history with 30/4, 1/5 and Hùng Kings in it
    past, holidays, forecast = made(as_of, 10, seed=seed)
    truth = expected(past.series, forecast.days)
    naive = fc.seasonal_naive(past, as_of)
    assert forecast.method[:, :].tolist() == [["weekday_trend"] * 14] * len(past.series)
    for rows in (slice(0, 1), slice(1, None)):  # `*`, then every hotline's intervals
        assert fc.wape(forecast.mean[rows], truth[rows]) <= 0.85 * fc.wape(naive[rows], truth[rows])
    # The rule: a rolling backtest of the last 4 weeks against what came.
    checked = fc.backtest(past, holidays)
    assert len(checked.origins) == 4
    assert checked.improvement("*") >= 0.15 and checked.improvement("hotlines") >= 0.15


def test_p10_p90_band_holds_most_of_what_comes():
    as_of = date(2026, 6, 14)
    past, _, forecast = made(as_of, 10)
    truth = expected(past.series, forecast.days)
    came = np.random.default_rng(1).poisson(truth)
    inside = (came >= forecast.p10) & (came <= forecast.p90)
    assert 0.78 <= inside.mean() <= 0.92  # counts are integers: a little over 80 %
    assert (came < forecast.p10).mean() <= 0.12 and (came > forecast.p90).mean() <= 0.12
    assert (forecast.p10 <= forecast.mean).all() and (forecast.mean <= forecast.p90).all()


def test_a_holiday_in_the_horizon_is_forecast_low():
    as_of = date(2026, 4, 22)  # 12 weeks back reach Tết (16-20 Feb); 30/4 and 1/5 are ahead
    past, holidays, forecast = made(as_of, 12)
    daily = forecast.mean[0].sum(axis=1)
    by_day = dict(zip(forecast.days, daily, strict=True))
    methods = dict(zip(forecast.days, forecast.method[0], strict=True))
    for holiday, normal in (
        (date(2026, 4, 30), date(2026, 4, 23)),
        (date(2026, 5, 1), date(2026, 4, 24)),
    ):
        assert holidays[holiday]
        assert methods[holiday] == "holiday_history" and methods[normal] == "weekday_trend"
        assert by_day[holiday] < 0.5 * by_day[normal]
    assert forecast.info["holidays_in_history"] == 5


def test_a_closed_day_is_a_holiday_and_without_past_holidays_takes_the_factor():
    as_of, closed = date(2026, 6, 14), date(2026, 6, 18)  # a Thursday the center closes
    _, _, open_day = made(as_of, 4)  # May 18 - June 14: no holiday in the history
    _, holidays, shut = made(as_of, 4, closed=[closed], factor=0.25)
    k = open_day.days.index(closed)
    assert shut.method[0, k] == "holiday_factor" and open_day.method[0, k] == "weekday_average"
    assert shut.mean[:, k] == pytest.approx(0.25 * open_day.mean[:, k])
    others = [n for n in range(14) if n != k]
    assert shut.mean[:, others] == pytest.approx(open_day.mean[:, others])
    # With past holidays in the history, the closed day learns from them instead.
    _, _, learned = made(as_of, 10, closed=[closed])
    assert learned.method[0, k] == "holiday_history"
    assert learned.mean[0, k].sum() < 0.6 * learned.mean[0, k + 7].sum()  # the next Thursday


def test_a_holiday_in_the_history_does_not_drag_its_weekday_down():
    as_of = date(2026, 5, 10)  # Thursday 30/4 and Friday 1/5 are in the last two weeks
    past, holidays, forecast = made(as_of, 10)
    truth = expected(past.series, forecast.days)
    for day in (date(2026, 5, 14), date(2026, 5, 15)):  # the next Thursday and Friday
        k = forecast.days.index(day)
        assert forecast.mean[0, k].sum() == pytest.approx(truth[0, k].sum(), rel=0.06)
    # Learned as normal days, the holidays would have pulled those weekdays down by ~15 %.
    unaware = fc.forecast(past, as_of, {})
    k = forecast.days.index(date(2026, 5, 14))
    assert unaware.mean[0, k].sum() < 0.9 * truth[0, k].sum()


@pytest.mark.parametrize(
    "days, method",
    [(21, "weekday_average"), (9, "seasonal_naive"), (4, "daily_average")],
)
def test_with_fewer_than_8_weeks_it_still_forecasts_and_says_how(days, method):
    as_of = date(2026, 6, 14)
    past = history(as_of - timedelta(days=days - 1), as_of)
    forecast = fc.forecast(past, as_of, fc.holiday_calendar(past.first_day, as_of + timedelta(14)))
    assert forecast.info["fallback"] is True and forecast.info["method"] == method
    assert set(forecast.method.ravel()) == {method}
    assert forecast.mean.shape == (4, 14, 48) and np.isfinite(forecast.mean).all()
    truth = expected(past.series, forecast.days)
    assert fc.wape(forecast.mean[0], truth[0]) < 0.35  # still a usable forecast


def test_a_missing_day_is_unknown_not_zero():
    as_of = date(2026, 6, 14)
    past = history(as_of - timedelta(days=69), as_of)
    holidays = fc.holiday_calendar(past.first_day, as_of + timedelta(days=14))
    holed = past.counts.copy()
    holed[:, -10:-3, :] = np.nan  # a week of call_logs never loaded
    gap = fc.forecast(fc.History(past.first_day, past.series, holed), as_of, holidays)
    truth = expected(past.series, gap.days)
    assert fc.wape(gap.mean[0], truth[0]) < 0.15
    zeros = fc.History(past.first_day, past.series, np.nan_to_num(holed))
    assert fc.wape(fc.forecast(zeros, as_of, holidays).mean[0], truth[0]) > 0.15


def test_the_sandbox_serves_the_model_and_its_expected_volumes(make_sandbox):
    day = date(2026, 3, 5)
    store = CallStore(seed=7, first_day=day, last_day=day, volume_model=MODEL)
    served = [c for c in store.calls_on(day) if c.call_type == "0"]
    drawn = inbound_offsets(MODEL, 7, day)
    assert sorted((c.called, c.start_time.hour) for c in served) == sorted(
        (h, s // 3600) for h, s in drawn
    )
    sandbox = make_sandbox(first_day=day, last_day=day)
    sandbox.server.state.store.volume_model = MODEL
    answer = httpx.get(
        f"{sandbox.url}/_sandbox/expected", params={"date": str(day)}, verify=tls_context()
    ).json()
    assert answer["expected"]["*"] == pytest.approx(MODEL.expected_calls(day)["*"])
    assert sum(answer["expected"]["*"]) == pytest.approx(
        MODEL.base_calls_per_day * MODEL.day_factor(day)
    )


def test_history_counts_calls_without_a_hotline_in_all_only():
    first = date(2026, 3, 2)
    past = fc.History.from_counts(
        first,
        first + timedelta(days=2),
        48,
        [first, first + timedelta(days=1)],  # loaded; the third day never was
        [first, first, first],
        ["19006868", None, "19006868"],
        [20, 20, 21],
        [3, 2, 1],
    )
    assert past.series == ("*", "19006868")
    assert past.counts[0, 0, 20] == 5 and past.counts[1, 0, 20] == 3
    assert past.counts[0, 1].sum() == 0  # loaded, no inbound call: zero
    assert np.isnan(past.counts[:, 2]).all()  # not loaded: unknown
