"""What every KPI table shares: how a partition is built, published and described.

A KPI table is a pair of files in this folder, ``<table>.sql`` (a ``-- name: select``
statement giving the rows of the days ``$first_day..$last_day`` from ``$call_logs``) and ``<table>.py`` (the asset,
which calls ``build_kpi_partition``). Nothing else needs to change: the package collects the
assets, the daily job selects the group, and the catalog gets a view for every ``.sql`` here.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from alohub_assets.defs.kpi_mart.automation import (
    KPI_AUTOMATION_CONDITION,
    KPI_WINDOW_AUTOMATION_CONDITION,
)
from alohub_assets.defs.kpi_mart.inputs import WINDOWS, kpi_inputs
from alohub_assets.defs.partitions import daily_partitions
from alohub_assets.defs.resources import WarehouseResource
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.mart import local_connection, refresh_catalog, write_kpi_partitions
from alohub_assets.storage.sql import bound, compose, load_statements

KPI_DIR = Path(__file__).parent
KPI_GROUP = "kpi_mart"

#: The arguments every KPI asset takes (a table = one asset of this group).
KPI_ASSET_ARGS: dict[str, Any] = dict(
    partitions_def=daily_partitions,
    # A backfill of many days is one run and one query per table (seconds for a year).
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=["call_logs"],
    kinds={"duckdb", "parquet"},
    group_name=KPI_GROUP,
    automation_condition=KPI_AUTOMATION_CONDITION,
)


def window_kpi_asset_args(table: str) -> dict[str, Any]:
    """``KPI_ASSET_ARGS`` for a table that reads ``call_logs`` of days around its own
    (``inputs.WINDOWS``): the same window as a partition mapping, and the window's automation."""
    mapping = dg.TimeWindowPartitionMapping(
        *WINDOWS[table], allow_nonexistent_upstream_partitions=True
    )
    return {
        **KPI_ASSET_ARGS,
        "deps": [dg.AssetDep("call_logs", partition_mapping=mapping)],
        "automation_condition": KPI_WINDOW_AUTOMATION_CONDITION,
    }


def kpi_tables() -> list[str]:
    """Every KPI table: one per ``.sql`` file of this folder."""
    return sorted(path.stem for path in KPI_DIR.glob("*.sql"))


def query_call_logs(
    context: dg.AssetExecutionContext,
    warehouse_resource: WarehouseResource,
    table: str,
    statement: str,
    params: dict[str, Any],
) -> list[tuple]:
    """Runs a named statement of ``<table>.sql`` over the run's days of ``call_logs`` (e.g. what
    the table left out, for its metadata)."""
    first_day, last_day = partition_days(context)
    store = warehouse_resource.get_warehouse()
    inputs, _ = kpi_inputs(store, table, first_day, last_day)
    sql = kpi_statements(table)[statement]
    values = {**params, **inputs, "first_day": first_day, "last_day": last_day}
    with local_connection() as con:
        return con.execute(sql, bound(sql, values)).fetchall()


#: Statements other tables compose in as ``{{name}}``: name -> the table file that holds it.
SHARED_FRAGMENTS = {"hotline_calls": "hotline_call_metrics"}


def kpi_statements(table: str) -> dict[str, str]:
    """The named statements of ``<table>.sql``, with the shared fragments they use filled in."""
    statements = load_statements(KPI_DIR / f"{table}.sql")
    composed = {}
    for name, statement in statements.items():
        used = {f for f in SHARED_FRAGMENTS if "{{" + f + "}}" in statement}
        fragments = {f: load_statements(KPI_DIR / f"{SHARED_FRAGMENTS[f]}.sql")[f] for f in used}
        composed[name] = compose(statement, **fragments) if fragments else statement
    return composed


#: The planning tables (forecast, staffing plan, accuracy) have their views in the same catalog.
PLANNING_DIR = KPI_DIR.parent / "planning"


def mart_tables() -> list[str]:
    """Every table the catalog has a view for: the KPI tables, and the planning tables (each
    ``.sql`` file of ``defs/planning`` with an asset module of the same name)."""
    planning = [p.stem for p in PLANNING_DIR.glob("*.sql") if p.with_suffix(".py").exists()]
    return sorted([*kpi_tables(), *planning])


