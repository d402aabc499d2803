"""Operations: the recording sensor over a 90-day backfill, the KPI mart following call_logs,
the freshness check of yesterday's numbers, and alerts reaching a webhook.

Sensor ticks and automation evaluations run in process against a real Dagster instance, with the
clock passed in: nothing waits on the real clock.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pyarrow.parquet as pq
import pytest

import alohub_assets.defs.recordings.sensors as sensors
from alohub_assets.api.records import ICT
from alohub_assets.definitions import defs
from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.ingest.call_logs import call_logs
from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
from alohub_assets.defs.ingest.raw_call_logs import raw_call_logs
from alohub_assets.defs.kpi_mart.build import kpi_tables
from alohub_assets.defs.recordings.call_recordings import call_recordings
from alohub_assets.defs.recordings.sensors import RecordingCursor, plan_recording_runs
from alohub_assets.defs.resources import RecordingPolicyResource, WarehouseResource
from alohub_dev.sandbox.calls import RECORDING_DELAYED, RECORDING_IN_DETAIL, RECORDING_NEVER
from tests.support import DAY, pipeline_resources

# The module, not the asset of the same name that alohub_assets.assets exports.
call_recordings_module = importlib.import_module("alohub_assets.defs.recordings.call_recordings")
MISSING_IN_LIST = (RECORDING_IN_DETAIL, RECORDING_DELAYED, RECORDING_NEVER)


def build_job(assets, sandbox, data_dir, policy, name):
    defs = dg.Definitions(
        assets=assets,
        jobs=[dg.define_asset_job(name, selection=[a.key for a in assets])],
        resources=pipeline_resources(sandbox, data_dir, policy),
    )
    return defs.resolve_job_def(name)


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run(job, instance, partition_key: str):
    return job.execute_in_process(partition_key=partition_key, instance=instance, run_config=QUIET)


class Ticks:
    """recording_url_sensor's ticks at given times, its cursor carried over, file reads counted."""

    def __init__(self, instance, data_dir, policy, monkeypatch):
        self.instance, self.policy, self.cursor = instance, policy, None
        self.warehouse = WarehouseResource(data_dir=str(data_dir))
        self.reads: list[str] = []
        real_find_due = sensors.find_due

        def counting_find_due(store, day, policy, now):
            self.reads.append(day.isoformat())
            return real_find_due(store, day, policy, now)

        monkeypatch.setattr(sensors, "find_due", counting_find_due)
        self.now = datetime.now(UTC)
        monkeypatch.setattr(call_recordings_module, "utc_now", lambda: self.now)

    def at(self, now: datetime) -> list[dg.RunRequest]:
        self.now = now  # the runs started after this tick see the same clock
        self.reads.clear()
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = plan_recording_runs(context, self.warehouse, self.policy, now)
        self.cursor = result.cursor
        return result.run_requests


def drain(ticks, fetch, instance, start, max_runs) -> list[str]:
    """Ticks a second apart, running what each asks for, until a tick asks for nothing."""
    requested: list[str] = []
    for second in range(60):
        batch = ticks.at(start + timedelta(seconds=second))
        if not batch:
            return requested
        keys = [r.partition_key for r in batch]
        assert len(batch) <= max_runs
        assert keys == sorted(keys)  # oldest first
        assert not set(keys) & set(requested)  # no day asked again before its calls fall due
        assert len({r.run_key for r in batch}) == len(batch)
        requested += keys
        for key in keys:
            run(fetch, instance, key)
    raise AssertionError("the sensor kept asking")


@pytest.fixture
def backfilled_quarter(make_sandbox, tmp_path):
    """A fresh instance after a backfill of the 90 past local days (3 calls a day)."""
    today = datetime.now(ICT).date()
    days = [today - timedelta(days=back) for back in range(90, 0, -1)]
    sandbox = make_sandbox(
        first_day=days[0], last_day=days[-1], calls_per_day=3, recording_delay_seconds=0
    )
    instance = dg.DagsterInstance.ephemeral()
    load = build_job([raw_call_logs, call_logs], sandbox, tmp_path, None, "load")
    for day in days:
        run(load, instance, day.isoformat())
    return sandbox, instance, days


