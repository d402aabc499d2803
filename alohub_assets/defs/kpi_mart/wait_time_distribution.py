"""``wait_time_distribution``: how long callers of each hotline waited, answered or not."""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import (
    KPI_ASSET_ARGS,
    build_kpi_partition,
    kpi_metadata,
    query_call_logs,
)
from alohub_assets.defs.kpi_mart.hotlines import hotline_parameters
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource


@dg.asset(**KPI_ASSET_ARGS)
def wait_time_distribution(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Per hotline and day, answered and abandoned inbound calls per wait bucket (the settings
    file's ``wait_buckets``); calls with an unknown wait or still in progress are counted in the
    metadata, not in a bucket."""
    params = hotline_parameters(kpi_settings, warehouse.pii_hmac_key)
    rows, file = build_kpi_partition(context, warehouse, "wait_time_distribution", params)
    ((unknown_wait, in_progress),) = query_call_logs(
        context, warehouse, "wait_time_distribution", "left_out", params
    )
    return dg.MaterializeResult(
        metadata={
            **kpi_metadata(rows, file),
            "bucket_starts_seconds": dg.MetadataValue.json(list(kpi_settings.wait_buckets)),
            "calls_with_unknown_wait": unknown_wait,
            "calls_in_progress": in_progress,
        }
    )
