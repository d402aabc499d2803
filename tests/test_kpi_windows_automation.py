"""repeat_callers and abandon_callbacks read days around their own: their partition mappings and
their automation condition make a late ``call_logs`` day refresh exactly the days whose window
holds it, and the next day's arrival complete abandon_callbacks (evaluated in process
on a real instance, with the code location's own conditions)."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from alohub_assets.defs.kpi_mart.abandon_callbacks import abandon_callbacks
from alohub_assets.defs.kpi_mart.callback_worklist import callback_worklist
from alohub_assets.defs.kpi_mart.repeat_callers import repeat_callers
from alohub_assets.defs.partitions import daily_partitions
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource

START = date(2026, 3, 1)
DAYS = [START + timedelta(days=n) for n in range(20)]
LATE = date(2026, 3, 10)


def requested(result, asset: str) -> set[date]:
    return {date.fromisoformat(k) for k in result.get_requested_partitions(dg.AssetKey(asset))}


def test_a_late_call_logs_day_refreshes_exactly_the_days_whose_window_holds_it():
    defs = dg.Definitions(
        assets=[
            dg.AssetSpec("call_logs", partitions_def=daily_partitions),
            repeat_callers,
            abandon_callbacks,
            callback_worklist,
        ],
        resources={"warehouse": WarehouseResource(), "kpi_settings": KpiSettingsResource()},
    )
    instance = dg.DagsterInstance.ephemeral()

    def load(asset: str, days) -> None:
        for day in days:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset, partition=day.isoformat())
            )

    start = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    # Daily runs, LATE's skipped: call_logs of a day, then its KPI partitions.
    for day in DAYS:
        if day != LATE:
            load("call_logs", [day])
            load("repeat_callers", [day])
            load("abandon_callbacks", [day])
            load("callback_worklist", [day])
    loaded = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=start.cursor)
    assert loaded.total_requested == 0

    # The next day's call_logs arrives (or a refresh of it, when it is today): the last day's
    # abandon_callbacks is completed and its callback worklist brought up to date.
    next_day = DAYS[-1] + timedelta(days=1)
    load("call_logs", [next_day])
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=loaded.cursor)
    assert requested(after, "abandon_callbacks") == {DAYS[-1]}  # next_day's waits for its own
    assert requested(after, "callback_worklist") == {DAYS[-1]}
    assert requested(after, "repeat_callers") == {next_day}  # its whole window is there
    load("abandon_callbacks", [DAYS[-1]])
    load("callback_worklist", [DAYS[-1]])
    load("repeat_callers", [next_day])
    built = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    assert built.total_requested == 0
    # ... and every later refresh of it does it again
    load("call_logs", [next_day])
    refreshed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=built.cursor)
    assert requested(refreshed, "callback_worklist") == {DAYS[-1]}
    load("abandon_callbacks", [DAYS[-1]])
    load("callback_worklist", [DAYS[-1]])
    load("repeat_callers", [next_day])
    after = refreshed

    # The missing day arrives: the days whose window holds it are refreshed, and its own built.
    load("call_logs", [LATE])
    late = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
    assert requested(late, "repeat_callers") == {LATE + timedelta(days=n) for n in range(8)}
    assert requested(late, "abandon_callbacks") == {LATE - timedelta(days=1), LATE}
    assert requested(late, "callback_worklist") == {LATE - timedelta(days=1), LATE}
    load("repeat_callers", requested(late, "repeat_callers"))
    load("abandon_callbacks", requested(late, "abandon_callbacks"))
    load("callback_worklist", requested(late, "callback_worklist"))

    # A re-fetch of the history's second day: the week after it is refreshed although the days
    # before the history began were never loaded (a missing neighbour does not block).
    refetched = START + timedelta(days=1)
    load("call_logs", [refetched])
    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=late.cursor)
    assert requested(again, "repeat_callers") == {refetched + timedelta(days=n) for n in range(8)}
    assert requested(again, "abandon_callbacks") == {START, refetched}
