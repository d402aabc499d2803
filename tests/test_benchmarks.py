"""Each benchmark at a tiny size, so that a change that breaks one is caught here.
Nothing is timed: `make bench` measures; these check that the measured work is right."""

from __future__ import annotations

import dataclasses

import pytest

from bench import common, rate_limits
from bench import run as bench
from bench.common import Result

SIZES = dataclasses.replace(bench.QUICK)
# The slow-link day smaller than `make bench --quick`'s: nothing here compares its timings.
RATE = dataclasses.replace(rate_limits.QUICK_RATE, latency_calls=500)


@pytest.fixture(autouse=True)
def forked_workers(monkeypatch):
    """Workers forked from this process: the same work, without seconds of imports each."""
    monkeypatch.setattr(common, "FORK_WORKERS", True)


def test_ingestion_benchmark_lands_every_call_once():
    result = bench.bench_ingest(SIZES)
    (run,) = result.runs
    assert run["calls"] == SIZES.days * SIZES.calls_per_day
    assert run["duplicates"] == 0
    assert run["requests"] > 0 and run["rate_limited_429"] <= 5


def test_dlt_comparison_lands_every_call_once():
    pytest.importorskip("dlt", reason="dlt comes with `uv sync --group bench`")
    ours = Result("ours", {"wall s": 1.0, "duplicates": 0}, "", True)
    result = bench.bench_dlt(SIZES, ours)
    (run, *_) = result.runs
    assert run["rows"] == SIZES.days * SIZES.calls_per_day
    assert result.figures["dlt duplicate callIds"] == 0


def test_bounds_are_the_issue_s_figures():
    # 31 requests at 10 per 10 s: 30 s on windows; 32 on a bucket of 10: 22 s (issue 12).
    assert rate_limits.bound_seconds(31, 10, 10.0, "fixed") == 30
    assert rate_limits.bound_seconds(31, 10, 10.0, "sliding") == 30
    assert rate_limits.bound_seconds(32, 10, 10.0, "token") == pytest.approx(22)
    assert rate_limits.bound_seconds(10, 10, 10.0, "sliding") == 0


def test_window_kind_benchmark_lands_every_call_once_for_both_tools():
    # One kind here (the code is the same for the three); tests/test_rate_limits.py has them all.
    result = rate_limits.bench_window_kind(RATE, "sliding")
    for run in result.runs:
        assert run["requests"] > 0
        assert run["duplicates"] == 0
        assert run.get("calls", run.get("rows")) >= RATE.calls_per_day


def test_shared_quota_benchmark_runs_every_partition():
    result = rate_limits.bench_shared_quota(RATE)
    assert len(result.runs) == RATE.concurrent_runs
    assert (
        sum(r["calls"] for r in result.runs)
        == RATE.concurrent_partitions * RATE.concurrent_calls_per_day
    )
    assert result.figures["duplicates"] == 0


def test_latency_and_fault_benchmarks_run():
    latency = rate_limits.bench_latency(RATE)
    assert latency.figures["requests"] > 0 and latency.figures["one page at a time s"] > 0
    faults = rate_limits.bench_fault_mix(RATE)
    assert faults.figures["duplicates"] == 0
    assert faults.runs[0]["calls"] == RATE.calls_per_day


def test_transform_benchmark_and_its_floor_agree_on_the_calls():
    result = bench.bench_transform(SIZES)
    (run,) = result.runs
    assert run["calls"] == SIZES.transform_calls == run["floor_calls"]
    assert result.figures["raw rows"] > SIZES.transform_calls  # repeated rows per call


def test_fetch_and_mart_benchmarks():
    fetch = bench.bench_fetch_memory(SIZES)
    assert "growth MB" in fetch.figures
    mart = bench.bench_mart(SIZES)
    assert mart.figures["offered calls"] == SIZES.mart_days * SIZES.mart_calls


def test_end_to_end_benchmark_runs_both_projects():
    result = bench.bench_end_to_end(SIZES)
    assert result.figures["this pipeline s"] > 0 and result.figures["one-asset no-op project s"] > 0


def test_report_renders_every_section_and_the_commit():
    sections = {
        "one": [Result("x", {"a": 1}, "t", True)],
        "two": [Result("y", {}, "t", None, "why")],
    }
    text = bench.render(sections, bench.datetime.now(bench.UTC), 1.0)
    assert "| x | a: 1 | t | yes |" in text and "| y | why | t | n/a |" in text
    assert "## one" in text and "## two" in text
    assert bench.commit_stamp().split()[0] in text and bench.commit_stamp() != "unknown"


def test_intraday_benchmark_refreshes_hold_every_call_of_a_full_read():
    from bench.intraday import QUICK_INTRADAY, run_intraday

    results = run_intraday(QUICK_INTRADAY)
    assert len(results) == len(QUICK_INTRADAY.listings)
    for result in results:
        (run,) = result.runs
        assert run["same_rows"] and run["calls"] > 0
        assert len(run["refreshes"]) >= 2 and run["refreshes"][-1]["rows_kept"] > 0


def test_forecast_benchmark_builds_the_plan_and_scores_every_model_alike(tmp_path):
    from bench import forecast as forecast_bench

    size = forecast_bench.QUICK
    result = forecast_bench.run(size, tmp_path / "data")
    timing = result["timing"]
    assert timing["forecast_rows"] == timing["plan_rows"] == 14 * 48 * (size.hotlines + 1)
    wape = result["backtest"]["wape"]
    # The benchmark's own scoring agrees with the forecast asset's backtest.
    official = result["official"]
    assert wape["method"]["*"] == pytest.approx(official.method_wape["*"])
    assert wape["naive"]["*"] == pytest.approx(official.naive_wape["*"])
    text = forecast_bench.write_report(
        result, "abc123", "python -m bench.forecast", tmp_path / "r.md"
    )
    assert "abc123" in text and "seasonal naive" in text
