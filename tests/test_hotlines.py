"""The hotline tables (``hotline_call_metrics``, ``hotline_interval_metrics``,
``wait_time_distribution``) and ``callback_worklist`` against an independent Python computation
over the sandbox's own record (``tests/kpi_reference.py``), with per-hotline thresholds from a
settings file, with and without the PII option."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, time, timedelta

import dagster as dg
import pytest

from alohub_assets.api.records import ICT
from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.resources import WarehouseResource, kpi_settings_resource
from alohub_assets.settings import load_settings
from alohub_dev.sandbox.calls import RECORDING_NONE, SandboxCall
from tests import kpi_reference as ref
from tests.support import DAY, pipeline_resources
from tests.test_kpi_analytics import same, table

NEXT = DAY + timedelta(days=1)
HOTLINE_TABLES = (
    "hotline_call_metrics",
    "hotline_interval_metrics",
    "wait_time_distribution",
    "callback_worklist",
)
SETTINGS = """
kpi: {service_level_seconds: 20, short_abandon_seconds: 5}
wait_buckets: [0, 15, 45, 90]
hotlines:
  19006868: {name: Sales, service_level_seconds: 15}
  alohub2: {short_abandon_seconds: 10}
  "02873001234": {name: Support}
"""
HOTLINES = {
    "19006868": ref.Hotline(name="Sales", service_level_seconds=15),
    "alohub2": ref.Hotline(short_abandon_seconds=10),
    "02873001234": ref.Hotline(name="Support"),
}
PII_KEY = "hotline-test-k3y"


def add_call(sandbox, clock: str, customer: str, direction: str, hotline: str, wait: int, *,
             answered: bool, suffix: str) -> None:  # fmt: skip
    """A call of DAY put into the sandbox's record (it lists it like its own)."""
    start = datetime.combine(DAY, time.fromisoformat(clock), tzinfo=ICT)
    connect = start + timedelta(seconds=wait) if answered else None
    inbound = direction == "inbound"
    sandbox.store.add_call(
        SandboxCall(
            call_id=f"{start:%Y%m%d%H%M%S}-{suffix}-001",
            call_type="0" if inbound else "1",
            caller=customer if inbound else "1001",
            called=hotline if inbound else customer,
            agent_id="hoa.nguyen" if answered or not inbound else "",
            start_time=start,
            first_ring_time=start,
            first_connect_time=connect,
            end_time=(connect or start) + timedelta(seconds=90 if answered else wait),
            waiting_seconds=wait,
            acd_seconds=wait,
            description="test",
            customer_names=["Khách"],
            recording=RECORDING_NONE,
            customer=customer,
        )
    )


def worklist_cases(sandbox) -> dict[str, bool]:
    """Customers whose calls decide the worklist's rules, and whether each is on the list."""
    add_call(
        sandbox, "09:00", "0911000001", "inbound", "19006868", 10, answered=True, suffix="AANS"
    )
    add_call(
        sandbox, "10:00", "0911000001", "inbound", "19006868", 30, answered=False, suffix="AABN"
    )
    add_call(
        sandbox, "10:00", "0911000002", "inbound", "alohub2", 30, answered=False, suffix="BABN"
    )
    add_call(sandbox, "10:30", "0911000002", "outbound", "", 8, answered=True, suffix="BCBK")
    add_call(sandbox, "10:00", "0911000003", "inbound", "alohub2", 7, answered=False, suffix="CSHT")
    add_call(
        sandbox, "10:00", "0911000004", "inbound", "19006868", 40, answered=False, suffix="DAB1"
    )
    add_call(
        sandbox, "11:00", "0911000004", "inbound", "19006868", 20, answered=False, suffix="DAB2"
    )
    return {
        "0911000001": True,  # answered before the abandon: not a callback
        "0911000002": False,  # called back after it
        "0911000003": False,  # 7 s is a short abandon on alohub2 (10 s there)
        "0911000004": True,  # two abandons, the last one at 11:00
    }


