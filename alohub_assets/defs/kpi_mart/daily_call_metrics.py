"""``daily_call_metrics``: queue KPIs per day and direction (``daily_call_metrics.sql``)."""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import (
    KPI_ASSET_ARGS,
    build_kpi_partition,
    kpi_metadata,
    markdown_table,
    partition_days,
    query_partition,
    run_partition_files,
)
from alohub_assets.defs.resources import KpiSettingsResource, WarehouseResource

PREVIEW_COLUMNS = [
    "direction",
    "offered_calls",
    "answered_calls",
    "answer_rate",
    "service_level",
    "asa_seconds",
    "abandon_rate",
]


@dg.asset(
    **KPI_ASSET_ARGS,
    check_specs=[
        dg.AssetCheckSpec(
            "rates_within_0_and_1",
            asset="daily_call_metrics",
            description="answer_rate, abandon_rate and service_level are null or in [0, 1]",
        )
    ],
)
def daily_call_metrics(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Queue KPIs per day and direction: answer and abandon rates, service level, waits (mean,
    percentiles, before abandoning), talk."""
    params = {
        "short_abandon_seconds": kpi_settings.short_abandon_seconds,
        "service_level_seconds": kpi_settings.service_level_seconds,
    }
    rows, file = build_kpi_partition(context, warehouse, "daily_call_metrics", params)
    day = partition_days(context)[1]
    preview = query_partition("daily_call_metrics", "preview", file, day)
    every_day = run_partition_files(context, warehouse, "daily_call_metrics")
    ((bad_rates,),) = query_partition("daily_call_metrics", "rates_out_of_bounds", every_day, day)
    return dg.MaterializeResult(
        metadata={
            **kpi_metadata(rows, file),
            "preview": dg.MetadataValue.md(markdown_table(PREVIEW_COLUMNS, preview)),
            **params,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="rates_within_0_and_1",
                passed=bad_rates == 0,
                metadata={"rows_out_of_bounds": bad_rates},
            )
        ],
    )
