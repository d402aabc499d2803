"""The analytics columns against an independent Python computation over the sandbox's own record
of its calls (``tests/kpi_reference.py``, read over HTTP): day boundaries, number formats,
lookback and next-day windows arriving late, other settings, and the PII option."""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import date, timedelta

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource
from alohub_assets.storage.layout import Warehouse
from tests import kpi_reference as ref
from tests.support import DAY, materialize_day, pipeline_resources

FIRST = DAY - timedelta(days=7)  # the sandbox starts here: repeat_callers' full lookback
NEXT = DAY + timedelta(days=1)
ANALYTICS = (
    "interval_call_metrics",
    "staffing_requirements",
    "repeat_callers",
    "abandon_callbacks",
)
CALL_LOGS = ["raw_call_logs", "call_logs"]


def assets(*names: str):
    return [a for a in ALL_ASSETS if a.key.to_user_string() in names]


def table(data_dir, name: str, day: date | None = None) -> list[dict]:
    with duckdb.connect(str(data_dir / "alohub.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'Asia/Ho_Chi_Minh'")
        where = "" if day is None else f" WHERE date = DATE '{day}'"
        query = f"SELECT * FROM {name}{where} ORDER BY ALL"  # noqa: S608 (test's own names)
        cursor = con.execute(query)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def same(expected: dict, actual: dict, where) -> None:
    for column, value in expected.items():
        got = actual[column]
        if value is None or got is None:
            assert got is None and value is None, (where, column, value, got)
        elif isinstance(value, float) or isinstance(got, float):
            assert math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9), (where, column, value, got)
        else:
            assert got == value, (where, column, value, got)


def run(sandbox, data_dir, day, names, settings=None, **warehouse):
    resources = pipeline_resources(sandbox, data_dir)
    resources["kpi_settings"] = settings or KpiSettingsResource()
    if warehouse:
        resources["warehouse"] = WarehouseResource(data_dir=str(data_dir), **warehouse)
    return dg.materialize(assets(*names), partition_key=day.isoformat(), resources=resources)


@pytest.fixture
def week(make_sandbox):
    return make_sandbox(first_day=FIRST, last_day=NEXT + timedelta(days=1), calls_per_day=240)


def test_every_new_column_matches_the_reference_and_follows_late_days(week, tmp_path):
    truth = {
        FIRST + timedelta(n): ref.sandbox_calls(week.url, FIRST + timedelta(n)) for n in range(9)
    }
    late = FIRST + timedelta(days=3)  # a lookback day loaded only at the end
    for day in [FIRST + timedelta(n) for n in range(7)]:
        if day != late:
            run(week, tmp_path, day, CALL_LOGS)
    materialize_day(week, tmp_path, DAY)

    # call_logs.customer_number: every written form of a number -> one national form.
    written = {c["caller"] for c in truth[DAY] if c["direction"] == "inbound"}
    assert any(w.startswith("+84 ") for w in written) and any("-" in w for w in written)
    assert any(w.startswith("84") and w.isdigit() for w in written)
    rows = pq.read_table(Warehouse.at(tmp_path).call_logs_file(DAY)).to_pylist()
    by_id = {c["call_id"]: c for c in truth[DAY]}
    assert {r["call_id"] for r in rows} == set(by_id)
    for row in rows:
        assert row["customer_number"] == by_id[row["call_id"]]["customer"], row["call_id"]
    assert any(r["direction"] == "inbound" and r["customer_number"] is None for r in rows)

    # daily_call_metrics: the new columns per direction, and the old ones are unchanged.
    daily = {r["direction"]: r for r in table(tmp_path, "daily_call_metrics", DAY)}
    for direction, expected in ref.daily_extras(truth[DAY]).items():
        same(expected, daily[direction], direction)

    intervals = table(tmp_path, "interval_call_metrics", DAY)
    expected = ref.interval_metrics(truth[DAY])
    assert len(intervals) == len(expected)
    for row in intervals:
        same(expected[(row["interval_start"], row["direction"])], row, row["interval_start"])
    assert min(r["interval_start"] for r in intervals).hour == 0  # 00:00:00 is in the day

    staffing = table(tmp_path, "staffing_requirements", DAY)
    expected = ref.staffing(truth[DAY])
    assert {r["interval_start"] for r in staffing} == set(expected)
    for row in staffing:
        same(expected[row["interval_start"]], row, row["interval_start"])
    assert any(r["staffing_gap"] > 0 for r in staffing) and any(
        r["staffing_gap"] <= 0 for r in staffing
    )

    # repeat_callers with a lookback day missing: says so, counts what is there ...
    result = run(week, tmp_path, DAY, ["repeat_callers"])
    metadata = result.asset_materializations_for_node("repeat_callers")[0].metadata
    assert metadata["missing_days"].value == [late.isoformat()]
    loaded = {d: c for d, c in truth.items() if d != late and d <= DAY}
    (row,) = table(tmp_path, "repeat_callers", DAY)
    same(ref.repeat_callers(loaded, DAY), row, "without the late day")
    # ... and once the late day is loaded and the row rebuilt, counts it too.
    run(week, tmp_path, late, CALL_LOGS)
    result = run(week, tmp_path, DAY, ["repeat_callers"])
    assert (
        result.asset_materializations_for_node("repeat_callers")[0].metadata["missing_days"].value
        == []
    )
    (row,) = table(tmp_path, "repeat_callers", DAY)
    full = ref.repeat_callers({d: c for d, c in truth.items() if d <= DAY}, DAY)
    same(full, row, "with every lookback day")
    assert full["repeat_calls_7d"] > ref.repeat_callers(loaded, DAY)["repeat_calls_7d"]
    assert full["repeat_calls_24h"] > 0

    # abandon_callbacks: incomplete until the next day is loaded, then the 23:50 abandon is
    # recovered by the callback after midnight.
    (row,) = table(tmp_path, "abandon_callbacks", DAY)
    alone = ref.abandon_callbacks({DAY: truth[DAY]}, DAY)
    assert row["complete"] is False
    same(alone, row, "before the next day")
    run(week, tmp_path, NEXT, CALL_LOGS)
    run(week, tmp_path, DAY, ["abandon_callbacks"])
    (row,) = table(tmp_path, "abandon_callbacks", DAY)
    both = ref.abandon_callbacks({DAY: truth[DAY], NEXT: truth[NEXT]}, DAY)
    assert row["complete"] is True
    same(both, row, "with the next day")
    assert both["recovered_by_callback_24h"] > alone["recovered_by_callback_24h"]
    assert both["recovered_by_customer_24h"] > 0 and both["median_minutes_to_recovery"] > 0


