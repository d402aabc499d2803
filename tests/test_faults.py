"""Fault injection: whole partition runs against a misbehaving sandbox over HTTP. Every call
lands exactly once, or the run fails with a clear error; never a silently short day.

`make soak` runs the same tests with ALOHUB_SOAK_RUNS runs per kind and writes the figures to
docs/reliability.md."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from alohub_assets.defs.ingest.call_logs import call_logs
from alohub_assets.defs.ingest.raw_call_logs import raw_call_logs
from alohub_assets.defs.recordings.call_recordings import call_recordings
from alohub_assets.defs.resources import RecordingPolicyResource
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.recordings import find_due
from alohub_dev.sandbox.calls import RECORDING_DELAYED, RECORDING_IN_DETAIL
from tests.support import FIRST_DAY, materialize_day

RUNS = int(os.environ.get("ALOHUB_SOAK_RUNS", "2"))
FAST = {"retry_backoff_seconds": 0.01, "max_retries": 12, "max_retry_seconds": 60}

FAULTS = {
    "429 storm (Retry-After 1 s)": ({"storm_429": 0.15}, {}),
    "5xx burst": ({"fail_500": 0.35}, {}),
    "dropped connections": ({"drop": 0.25}, {}),
    "answers slower than the time-out": ({"slow": 0.2}, {"timeout_seconds": 0.4}),
    "502 HTML page from the gateway": ({"html_502": 0.3}, {}),
    "truncated JSON body": ({"truncate": 0.3}, {}),
    '200 with success "0"': ({"success_0": 0.3}, {}),
    "page drift (calls inserted while paging)": ({"drift": 0.04}, {}),
}


def failure_text(result) -> str:
    return "\n".join(
        event.event_specific_data.error.to_string() for event in result.get_step_failure_events()
    )


@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_kind_loses_and_duplicates_nothing(kind, make_sandbox, tmp_path, reliability_report):
    faults, client = FAULTS[kind]
    days = [FIRST_DAY + timedelta(days=i) for i in range(RUNS)]
    sandbox = make_sandbox(
        calls_per_day=150, first_day=days[0], last_day=days[-1], faults=faults,
        fault_seed=len(kind), slow_seconds=0.8,
    )  # fmt: skip
    warehouse = Warehouse.at(tmp_path)
    expected = landed = lost = duplicates = failed = 0
    for day in days:
        result = materialize_day(
            sandbox, tmp_path, day, assets=[raw_call_logs, call_logs], raise_on_error=False,
            **{**FAST, **client},
        )  # fmt: skip
        if not result.success:
            failed += 1
            text = failure_text(result)
            assert "AloHub" in text  # a clear, named failure (retries exhausted, drift...)
            assert not warehouse.call_logs_file(day).exists()  # nothing half-written
            continue
        truth = {c.call_id for c in sandbox.store.calls_on(day)}
        ids = pq.read_table(warehouse.call_logs_file(day), columns=["call_id"]).column(0)
        ids = ids.to_pylist()
        expected += len(truth)
        landed += len(set(ids) & truth)
        lost += len(truth - set(ids))
        duplicates += len(ids) - len(set(ids))
    reliability_report["faults"].append(
        {
            "fault": kind,
            "rate": next(iter(faults.values())),
            "runs": RUNS,
            "calls expected": expected,
            "calls landed": landed,
            "lost": lost,
            "duplicates": duplicates,
            "failed clearly": failed,
        }  # fmt: skip
    )
    assert lost == 0 and duplicates == 0
    assert failed < RUNS  # the faults are survivable at these rates


def test_exhausted_retries_fail_clearly_and_keep_the_previous_day(make_sandbox, tmp_path):
    sandbox = make_sandbox(calls_per_day=150)
    materialize_day(sandbox, tmp_path, FIRST_DAY, assets=[raw_call_logs, call_logs])
    before = pq.read_table(Warehouse.at(tmp_path).call_logs_file(FIRST_DAY))
    sandbox.config.faults = {"fail_500": 1.0}
    result = materialize_day(
        sandbox, tmp_path, FIRST_DAY, assets=[raw_call_logs, call_logs], raise_on_error=False,
        retry_backoff_seconds=0.01, max_retries=3,
    )  # fmt: skip
    assert not result.success
    assert "failed 4 times" in failure_text(result) and "HTTP 500" in failure_text(result)
    assert pq.read_table(Warehouse.at(tmp_path).call_logs_file(FIRST_DAY)).equals(before)


def test_detail_404s_from_the_gateway_lose_no_recording(make_sandbox, tmp_path, reliability_report):
    sandbox = make_sandbox(recording_delay_seconds=0)
    materialize_day(sandbox, tmp_path, FIRST_DAY)
    sandbox.config.faults = {"detail_404": 0.4}
    policy = RecordingPolicyResource(backoff_minutes=[0], max_attempts=8)
    runs = 0
    while find_due(
        Warehouse.at(tmp_path), FIRST_DAY, policy.get_policy(), datetime.now(UTC)
    ).due_call_ids:
        runs += 1
        assert runs <= 8  # each call is asked at most max_attempts times
        materialize_day(
            sandbox, tmp_path, FIRST_DAY, assets=[call_recordings], recording_policy=policy, **FAST
        )
    rows = pq.read_table(Warehouse.at(tmp_path).recordings_file(FIRST_DAY)).to_pylist()
    found = {r["call_id"] for r in rows if r["status"] == "found"}
    has_one = {
        c.call_id
        for c in sandbox.store.calls_on(FIRST_DAY)
        if c.recording in (RECORDING_IN_DETAIL, RECORDING_DELAYED)
    }
    reliability_report["faults"].append(
        {
            "fault": "detail endpoint 404s",
            "rate": 0.4,
            "runs": 4,
            "calls expected": len(has_one),
            "calls landed": len(found & has_one),
            "lost": len(has_one - found),
            "duplicates": 0,
            "failed clearly": 0,
        }  # fmt: skip
    )
    assert found == has_one
