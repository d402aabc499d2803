"""Fault injection: whole partition runs against a misbehaving sandbox over HTTP. Every call
lands exactly once, or the run fails with a clear error; never a silently short day.

`make soak` runs the same tests with ALOHUB_SOAK_RUNS runs per kind and writes the figures to
docs/reliability.md."""

from __future__ import annotations

import importlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from alohub_assets.defs.kpi_mart.build import kpi_tables
from alohub_assets.defs.recordings.call_recordings import call_recordings
from alohub_assets.defs.resources import RecordingPolicyResource
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.recordings import find_due
from alohub_dev.sandbox.calls import RECORDING_DELAYED, RECORDING_IN_DETAIL
from tests.support import API_KEY, FIRST_DAY, materialize_day

# The module, not the asset of the same name that the package exports.
call_recordings_module = importlib.import_module("alohub_assets.defs.recordings.call_recordings")
RUNS = int(os.environ.get("ALOHUB_SOAK_RUNS", "1"))
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


def failure_classes(result) -> set[str]:
    """Class names of every step failure and its causes (Dagster wraps the asset's error)."""
    names = set()
    for event in result.get_step_failure_events():
        error = event.event_specific_data.error
        while error is not None:
            names.add(error.cls_name)
            error = error.cause or error.context
    return names


def day_parts(data_dir, day) -> dict:
    """What a partition run leaves for a user: the day's Parquet file of call_logs,
    rejected_call_logs and every KPI table."""
    warehouse = Warehouse.at(data_dir)
    tables = ("call_logs", "rejected_call_logs", *kpi_tables())
    return {t: pq.read_table(warehouse.partition_file(t, day)) for t in tables}


def differing_parts(got: dict, want: dict) -> list[str]:
    return [k for k in want if not got[k].equals(want[k])]


DAYS = [FIRST_DAY + timedelta(days=i) for i in range(RUNS)]
SANDBOX_DATA = {"calls_per_day": 150, "first_day": DAYS[0], "last_day": DAYS[-1]}
#: Faults that change the calls (page drift adds some): their fault-free run is asked for on
#: the same sandbox right after. The others are compared with one fault-free run of the same
#: calls, made once for the module.
CHANGES_THE_CALLS = {"page drift (calls inserted while paging)"}


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory) -> Path:
    """The days of ``SANDBOX_DATA`` materialized without a fault (for every kind but drift)."""
    from alohub_dev.sandbox.calls import CallStore
    from alohub_dev.sandbox.server import SandboxConfig, build_server
    from tests.support import Sandbox

    store = CallStore(**SANDBOX_DATA)
    config = SandboxConfig(api_key=API_KEY, tenant_limit=0, route_limit=0)
    server = build_server(store=store, config=config).start_in_thread()
    data_dir = tmp_path_factory.mktemp("fault_free")
    try:
        for day in DAYS:
            materialize_day(Sandbox(server), data_dir, day)
    finally:
        server.stop()
    return data_dir


@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_kind_loses_and_duplicates_nothing(
    kind, make_sandbox, tmp_path, reliability_report, request
):
    """Every run under the fault succeeds, and its tables equal those of a run without faults
    over the same calls (asked right after, so calls added by page drift are in both)."""
    faults, client = FAULTS[kind]
    days = DAYS
    sandbox = make_sandbox(**SANDBOX_DATA, fault_seed=len(kind), slow_seconds=0.8)
    faulted = tmp_path / "faulted"
    shared = kind not in CHANGES_THE_CALLS
    clean = request.getfixturevalue("fault_free") if shared else tmp_path / "clean"
    expected = landed = lost = duplicates = failed = 0
    errors, differing = [], []
    for day in days:
        sandbox.config.faults = faults
        result = materialize_day(sandbox, faulted, day, raise_on_error=False, **{**FAST, **client})
        sandbox.config.faults = {}
        if not result.success:
            failed += 1
            errors.append(failure_text(result)[-500:])
            continue
        if not shared:
            materialize_day(sandbox, clean, day)
        truth = {c.call_id for c in sandbox.store.calls_on(day)}
        ids = pq.read_table(Warehouse.at(faulted).call_logs_file(day), columns=["call_id"])
        ids = ids.column(0).to_pylist()
        expected += len(truth)
        landed += len(set(ids) & truth)
        lost += len(truth - set(ids))
        duplicates += len(ids) - len(set(ids))
        differing += differing_parts(day_parts(faulted, day), day_parts(clean, day))
    reliability_report["faults"].append(
        {
            "fault": kind,
            "rate": next(iter(faults.values())),
            "runs": len(days),
            "runs succeeded": len(days) - failed,
            "calls expected": expected,
            "calls landed": landed,
            "lost": lost,
            "duplicates": duplicates,
            "tables differing from a fault-free run": len(differing),
        }  # fmt: skip
    )
    assert failed == 0, errors  # survivable at these rates: every run must succeed
    assert lost == 0 and duplicates == 0
    assert differing == []  # call_logs, rejects and every KPI table as without the fault


