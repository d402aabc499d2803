"""``daily_call_metrics``: queue KPIs per day and direction (``daily_call_metrics.sql``)."""

import dagster as dg
from pydantic import Field

from alohub_assets.defs.kpi_mart.build import (
    KPI_ASSET_ARGS,
    build_kpi_partition,
    kpi_metadata,
    markdown_table,
    query_partition,
)
from alohub_assets.defs.partitions import partition_day
from alohub_assets.defs.resources import WarehouseResource

PREVIEW_COLUMNS = [
    "direction",
    "offered_calls",
    "answered_calls",
    "answer_rate",
    "service_level",
    "asa_seconds",
    "abandon_rate",
]


class CallMetricsConfig(dg.Config):
    """Thresholds of the queue KPIs; the defaults are the common vendor defaults."""

    short_abandon_seconds: int = Field(
        default=5, description="unanswered calls that waited less are short abandons"
    )
    service_level_seconds: int = Field(
        default=20, description="answered within this many seconds (inclusive) meets the target"
    )


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
    context: dg.AssetExecutionContext, config: CallMetricsConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Queue KPIs per day and direction: answer and abandon rates, service level, waits, talk."""
    params = {
        "short_abandon_seconds": config.short_abandon_seconds,
        "service_level_seconds": config.service_level_seconds,
    }
    rows, file = build_kpi_partition(context, warehouse, "daily_call_metrics", params)
    day = partition_day(context)
    preview = query_partition("daily_call_metrics", "preview", file, day)
    ((bad_rates,),) = query_partition("daily_call_metrics", "rates_out_of_bounds", file, day)
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
