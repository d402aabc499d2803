"""Operations: the recording sensor over a 90-day backfill, the KPI mart following call_logs,
the freshness check of yesterday's numbers, and alerts reaching a webhook.

Sensor ticks and automation evaluations run in process against a real Dagster instance, with the
clock passed in: nothing waits on the real clock.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib
import json
import threading
from datetime import UTC, date, datetime, time, timedelta

import dagster as dg
import pyarrow.parquet as pq
import pytest

import alohub_assets.defs.recordings.sensors as sensors
from alohub_assets.api.alerts import Alert, post_alert
from alohub_assets.api.records import ICT, local_today
from alohub_assets.definitions import defs
from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.ingest.call_logs import build_call_logs, call_logs
from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
from alohub_assets.defs.ingest.raw_call_logs import raw_call_logs
from alohub_assets.defs.kpi_mart.build import kpi_tables
from alohub_assets.defs.operations import FRESHNESS_CHECKS
from alohub_assets.defs.operations.alerts import freshness_alert_sensor, run_failure_alert_sensor
from alohub_assets.defs.operations.freshness import (
    FRESHNESS_ASSET,
    deadline_time,
    freshness_checks_sensor,
    today_freshness,
)
from alohub_assets.defs.operations.freshness import (
    TODAY_CHECK as TODAY,
)
from alohub_assets.defs.operations.freshness import (
    YESTERDAY_CHECK as YESTERDAY,
)
from alohub_assets.defs.recordings.call_recordings import call_recordings
from alohub_assets.defs.recordings.sensors import (
    RecordingCursor,
    plan_recording_runs,
    recording_url_sensor,
)
from alohub_assets.defs.resources import RecordingPolicyResource, WarehouseResource
from alohub_assets.settings import IntradaySettings
from alohub_assets.storage.landing import land_call_logs
from alohub_assets.storage.layout import Warehouse
from alohub_dev.sandbox.calls import RECORDING_DELAYED, RECORDING_IN_DETAIL, RECORDING_NEVER
from tests.support import DAY, pipeline_resources


def freeze_time(at):
    """Dagster's own test clock, imported when a test needs it: its module costs each test
    worker more than a second to import at collection."""
    from dagster._core.test_utils import freeze_time as dagster_freeze_time

    return dagster_freeze_time(at)


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


QUARTER_START = date(2026, 4, 1)


@pytest.fixture
def backfilled_quarter(make_sandbox, tmp_path):
    """A fresh instance after a backfill of 90 past days, a quarter (2 calls a day, so it stays
    fast). Fixed dates: the sensor does not look at the calendar, and the sandbox's calls of a
    fixed day are always the same."""
    days = [QUARTER_START + timedelta(days=offset) for offset in range(90)]
    sandbox = make_sandbox(
        first_day=days[0], last_day=days[-1], calls_per_day=2, recording_delay_seconds=0
    )
    instance = dg.DagsterInstance.ephemeral()
    # Landed and built by the code the assets run, the materializations then recorded as a
    # backfill's runs record them: what the sensor follows is the events and the files.
    store = Warehouse.at(tmp_path)
    with sandbox.client() as client:
        for day in days:
            land_call_logs(client, store, day)
            build_call_logs(store, day)
            instance.report_runless_asset_event(
                dg.AssetMaterialization("call_logs", partition=day.isoformat())
            )
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
    # The sensor as the daemon runs it (real clock, resources by name) asks for the day.
    context = dg.build_sensor_context(
        instance=instance,
        resources={
            "warehouse": WarehouseResource(data_dir=str(tmp_path)),
            "recording_policy": policy,
        },
    )
    first = recording_url_sensor(context)
    assert [r.partition_key for r in first.run_requests] == [day.isoformat()]
    ticks = Ticks(instance, tmp_path, policy, monkeypatch)
    ticks.cursor = first.cursor
    start = datetime.now(UTC)
    fetch = build_job([call_recordings], sandbox, tmp_path, policy, "call_recordings_job")
    instance.create_run_for_job(
        fetch, status=dg.DagsterRunStatus.NOT_STARTED, tags={"dagster/partition": day.isoformat()}
    )
    assert ticks.at(start + timedelta(hours=2)) == [] and ticks.reads == []
    # call_logs of the day re-fetched while that run waits: still no second run.
    run(load, instance, day.isoformat())
    assert ticks.at(start + timedelta(hours=2, minutes=5)) == [] and ticks.reads == []


def test_the_sensor_starts_over_from_events_after_the_calendar_cursor(tmp_path):
    old = json.dumps({"2026-03-04": {"files": [1.0, None], "next_due": None}})
    assert RecordingCursor.parse(old).due == {}
    assert RecordingCursor.parse(None).after == {}


# --------------------------------------------------------------- the KPI mart follows call_logs

KPI_KEYS = [dg.AssetKey(t) for t in kpi_tables()]
CALL_LOGS = dg.AssetKey("call_logs")


def days_reading(key: dg.AssetKey, day: date) -> set[str]:
    """The partitions of KPI table ``key`` whose input holds call_logs of ``day``."""
    mapping = defs.get_assets_def(key).get_partition_mapping(CALL_LOGS)
    if mapping is None:  # the same day
        return {day.isoformat()}
    # A window [p + start_offset, p + end_offset] holds day for p in [day - end, day - start].
    return {
        (day - timedelta(days=offset)).isoformat()
        for offset in range(mapping.start_offset, mapping.end_offset + 1)
    }


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
        # The KPI tables' conditions (the planning tables follow call_logs too: their own tests).
        return dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            cursor=cursor,
            asset_selection=dg.AssetSelection.assets(*KPI_KEYS),
        )

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
    built = {DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()}
    requested = 0
    for key in KPI_KEYS:  # every day whose input holds DAY, of the days built (DAY, DAY + 1)
        assert result.get_requested_partitions(key) == days_reading(key, DAY) & built
        requested += len(result.get_requested_partitions(key))
    assert result.total_requested == requested  # nothing else

    # What the automation sensor launches for that request brings DAY's KPI tables up to date.
    materialize(
        [k for k in KPI_KEYS if result.get_requested_partitions(k) == {DAY.isoformat()}], DAY
    )
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


# ------------------------------------------------------------------ freshness and alerts


class Receiver:
    """A real HTTP server on 127.0.0.1 that records what is posted to it."""

    def __init__(self, statuses=()):
        self.posts: list[tuple[str, dict]] = []
        self.statuses = list(statuses)  # answers before the default 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((self.path, json.loads(body)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


WEBHOOK_TOKEN = "T0ALOHUB/B0OPS/xq81WebhookSecretToken"
UI = "http://dagster.alohub.internal:3000"


@pytest.fixture
def webhook(monkeypatch):
    receiver = Receiver()
    monkeypatch.setenv("ALOHUB_ALERT_WEBHOOK_URL", receiver.url(f"/services/{WEBHOOK_TOKEN}"))
    monkeypatch.setenv("ALOHUB_UI_BASE_URL", UI)
    yield receiver
    receiver.close()


def test_a_failed_run_reaches_the_webhook_without_a_secret(
    make_sandbox, tmp_path, webhook, monkeypatch, caplog
):
    sandbox = make_sandbox(calls_per_day=20)
    wrong_key = "sk_test_Wq93NotTheSandboxKey"
    monkeypatch.setenv("ALOHUB_API_KEY", wrong_key)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [raw_call_logs, call_logs],
        partition_key=DAY.isoformat(),
        resources=pipeline_resources(sandbox, tmp_path, api_key=wrong_key),
        instance=instance,
        raise_on_error=False,
        run_config=QUIET,
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    (failure,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=failure.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    with caplog.at_level("DEBUG"):
        run_failure_alert_sensor(context)

    (path, message) = webhook.posts[0]
    assert len(webhook.posts) == 1 and path == f"/services/{WEBHOOK_TOKEN}"
    assert message["kind"] == "run_failure"
    assert message["job"] == run.job_name and message["partition"] == DAY.isoformat()
    assert message["link"] == f"{UI}/runs/{result.run_id}"
    assert message["error"].startswith("raw_call_logs:") and "401" in message["error"]
    assert run.job_name in message["text"] and message["link"] in message["text"]
    body = json.dumps(message)
    for secret in (WEBHOOK_TOKEN, "xq81WebhookSecretToken", wrong_key):
        assert secret not in body
        assert secret not in caplog.text


def test_an_unreachable_or_failing_webhook_is_retried_a_bounded_number_of_times(caplog):
    alert = Alert("run_failure", "daily_call_logs_job", "2026-03-04", "boom", f"{UI}/runs/x")
    closed = Receiver()
    url = closed.url(f"/services/{WEBHOOK_TOKEN}")
    closed.close()  # nothing listens there any more
    slept: list[float] = []
    with caplog.at_level("DEBUG"):
        assert post_alert(alert, url, attempts=3, sleep=slept.append) is False
    assert len(slept) == 2  # three attempts, no exception
    flaky = Receiver(statuses=[503, 500])
    try:
        with caplog.at_level("DEBUG"):
            assert post_alert(alert, flaky.url(f"/s/{WEBHOOK_TOKEN}"), sleep=slept.append)
        assert len(flaky.posts) == 3
        refused = Receiver(statuses=[404])
        with caplog.at_level("DEBUG"):
            assert not post_alert(alert, refused.url(f"/s/{WEBHOOK_TOKEN}"), sleep=slept.append)
        assert len(refused.posts) == 1  # a 4xx is not asked again
        refused.close()
    finally:
        flaky.close()
    assert WEBHOOK_TOKEN not in caplog.text and "xq81" not in caplog.text


def test_without_a_webhook_nothing_is_sent_and_nothing_fails(monkeypatch):
    monkeypatch.delenv("ALOHUB_ALERT_WEBHOOK_URL", raising=False)
    alert = Alert("freshness", "daily_call_metrics", "2026-03-04", "late", f"{UI}/assets/x")
    assert post_alert(alert) is False


def test_yesterdays_metrics_missing_after_the_deadline_fail_the_check_and_alert(
    make_sandbox, tmp_path, webhook
):
    """Day D = DAY + 1, 10:00 local: the 09:00 deadline has passed and DAY is not built; then it
    is built only by an intraday refresh during DAY, which is not yet the finished day."""
    sandbox = make_sandbox(calls_per_day=20)
    instance = dg.DagsterInstance.ephemeral()
    resources = pipeline_resources(sandbox, tmp_path)
    run_day = DAY + timedelta(days=1)

    def build(day, at=None):
        with freeze_time(at) if at else contextlib.nullcontext():
            dg.materialize(
                ALL_ASSETS,
                selection=DAILY_PIPELINE,
                partition_key=day.isoformat(),
                resources=resources,
                instance=instance,
                run_config=QUIET,
            )

    def check_at(hour, minute=0):
        at = datetime(run_day.year, run_day.month, run_day.day, hour, minute, tzinfo=ICT)
        with freeze_time(at):
            result = dg.materialize(
                [*ALL_ASSETS, *FRESHNESS_CHECKS],
                selection=dg.AssetSelection.checks(dg.AssetCheckKey(FRESHNESS_ASSET, YESTERDAY)),
                instance=instance,
                resources=resources,
                run_config=QUIET,
            )
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation

    build(DAY - timedelta(days=1))  # the day before is there, DAY is not
    assert check_at(8, 59).passed  # before the deadline the day before DAY is what counts
    late = check_at(10)
    assert not late.passed and late.severity == dg.AssetCheckSeverity.ERROR
    assert DAY.isoformat() in late.description

    sensor_context = dg.build_sensor_context(instance=instance)
    freshness_alert_sensor(sensor_context)
    (path, message) = webhook.posts[0]
    assert message["kind"] == "freshness" and message["partition"] == DAY.isoformat()
    assert message["link"].startswith(f"{UI}/assets/daily_call_metrics")
    assert WEBHOOK_TOKEN not in json.dumps(message)
    # The same result is not posted twice.
    freshness_alert_sensor(dg.build_sensor_context(instance=instance, cursor=sensor_context.cursor))
    assert len(webhook.posts) == 1

    # Built at 21:45 during DAY (an intraday refresh): the day so far, not the day.
    build(DAY, at=datetime.combine(DAY, time(21, 45), tzinfo=ICT))
    still = check_at(10)
    assert not still.passed and "before the day ended" in still.description
    build(DAY)  # the full read after the day ended (now, in real time)
    assert check_at(10).passed


def test_todays_figures_older_than_two_refreshes_fail_the_intraday_check(tmp_path, webhook):
    """The intraday check against the schedule's ticks: quiet outside opening hours and before
    two refreshes were due; failing, and alerting once, when two refreshes in a row are missing;
    passing again once a refresh lands. The sensor records results without a run."""
    today = local_today()
    instance = dg.DagsterInstance.ephemeral()
    intraday = IntradaySettings()  # every 15 min from 07:00, open 07:00-22:00

    def at(clock: str) -> datetime:
        return datetime.combine(today, time.fromisoformat(clock), tzinfo=ICT)

    def verdict(clock: str):
        return today_freshness(instance, at(clock), intraday)

    def refreshed(clock: str) -> None:
        with freeze_time(at(clock)):  # the event's time is Dagster's clock
            instance.report_runless_asset_event(
                dg.AssetMaterialization(FRESHNESS_ASSET, partition=today.isoformat())
            )

    assert verdict("06:30").passed and "outside" in verdict("06:30").description
    assert verdict("07:10").passed  # one refresh due so far
    assert not verdict("07:40").passed  # 07:00, 07:15, 07:30 due, none landed
    refreshed("07:31")
    assert verdict("07:59").passed  # 28 min old: within two intervals
    late = verdict("08:02")  # 31 min old: the 07:45 and 08:00 refreshes did not land
    assert not late.passed and "more than two refresh intervals" in late.description
    assert verdict("22:30").passed  # closed

    # The sensor records a result when it changes, and the alert sensor posts a failure once.
    with freeze_time(at("08:02")):
        result = freshness_checks_sensor(dg.build_sensor_context(instance=instance))
    changed = {e.check_name: e for e in result.asset_events}
    assert changed[TODAY].passed is False
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    with freeze_time(at("08:03")):
        again = freshness_checks_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(again, dg.SkipReason)  # nothing changed: nothing recorded
    alert_context = dg.build_sensor_context(instance=instance)
    freshness_alert_sensor(alert_context)
    kinds = [message["kind"] for _, message in webhook.posts]
    assert kinds.count("intraday_freshness") == 1
    (message,) = [m for _, m in webhook.posts if m["kind"] == "intraday_freshness"]
    assert message["partition"] == today.isoformat() and "min old" in message["error"]
    freshness_alert_sensor(dg.build_sensor_context(instance=instance, cursor=alert_context.cursor))
    assert [m["kind"] for _, m in webhook.posts].count("intraday_freshness") == 1


def test_the_freshness_deadline_is_a_local_time():
    assert deadline_time("09:00") == time(9, 0)
    assert deadline_time("7:30") == time(7, 30)
    with pytest.raises(ValueError, match="ALOHUB_FRESHNESS_DEADLINE"):
        deadline_time("9am")