def test_exhausted_retries_fail_clearly_and_keep_the_previous_day(
    make_sandbox, tmp_path, reliability_report
):
    sandbox = make_sandbox(calls_per_day=150)
    materialize_day(sandbox, tmp_path, FIRST_DAY)
    before = day_parts(tmp_path, FIRST_DAY)
    sandbox.config.faults = {"fail_500": 1.0}
    result = materialize_day(
        sandbox, tmp_path, FIRST_DAY, raise_on_error=False, retry_backoff_seconds=0.01,
        max_retries=3,
    )  # fmt: skip
    assert not result.success
    assert "AloHubRetriesExhausted" in failure_classes(result)
    assert "failed 4 times" in failure_text(result) and "HTTP 500" in failure_text(result)
    assert sandbox.requests()["list:500"] == 4  # one request, retried 3 times, then no more
    changed = differing_parts(day_parts(tmp_path, FIRST_DAY), before)
    reliability_report["faults"].append(
        {
            "fault": "500 on every request (retries exhausted: the run fails)",
            "rate": 1.0,
            "runs": 1,
            "runs succeeded": int(result.success),
            "calls expected": "n/a",
            "calls landed": "n/a",
            "lost": "n/a",
            "duplicates": "n/a",
            "tables differing from a fault-free run": f"{len(changed)} changed by the failed run",
        }  # fmt: skip
    )
    assert changed == []  # call_logs, rejects and the day's KPI rows: the previous run's


def test_detail_404s_under_the_default_recording_policy(
    make_sandbox, tmp_path, reliability_report, monkeypatch
):
    """Gateway 404s on the detail endpoint, under the default policy (5 attempts, backoff
    10 min, 1 h, 6 h, 24 h) on a clock moved by hand. A 404 counts as an attempt; a call is
    lost only when every one of its attempts met a 404 (about 0.4^5 = 1 % of calls)."""
    sandbox = make_sandbox(recording_delay_seconds=0)
    materialize_day(sandbox, tmp_path, FIRST_DAY)
    sandbox.config.faults = {"detail_404": 0.4}
    policy = RecordingPolicyResource()  # the defaults
    clock = {"now": datetime.now(UTC)}
    monkeypatch.setattr(call_recordings_module, "utc_now", lambda: clock["now"])
    warehouse = Warehouse.at(tmp_path)
    runs = 0
    while True:
        due = find_due(warehouse, FIRST_DAY, policy.get_policy(), clock["now"])
        if not due.due_call_ids:
            if due.next_due_at is None:
                break
            clock["now"] = due.next_due_at  # the backoff passes on the clock, not in real time
            continue
        runs += 1
        assert runs <= policy.max_attempts  # each call is asked at most max_attempts times
        materialize_day(
            sandbox, tmp_path, FIRST_DAY, assets=[call_recordings], recording_policy=policy, **FAST
        )
    table = pq.read_table(warehouse.recordings_file(FIRST_DAY)).to_pylist()
    rows = {r["call_id"]: r for r in table}
    has_one = {
        c.call_id: c.recording_url
        for c in sandbox.store.calls_on(FIRST_DAY)
        if c.recording in (RECORDING_IN_DETAIL, RECORDING_DELAYED)
    }
    found = {i for i, r in rows.items() if r["status"] == "found"}
    lost = set(has_one) - found
    reliability_report["faults"].append(
        {
            "fault": "detail endpoint 404s (default recording policy, 5 attempts)",
            "rate": 0.4,
            "runs": runs,
            "runs succeeded": runs,
            "calls expected": len(has_one),
            "calls landed": len(found & set(has_one)),
            "lost": f"{len(lost)} (all {policy.max_attempts} attempts a 404)",
            "duplicates": len(table) - len(rows),
            "tables differing from a fault-free run": "n/a",
        }  # fmt: skip
    )
    assert all(rows[i]["recording_url"] == has_one[i] for i in found & set(has_one))
    for call_id in lost:  # lost only by exhausting the attempts, never by giving up early
        assert rows[call_id]["status"] == "not_found"
        assert rows[call_id]["attempts"] == policy.max_attempts


