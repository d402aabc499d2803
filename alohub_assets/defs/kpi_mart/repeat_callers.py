"""``repeat_callers``: inbound calls whose customer called within the 24 h / 7 days before.

The date's row reads ``call_logs`` of the date and of the 7 days before it (a time-window
partition mapping), so a materialization of any of those days marks the row stale and the
automation that follows updated dependencies brings it up to date.
"""

import dagster as dg

from alohub_assets.defs.kpi_mart.automation import KPI_WINDOW_AUTOMATION_CONDITION
from alohub_assets.defs.kpi_mart.build import (
    KPI_ASSET_ARGS,
    build_kpi_partition,
    kpi_metadata,
    partition_days,
)
from alohub_assets.defs.kpi_mart.inputs import WINDOWS, kpi_inputs
from alohub_assets.defs.resources import WarehouseResource

#: call_logs of D-7..D make repeat_callers of D.
LOOKBACK = dg.TimeWindowPartitionMapping(
    *WINDOWS["repeat_callers"], allow_nonexistent_upstream_partitions=True
)


@dg.asset(
    **{
        **KPI_ASSET_ARGS,
        "deps": [dg.AssetDep("call_logs", partition_mapping=LOOKBACK)],
        "automation_condition": KPI_WINDOW_AUTOMATION_CONDITION,
    }
)
def repeat_callers(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per day: inbound calls with a customer number, distinct callers, and the calls whose
    customer had called within the 24 h / 7 days before (first-contact resolution proxy)."""
    first_day, last_day = partition_days(context)
    _, missing = kpi_inputs(warehouse.get_warehouse(), "repeat_callers", first_day, last_day)
    if missing:
        context.log.warning(
            f"repeat_callers: no call_logs for {', '.join(map(str, missing))}; repeats "
            "reaching back to those days count once they are loaded"
        )
    rows, file = build_kpi_partition(context, warehouse, "repeat_callers")
    return dg.MaterializeResult(
        metadata={
            **kpi_metadata(rows, file),
            "missing_days": dg.MetadataValue.json([d.isoformat() for d in missing]),
            "lookback_complete": not missing,
        }
    )
