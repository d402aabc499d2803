"""Each benchmark at a tiny size, so that a change that breaks one is caught here.
Nothing is timed: `make bench` measures; these check that the measured work is right."""

from __future__ import annotations

import dataclasses

import pytest

from bench import run as bench

SIZES = dataclasses.replace(bench.QUICK)


def test_ingestion_benchmark_lands_every_call_once():
    result = bench.bench_ingest(SIZES)
    (run,) = result.runs
    assert run["calls"] == SIZES.days * SIZES.calls_per_day
    assert run["duplicates"] == 0
    assert run["requests"] > 0 and run["rate_limited_429"] <= 5
    assert (
        result.figures["ratio to bound"] == pytest.approx(run["ratio"], rel=1e-3)
        or run["bound"] == 0
    )


def test_dlt_comparison_runs_or_says_why_not():
    ours = bench.Result("ours", {"wall s": 1.0, "duplicates": 0}, "", True)
    result = bench.bench_dlt(SIZES, ours)
    if result.met is None:
        assert "uv sync --group bench" in result.note
    else:
        assert result.figures["dlt duplicate callIds"] == 0


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


def test_report_renders_every_result():
    results = [bench.Result("x", {"a": 1}, "t", True), bench.Result("y", {}, "t", None, "why")]
    text = bench.render(results, SIZES, bench.datetime.now(bench.UTC), 1.0)
    assert "| x | a: 1 | t | yes |" in text and "| y | why | t | n/a |" in text