def run(sandbox, data_dir, day, names, settings_file, pii_key=None):
    resources = pipeline_resources(sandbox, data_dir)
    resources["kpi_settings"] = kpi_settings_resource(load_settings(settings_file))
    resources["warehouse"] = WarehouseResource(data_dir=str(data_dir), pii_hmac_key=pii_key)
    chosen = [a for a in ALL_ASSETS if a.key.to_user_string() in names]
    return dg.materialize(chosen, partition_key=day.isoformat(), resources=resources)


@pytest.mark.parametrize("pii_key", [None, PII_KEY], ids=["clear", "pii"])
def test_hotline_tables_and_worklist_match_the_reference(make_sandbox, tmp_path, pii_key):
    sandbox = make_sandbox(calls_per_day=400)
    cases = worklist_cases(sandbox)
    settings_file = tmp_path / "alohub.yaml"
    settings_file.write_text(SETTINGS)
    data = tmp_path / "data"
    run(sandbox, data, DAY, ["raw_call_logs", "call_logs"], settings_file, pii_key)
    result = run(sandbox, data, DAY, HOTLINE_TABLES, settings_file, pii_key)
    assert result.success

    def token(value: str) -> str:
        if pii_key is None:
            return value
        return hmac.new(pii_key.encode(), value.encode(), hashlib.sha256).hexdigest()

    truth = {day: ref.sandbox_calls(sandbox.url, day) for day in (DAY, NEXT)}
    kpi = ref.Settings(service_level_seconds=20, short_abandon_seconds=5)

    expected = ref.hotline_metrics(truth[DAY], kpi, HOTLINES, token)
    rows = {r["hotline"]: r for r in table(data, "hotline_call_metrics", DAY)}
    assert set(rows) == set(expected) == {token(n) for n in HOTLINES}
    for hotline, row in rows.items():
        same(expected[hotline], row, hotline)
    assert {r["hotline_name"] for r in rows.values()} == {"Sales", "Support", token("alohub2")}
    # the thresholds differ between hotlines, and so do the figures they decide
    sales = rows[token("19006868")]
    assert (sales["service_level_seconds"], sales["short_abandon_seconds"]) == (15, 5)
    assert rows[token("alohub2")]["short_abandon_seconds"] == 10

    expected = ref.hotline_intervals(truth[DAY], kpi, HOTLINES, token)
    rows = table(data, "hotline_interval_metrics", DAY)
    assert len(rows) == len(expected)
    for row in rows:
        key = (row["interval_start"], row["hotline"])
        same(expected[key], row, key)

    expected = ref.wait_distribution(truth[DAY], [0, 15, 45, 90], HOTLINES, token)
    rows = table(data, "wait_time_distribution", DAY)
    assert len(rows) == len(expected) == 3 * 4
    for row in rows:
        key = (row["hotline"], row["bucket_start_seconds"])
        same(expected[key], row, key)
    inbound = [c for c in truth[DAY] if c["direction"] == "inbound"]
    assert sum(r["answered_calls"] + r["abandoned_calls"] for r in rows) == len(inbound)

    # the worklist of DAY, built before the next day was read, then again after it
    expected = ref.callback_worklist({DAY: truth[DAY]}, DAY, kpi, HOTLINES, token)
    before = {r["customer_number"]: r for r in table(data, "callback_worklist", DAY)}
    assert set(before) == set(expected) and expected
    for customer, row in before.items():
        same(expected[customer], row, customer)
    assert {c for c in cases if token(c) in before} == {c for c, listed in cases.items() if listed}
    last = before[token("0911000004")]
    assert (last["abandons"], last["longest_wait_seconds"]) == (2, 40)
    assert last["last_call_id"].endswith("-DAB2-001")
    run(sandbox, data, NEXT, ["raw_call_logs", "call_logs"], settings_file, pii_key)
    run(sandbox, data, DAY, ["callback_worklist"], settings_file, pii_key)
    expected = ref.callback_worklist(truth, DAY, kpi, HOTLINES, token)
    after = {r["customer_number"]: r for r in table(data, "callback_worklist", DAY)}
    assert set(after) == set(expected)
    for customer, row in after.items():
        same(expected[customer], row, customer)
    # the 23:50 abandon is called back after midnight: on the list until the next day is read
    late = max(
        (c for c in inbound if not c["answered"] and c["customer"]), key=lambda c: c["start_time"]
    )
    assert token(late["customer"]) in before and token(late["customer"]) not in after
