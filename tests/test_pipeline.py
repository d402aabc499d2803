"""The partitioned pipeline end to end: real materializations, real Parquet and DuckDB files,
compared with the sandbox's own record of the calls."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alohub_assets.api.records import ICT
from alohub_assets.storage.layout import Warehouse
from tests.conftest import own_rate_state, start_sandbox_server
from tests.support import DAY, INGESTION, Sandbox, materialize_day

COLUMNS = [
    "call_id",
    "call_date",
    "direction",
    "caller",
    "called",
    "agent_id",
    "start_time",
    "first_ring_time",
    "first_connect_time",
    "end_time",
    "waiting_seconds",
    "acd_seconds",
    "talk_seconds",
    "description",
    "customer_names",
    "recording_url",
    "answered",
]


@pytest.fixture
def built_day(sandbox, tmp_path):
    """A day built in the test's own folder, for tests that write more into it."""
    result = materialize_day(sandbox, tmp_path, DAY)
    return sandbox, Warehouse.at(tmp_path), result


@pytest.fixture(scope="module")
def read_only_day(tmp_path_factory):
    """The same day built once for the tests that only read it (one worker runs the module)."""
    server = start_sandbox_server()
    data_dir = tmp_path_factory.mktemp("read_only_day")
    try:
        with pytest.MonkeyPatch.context() as env:
            own_rate_state(env, data_dir / "quota.sqlite3")
            sandbox = Sandbox(server)
            built = materialize_day(sandbox, data_dir, DAY)
        yield sandbox, Warehouse.at(data_dir), built
    finally:
        server.stop()


def truth_by_id(sandbox, day=DAY):
    return {c.call_id: c.truth() for c in sandbox.store.calls_on(day)}


def test_call_logs_match_the_sandbox_record_column_by_column(read_only_day):
    sandbox, warehouse, _ = read_only_day
    table = pq.read_table(warehouse.call_logs_file(DAY))
    # customer_number is compared with an independent normalization in test_kpi_analytics.py
    assert table.column_names == [*COLUMNS, "customer_number"]
    schema = table.schema
    assert schema.field("call_date").type == pa.date32()
    assert schema.field("start_time").type.tz in ("UTC", "Etc/UTC", "+00:00")
    assert schema.field("waiting_seconds").type == pa.int32()
    assert schema.field("customer_names").type == pa.list_(pa.string())
    assert schema.field("answered").type == pa.bool_()

    truth = truth_by_id(sandbox)
    rows = table.to_pylist()
    assert len(rows) == len(truth)  # one row per call, none missing
    for row in rows:
        expected = truth[row["call_id"]]
        for column in COLUMNS:
            assert row[column] == expected[column], (row["call_id"], column)
    directions = {row["direction"] for row in rows}
    assert directions == {"inbound", "outbound", "unknown"}  # calls of another type kept
    starts = {row["start_time"] for row in rows}
    midnight = datetime(DAY.year, DAY.month, DAY.day, tzinfo=ICT)
    assert midnight in starts and midnight + timedelta(seconds=86_399) in starts
    assert any(len(row["customer_names"]) > 1 for row in rows)  # repeated rows folded
    assert any(not row["answered"] and row["agent_id"] for row in rows)  # outbound attempts


def test_raw_landing_keeps_rows_as_sent_with_fetch_metadata(read_only_day):
    sandbox, warehouse, result = read_only_day
    folder = warehouse.raw_partition_dir(DAY)
    manifest = json.loads((folder / "_fetch.json").read_text())
    inbound_rows = [
        row
        for line in (folder / "inbound.jsonl").read_text(encoding="utf-8").splitlines()
        for row in json.loads(line)["data"]
    ]
    truth = sandbox.store.calls_on(DAY)
    assert len(inbound_rows) == sum(len(c.customer_names) for c in truth if c.call_type == "0")
    assert all(isinstance(r["waitingTime"], str) for r in inbound_rows)  # as sent
    assert manifest["sources"]["inbound"]["total_record"] == len(inbound_rows)
    assert manifest["unfiltered_total_record"] == sum(len(c.customer_names) for c in truth)
    metadata = result.asset_materializations_for_node("raw_call_logs")[0].metadata
    for key in ("requests", "pages", "rows", "total_record", "retries", "rate_limited_429"):
        assert key in metadata
    assert metadata["total_record"].value == manifest["unfiltered_total_record"]


