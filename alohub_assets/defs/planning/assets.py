"""What the planning assets share: partitions, group, automation, settings, previews."""

from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from alohub_assets.defs.kpi_mart.build import markdown_table
from alohub_assets.defs.partitions import daily_partitions
from alohub_assets.defs.planning.automation import PLANNING_AUTOMATION_CONDITION
from alohub_assets.defs.planning.build import PlanningParams, statements
from alohub_assets.defs.resources import KpiSettingsResource, PlanningSettingsResource
from alohub_assets.storage.mart import local_connection
from alohub_assets.storage.sql import bound

PLANNING_GROUP = "planning"

PLANNING_ASSET_ARGS: dict[str, Any] = dict(
    partitions_def=daily_partitions,
    kinds={"python", "duckdb", "parquet"},
    group_name=PLANNING_GROUP,
    automation_condition=PLANNING_AUTOMATION_CONDITION,
)


def params_from(kpi: KpiSettingsResource, planning: PlanningSettingsResource) -> PlanningParams:
    """The settings file's values, as the resources hold them."""
    return PlanningParams(
        interval_minutes=kpi.interval_minutes,
        service_level_seconds=kpi.service_level_seconds,
        short_abandon_seconds=kpi.short_abandon_seconds,
        service_level_target=kpi.service_level_target,
        max_occupancy=kpi.max_occupancy,
        after_call_work_seconds=float(kpi.after_call_work_seconds),
        holiday_factor=planning.holiday_factor,
        shrinkage=planning.shrinkage,
        closed_days=tuple(planning.closed_dates()),
    )


def preview(table: str, file: Path, day: date, columns: list[str]) -> dg.MetadataValue:
    """The ``busiest`` statement of ``<table>.sql`` as a markdown table."""
    sql = statements(table)["busiest"]
    with local_connection() as con:
        rows = con.execute(sql, bound(sql, {"partition": str(file), "day": day})).fetchall()
    return dg.MetadataValue.md(markdown_table(columns, rows))