def test_other_settings_change_the_figures_as_the_reference_says(make_sandbox, tmp_path):
    sandbox = make_sandbox(calls_per_day=240)
    settings = ref.Settings(
        service_level_seconds=10,
        short_abandon_seconds=3,
        interval_minutes=15,
        after_call_work_seconds=30,
        service_level_target=0.9,
        max_occupancy=0.7,
    )
    resource = KpiSettingsResource(**settings.__dict__)
    materialize_day(sandbox, tmp_path, DAY)
    materialize_day(sandbox, tmp_path, DAY + timedelta(days=1), assets=assets(*CALL_LOGS))
    names = ["daily_call_metrics", *ANALYTICS]
    run(sandbox, tmp_path, DAY, names, settings=resource)
    truth = ref.sandbox_calls(sandbox.url, DAY)
    daily = {r["direction"]: r for r in table(tmp_path, "daily_call_metrics", DAY)}
    for direction, expected in ref.daily_extras(truth, settings).items():
        same(expected, daily[direction], direction)
    expected = ref.interval_metrics(truth, settings)
    intervals = table(tmp_path, "interval_call_metrics", DAY)
    assert len(intervals) == len(expected) and any(
        r["interval_start"].minute == 45 for r in intervals
    )
    for row in intervals:
        same(expected[(row["interval_start"], row["direction"])], row, row["interval_start"])
    expected = ref.staffing(truth, settings)
    for row in table(tmp_path, "staffing_requirements", DAY):
        same(expected[row["interval_start"]], row, row["interval_start"])
        assert row["occupancy"] <= 0.7
    next_day = ref.sandbox_calls(sandbox.url, DAY + timedelta(days=1))
    (row,) = table(tmp_path, "abandon_callbacks", DAY)
    same(
        ref.abandon_callbacks({DAY: truth, DAY + timedelta(days=1): next_day}, DAY, settings),
        row,
        "",
    )


def test_pii_option_gives_the_same_figures(sandbox, tmp_path):
    plain, hashed = tmp_path / "plain", tmp_path / "hashed"
    for day in (DAY - timedelta(days=1), DAY):
        materialize_day(sandbox, plain, day)
        run(
            sandbox,
            hashed,
            day,
            [*CALL_LOGS, "daily_call_metrics", *ANALYTICS],
            pii_hmac_key="k3y-for-tests",
        )
    truth = {c["call_id"]: c["customer"] for c in ref.sandbox_calls(sandbox.url, DAY)}
    rows = pq.read_table(Warehouse.at(hashed).call_logs_file(DAY)).to_pylist()
    for row in rows:  # normalized first, then hashed: one token per customer
        customer = truth[row["call_id"]]
        token = customer and hmac.new(b"k3y-for-tests", customer.encode(), hashlib.sha256)
        assert row["customer_number"] == (token.hexdigest() if customer else None)
    for name in ("daily_call_metrics", *ANALYTICS):
        assert table(hashed, name) == table(plain, name), name


def test_a_range_of_days_in_one_run_equals_the_days_one_by_one(tmp_path):
    """A backfill runs as one run (BackfillPolicy.single_run): one query per table for all its
    days. Its files must be those that day-by-day runs write."""
    from bench.kpi_year import synthesize_call_logs

    first, days = date(2026, 3, 1), 4
    last = first + timedelta(days=days - 1)
    for folder in ("ranged", "daily"):
        synthesize_call_logs(tmp_path / folder, first, days, 400)
    kpi = [a for a in ALL_ASSETS if a.group_names_by_key[a.key] == "kpi_mart"]

    def resources(folder: str) -> dict:
        return {
            "warehouse": WarehouseResource(data_dir=str(tmp_path / folder)),
            "kpi_settings": KpiSettingsResource(),
        }

    result = dg.materialize(
        kpi,
        resources=resources("ranged"),
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
    )
    assert result.success
    assert len(result.get_asset_materialization_events()) == len(kpi) * days
    for n in range(days):
        day = first + timedelta(days=n)
        dg.materialize(kpi, partition_key=day.isoformat(), resources=resources("daily"))
    names = sorted(a.key.to_user_string() for a in kpi)
    for name in names:
        ranged = table(tmp_path / "ranged", name)
        assert ranged == table(tmp_path / "daily", name), name
        assert {r["date"] for r in ranged} == {first + timedelta(days=n) for n in range(days)}
    # the last day's abandons have no next day to look at
    complete = {r["date"]: r["complete"] for r in table(tmp_path / "ranged", "abandon_callbacks")}
    assert complete == {d: d != last for d in complete}
