"""``call_volume_forecast``: offered calls per interval for the 14 days after ``as_of``, per
hotline and for all of them (``*``), with p10/p90 and the method used."""

from datetime import date

import dagster as dg

from alohub_assets.defs.planning.assets import PLANNING_ASSET_ARGS, params_from, preview
from alohub_assets.defs.planning.build import FORECAST_TABLE, write_forecast
from alohub_assets.defs.resources import (
    KpiSettingsResource,
    PlanningSettingsResource,
    WarehouseResource,
)


@dg.asset(**PLANNING_ASSET_ARGS, deps=["call_logs"])
def call_volume_forecast(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
    planning_settings: PlanningSettingsResource,
) -> dg.MaterializeResult:
    """Made on ``as_of`` (the partition) from the call_logs of the two years up to it (as_of
    itself once the day is over): weekday profiles with a trend, Vietnamese holidays and the
    center's closed days; fewer than 8 weeks of history fall back to simpler methods, said in
    the metadata (docs/forecasting.md)."""
    as_of = date.fromisoformat(context.partition_key)
    made = write_forecast(
        warehouse.get_warehouse(), as_of, params_from(kpi_settings, planning_settings)
    )
    info = made["info"]
    if info["fallback"]:
        context.log.warning(
            f"call_volume_forecast {as_of}: {info['history_weeks']} weeks of history (fewer than "
            f"8): fell back to {info['method']}"
        )
    tomorrow = made["forecast"].days[0]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": made["rows"],
            "path": dg.MetadataValue.path(str(made["file"])),
            **{k: _json_safe(v) for k, v in info.items()},
            "busiest_intervals_tomorrow": preview(
                FORECAST_TABLE,
                made["file"],
                tomorrow,
                ["interval", "forecast", "p10", "p90", "method"],
            ),
        }
    )


def _json_safe(value):
    if isinstance(value, dict | list):
        return dg.MetadataValue.json(value)
    return value
