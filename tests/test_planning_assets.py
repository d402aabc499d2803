"""The planning assets with real Dagster on real files: two days of call_logs fetched from the
sandbox (a volume model's history), the forecast and staffing plan made on the first, the
second day's accuracy; each figure recomputed in plain Python from the sandbox's own record.
Their automation is evaluated in process on a real instance."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import duckdb
import pytest

from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.partitions import daily_partitions
from alohub_assets.defs.planning import PLANNING_ASSETS
from alohub_assets.defs.planning.build import PlanningParams, write_forecast
from alohub_assets.defs.resources import (
    KpiSettingsResource,
    PlanningSettingsResource,
    WarehouseResource,
)
from alohub_assets.storage import erlang_c
from alohub_assets.storage.forecasting import ForecastError
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.mart import open_mart
from alohub_dev.sandbox.calls import CallStore
from alohub_dev.sandbox.server import SandboxConfig, build_server
from alohub_dev.sandbox.volumes import VolumeModel
from tests.kpi_reference import sandbox_calls
from tests.support import API_KEY, Sandbox, pipeline_resources

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)  # a Monday and a Tuesday, far from any holiday
CLOSED = date(2026, 3, 9)
ICT = timezone(timedelta(hours=7))
FORECAST_COLUMNS = [
    "as_of", "forecast_date", "interval_start", "hotline", "offered_calls_forecast",
    "offered_calls_p10", "offered_calls_p90", "method",
]  # fmt: skip
PLAN_COLUMNS = [
    "as_of", "forecast_date", "interval_start", "hotline", "aht_seconds", "traffic_erlangs",
    "agents_erlang_c", "agents_erlang_a", "expected_service_level", "expected_abandon_rate",
    "scheduled_agents",
]  # fmt: skip


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    """call_logs of D1 and D2 through the pipeline, then the planning assets."""
    store = CallStore(
        seed=11,
        first_day=D1,
        last_day=D2,
        volume_model=VolumeModel(base_calls_per_day=120),
        other_type_share=0.0,
    )
    server = build_server(
        store=store, config=SandboxConfig(api_key=API_KEY, tenant_limit=0, route_limit=0)
    ).start_in_thread()
    sandbox = Sandbox(server)
    data_dir = tmp_path_factory.mktemp("planning")
    resources = {
        **pipeline_resources(sandbox, data_dir),
        # Settings a center might choose, so that each one shows in the plan.
        "kpi_settings": KpiSettingsResource(max_occupancy=0.25),
        "planning_settings": PlanningSettingsResource(
            closed_days=[CLOSED.isoformat()], shrinkage=0.45
        ),
    }
    quota = pytest.MonkeyPatch()  # this module's own quota state (the autouse one is per test)
    quota.setenv("ALOHUB_RATE_STATE_PATH", str(data_dir / "quota.sqlite3"))
    try:
        for day in (D1, D2):
            dg.materialize(
                ALL_ASSETS,
                selection=["raw_call_logs", "call_logs"],
                partition_key=day.isoformat(),
                resources=resources,
            )
        made = dg.materialize(
            ALL_ASSETS,
            selection=["call_volume_forecast", "staffing_plan"],
            partition_key=D1.isoformat(),
            resources=resources,
        )
        scored = dg.materialize(
            ALL_ASSETS,
            selection=["forecast_accuracy"],
            partition_key=D2.isoformat(),
            resources=resources,
        )
        truth = {day: sandbox_calls(sandbox.url, day) for day in (D1, D2)}
    finally:
        server.stop()
        quota.undo()
    return {"dir": data_dir, "made": made, "scored": scored, "truth": truth}


def interval_counts(calls: list[dict]) -> Counter:
    """Inbound calls per (hotline, local interval start) from the sandbox's record; `*` all."""
    counts: Counter = Counter()
    for call in calls:
        if call["direction"] != "inbound":
            continue
        start = call["start_time"]
        slot = start.replace(minute=start.minute - start.minute % 30, second=0)
        counts[(call["called"], slot.strftime("%H:%M"))] += 1
        counts[("*", slot.strftime("%H:%M"))] += 1
    return counts