def test_a_90_day_backfill_gets_recordings_for_exactly_the_days_with_some_due(
    backfilled_quarter, tmp_path, monkeypatch
):
    sandbox, instance, days = backfilled_quarter
    policy = RecordingPolicyResource(max_attempts=2, backoff_minutes=[60], max_runs_per_tick=10)
    fetch = build_job([call_recordings], sandbox, tmp_path, policy, "fetch")
    calls = {day: sandbox.store.calls_on(day) for day in days}
    missing_days = {
        d.isoformat()
        for d, cs in calls.items()
        if any(c.answered and c.recording in MISSING_IN_LIST for c in cs)
    }
    never_days = {
        d.isoformat()
        for d, cs in calls.items()
        if any(c.answered and c.recording == RECORDING_NEVER for c in cs)
    }
    assert 0 < len(never_days) < len(missing_days) < len(days)  # the case tests something

    ticks = Ticks(instance, tmp_path, policy, monkeypatch)
    start = datetime.now(UTC)
    requested = drain(ticks, fetch, instance, start, policy.max_runs_per_tick)
    assert sorted(requested) == sorted(missing_days)
    assert requested == sorted(requested)  # oldest-due first across ticks

    # Before the backoff is over: no request and no file read; only pending days are kept.
    assert ticks.at(start + timedelta(minutes=30)) == [] and ticks.reads == []
    assert set(RecordingCursor.parse(ticks.cursor).due) == never_days

    # Due again: exactly the days with a call still pending; that attempt is the last.
    again = drain(ticks, fetch, instance, start + timedelta(minutes=90), policy.max_runs_per_tick)
    assert sorted(again) == sorted(never_days)

    # A second pass after all is done requests nothing and reads nothing, even days later.
    assert ticks.at(start + timedelta(days=3)) == [] and ticks.reads == []
    assert RecordingCursor.parse(ticks.cursor).due == {}
    for key in never_days:
        rows = pq.read_table(
            WarehouseResource(data_dir=str(tmp_path))
            .get_warehouse()
            .recordings_file(date.fromisoformat(key))
        ).to_pylist()
        assert {r["status"] for r in rows if r["attempts"] == 2} == {"gave_up"}


def test_a_day_loaded_by_hand_long_ago_is_read_once_and_asked_for(
    make_sandbox, tmp_path, monkeypatch
):
    """A day seven months back, re-fetched by hand: the sensor follows the event, not the date."""
    today = datetime.now(ICT).date()
    day = today - timedelta(days=210)
    sandbox = make_sandbox(first_day=day, last_day=day, calls_per_day=120)
    instance = dg.DagsterInstance.ephemeral()
    policy = RecordingPolicyResource()
    ticks = Ticks(instance, tmp_path, policy, monkeypatch)
    start = datetime.now(UTC)
    assert ticks.at(start) == []  # nothing loaded yet
    load = build_job([raw_call_logs, call_logs], sandbox, tmp_path, None, "load")
    run(load, instance, day.isoformat())
    first = ticks.at(start + timedelta(seconds=1))
    assert [r.partition_key for r in first] == [day.isoformat()] and ticks.reads == [
        day.isoformat()
    ]
    assert first[0].run_key.startswith(f"call_recordings:{day.isoformat()}:")
    # The run has not written yet: the day is not asked for or read again in the next ticks.
    assert ticks.at(start + timedelta(minutes=20)) == [] and ticks.reads == []
    # Its run never wrote and none is queued: asked again after rerequest_after_minutes, with
    # a new run key (Dagster never launches a sensor run key twice).
    later = ticks.at(start + timedelta(minutes=policy.rerequest_after_minutes + 1))
    assert [r.partition_key for r in later] == [day.isoformat()]
    assert later[0].run_key != first[0].run_key


