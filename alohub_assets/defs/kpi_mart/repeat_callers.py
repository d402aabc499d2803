"""``repeat_callers``: inbound calls whose customer called within the 24 h / 7 days before.

The date's row reads ``call_logs`` of the date and of the 7 days before it (a time-window
partition mapping), so a materialization of any of those days marks the row stale and the
automation that follows updated dependencies brings it up to date.
"""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import (
    build_window_kpi_partition,
    kpi_metadata,
    window_kpi_asset_args,
)
from alohub_assets.defs.resources import WarehouseResource


@dg.asset(**window_kpi_asset_args("repeat_callers"))
def repeat_callers(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per day: inbound calls with a customer number, distinct callers, and the calls whose
    customer had called within the 24 h / 7 days before (first-contact resolution proxy)."""
    rows, file, missing = build_window_kpi_partition(context, warehouse, "repeat_callers")
    if missing:
        context.log.warning(
            f"repeat_callers: no call_logs for {', '.join(map(str, missing))}; repeats "
            "reaching back to those days count once they are loaded"
        )
    return dg.MaterializeResult(
        metadata={
            **kpi_metadata(rows, file),
            "missing_days": dg.MetadataValue.json([d.isoformat() for d in missing]),
            "lookback_complete": not missing,
        }
    )
