"""``hotline_interval_metrics``: interval KPIs per hotline, with the hotline's own thresholds."""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import KPI_ASSET_ARGS, build_kpi_partition, kpi_metadata
from alohub_assets.defs.kpi_mart.hotlines import hotline_parameters
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource


@dg.asset(**KPI_ASSET_ARGS)
def hotline_interval_metrics(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Per local interval and hotline: the columns of interval_call_metrics, for the hotline's
    inbound calls and against its own targets (the floor's view of the morning so far)."""
    params = hotline_parameters(kpi_settings, warehouse.pii_hmac_key)
    rows, file = build_kpi_partition(context, warehouse, "hotline_interval_metrics", params)
    return dg.MaterializeResult(
        metadata={**kpi_metadata(rows, file), "interval_minutes": kpi_settings.interval_minutes}
    )
