"""``abandon_callbacks``: abandoned inbound callers recovered within 24 h.

The date's row reads ``call_logs`` of the date and of the next day (a time-window partition
mapping): a 23:50 abandon can be called back at 00:10. Until the next day is loaded the row
says ``complete = false``; its arrival marks the row stale, and the automation that follows
updated dependencies brings it up to date.
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
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource

#: call_logs of D and D+1 make abandon_callbacks of D.
WITH_NEXT_DAY = dg.TimeWindowPartitionMapping(
    *WINDOWS["abandon_callbacks"], allow_nonexistent_upstream_partitions=True
)


@dg.asset(
    **{
        **KPI_ASSET_ARGS,
        "deps": [dg.AssetDep("call_logs", partition_mapping=WITH_NEXT_DAY)],
        "automation_condition": KPI_WINDOW_AUTOMATION_CONDITION,
    }
)
def abandon_callbacks(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Per day: abandoned inbound calls with a customer number, how many we tried to call back
    and how many were recovered within 24 h (by our callback or the customer's next call)."""
    first_day, last_day = partition_days(context)
    _, missing = kpi_inputs(warehouse.get_warehouse(), "abandon_callbacks", first_day, last_day)
    rows, file = build_kpi_partition(
        context, warehouse, "abandon_callbacks", kpi_settings.sql_parameters()
    )
    return dg.MaterializeResult(
        metadata={
            **kpi_metadata(rows, file),
            "complete": not missing,
            "missing_days": dg.MetadataValue.json([d.isoformat() for d in missing]),
        }
    )
