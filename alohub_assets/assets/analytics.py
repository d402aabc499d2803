"""The analytics KPI tables: ``interval_call_metrics``, ``staffing_requirements``,
``repeat_callers``, ``abandon_callbacks``. Each ``<table>.sql`` holds one ``select`` giving a
partition's rows; this module feeds it the right ``call_logs`` files and the KPI settings and
replaces the partition's rows in one transaction.

Two tables read more than their own day (partition mappings on ``call_logs``):
``repeat_callers`` the 7 days before (a repeat may look back 7 days), ``abandon_callbacks`` the
next day (a 23:50 abandon may be called back at 00:10). A materialization of any of those
``call_logs`` partitions makes the dependent day stale, so automation that follows updated
dependencies brings it up to date.
"""

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from alohub_assets.analytics.erlang_c import register_in_duckdb
from alohub_assets.assets.mart import DUCKDB_POOL, ensure_mart
from alohub_assets.partitions import daily_partitions, partition_day
from alohub_assets.resources import KpiSettingsResource, WarehouseResource
from alohub_assets.sql import load_statements
from alohub_assets.warehouse import Warehouse

HERE = Path(__file__).parent
ANALYTICS_TABLES = (
    "interval_call_metrics",
    "staffing_requirements",
    "repeat_callers",
    "abandon_callbacks",
)
REPEAT_LOOKBACK_DAYS = 7

#: repeat_callers of D reads call_logs of D-7..D; abandon_callbacks of D reads D and D+1.
LOOKBACK_MAPPING = dg.TimeWindowPartitionMapping(
    start_offset=-REPEAT_LOOKBACK_DAYS, end_offset=0, allow_nonexistent_upstream_partitions=True
)
NEXT_DAY_MAPPING = dg.TimeWindowPartitionMapping(
    start_offset=0, end_offset=1, allow_nonexistent_upstream_partitions=True
)


def select_rows_sql(table: str) -> str:
    return load_statements(HERE / f"{table}.sql")["select"]


def call_logs_files(store: Warehouse, day: date, days: list[date]) -> tuple[list[str], list[date]]:
    """The Parquet files of ``days`` that exist, and the days without one. ``day``'s own file
    must exist; every file read must have ``customer_number`` (added with these tables)."""
    if not store.call_logs_file(day).exists():
        raise FileNotFoundError(
            f"{store.call_logs_file(day)} is missing: materialize call_logs for {day} first"
        )
    found, missing = [], []
    for other in days:
        path = store.call_logs_file(other)
        if not path.exists():
            missing.append(other)
            continue
        if "customer_number" not in pq.read_schema(path).names:
            raise ValueError(
                f"call_logs of {other} was written before the customer_number column existed: "
                f"re-materialize call_logs for {other} (it rebuilds from the raw landing)"
            )
        found.append(str(path))
    return found, missing


def replace_analytics_partition(
    warehouse: WarehouseResource, table: str, day: date, params: dict[str, Any]
) -> int:
    """Deletes ``day``'s rows of ``table`` and inserts the ``select``'s rows, in one
    transaction; returns the row count."""
    if table not in ANALYTICS_TABLES:
        raise ValueError(f"unknown analytics table {table!r}")
    select = select_rows_sql(table)
    used = {k: v for k, v in {"day": day, **params}.items() if f"${k}" in select}
    with warehouse.connect_mart() as con:
        ensure_mart(con, warehouse.get_warehouse())
        register_in_duckdb(con)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DELETE FROM {table} WHERE date = $day", {"day": day})  # noqa: S608
            con.execute(f"INSERT INTO {table} BY NAME {select}", used)  # noqa: S608
            (rows,) = con.execute(
                f"SELECT count(*) FROM {table} WHERE date = $day",  # noqa: S608 (fixed names)
                {"day": day},
            ).fetchone()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return rows


