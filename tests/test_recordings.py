"""Recording URLs: the call_recordings asset against the sandbox (the sensor: test_operations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow.parquet as pq

from alohub_assets.defs.ingest.call_logs import build_call_logs
from alohub_assets.defs.recordings.call_recordings import call_recordings
from alohub_assets.defs.resources import RecordingPolicyResource
from alohub_assets.storage.landing import land_call_logs
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.recordings import fetch_recordings, find_due, merge_recordings
from alohub_dev.sandbox.calls import (
    RECORDING_DELAYED,
    RECORDING_IN_DETAIL,
    RECORDING_NEVER,
)
from tests.support import DAY, INGESTION, materialize_day

NO_WAIT = RecordingPolicyResource(backoff_minutes=[0], max_attempts=3)


def detail_requests(sandbox) -> int:
    return sum(n for key, n in sandbox.requests().items() if key.startswith("detail:"))


def missing_answered(warehouse, day):
    table = pq.read_table(warehouse.call_logs_file(day)).to_pylist()
    return {r["call_id"] for r in table if r["answered"] and r["recording_url"] is None}


def test_one_detail_request_per_missing_recording_and_none_on_rerun(make_sandbox, tmp_path):
    sandbox = make_sandbox(recording_delay_seconds=3600)
    materialize_day(sandbox, tmp_path, DAY, assets=INGESTION)
    warehouse = Warehouse.at(tmp_path)
    missing = missing_answered(warehouse, DAY)
    assert missing

    first = materialize_day(sandbox, tmp_path, DAY, assets=[call_recordings])
    assert detail_requests(sandbox) == len(missing)
    metadata = first.asset_materializations_for_node("call_recordings")[0].metadata
    assert metadata["detail_requests"].value == len(missing)

    materialize_day(sandbox, tmp_path, DAY, assets=[call_recordings])
    assert detail_requests(sandbox) == len(missing)  # pending calls wait their backoff

    rows = pq.read_table(warehouse.recordings_file(DAY)).to_pylist()
    assert {r["call_id"] for r in rows} == missing  # never an unanswered or listed call
    truth = {c.call_id: c for c in sandbox.store.calls_on(DAY)}
    for row in rows:
        call = truth[row["call_id"]]
        expected = "found" if call.recording == RECORDING_IN_DETAIL else "pending"
        assert row["status"] == expected and row["attempts"] == 1
        assert row["duration_seconds"] == int((call.end_time - call.start_time).total_seconds())
        assert row["call_type"] == call.call_type


def test_calls_view_has_every_recording_the_detail_endpoint_has(make_sandbox, tmp_path):
    sandbox = make_sandbox(recording_delay_seconds=0)
    materialize_day(sandbox, tmp_path, DAY, assets=INGESTION)
    materialize_day(sandbox, tmp_path, DAY, assets=[call_recordings])
    warehouse = Warehouse.at(tmp_path)
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        view = {
            call_id: (url, status)
            for call_id, url, status in con.execute(
                "SELECT call_id, recording_url, recording_status FROM calls"
            ).fetchall()
        }
    calls = sandbox.store.calls_on(DAY)
    assert len(view) == len(calls)
    for call in calls:
        url, status = view[call.call_id]
        if call.recording in (RECORDING_IN_DETAIL, RECORDING_DELAYED):
            assert (url, status) == (call.recording_url, "found")
        elif call.recording == RECORDING_NEVER:
            assert (url, status) == (None, "pending")
        elif not call.answered:
            assert (url, status) == (None, "not_answered")
        else:
            assert (url, status) == (call.recording_url, "listed")


def test_a_found_url_is_kept_and_late_recordings_are_picked_up(make_sandbox, tmp_path):
    sandbox = make_sandbox(recording_delay_seconds=3600)
    materialize_day(sandbox, tmp_path, DAY, assets=INGESTION)
    materialize_day(sandbox, tmp_path, DAY, assets=[call_recordings], recording_policy=NO_WAIT)
    sandbox.server.state.config.recording_delay_seconds = 0  # processing finished upstream
    materialize_day(sandbox, tmp_path, DAY, assets=[call_recordings], recording_policy=NO_WAIT)
    rows = pq.read_table(Warehouse.at(tmp_path).recordings_file(DAY)).to_pylist()
    truth = {c.call_id: c for c in sandbox.store.calls_on(DAY)}
    for row in rows:
        recording = truth[row["call_id"]].recording
        if recording == RECORDING_IN_DETAIL:
            assert row["status"] == "found" and row["attempts"] == 1  # not asked again
        elif recording == RECORDING_DELAYED:
            assert row["status"] == "found" and row["attempts"] == 2
        else:
            assert row["status"] == "pending" and row["recording_url"] is None


def test_gives_up_after_the_attempt_limit(make_sandbox, tmp_path):
    sandbox = make_sandbox(recording_delay_seconds=3600)
    materialize_day(sandbox, tmp_path, DAY, assets=INGESTION)
    for _ in range(4):
        materialize_day(sandbox, tmp_path, DAY, assets=[call_recordings], recording_policy=NO_WAIT)
    rows = pq.read_table(Warehouse.at(tmp_path).recordings_file(DAY)).to_pylist()
    unresolved = [r for r in rows if r["status"] != "found"]
    assert unresolved and all(r["status"] == "gave_up" and r["attempts"] == 3 for r in unresolved)
    asked = detail_requests(sandbox)
    materialize_day(sandbox, tmp_path, DAY, assets=[call_recordings], recording_policy=NO_WAIT)
    assert detail_requests(sandbox) == asked


def test_the_default_policy_asks_after_10_min_1_h_6_h_24_h_and_gives_up_after_5(
    make_sandbox, tmp_path
):
    """The schedule the README promises for a recording that never comes, under the resource's
    defaults (what a deployment runs): each call asked again 10 min, 1 h, 6 h and 24 h after
    its last attempt, and given up after the 5th. The asset's steps without Dagster, on a
    clock moved by hand to each next due moment."""
    sandbox = make_sandbox(calls_per_day=80, recording_delay_seconds=3600)
    warehouse = Warehouse.at(tmp_path)
    policy = RecordingPolicyResource().get_policy()
    now = datetime(2026, 3, 5, 3, 0, tzinfo=UTC)
    gaps = []
    with sandbox.client() as client:
        land_call_logs(client, warehouse, DAY)
        build_call_logs(warehouse, DAY)
        missing = missing_answered(warehouse, DAY)
        while True:
            due = find_due(warehouse, DAY, policy, now)
            if due.due_call_ids:
                fetched = fetch_recordings(client, due.due_call_ids, due.attempts, policy, now)
                merge_recordings(warehouse, DAY, fetched.table)
                continue
            if due.next_due_at is None:
                break
            gaps.append(due.next_due_at - now)
            now = due.next_due_at
    expected = [timedelta(minutes=10), timedelta(hours=1), timedelta(hours=6), timedelta(hours=24)]
    assert gaps == expected
    rows = pq.read_table(warehouse.recordings_file(DAY)).to_pylist()
    unresolved = [r for r in rows if r["status"] != "found"]
    assert {r["call_id"] for r in rows} == missing
    assert unresolved and all(r["status"] == "gave_up" and r["attempts"] == 5 for r in unresolved)
