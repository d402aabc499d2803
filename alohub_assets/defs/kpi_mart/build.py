"""What every KPI table shares: how a partition is built, published and described.

A KPI table is a pair of files in this folder, ``<table>.sql`` (a ``-- name: select``
statement giving one day's rows from ``$call_logs`` and ``$day``) and ``<table>.py`` (the asset,
which calls ``build_kpi_partition``). Nothing else needs to change: the package collects the
assets, the daily job selects the group, and the catalog gets a view for every ``.sql`` here.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from alohub_assets.defs.partitions import daily_partitions, partition_day
from alohub_assets.defs.resources import WarehouseResource
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.mart import local_connection, refresh_catalog, write_kpi_partition
from alohub_assets.storage.sql import bound, load_statements

KPI_DIR = Path(__file__).parent
KPI_GROUP = "kpi_mart"

#: The arguments every KPI asset takes (a table = one asset of this group).
KPI_ASSET_ARGS: dict[str, Any] = dict(
    partitions_def=daily_partitions,
    deps=["call_logs"],
    kinds={"duckdb", "parquet"},
    group_name=KPI_GROUP,
)


def kpi_tables() -> list[str]:
    """Every KPI table: one per ``.sql`` file of this folder."""
    return sorted(path.stem for path in KPI_DIR.glob("*.sql"))


def kpi_statements(table: str) -> dict[str, str]:
    return load_statements(KPI_DIR / f"{table}.sql")


def refresh_mart_catalog(warehouse: Warehouse) -> bool:
    """The catalog's views for every table that has data (rebuilt only when that changed)."""
    return refresh_catalog(warehouse, kpi_tables())


def write_table_partition(
    store: Warehouse, table: str, day: date, params: dict[str, Any] | None = None
) -> tuple[int, Path]:
    """Writes ``day`` of ``table`` from that day's ``call_logs``; returns rows and file. Dagster-
    free, so benchmarks and scripts rebuild the mart exactly as the assets do."""
    call_logs_file = store.call_logs_file(day)
    if not call_logs_file.exists():
        raise FileNotFoundError(
            f"{call_logs_file} is missing: materialize call_logs for {day} first"
        )
    rows = write_kpi_partition(
        store,
        table,
        day,
        kpi_statements(table)["select"],
        {"call_logs": str(call_logs_file), "day": day, **(params or {})},
    )
    refresh_mart_catalog(store)
    return rows, store.partition_file(table, day)


def build_kpi_partition(
    context: dg.AssetExecutionContext,
    warehouse_resource: WarehouseResource,
    table: str,
    params: dict[str, Any] | None = None,
) -> tuple[int, Path]:
    """The asset's side of ``write_table_partition``: the run's partition and resource."""
    return write_table_partition(
        warehouse_resource.get_warehouse(), table, partition_day(context), params
    )


def query_partition(table: str, statement: str, file: Path, day: date) -> list[tuple]:
    """Runs a named statement of ``<table>.sql`` over one written partition file."""
    sql = kpi_statements(table)[statement]
    with local_connection() as con:
        return con.execute(sql, bound(sql, {"partition": str(file), "day": day})).fetchall()


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