def refresh_mart_catalog(warehouse: Warehouse, written: str | None = None) -> bool:
    """The catalog's views for every table that has data (rebuilt only when that changed);
    ``written``, the table just written, spares the listing when its view is there already."""
    return refresh_catalog(warehouse, mart_tables(), written)


def write_table_partitions(
    store: Warehouse, table: str, first_day: date, last_day: date, params: dict[str, Any]
) -> dict[date, int]:
    """Writes the days ``first_day..last_day`` of ``table`` in one query; returns rows per day.
    ``params`` hold the settings; ``$call_logs`` (and what a window table needs) come from
    ``kpi_inputs``. Dagster-free, so benchmarks and scripts rebuild the mart exactly as the
    assets do."""
    rows, _ = _write_range(store, table, first_day, last_day, params)
    return rows


def _write_range(
    store: Warehouse, table: str, first_day: date, last_day: date, params: dict[str, Any]
) -> tuple[dict[date, int], list[date]]:
    """Rows written per day, and the days of the table's window that had no ``call_logs``."""
    inputs, missing = kpi_inputs(store, table, first_day, last_day)
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    rows = write_kpi_partitions(
        store,
        table,
        days,
        kpi_statements(table)["select"],
        {**params, **inputs, "first_day": first_day, "last_day": last_day},
    )
    refresh_mart_catalog(store, table)
    return rows, missing


def write_table_partition(
    store: Warehouse, table: str, day: date, params: dict[str, Any] | None = None
) -> tuple[int, Path]:
    """One day of ``table``; returns rows and file."""
    rows = write_table_partitions(store, table, day, day, params or {})
    return rows[day], store.partition_file(table, day)


def partition_days(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The first and last local day of the run's partitions: one day, or a whole range when a
    backfill runs as a single run (``BackfillPolicy.single_run``)."""
    keys = context.partition_keys
    return date.fromisoformat(keys[0]), date.fromisoformat(keys[-1])


def build_kpi_partition(
    context: dg.AssetExecutionContext,
    warehouse_resource: WarehouseResource,
    table: str,
    params: dict[str, Any] | None = None,
) -> tuple[int, Path]:
    """The asset's side of ``write_table_partitions``: the run's partitions and resource;
    returns the rows written and the last day's file."""
    rows, file, _ = build_window_kpi_partition(context, warehouse_resource, table, params)
    return rows, file


def build_window_kpi_partition(
    context: dg.AssetExecutionContext,
    warehouse_resource: WarehouseResource,
    table: str,
    params: dict[str, Any] | None = None,
) -> tuple[int, Path, list[date]]:
    """``build_kpi_partition`` that also returns the window's days without ``call_logs``."""
    first_day, last_day = partition_days(context)
    store = warehouse_resource.get_warehouse()
    rows, missing = _write_range(store, table, first_day, last_day, params or {})
    return sum(rows.values()), store.partition_file(table, last_day), missing


def query_partition(table: str, statement: str, file: Path | list[Path], day: date) -> list[tuple]:
    """Runs a named statement of ``<table>.sql`` over written partition files."""
    sql = kpi_statements(table)[statement]
    files = [str(f) for f in file] if isinstance(file, list) else str(file)
    with local_connection() as con:
        return con.execute(sql, bound(sql, {"partition": files, "day": day})).fetchall()


def run_partition_files(
    context: dg.AssetExecutionContext, warehouse_resource: WarehouseResource, table: str
) -> list[Path]:
    """The files of every partition the run wrote."""
    store = warehouse_resource.get_warehouse()
    return [store.partition_file(table, date.fromisoformat(k)) for k in context.partition_keys]


def markdown_table(columns: list[str], rows: list[tuple]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.1%}" if value <= 1 else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def kpi_metadata(rows: int, file: Path) -> dict[str, Any]:
    return {"dagster/row_count": rows, "path": dg.MetadataValue.path(str(file))}
