"""``callback_worklist``: the callers who hung up and have not been reached since.

The date's rows read ``call_logs`` of the date and of the next day (a time-window partition
mapping, as ``abandon_callbacks``): a caller reached after midnight leaves the list when the next
day arrives, and today's list shrinks at every refresh as callers are called back.
"""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import (
    build_window_kpi_partition,
    kpi_metadata,
    window_kpi_asset_args,
)
from alohub_assets.defs.kpi_mart.hotlines import hotline_parameters
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource


@dg.asset(**window_kpi_asset_args("callback_worklist"))
def callback_worklist(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """One row per customer who abandoned an inbound call (not a short abandon) on the date and
    was not reached since their last abandon: an answered call from or to them after it."""
    params = hotline_parameters(kpi_settings, warehouse.pii_hmac_key)
    rows, file, missing = build_window_kpi_partition(
        context, warehouse, "callback_worklist", params
    )
    return dg.MaterializeResult(
        metadata={
            **kpi_metadata(rows, file),
            "next_day_read": not missing,
            "missing_days": dg.MetadataValue.json([d.isoformat() for d in missing]),
            "pii_hashed": bool(warehouse.pii_hmac_key),
        }
    )