@pytest.mark.parametrize(
    ("other_type_share", "landed_before"), [(0.02, False), (0.02, True), (0.0, False)]
)
def test_a_call_arriving_between_the_typed_reads_and_the_count_keeps_its_direction(
    make_sandbox, tmp_path, other_type_share, landed_before
):
    """A call that lands after the inbound and outbound reads would show only in the unfiltered
    read, as ``unknown``; the landing sees it and reads the day again. With calls of another
    type and without (then one unfiltered count is the whole check), and with other types
    already seen by the last landing (then the check is a count taken before the typed reads)."""
    sandbox = make_sandbox(other_type_share=other_type_share)
    from alohub_assets.api.client import AloHubClient
    from alohub_assets.api.records import local_day_window
    from alohub_assets.defs.ingest.call_logs import build_call_logs
    from alohub_assets.storage.landing import land_call_logs

    late = []

    class CallArrivesAfterTypedReads(AloHubClient):
        typed_reads = 0

        def read_window(self, start, end, sink, *, call_type=None):
            self.typed_reads += call_type is not None
            return super().read_window(start, end, sink, call_type=call_type)

        def count_call_logs(self, start, end, **kwargs):
            if self.typed_reads == 2 and not late:  # after the inbound and outbound reads
                late.append(sandbox.store.add_late_call(*local_day_window(day)))
            return super().count_call_logs(start, end, **kwargs)

    day = FIRST_DAY + timedelta(days=1)
    warehouse = Warehouse.at(tmp_path)
    if landed_before:
        with AloHubClient(API_KEY, base_url=sandbox.url) as client:
            assert "all" in land_call_logs(client, warehouse, day).sources
    with CallArrivesAfterTypedReads(API_KEY, base_url=sandbox.url) as client:
        land_call_logs(client, warehouse, day)
    build_call_logs(warehouse, day)
    rows = pq.read_table(warehouse.call_logs_file(day)).to_pylist()
    truth = {c.call_id: c.truth()["direction"] for c in sandbox.store.calls_on(day)}
    (call,) = late
    assert {r["call_id"]: r["direction"] for r in rows} == truth
    assert truth[call.call_id] in ("inbound", "outbound")


def test_once_a_day_shows_other_call_types_the_next_landing_checks_with_one_count(
    sandbox, tmp_path
):
    """Without other types a day costs its pages and one count; with them, the check that no
    call arrived mid-read costs the typed counts again, unless the last landing saw other types:
    then one count before the typed reads does it. Same rows either way."""
    from alohub_assets.api.client import AloHubClient
    from alohub_assets.storage.landing import land_call_logs

    warehouse = Warehouse.at(tmp_path)
    landings = []
    for _ in range(2):
        with AloHubClient(API_KEY, base_url=sandbox.url) as client:
            landed = land_call_logs(client, warehouse, FIRST_DAY)
        pages = sum(read.pages for read in landed.sources.values())
        landings.append((client.stats.requests - pages, landed.rows))
    (first_checks, first_rows), (second_checks, second_rows) = landings
    assert (first_checks, second_checks) == (3, 2)  # count + 2 typed counts, then 2 counts
    assert first_rows == second_rows
