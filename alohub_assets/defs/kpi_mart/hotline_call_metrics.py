"""``hotline_call_metrics``: the queue KPIs of each hotline (inbound ``called`` number) and day,
with the hotline's own thresholds from the settings file."""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import (
    KPI_ASSET_ARGS,
    build_kpi_partition,
    kpi_metadata,
    markdown_table,
    partition_days,
    query_call_logs,
    query_partition,
)
from alohub_assets.defs.kpi_mart.hotlines import hotline_parameters
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource

PREVIEW_COLUMNS = [
    "hotline_name",
    "offered_calls",
    "answered_calls",
    "service_level",
    "service_level_seconds",
    "abandon_rate",
    "asa_seconds",
]


@dg.asset(**KPI_ASSET_ARGS)
def hotline_call_metrics(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Per hotline and day: offered, answered and abandoned inbound calls, answer and abandon
    rates, service level against the hotline's own target, ASA, 90th-percentile wait, talk."""
    params = hotline_parameters(kpi_settings, warehouse.pii_hmac_key)
    rows, file = build_kpi_partition(context, warehouse, "hotline_call_metrics", params)
    ((no_hotline,),) = query_call_logs(
        context, warehouse, "hotline_call_metrics", "left_out", params
    )
    if no_hotline:
        context.log.warning(f"{no_hotline} inbound calls have no called number: no hotline row")
    preview = query_partition("hotline_call_metrics", "preview", file, partition_days(context)[1])
    return dg.MaterializeResult(
        metadata={
            **kpi_metadata(rows, file),
            "inbound_calls_without_hotline": no_hotline,
            "hotlines_configured": len(kpi_settings.hotlines),
            "preview": dg.MetadataValue.md(markdown_table(PREVIEW_COLUMNS, preview)),
        }
    )