def read_partition(warehouse: WarehouseResource, table: str, day: date) -> list[dict]:
    with warehouse.connect_mart(read_only=True) as con:
        cursor = con.execute(f"SELECT * FROM {table} WHERE date = $day", {"day": day})  # noqa: S608
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


ANALYTICS_ASSET_ARGS = dict(
    partitions_def=daily_partitions,
    kinds={"duckdb"},
    group_name="kpi_mart",
    pool=DUCKDB_POOL,
)


@dg.asset(**ANALYTICS_ASSET_ARGS, deps=["call_logs"])
def interval_call_metrics(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Queue KPIs per local interval (15/30/60 min) and direction: offered, answered,
    abandoned, service level, waits (p90), talk."""
    day = partition_day(context)
    files, _ = call_logs_files(warehouse.get_warehouse(), day, [day])
    rows = replace_analytics_partition(
        warehouse,
        "interval_call_metrics",
        day,
        {"call_logs": files, **kpi_settings.sql_parameters()},
    )
    return dg.MaterializeResult(
        metadata={"dagster/row_count": rows, "interval_minutes": kpi_settings.interval_minutes}
    )


@dg.asset(**ANALYTICS_ASSET_ARGS, deps=["call_logs"])
def staffing_requirements(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Erlang C agents needed per interval for the inbound traffic, against agents active."""
    day = partition_day(context)
    files, _ = call_logs_files(warehouse.get_warehouse(), day, [day])
    rows = replace_analytics_partition(
        warehouse,
        "staffing_requirements",
        day,
        {"call_logs": files, **kpi_settings.sql_parameters()},
    )
    gaps = [r["staffing_gap"] for r in read_partition(warehouse, "staffing_requirements", day)]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "intervals_short_of_agents": sum(1 for gap in gaps if gap is not None and gap > 0),
            "interval_minutes": kpi_settings.interval_minutes,
            "service_level_target": kpi_settings.service_level_target,
            "max_occupancy": kpi_settings.max_occupancy,
        }
    )


@dg.asset(
    **ANALYTICS_ASSET_ARGS,
    deps=[dg.AssetDep("call_logs", partition_mapping=LOOKBACK_MAPPING)],
)
def repeat_callers(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Inbound calls whose customer called within the 24 h / 7 days before (first-contact
    resolution proxy); reads the 7 days before the date too."""
    day = partition_day(context)
    window = [day - timedelta(days=n) for n in range(REPEAT_LOOKBACK_DAYS, -1, -1)]
    files, missing = call_logs_files(warehouse.get_warehouse(), day, window)
    rows = replace_analytics_partition(warehouse, "repeat_callers", day, {"call_logs": files})
    if missing:
        context.log.warning(
            f"repeat_callers {day}: no call_logs for {', '.join(map(str, missing))}; repeats "
            "reaching back to those days are not counted until they are loaded"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "missing_days": dg.MetadataValue.json([d.isoformat() for d in missing]),
            "lookback_complete": not missing,
        }
    )


@dg.asset(
    **ANALYTICS_ASSET_ARGS,
    deps=[dg.AssetDep("call_logs", partition_mapping=NEXT_DAY_MAPPING)],
)
def abandon_callbacks(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    kpi_settings: KpiSettingsResource,
) -> dg.MaterializeResult:
    """Abandoned inbound callers recovered within 24 h, by our callback or their next call;
    reads the next day too (``complete`` is false until it is loaded)."""
    day = partition_day(context)
    next_day = day + timedelta(days=1)
    files, missing = call_logs_files(warehouse.get_warehouse(), day, [day, next_day])
    complete = not missing
    rows = replace_analytics_partition(
        warehouse,
        "abandon_callbacks",
        day,
        {"call_logs": files, "complete": complete, **kpi_settings.sql_parameters()},
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "complete": complete,
            "missing_days": dg.MetadataValue.json([d.isoformat() for d in missing]),
        }
    )
