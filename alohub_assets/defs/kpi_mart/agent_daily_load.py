"""``agent_daily_load``: per agent and day, handled calls by direction, talk time, load share."""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import KPI_ASSET_ARGS, build_kpi_partition, kpi_metadata
from alohub_assets.defs.resources import WarehouseResource


@dg.asset(**KPI_ASSET_ARGS)
def agent_daily_load(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per agent and day: handled calls by direction, outbound attempts, talk time, load share."""
    rows, file = build_kpi_partition(context, warehouse, "agent_daily_load")
    return dg.MaterializeResult(metadata=kpi_metadata(rows, file))
