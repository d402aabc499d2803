"""``staffing_plan``: agents per interval for the forecast made on ``as_of`` (Erlang C as in
``staffing_requirements``, Erlang A with the callers' measured patience, shrinkage)."""

from datetime import date, timedelta

import dagster as dg

from alohub_assets.defs.planning.assets import PLANNING_ASSET_ARGS, params_from, preview
from alohub_assets.defs.planning.build import PLAN_TABLE, write_staffing_plan
from alohub_assets.defs.resources import (
    KpiSettingsResource,
    PlanningSettingsResource,
    WarehouseResource,
)


@dg.asset(**PLANNING_ASSET_ARGS, deps=["call_volume_forecast", "call_logs"])
def staffing_plan(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
    planning_settings: PlanningSettingsResource,
) -> dg.MaterializeResult:
    """Per forecast interval and hotline: AHT and traffic, the agents Erlang C and Erlang A
    require for the service-level target, the service level and abandon rate Erlang A expects
    at its staffing, and the agents to schedule after shrinkage (docs/forecasting.md)."""
    as_of = date.fromisoformat(context.partition_key)
    plan = write_staffing_plan(
        warehouse.get_warehouse(), as_of, params_from(kpi_settings, planning_settings)
    )
    info = plan["info"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": plan["rows"],
            "path": dg.MetadataValue.path(str(plan["file"])),
            "patience_seconds": dg.MetadataValue.json(info["patience_seconds"]),
            "mean_talk_seconds": dg.MetadataValue.json(info["mean_talk_seconds"]),
            "handling_days": info["handling_days"],
            "shrinkage": info["shrinkage"],
            "erlang_a_agent_hours_saved": info["erlang_a_agent_hours_saved"],
            "busiest_intervals_tomorrow": preview(
                PLAN_TABLE,
                plan["file"],
                as_of + timedelta(days=1),
                ["interval", "Erlang C", "Erlang A", "scheduled", "SL", "abandon"],
            ),
        }
    )
