"""``forecast_accuracy``: how the forecasts made 1 and 7 days before a day did on it."""

from datetime import date

import dagster as dg

from alohub_assets.defs.planning.assets import PLANNING_ASSET_ARGS, params_from
from alohub_assets.defs.planning.automation import ACCURACY_AUTOMATION_CONDITION
from alohub_assets.defs.planning.build import write_forecast_accuracy
from alohub_assets.defs.resources import (
    KpiSettingsResource,
    PlanningSettingsResource,
    WarehouseResource,
)

#: The forecasts scored on day D were made on D-1 and D-7: the window D-7..D-1.
FORECASTS_SCORED = dg.TimeWindowPartitionMapping(
    start_offset=-7, end_offset=-1, allow_nonexistent_upstream_partitions=True
)


@dg.asset(
    **{**PLANNING_ASSET_ARGS, "automation_condition": ACCURACY_AUTOMATION_CONDITION},
    deps=[dg.AssetDep("call_volume_forecast", partition_mapping=FORECASTS_SCORED), "call_logs"],
)
def forecast_accuracy(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
    planning_settings: PlanningSettingsResource,
) -> dg.MaterializeResult:
    """Per hotline and ``*``: the forecast made 1 and 7 days before the day, WAPE, bias and the
    share of intervals inside the p10-p90 band (a missing forecast is listed, not scored)."""
    day = date.fromisoformat(context.partition_key)
    scored = write_forecast_accuracy(
        warehouse.get_warehouse(), day, params_from(kpi_settings, planning_settings)
    )
    info = scored["info"]
    if info["forecasts_missing"]:
        context.log.warning(
            f"forecast_accuracy {day}: no forecast made on {', '.join(info['forecasts_missing'])}"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": scored["rows"],
            "path": dg.MetadataValue.path(str(scored["file"])),
            "forecasts_scored": dg.MetadataValue.json(info["forecasts_scored"]),
            "forecasts_missing": dg.MetadataValue.json(info["forecasts_missing"]),
            "hotlines_without_forecast": dg.MetadataValue.json(info["hotlines_without_forecast"]),
        }
    )