def read(data_dir, table: str, day: date):
    file = f"{data_dir}/warehouse/{table}/date={day}/{table}.parquet"
    return duckdb.sql(
        "SELECT * FROM read_parquet($file, hive_partitioning = false)", params={"file": file}
    )


def test_forecast_from_one_day_falls_back_and_repeats_that_day(planned):
    forecast = read(planned["dir"], "call_volume_forecast", D1)
    assert forecast.columns == FORECAST_COLUMNS
    rows = forecast.fetchall()
    truth = interval_counts(planned["truth"][D1])
    hotlines = {h for h, _ in truth} - {"*"}
    assert len(rows) == 14 * 48 * (len(hotlines) + 1)
    assert {r[3] for r in rows} == hotlines | {"*"}
    assert {r[1] for r in rows} == {D1 + timedelta(days=n) for n in range(1, 15)}
    meta = planned["made"].asset_materializations_for_node("call_volume_forecast")[0].metadata
    assert meta["fallback"].value is True and meta["history_weeks"].value == 0
    assert meta["method"].value == "daily_average"
    for as_of, day, start, hotline, mean, p10, p90, method in rows:
        local = start.astimezone(ICT)
        assert as_of == D1 and local.date() == day and local.minute in (0, 30)
        expected = truth[(hotline, local.strftime("%H:%M"))]
        if day == CLOSED:  # a closed day with no past holiday: the settings' factor
            assert method == "holiday_factor"
            assert mean == pytest.approx(0.3 * expected)
        else:
            assert method == "daily_average"
            assert mean == pytest.approx(expected)
        assert p10 <= mean <= p90


def test_staffing_plan_sizes_each_forecast_interval(planned):
    plan = read(planned["dir"], "staffing_plan", D1)
    assert plan.columns == PLAN_COLUMNS
    forecast = {
        (r[1], r[2], r[3]): r[4]
        for r in read(planned["dir"], "call_volume_forecast", D1).fetchall()
    }
    rows = plan.fetchall()
    assert len(rows) == len(forecast)
    for _, day, start, hotline, aht, traffic, agents_c, agents_a, sl, abandon, scheduled in rows:
        calls = forecast[(day, start, hotline)]
        assert aht > 0 and traffic == pytest.approx(calls * aht / 1800)
        assert agents_c == erlang_c.required_agents(traffic, aht, 20, 0.8, 0.25).agents
        assert 1 <= agents_a <= agents_c
        assert sl >= 0.8 and 0 <= abandon < 1
        assert scheduled == math.ceil(round(agents_a / (1 - 0.45), 9))
    assert max(r[7] for r in rows) >= 2  # busy enough for the shrinkage to round differently
    meta = planned["made"].asset_materializations_for_node("staffing_plan")[0].metadata
    assert set(meta["patience_seconds"].value) == {r[3] for r in rows}


def test_accuracy_scores_the_forecast_made_the_day_before(planned):
    accuracy = read(planned["dir"], "forecast_accuracy", D2)
    rows = {r[1]: r for r in accuracy.fetchall()}
    actual = interval_counts(planned["truth"][D2])
    forecast = [
        r for r in read(planned["dir"], "call_volume_forecast", D1).fetchall() if r[1] == D2
    ]
    assert set(rows) == {r[3] for r in forecast}
    for hotline, row in rows.items():
        cells = [
            (mean, p10, p90, actual[(hotline, _local_hhmm(start))])
            for _, _, start, h, mean, p10, p90, _ in forecast
            if h == hotline
        ]
        total = sum(a for *_, a in cells)
        date_, _, horizon, as_of, intervals, actual_calls, forecast_calls, wape, bias, band = row
        assert (date_, horizon, as_of, intervals) == (D2, 1, D1, 48)
        assert actual_calls == total
        assert forecast_calls == pytest.approx(sum(m for m, *_ in cells))
        assert wape == pytest.approx(sum(abs(m - a) for m, _, _, a in cells) / total)
        assert bias == pytest.approx(sum(m for m, *_ in cells) / total - 1)
        assert band == pytest.approx(sum(lo <= a <= hi for _, lo, hi, a in cells) / 48)
    meta = planned["scored"].asset_materializations_for_node("forecast_accuracy")[0].metadata
    assert meta["forecasts_missing"].value == [(D2 - timedelta(days=7)).isoformat()]
    with open_mart(planned["dir"]) as con:  # the catalog has a view per planning table
        for table in ("call_volume_forecast", "staffing_plan", "forecast_accuracy"):
            count = con.sql("SELECT count(*) FROM query_table($t)", params={"t": table})
            assert count.fetchall()[0][0] > 0