def expected_daily_metrics(truth, short=5, target=20):
    groups = defaultdict(list)
    for call in truth.values():
        groups[call["direction"]].append(call)
    expected = {}
    for direction, calls in groups.items():
        offered = len(calls)
        answered = [c for c in calls if c["answered"]]
        short_ab = [c for c in calls if not c["answered"] and c["waiting_seconds"] < short]
        abandoned = [c for c in calls if not c["answered"] and c["waiting_seconds"] >= short]
        within = [c for c in answered if c["waiting_seconds"] <= target]
        base = offered - len(short_ab)
        waits = [c["waiting_seconds"] for c in calls]
        expected[direction] = {
            "offered_calls": offered,
            "answered_calls": len(answered),
            "abandoned_calls": len(abandoned),
            "short_abandoned_calls": len(short_ab),
            "answer_rate": len(answered) / offered,
            "abandon_rate": len(abandoned) / base if base else None,
            "service_level": len(within) / base if base else None,
            "avg_wait_seconds": sum(waits) / offered,
            "asa_seconds": sum(c["waiting_seconds"] for c in answered) / len(answered)
            if answered
            else None,
            "max_wait_seconds": max(waits),
            "avg_talk_seconds": sum(c["talk_seconds"] for c in answered) / len(answered)
            if answered
            else None,
        }
    return expected


def query(warehouse, sql, params=None):
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        cursor = con.execute(sql, params or {})
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_daily_call_metrics_follow_the_kpi_definitions(read_only_day):
    sandbox, warehouse, _ = read_only_day
    expected = expected_daily_metrics(truth_by_id(sandbox))
    rows = query(warehouse, "SELECT * FROM daily_call_metrics")
    assert {r["direction"] for r in rows} == set(expected)
    for row in rows:
        assert row["date"] == DAY
        for column, value in expected[row["direction"]].items():
            assert row[column] == pytest.approx(value), (row["direction"], column)


def test_agent_load_and_hourly_volume(read_only_day):
    sandbox, warehouse, _ = read_only_day
    truth = truth_by_id(sandbox)
    agents = defaultdict(lambda: defaultdict(int))
    for call in truth.values():
        if not call["agent_id"]:
            continue
        a = agents[call["agent_id"]]
        if call["answered"]:
            a["handled_calls"] += 1
            a[f"{call['direction']}_handled"] += 1
            a["talk_seconds"] += call["talk_seconds"]
        if call["direction"] == "outbound":
            a["outbound_attempts"] += 1
    all_handled = sum(a["handled_calls"] for a in agents.values())
    rows = query(warehouse, "SELECT * FROM agent_daily_load")
    assert {r["agent_id"] for r in rows} == set(agents)
    for row in rows:
        a = agents[row["agent_id"]]
        for column in ("handled_calls", "inbound_handled", "outbound_handled", "unknown_handled"):
            assert row[column] == a[column]
        assert row["outbound_attempts"] == a["outbound_attempts"]
        assert row["talk_seconds"] == a["talk_seconds"]
        assert row["load_share"] == pytest.approx(a["handled_calls"] / all_handled)
    assert sum(r["load_share"] for r in rows) == pytest.approx(1.0)

    hourly = defaultdict(lambda: [0, 0, 0])
    for call in truth.values():
        key = (call["start_time"].astimezone(ICT).hour, call["direction"])
        hourly[key][0] += 1
        hourly[key][1] += call["answered"]
        hourly[key][2] += call["waiting_seconds"]
    rows = query(warehouse, "SELECT * FROM hourly_call_volume")
    assert {(r["hour"], r["direction"]) for r in rows} == set(hourly)
    for row in rows:
        offered, answered, waits = hourly[(row["hour"], row["direction"])]
        assert (row["offered_calls"], row["answered_calls"]) == (offered, answered)
        assert row["avg_wait_seconds"] == pytest.approx(waits / offered)


def test_checks_pass_and_metadata_is_reported(read_only_day):
    _, _, result = read_only_day
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {
        "call_id_unique_and_not_null": True,
        "every_landed_call_reaches_call_logs": True,
        "no_rejected_rows": True,
        "rates_within_0_and_1": True,
    }
    call_logs_md = result.asset_materializations_for_node("call_logs")[0].metadata
    assert call_logs_md["dagster/row_count"].value == 300
    assert "dagster/column_schema" in call_logs_md
    metrics_md = result.asset_materializations_for_node("daily_call_metrics")[0].metadata
    assert "| inbound |" in metrics_md["preview"].value


