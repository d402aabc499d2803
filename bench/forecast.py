"""`python -m bench.forecast`: the forecast and the staffing plan for 10 hotlines x 48 intervals
x 14 days from 2 years of history (target: at most 10 s), and the rolling 4-week backtest of
the method against the seasonal naive and a library model (statsmodels' Holt-Winters); the
figures go to docs/benchmarks-forecast.md.

The history is the sandbox's volume model (weekly pattern, +30 %/year, Vietnamese holidays) at
the size asked for, written as call_logs Parquet files (numpy, seconds for two years) rather
than fetched through the sandbox: what is measured is the planning, not ingestion. The plan is
built by the functions the assets call (``defs/planning/build.py``), files and all.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from alohub_assets.defs.planning.build import (
    PlanningParams,
    read_history,
    write_forecast,
    write_staffing_plan,
)
from alohub_assets.storage import forecasting as fc
from alohub_assets.storage.layout import Warehouse
from alohub_dev.sandbox.volumes import VolumeModel, day_generator
from bench.common import commit_stamp, median

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 10.0
#: Holt-Winters learns from this many weeks before each backtest origin (7 x 48 seasons).
HW_WEEKS = 16


@dataclass(frozen=True)
class Size:
    hotlines: int = 10
    days: int = 730
    calls_per_day: int = 10_000  # an ordinary Thursday of the last year, all hotlines
    repeats: int = 3
    holt_winters: bool = True


QUICK = Size(hotlines=2, days=63, calls_per_day=200, repeats=1, holt_winters=False)


def bench_model(size: Size, last_day: date) -> VolumeModel:
    """Hotline volumes falling off as 1/k; the base is set so that the last year's Thursdays
    hold about ``calls_per_day`` calls."""
    shares = np.array([1 / (k + 1) for k in range(size.hotlines)])
    names = [f"1900{6868 + k:04d}" for k in range(size.hotlines)]
    model = VolumeModel(hotline_shares=dict(zip(names, shares / shares.sum(), strict=True)))
    thursday = last_day - timedelta(days=(last_day.weekday() - 3) % 7)
    scale = size.calls_per_day / (model.base_calls_per_day * model.day_factor(thursday))
    return VolumeModel(
        base_calls_per_day=model.base_calls_per_day * scale,
        hotline_shares=model.hotline_shares,
    )


def synthesize(store: Warehouse, model: VolumeModel, first: date, days: int) -> int:
    """Inbound calls drawn from the model, one call_logs file per day; returns the calls."""
    total = 0
    for n in range(days):
        day = first + timedelta(days=n)
        rng = day_generator(1, day)
        hotlines, seconds = [], []
        for hotline, hourly in model.hourly_means(day).items():
            counts = rng.poisson(hourly)
            hours = np.repeat(np.arange(24), counts)
            seconds.append(hours * 3600 + rng.integers(0, 3600, len(hours)))
            hotlines += [hotline] * len(hours)
        offsets = np.concatenate(seconds)
        calls = len(offsets)
        midnight = np.datetime64(datetime(day.year, day.month, day.day) - timedelta(hours=7))
        answered = rng.random(calls) < 0.85
        waits = np.where(answered, rng.exponential(14, calls), rng.exponential(60, calls))
        file = store.call_logs_file(day)
        file.parent.mkdir(parents=True, exist_ok=True)
        table = pa.table(
            {
                "call_id": [f"{day:%Y%m%d}000000-BENCH-{i:06d}" for i in range(calls)],
                "call_date": pa.array([day] * calls, pa.date32()),
                "direction": ["inbound"] * calls,
                "called": hotlines,
                "start_time": pa.array(
                    midnight + offsets.astype("timedelta64[s]"), pa.timestamp("us", tz="UTC")
                ),
                "waiting_seconds": waits.astype(np.int32),
                "talk_seconds": pa.array(
                    (5 + rng.exponential(175, calls)).astype(np.int32), mask=~answered
                ),
                "answered": answered,
                "recording_url": pa.nulls(calls, pa.string()),  # the catalog's calls view
            }
        )
        pq.write_table(table, file)
        total += calls
    return total


def time_plan(store: Warehouse, as_of: date, params: PlanningParams, repeats: int) -> dict:
    """The forecast and the staffing plan as the assets build them, timed together."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        made = write_forecast(store, as_of, params, today=as_of + timedelta(days=1))
        forecast_s = time.perf_counter() - started
        plan = write_staffing_plan(store, as_of, params, today=as_of + timedelta(days=1))
        runs.append(
            {
                "total_s": time.perf_counter() - started,
                "forecast_s": forecast_s,
                "plan_s": time.perf_counter() - started - forecast_s,
            }
        )
    return {"runs": runs, "forecast_rows": made["rows"], "plan_rows": plan["rows"], "info": made}