def _local_hhmm(start: datetime) -> str:
    return start.astimezone(ICT).strftime("%H:%M")


def test_no_history_is_a_clear_error(tmp_path):
    with pytest.raises(ForecastError, match="no call_logs between"):
        write_forecast(Warehouse.at(tmp_path), D1, PlanningParams())


def requested(result, asset: str) -> set[str]:
    return set(result.get_requested_partitions(dg.AssetKey(asset)))


def test_automation_builds_the_plan_after_call_logs_and_rescores_a_late_day():
    defs = dg.Definitions(
        assets=[dg.AssetSpec("call_logs", partitions_def=daily_partitions), *PLANNING_ASSETS],
        resources={
            "warehouse": WarehouseResource(),
            "kpi_settings": KpiSettingsResource(),
            "planning_settings": PlanningSettingsResource(),
        },
    )
    instance = dg.DagsterInstance.ephemeral()

    def load(asset: str, day: date) -> None:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=str(day)))

    now = datetime(2026, 3, 20, 3, 0, tzinfo=ICT)
    start = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now)
    night = date(2026, 3, 19)
    load("call_logs", night)  # the nightly run of the 19th
    after = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=start.cursor, evaluation_time=now
    )
    assert requested(after, "call_volume_forecast") == {str(night)}
    assert requested(after, "staffing_plan") == {str(night)}
    assert requested(after, "forecast_accuracy") == {str(night)}
    for asset in ("call_volume_forecast", "staffing_plan", "forecast_accuracy"):
        load(asset, night)
    quiet = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=after.cursor, evaluation_time=now
    )
    assert quiet.total_requested == 0

    # A late day (the 12th) is measured when it arrives, and its forecast made...
    late = date(2026, 3, 12)
    load("call_logs", late)
    again = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=quiet.cursor, evaluation_time=now
    )
    assert requested(again, "call_volume_forecast") == {str(late)}
    # ... and the forecast made on the 12th, requested with it, is scored on the 19th (its
    # 7-day forecast); the 13th-18th wait for their call_logs.
    assert requested(again, "forecast_accuracy") == {str(late), str(night)}


def test_todays_refreshes_build_no_forecast_until_the_day_is_over():
    if daily_partitions.end_offset < 1:
        pytest.skip("today is not a partition of its own yet (issue 19's end_offset=1)")
    defs = dg.Definitions(
        assets=[dg.AssetSpec("call_logs", partitions_def=daily_partitions), *PLANNING_ASSETS],
        resources={
            "warehouse": WarehouseResource(),
            "kpi_settings": KpiSettingsResource(),
            "planning_settings": PlanningSettingsResource(),
        },
    )
    instance = dg.DagsterInstance.ephemeral()
    today = date(2026, 3, 20)
    noon = datetime(2026, 3, 20, 12, 0, tzinfo=ICT)
    start = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=noon)
    instance.report_runless_asset_event(dg.AssetMaterialization("call_logs", partition=str(today)))
    refreshed = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=start.cursor, evaluation_time=noon
    )
    assert refreshed.total_requested == 0  # an intraday refresh of today
    night = datetime(2026, 3, 21, 2, 30, tzinfo=ICT)
    instance.report_runless_asset_event(dg.AssetMaterialization("call_logs", partition=str(today)))
    nightly = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=refreshed.cursor, evaluation_time=night
    )
    assert requested(nightly, "call_volume_forecast") == {str(today)}
