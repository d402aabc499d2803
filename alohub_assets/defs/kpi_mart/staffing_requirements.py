"""``staffing_requirements``: Erlang C agents needed per interval against agents active."""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import (
    KPI_ASSET_ARGS,
    build_kpi_partition,
    kpi_metadata,
    partition_days,
    query_partition,
)
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource


@dg.asset(**KPI_ASSET_ARGS)
def staffing_requirements(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Per interval with inbound calls: offered calls, AHT, traffic in Erlangs, the agents Erlang
    C requires for the service-level target, and the gap to the agents who answered calls."""
    rows, file = build_kpi_partition(
        context, warehouse, "staffing_requirements", kpi_settings.sql_parameters()
    )
    ((short, peak),) = query_partition(
        "staffing_requirements", "summary", file, partition_days(context)[1]
    )
    return dg.MaterializeResult(
        metadata={
            **kpi_metadata(rows, file),
            "intervals_short_of_agents": short,
            "peak_required_agents": peak,
            "interval_minutes": kpi_settings.interval_minutes,
            "service_level_target": kpi_settings.service_level_target,
            "max_occupancy": kpi_settings.max_occupancy,
            "after_call_work_seconds": kpi_settings.after_call_work_seconds,
        }
    )
