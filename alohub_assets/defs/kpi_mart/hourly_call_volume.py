"""``hourly_call_volume``: offered and answered calls and average wait per local hour."""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import KPI_ASSET_ARGS, build_kpi_partition, kpi_metadata
from alohub_assets.defs.resources import WarehouseResource


@dg.asset(**KPI_ASSET_ARGS)
def hourly_call_volume(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Offered and answered calls and average wait per local hour and direction."""
    rows, file = build_kpi_partition(context, warehouse, "hourly_call_volume")
    return dg.MaterializeResult(metadata=kpi_metadata(rows, file))