def test_a_run_still_queued_is_not_asked_for_twice(make_sandbox, tmp_path, monkeypatch):
    today = datetime.now(ICT).date()
    day = today - timedelta(days=3)
    sandbox = make_sandbox(first_day=day, last_day=day, calls_per_day=120)
    instance = dg.DagsterInstance.ephemeral()
    policy = RecordingPolicyResource()
    load = build_job([raw_call_logs, call_logs], sandbox, tmp_path, None, "load")
    run(load, instance, day.isoformat())
    ticks = Ticks(instance, tmp_path, policy, monkeypatch)
    start = datetime.now(UTC)
    assert [r.partition_key for r in ticks.at(start)] == [day.isoformat()]
    fetch = build_job([call_recordings], sandbox, tmp_path, policy, "call_recordings_job")
    instance.create_run_for_job(
        fetch, status=dg.DagsterRunStatus.NOT_STARTED, tags={"dagster/partition": day.isoformat()}
    )
    assert ticks.at(start + timedelta(hours=2)) == [] and ticks.reads == []


def test_the_sensor_starts_over_from_events_after_the_calendar_cursor(tmp_path):
    old = json.dumps({"2026-03-04": {"files": [1.0, None], "next_due": None}})
    assert RecordingCursor.parse(old).due == {}
    assert RecordingCursor.parse(None).after == {}


# --------------------------------------------------------------- the KPI mart follows call_logs

KPI_KEYS = [dg.AssetKey(t) for t in kpi_tables()]


def test_kpi_tables_follow_a_hand_rematerialization_of_a_past_day(make_sandbox, tmp_path):
    sandbox = make_sandbox(calls_per_day=40)
    instance = dg.DagsterInstance.ephemeral()
    resources = pipeline_resources(sandbox, tmp_path)

    def materialize(selection, day):
        return dg.materialize(
            ALL_ASSETS,
            selection=selection,
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
            run_config=QUIET,
        )

    def evaluate(cursor):
        return dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)

    result = evaluate(None)
    assert result.total_requested == 0
    # The daily job (what the schedule runs) builds call_logs and the KPI tables together:
    # the automation asks for nothing more.
    for day in (DAY, DAY + timedelta(days=1)):
        materialize(DAILY_PIPELINE, day)
    result = evaluate(result.cursor)
    assert result.total_requested == 0

    # A late call of DAY, then call_logs of DAY re-fetched by hand (as from the UI).
    sandbox.store.add_late_call(
        datetime(DAY.year, DAY.month, DAY.day, 9, tzinfo=ICT),
        datetime(DAY.year, DAY.month, DAY.day, 17, tzinfo=ICT),
    )
    materialize(["raw_call_logs", "call_logs"], DAY)
    result = evaluate(result.cursor)
    for key in KPI_KEYS:
        assert result.get_requested_partitions(key) == {DAY.isoformat()}
    assert result.total_requested == len(KPI_KEYS)  # nothing else, no other day

    # What the automation sensor launches for that request brings DAY's KPI tables up to date.
    materialize(KPI_KEYS, DAY)
    warehouse = WarehouseResource(data_dir=str(tmp_path)).get_warehouse()
    calls = pq.read_metadata(warehouse.call_logs_file(DAY)).num_rows
    metrics = pq.read_table(warehouse.partition_file("daily_call_metrics", DAY))
    assert sum(metrics.column("offered_calls").to_pylist()) == calls
    assert calls == len(sandbox.store.calls_on(DAY))  # the late call is counted
    assert evaluate(result.cursor).total_requested == 0


def test_the_automation_sensor_covers_every_kpi_table_and_starts_running():
    repo = defs.get_repository_def()
    sensor = repo.get_sensor_def("default_automation_condition_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    targeted = sensor.asset_selection.resolve(repo.asset_graph)
    for key in KPI_KEYS:
        assert key in targeted
        assert repo.asset_graph.get(key).automation_condition is not None
    assert repo.get_schedule_def("daily_call_logs_schedule").default_status == (
        dg.DefaultScheduleStatus.RUNNING
    )
