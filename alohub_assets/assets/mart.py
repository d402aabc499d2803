"""The DuckDB KPI mart: ``daily_call_metrics``, ``agent_daily_load``, ``hourly_call_volume``.

Each asset replaces its partition's rows in one transaction, so a re-run changes nothing and a
failed one leaves the previous rows. All of them are in the ``duckdb`` pool (limit 1 in
``dagster.yaml``): DuckDB allows a single writing process per file.
"""

from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from alohub_assets.partitions import daily_partitions, partition_day
from alohub_assets.resources import KpiSettingsResource, WarehouseResource
from alohub_assets.sql import load_statements
from alohub_assets.warehouse import Warehouse, failpoint

HERE = Path(__file__).parent
DUCKDB_POOL = "duckdb"
MART_TABLES = ("daily_call_metrics", "agent_daily_load", "hourly_call_volume")


def ensure_mart(con: duckdb.DuckDBPyConnection, warehouse: Warehouse) -> None:
    """Creates the tables if missing and points the views at the Parquet files."""
    schema = load_statements(HERE / "mart_schema.sql")
    con.execute(schema["tables"])
    if any(warehouse.data_dir.glob("warehouse/call_logs/date=*/call_logs.parquet")):
        # A view's body cannot hold a bound parameter; the globs are our own paths.
        for view, table in (("call_logs_view", "call_logs"), ("calls_view", "call_recordings")):
            glob = warehouse.table_glob(table).replace("'", "''")
            con.execute(schema[view].replace("$glob", f"'{glob}'"))


def replace_partition(
    con: duckdb.DuckDBPyConnection, table: str, day: date, params: dict[str, Any]
) -> int:
    """Deletes ``day``'s rows of ``table`` and inserts them anew, in one transaction."""
    if table not in MART_TABLES:
        raise ValueError(f"unknown mart table {table!r}")
    sql = load_statements(HERE / f"{table}.sql")
    count_rows = f"SELECT count(*) FROM {table} WHERE date = $day"  # noqa: S608 (fixed names)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(sql["delete"], {"day": day})
        failpoint("mart_mid_transaction")
        con.execute(sql["insert"], {"day": day, **params})
        (rows,) = con.execute(count_rows, {"day": day}).fetchone()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return rows


def build_mart_table(
    warehouse_resource: WarehouseResource,
    table: str,
    day: date,
    params: dict[str, Any] | None = None,
) -> int:
    store = warehouse_resource.get_warehouse()
    call_logs_file = store.call_logs_file(day)
    if not call_logs_file.exists():
        raise FileNotFoundError(
            f"{call_logs_file} is missing: materialize call_logs for {day} first"
        )
    with warehouse_resource.connect_mart() as con:
        ensure_mart(con, store)
        return replace_partition(
            con, table, day, {"call_logs": str(call_logs_file), **(params or {})}
        )


def _markdown_table(columns: list[str], rows: list[tuple]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.1%}" if value <= 1 else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


MART_ASSET_ARGS = dict(
    partitions_def=daily_partitions,
    deps=["call_logs"],
    kinds={"duckdb"},
    group_name="kpi_mart",
    pool=DUCKDB_POOL,
)


@dg.asset(
    **MART_ASSET_ARGS,
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
    day = partition_day(context)
    params = {
        "short_abandon_seconds": kpi_settings.short_abandon_seconds,
        "service_level_seconds": kpi_settings.service_level_seconds,
    }
    rows = build_mart_table(warehouse, "daily_call_metrics", day, params)
    sql = load_statements(HERE / "daily_call_metrics.sql")
    with warehouse.connect_mart(read_only=True) as con:
        preview = con.execute(sql["preview"], {"day": day})
        columns = [d[0] for d in preview.description]
        preview_rows = preview.fetchall()
        (bad_rates,) = con.execute(sql["rates_out_of_bounds"], {"day": day}).fetchone()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "preview": dg.MetadataValue.md(_markdown_table(columns, preview_rows)),
            "short_abandon_seconds": kpi_settings.short_abandon_seconds,
            "service_level_seconds": kpi_settings.service_level_seconds,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="rates_within_0_and_1",
                passed=bad_rates == 0,
                metadata={"rows_out_of_bounds": bad_rates},
            )
        ],
    )


@dg.asset(**MART_ASSET_ARGS)
def agent_daily_load(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per agent and day: handled calls by direction, outbound attempts, talk time, load share."""
    rows = build_mart_table(warehouse, "agent_daily_load", partition_day(context))
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})


@dg.asset(**MART_ASSET_ARGS)
def hourly_call_volume(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Offered and answered calls and average wait per local hour and direction."""
    rows = build_mart_table(warehouse, "hourly_call_volume", partition_day(context))
    return dg.MaterializeResult(metadata={"dagster/row_count": rows})