def holt_winters(past: fc.History, horizon_days: int) -> np.ndarray:
    """statsmodels' Holt-Winters (additive damped trend, additive season of 7 x 48 intervals)
    per series on the last ``HW_WEEKS`` weeks; unknown days count 0, as a plain series has no
    gaps."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    n_series, _, n_intervals = past.counts.shape
    season = 7 * n_intervals
    window = np.nan_to_num(past.counts[:, -7 * HW_WEEKS :, :]).reshape(n_series, -1)
    out = np.zeros((n_series, horizon_days, n_intervals))
    for s in range(n_series):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ExponentialSmoothing(
                window[s],
                trend="add",
                damped_trend=True,
                seasonal="add",
                seasonal_periods=season,
                initialization_method="heuristic",
            ).fit()
        out[s] = np.maximum(fit.forecast(horizon_days * n_intervals), 0).reshape(horizon_days, -1)
    return out


def backtest_table(history: fc.History, holidays: dict, with_library: bool) -> dict:
    """WAPE over the last 4 weeks (origins a week apart, 7 days ahead), every model scored on
    the same intervals: those where the actual and last week's day are known."""
    parts: dict[str, list[np.ndarray]] = {
        "method": [],
        "naive": [],
        "holt_winters": [],
        "actual": [],
    }
    seconds = {"method": 0.0, "holt_winters": 0.0}
    for k in range(4, 0, -1):
        origin = history.last_day - timedelta(days=7 * k)
        past = history.until(origin)
        start = (origin - history.first_day).days + 1
        started = time.perf_counter()
        parts["method"].append(fc.forecast(past, origin, holidays, horizon_days=7).mean)
        seconds["method"] += time.perf_counter() - started
        parts["naive"].append(fc.seasonal_naive(past, origin, 7))
        if with_library:
            started = time.perf_counter()
            parts["holt_winters"].append(holt_winters(past, 7))
            seconds["holt_winters"] += time.perf_counter() - started
        parts["actual"].append(history.counts[:, start : start + 7, :])
    joined = {name: np.concatenate(p, axis=1) for name, p in parts.items() if p}
    cells = np.isfinite(joined["actual"]) & np.isfinite(joined["naive"])
    table = {}
    for name in ("method", "naive", "holt_winters"):
        if name not in joined:
            continue
        predicted = np.where(cells, joined[name], np.nan)
        table[name] = {
            "*": fc.wape(predicted[0], joined["actual"][0]),
            "hotlines": fc.wape(predicted[1:], joined["actual"][1:]),
        }
    return {"wape": table, "seconds": seconds}


