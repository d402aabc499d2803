"""repeat_callers and abandon_callbacks read days around their own: their partition mappings
make a late ``call_logs`` day mark exactly the dependent days stale, so automation that follows
updated dependencies brings them up to date (evaluated in process on a real instance)."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from alohub_assets.defs.kpi_mart.abandon_callbacks import abandon_callbacks
from alohub_assets.defs.kpi_mart.repeat_callers import repeat_callers
from alohub_assets.defs.partitions import daily_partitions
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource

START = date(2026, 3, 1)
DAYS = [START + timedelta(days=n) for n in range(20)]
LATE = date(2026, 3, 10)

# The rule of the KPI tables' automation (issue 13): call_logs updated since the partition was
# last handled, none of its call_logs missing or running.
FOLLOW_UPDATED_DEPS = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_missing()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
)


def requested(result, asset: str) -> set[date]:
    keys = set()
    for r in result.results:
        if r.key == dg.AssetKey(asset):
            keys |= set(r.true_subset.expensively_compute_partition_keys())
    return {date.fromisoformat(k) for k in keys}


def test_a_late_call_logs_day_makes_exactly_its_dependent_days_stale():
    call_logs = dg.AssetSpec("call_logs", partitions_def=daily_partitions)
    watched = dg.map_asset_specs(
        lambda spec: spec.replace_attributes(automation_condition=FOLLOW_UPDATED_DEPS),
        [repeat_callers, abandon_callbacks],
    )
    defs = dg.Definitions(
        assets=[call_logs, *watched],
        resources={"warehouse": WarehouseResource(), "kpi_settings": KpiSettingsResource()},
    )
    instance = dg.DagsterInstance.ephemeral()

    def load(asset: str, days: list[date]) -> None:
        for day in days:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset, partition=day.isoformat())
            )

    load("call_logs", [d for d in DAYS if d != LATE])
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=None)
    # Built as far as their windows are loaded: not the days whose window holds LATE.
    assert LATE not in requested(first, "repeat_callers")
    assert LATE + timedelta(days=7) not in requested(first, "repeat_callers")
    assert LATE - timedelta(days=1) not in requested(first, "abandon_callbacks")
    for asset in ("repeat_callers", "abandon_callbacks"):
        load(asset, sorted(requested(first, asset)))
    settled = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert settled.total_requested == 0

    load("call_logs", [LATE])
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=settled.cursor)
    assert requested(after, "repeat_callers") == {LATE + timedelta(days=n) for n in range(8)}
    assert requested(after, "abandon_callbacks") == {LATE - timedelta(days=1), LATE}
