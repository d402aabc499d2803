"""``abandon_callbacks``: abandoned inbound callers recovered within 24 h.

The date's row reads ``call_logs`` of the date and of the next day (a time-window partition
mapping): a 23:50 abandon can be called back at 00:10. Until the next day is loaded the row
says ``complete = false``; its arrival marks the row stale, and the automation that follows
updated dependencies brings it up to date.
"""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import (
    build_window_kpi_partition,
    kpi_metadata,
    window_kpi_asset_args,
)
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource


@dg.asset(**window_kpi_asset_args("abandon_callbacks"))
def abandon_callbacks(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Per day: abandoned inbound calls with a customer number, how many we tried to call back
    and how many were recovered within 24 h (by our callback or the customer's next call)."""
    rows, file, missing = build_window_kpi_partition(
        context, warehouse, "abandon_callbacks", kpi_settings.sql_parameters()
    )
    return dg.MaterializeResult(
        metadata={
            **kpi_metadata(rows, file),
            "complete": not missing,
            "missing_days": dg.MetadataValue.json([d.isoformat() for d in missing]),
        }
    )