def test_rerun_is_idempotent_and_view_spans_days(built_day, tmp_path):
    sandbox, warehouse, _ = built_day
    before = {t: query(warehouse, f"SELECT * FROM {t} ORDER BY ALL") for t in MART}  # noqa: S608
    parquet_before = pq.read_table(warehouse.call_logs_file(DAY))
    materialize_day(sandbox, tmp_path, DAY)
    materialize_day(sandbox, tmp_path, DAY + timedelta(days=1))
    for table, rows in before.items():
        again = query(warehouse, f"SELECT * FROM {table} WHERE date = $d ORDER BY ALL", {"d": DAY})  # noqa: S608
        assert again == rows
    assert pq.read_table(warehouse.call_logs_file(DAY)).equals(parquet_before)
    (count,) = query(warehouse, "SELECT count(*) AS n, count(DISTINCT call_id) AS d FROM call_logs")
    assert count["n"] == count["d"] == 600  # two days, no call in both


MART = ("daily_call_metrics", "agent_daily_load", "hourly_call_volume")


def test_a_failed_run_leaves_the_previous_partition(built_day, tmp_path, make_sandbox):
    sandbox, warehouse, _ = built_day
    parquet_before = pq.read_table(warehouse.call_logs_file(DAY))
    raw_before = (warehouse.raw_partition_dir(DAY) / "inbound.jsonl").read_bytes()
    broken = make_sandbox(faults={"fail_500": 1.0})
    result = materialize_day(broken, tmp_path, DAY, raise_on_error=False, max_retry_seconds=1)
    assert not result.success
    assert pq.read_table(warehouse.call_logs_file(DAY)).equals(parquet_before)
    assert (warehouse.raw_partition_dir(DAY) / "inbound.jsonl").read_bytes() == raw_before
    assert not list(warehouse.raw_partition_dir(DAY).parent.glob(".*"))  # no staging left
    assert query(warehouse, "SELECT sum(offered_calls) AS n FROM daily_call_metrics")[0]["n"] == 300


def test_rows_of_another_day_are_dropped_not_duplicated(sandbox, tmp_path):
    from alohub_assets.defs.ingest.call_logs import build_call_logs

    materialize_day(sandbox, tmp_path, DAY, assets=INGESTION)
    warehouse = Warehouse.at(tmp_path)
    # A stand-in whose inclusive window end returns the next midnight's call as well.
    next_midnight = sandbox.store.calls_on(DAY + timedelta(days=1))[-1]
    assert next_midnight.start_time.time().isoformat() == "00:00:00"
    with open(warehouse.raw_partition_dir(DAY) / "inbound.jsonl", "a", encoding="utf-8") as fh:
        line = {"source": "inbound", "page": 99, "data": next_midnight.list_rows()}
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    built = build_call_logs(warehouse, DAY)
    ids = pq.read_table(warehouse.call_logs_file(DAY), columns=["call_id"]).column(0).to_pylist()
    assert next_midnight.call_id not in ids
    assert built.calls == 300 and built.calls_outside_day == 1 and built.calls_lost == 0


def test_missing_api_key_is_a_clear_error(sandbox, tmp_path):
    from alohub_assets.defs.ingest.raw_call_logs import raw_call_logs

    result = materialize_day(
        sandbox, tmp_path, DAY, assets=[raw_call_logs], api_key=None, raise_on_error=False
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "ALOHUB_API_KEY is not set" in failure and "make demo" in failure


def test_schedule_asks_for_yesterday_and_the_lookback_days():
    from alohub_assets.defs.ingest.schedules import daily_call_logs_schedule as schedule

    assert schedule.execution_timezone == "Asia/Ho_Chi_Minh"
    assert schedule.cron_schedule == "0 2 * * *"
    when = datetime(2026, 3, 6, 2, 0, tzinfo=ICT)
    context = dg.build_schedule_context(scheduled_execution_time=when)
    requests = list(schedule(context))
    assert [r.partition_key for r in requests] == ["2026-03-05", "2026-03-04", "2026-03-03"]
    assert len({r.run_key for r in requests}) == 3
