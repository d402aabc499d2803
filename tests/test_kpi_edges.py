"""KPI edge cases, each with its rule from docs/data-contract.md: an empty day, a day of short
abandons only, unknown (empty) waits, outbound calls nobody answered, calls of another type.
Rows are written by hand as AloHub sends them; the expected KPIs are recomputed here in plain
Python from the same hand-written facts, not from the pipeline's output."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from alohub_assets.defs.ingest.call_logs import build_call_logs
from alohub_assets.defs.kpi_mart.build import write_table_partition
from alohub_assets.defs.kpi_mart.inputs import kpi_inputs
from alohub_assets.storage.layout import Warehouse

DAY = date(2026, 3, 4)
SHORT, TARGET = 5, 20
SOURCES = {"inbound": "inbound", "outbound": "outbound", "unknown": "all"}
#: The tables whose rules docs/data-contract.md gives for these edges.
TABLES = ("daily_call_metrics", "agent_daily_load", "hourly_call_volume")


def call(n: int, direction: str, answered: bool, wait: int | None, agent: str = "hoa.nguyen"):
    """One call as plain facts; ``wait`` None is an empty ``waitingTime``."""
    start = datetime(2026, 3, 4, 9, 0, 0) + timedelta(minutes=7 * n)
    connect = start + timedelta(seconds=wait if wait is not None else 7) if answered else None
    end = (connect or start) + timedelta(seconds=60 if answered else 9)
    return {
        "n": n, "direction": direction, "answered": answered, "wait": wait, "agent": agent,
        "start": start, "connect": connect, "end": end,
        "talk": int((end - connect).total_seconds()) if answered else None,
    }  # fmt: skip


def as_sent(c: dict) -> dict:
    """The list row AloHub would send for the call (strings, "" for nothing)."""
    fmt = "%d/%m/%Y %H:%M:%S"
    return {
        "callId": f"{c['start']:%Y%m%d%H%M%S}-EDGECASE-{c['n']:03d}",
        "caller": "0912345678",
        "called": "19006868",
        "startTime": c["start"].strftime(fmt),
        "waitingTime": "" if c["wait"] is None else str(c["wait"]),
        "firstRingTime": c["start"].strftime(fmt),
        "firstConnectTime": c["connect"].strftime(fmt) if c["connect"] else "",
        "agentId": c["agent"] if c["answered"] or c["direction"] == "outbound" else "",
        "endTime": c["end"].strftime(fmt),
        "acdTime": "",
        "description": "hand-written",
        "customerName": "Khách",
        "url": "",
    }


def build_day(tmp_path, calls: list[dict]) -> dict[str, list[dict]]:
    """Lands the calls as the three sources, builds call_logs and every KPI table."""
    warehouse = Warehouse.at(tmp_path)
    folder = warehouse.raw_partition_dir(DAY)
    folder.mkdir(parents=True)
    for direction, source in SOURCES.items():
        rows = [as_sent(c) for c in calls if c["direction"] == direction]
        if direction == "unknown":  # the unfiltered read holds every call
            rows = [as_sent(c) for c in calls]
        page = {"source": source, "page": 1, "data": rows}
        (folder / f"{source}.jsonl").write_text(json.dumps(page) + "\n" if rows else "")
    build_call_logs(warehouse, DAY)
    params = {"short_abandon_seconds": SHORT, "service_level_seconds": TARGET}
    out = {}
    for table in TABLES:
        write_table_partition(
            warehouse, table, DAY, params if table == "daily_call_metrics" else None
        )
        out[table] = pq.read_table(warehouse.partition_file(table, DAY)).to_pylist()
    return out


def ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def mean(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def expected_daily(calls: list[dict]) -> dict[str, dict]:
    """The rules of docs/data-contract.md, one by one."""
    out = {}
    for direction in sorted({c["direction"] for c in calls}):
        mine = [c for c in calls if c["direction"] == direction]
        answered = [c for c in mine if c["answered"]]
        unanswered = [c for c in mine if not c["answered"]]
        short = [c for c in unanswered if c["wait"] is not None and c["wait"] < SHORT]
        abandoned = [c for c in unanswered if c["wait"] is None or c["wait"] >= SHORT]
        within = [c for c in answered if c["wait"] is not None and c["wait"] <= TARGET]
        out[direction] = {
            "offered_calls": len(mine),
            "answered_calls": len(answered),
            "abandoned_calls": len(abandoned),
            "short_abandoned_calls": len(short),
            "answer_rate": ratio(len(answered), len(mine)),
            "abandon_rate": ratio(len(abandoned), len(mine) - len(short)),
            "service_level": ratio(len(within), len(mine) - len(short)),
            "avg_wait_seconds": mean([c["wait"] for c in mine]),
            "asa_seconds": mean([c["wait"] for c in answered]),
            "max_wait_seconds": max((c["wait"] for c in mine if c["wait"] is not None), default=None),
            "avg_talk_seconds": mean([c["talk"] for c in answered]),
        }  # fmt: skip
    return out


def check_daily(rows: list[dict], calls: list[dict]) -> None:
    expected = expected_daily(calls)
    assert {r["direction"] for r in rows} == set(expected)
    for row in rows:
        for column, value in expected[row["direction"]].items():
            if value is None:
                assert row[column] is None, (row["direction"], column)
            else:
                assert row[column] == pytest.approx(value), (row["direction"], column)


def test_an_empty_day_has_no_kpi_rows(tmp_path):
    # Rule: a day without calls has no rows (not a row of zeros); its files exist, empty, so a
    # re-run of a day that lost its calls replaces the old rows.
    out = build_day(tmp_path, [])
    assert out == {table: [] for table in TABLES}


def test_a_day_of_short_abandons_only(tmp_path):
    # Rule: nothing is left in the abandon and service-level denominators: both null; the
    # answer rate is 0 of 3; ASA and talk are null (no answered call).
    calls = [call(n, "inbound", False, wait) for n, wait in enumerate([0, 2, 4], start=1)]
    out = build_day(tmp_path, calls)
    check_daily(out["daily_call_metrics"], calls)
    (row,) = out["daily_call_metrics"]
    assert (row["abandon_rate"], row["service_level"], row["answer_rate"]) == (None, None, 0)
    assert row["short_abandoned_calls"] == 3 and row["abandoned_calls"] == 0


def test_empty_waits_count_as_offered_abandoned_not_within_target(tmp_path):
    # Rules: an unanswered call with an empty waitingTime is abandoned (not short: nothing shows
    # it hung up quickly); an answered one with an empty wait is not within target; waits are
    # averaged over the calls whose wait is known.
    calls = [
        call(1, "inbound", False, None),
        call(2, "inbound", True, None),
        call(3, "inbound", True, 12),
        call(4, "inbound", False, 3),
        call(5, "inbound", True, 25),
    ]
    out = build_day(tmp_path, calls)
    check_daily(out["daily_call_metrics"], calls)
    (row,) = out["daily_call_metrics"]
    assert (row["abandoned_calls"], row["short_abandoned_calls"]) == (1, 1)
    assert row["service_level"] == pytest.approx(1 / 4)  # call 3 only, of 5 - 1 short
    assert row["asa_seconds"] == pytest.approx((12 + 25) / 2)
    hourly = out["hourly_call_volume"]
    assert sum(r["offered_calls"] for r in hourly) == 5


def test_outbound_nobody_answered(tmp_path):
    # Rule: for outbound the wait is the ringing before the customer picked up: abandoned = the
    # customer never answered after >= 5 s of ringing, short = the agent hung up sooner;
    # answer rate 0, service level 0 of the calls that rang long enough, ASA null.
    calls = [
        call(1, "outbound", False, 30, "minh.tran"),
        call(2, "outbound", False, 10, "minh.tran"),
        call(3, "outbound", False, 2, "lan.pham"),
        call(4, "inbound", True, 8, "lan.pham"),
    ]
    out = build_day(tmp_path, calls)
    check_daily(out["daily_call_metrics"], calls)
    outbound = next(r for r in out["daily_call_metrics"] if r["direction"] == "outbound")
    assert (outbound["answer_rate"], outbound["abandon_rate"]) == (0, 1)
    assert outbound["service_level"] == 0 and outbound["asa_seconds"] is None
    agents = {r["agent_id"]: r for r in out["agent_daily_load"]}
    assert agents["minh.tran"]["handled_calls"] == 0
    assert agents["minh.tran"]["outbound_attempts"] == 2


def test_calls_of_another_type_are_counted_in_agent_load(tmp_path):
    # Rule: handled_calls = inbound_handled + outbound_handled + unknown_handled; a call of a
    # type other than 0 or 1 has direction "unknown" and its own daily_call_metrics row.
    calls = [
        call(1, "inbound", True, 4, "hoa.nguyen"),
        call(2, "outbound", True, 6, "hoa.nguyen"),
        call(3, "unknown", True, 3, "hoa.nguyen"),
        call(4, "unknown", True, 3, "son.do"),
    ]
    out = build_day(tmp_path, calls)
    check_daily(out["daily_call_metrics"], calls)
    expected = {"hoa.nguyen": (3, 1, 1, 1), "son.do": (1, 0, 0, 1)}
    for row in out["agent_daily_load"]:
        got = (row["handled_calls"], row["inbound_handled"], row["outbound_handled"],
               row["unknown_handled"])  # fmt: skip
        assert got == expected[row["agent_id"]]
        assert row["load_share"] == pytest.approx(got[0] / 4)


def test_a_table_reads_each_call_logs_day_once_and_names_a_missing_one(tmp_path, monkeypatch):
    """On object storage each read is a download: a table's days and its window's are pulled
    once each. A built day without call_logs is an error naming the day; a window's is not."""
    build_day(tmp_path, [call(0, "inbound", True, 5)])
    warehouse = Warehouse.at(tmp_path)
    pulled = []
    real_pull = Warehouse.pull
    monkeypatch.setattr(Warehouse, "pull", lambda self, p: pulled.append(p) or real_pull(self, p))
    next_day = DAY + timedelta(days=1)

    params, missing = kpi_inputs(warehouse, "abandon_callbacks", DAY, DAY)
    assert sorted(pulled) == [warehouse.call_logs_file(DAY), warehouse.call_logs_file(next_day)]
    assert params["call_logs"] == [str(warehouse.call_logs_file(DAY))] and missing == [next_day]

    pulled.clear()
    _, missing = kpi_inputs(warehouse, "repeat_callers", DAY, DAY)
    week = [DAY - timedelta(days=n) for n in range(8)]
    assert sorted(pulled) == sorted(warehouse.call_logs_file(day) for day in week)
    assert missing == sorted(week[1:])

    with pytest.raises(FileNotFoundError, match=f"materialize call_logs for {next_day} first"):
        kpi_inputs(warehouse, "daily_call_metrics", DAY, next_day)
