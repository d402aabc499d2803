"""``interval_call_metrics``: queue KPIs per local interval and direction."""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import KPI_ASSET_ARGS, build_kpi_partition, kpi_metadata
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource


@dg.asset(**KPI_ASSET_ARGS)
def interval_call_metrics(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Per 15/30/60-minute local interval and direction: offered, answered, abandoned, service
    level, waits (mean, p90), talk; the workforce planner's grain."""
    rows, file = build_kpi_partition(
        context, warehouse, "interval_call_metrics", kpi_settings.sql_parameters()
    )
    return dg.MaterializeResult(
        metadata={**kpi_metadata(rows, file), "interval_minutes": kpi_settings.interval_minutes}
    )