def run(size: Size, data_dir: Path) -> dict:
    last = date(2026, 11, 29)  # a Sunday: the horizon holds no holiday, the history two Tết
    first = last - timedelta(days=size.days - 1)
    store = Warehouse.at(data_dir)
    model = bench_model(size, last)
    started = time.perf_counter()
    calls = synthesize(store, model, first, size.days)
    synth_s = time.perf_counter() - started
    params = PlanningParams()
    timing = time_plan(store, last, params, size.repeats)
    history = read_history(store, last, params, today=last + timedelta(days=1)).history
    holidays = fc.holiday_calendar(history.first_day, last + timedelta(days=14))
    checked = backtest_table(history, holidays, size.holt_winters)
    return {
        "size": size,
        "calls": calls,
        "synth_s": synth_s,
        "timing": timing,
        "backtest": checked,
        "official": fc.backtest(history, holidays),
        "as_of": last,
    }


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def write_report(result: dict, commit: str, command: str, path: Path) -> str:
    size: Size = result["size"]
    wape = result["backtest"]["wape"]
    totals = [r["total_s"] for r in result["timing"]["runs"]]
    total = median(totals)
    info = result["timing"]["info"]["info"]
    lines = [
        "# Benchmarks: forecast and staffing plan",
        "",
        f"Written by `{command}` at commit `{commit}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}). Every figure below comes from that run.",
        "",
        f"History: {size.days} days ({result['calls']:,} inbound calls, {size.hotlines} hotlines, "
        f"about {size.calls_per_day:,} calls on an ordinary Thursday of the last year) drawn from "
        "the sandbox's volume model (weekly pattern, +30 %/year, Vietnamese holidays, Tết "
        f"included), written as call_logs Parquet in {result['synth_s']:.1f} s; as_of "
        f"{result['as_of']}."
        + (
            ""
            if size == Size()
            else " A reduced run: `make bench` runs the issue's size (10 hotlines, 730 days)."
        ),
        "",
        "## Backtest: WAPE over the last 4 weeks",
        "",
        "Origins a week apart; each model forecasts the next 7 days of 48 intervals from what it "
        "knew at the origin; all are scored on the same intervals against the calls that came "
        "(WAPE = sum |forecast - actual| / sum actual).",
        "",
        "| model | `*` (all hotlines) | per hotline (pooled) | vs seasonal naive (`*`) |",
        "|---|---|---|---|",
    ]
    names = {
        "method": "ours: weekday profiles + trend + holidays (`weekday_trend`)",
        "naive": "seasonal naive (same weekday and interval a week earlier)",
        "holt_winters": f"statsmodels Holt-Winters (damped trend, season 7 x 48, {HW_WEEKS} weeks)",
    }
    naive_all = wape["naive"]["*"]
    for key, label in names.items():
        if key in wape:
            gain = 1 - wape[key]["*"] / naive_all if naive_all else None
            versus = "–"
            if key != "naive" and gain is not None:
                versus = f"{_pct(abs(gain))} {'better' if gain >= 0 else 'worse'}"
            lines.append(
                f"| {label} | {_pct(wape[key]['*'])} | {_pct(wape[key]['hotlines'])} | {versus} |"
            )
    if "holt_winters" in wape:
        ours, theirs = wape["method"]["*"], wape["holt_winters"]["*"]
        verdict = "ours wins: it stays the method" if ours <= theirs else "Holt-Winters wins"
        seconds = result["backtest"]["seconds"]
        lines += [
            "",
            f"Verdict: {verdict}. Fitting time over the 4 origins: ours "
            f"{seconds['method']:.2f} s, Holt-Winters {seconds['holt_winters']:.1f} s.",
        ]
    official = result["official"]
    lines += [
        "",
        f"The forecast asset's own backtest (`backtest_improvement` in its metadata): "
        f"{_pct(official.improvement())} better than the seasonal naive on `*`, "
        f"{_pct(official.improvement('hotlines'))} on the hotlines (target: at least 15 %).",
        "",
        "## Time: forecast + staffing plan",
        "",
        f"`call_volume_forecast` and `staffing_plan` for one as_of, built as the assets build "
        f"them (read {size.days} days of call_logs, forecast, backtest, Erlang C and Erlang A "
        f"per interval, write Parquet): {result['timing']['forecast_rows']:,} forecast rows "
        f"({size.hotlines} hotlines + `*`, 48 intervals, 14 days), "
        f"{result['timing']['plan_rows']:,} plan rows.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| forecast + staffing plan, median of {len(totals)} | {total:.2f} s | "
        f"<= {TARGET_SECONDS:.0f} s: {'met' if total <= TARGET_SECONDS else 'NOT met'} |",
        f"| of which the forecast | {median([r['forecast_s'] for r in result['timing']['runs']]):.2f} s | |",
        f"| of which the staffing plan | {median([r['plan_s'] for r in result['timing']['runs']]):.2f} s | |",
        f"| runs (s) | {', '.join(f'{t:.2f}' for t in totals)} | |",
        f"| history read | {info['history_days']} days, {info['holidays_in_history']} holidays | |",
        "",
    ]
    text = "\n".join(lines)
    path.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hotlines", type=int, default=Size.hotlines)
    parser.add_argument("--days", type=int, default=Size.days)
    parser.add_argument("--calls", type=int, default=Size.calls_per_day)
    parser.add_argument("--repeats", type=int, default=Size.repeats)
    parser.add_argument("--no-library", action="store_true", help="skip Holt-Winters")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks-forecast.md")
    args = parser.parse_args(argv)
    commit = commit_stamp()  # the code measured is the code at the start
    size = Size(args.hotlines, args.days, args.calls, args.repeats, not args.no_library)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python -m bench.forecast", *given])
    with tempfile.TemporaryDirectory(prefix="alohub-forecast-bench-") as tmp:
        result = run(size, Path(tmp))
    print(write_report(result, commit, command, args.output))


if __name__ == "__main__":
    main()
