"""The KPI mart: one Parquet file per table and day, and ``alohub.duckdb`` as a catalog of views.

No Dagster import. A KPI partition is computed in a private in-memory DuckDB and published like
``call_logs`` (temporary file, then an atomic rename), so runs for different days write at once
with no lock and no pool, and a reader holding ``alohub.duckdb`` open blocks nobody. The
catalog file holds only view definitions; it is rebuilt in a temporary file and renamed into
place when, and only when, the definitions change (a new table gets its first partition).
"""

from __future__ import annotations

import logging
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from alohub_assets.api.records import LOCAL_TIMEZONE_NAME
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.leftovers import remove_abandoned
from alohub_assets.storage.publish import failpoint, publish_file, temporary_sibling
from alohub_assets.storage.sql import bound, compose, load_statements, sql_literal

log = logging.getLogger(__name__)

CATALOG_SQL = Path(__file__).with_name("catalog.sql")
#: Beside the catalog: the exact DDL it was built from, compared before any rebuild.
CATALOG_DEFINITION_SUFFIX = ".views.sql"
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def local_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose clock is the call center's (hour(), ::DATE are local)."""
    con = duckdb.connect()
    con.execute(f"SET TimeZone = {sql_literal(LOCAL_TIMEZONE_NAME)}")
    return con


def write_kpi_partition(
    warehouse: Warehouse, table: str, day: date, select_sql: str, params: dict[str, Any]
) -> int:
    """Runs ``select_sql`` (one day's rows) into ``warehouse/<table>/date=DAY/<table>.parquet``,
    atomically; returns the rows written. A day with no rows gets an empty file, so a re-run
    of a day that lost its calls replaces the old rows."""
    _check_table_name(table)
    final = warehouse.partition_file(table, day)
    tmp = temporary_sibling(final)
    con = local_connection()
    try:
        con.execute(
            f"COPY ({select_sql}) TO {sql_literal(tmp)} (FORMAT parquet, COMPRESSION zstd)",
            bound(select_sql, params),
        )
        (rows,) = con.execute(
            "SELECT count(*) FROM read_parquet($file)", {"file": str(tmp)}
        ).fetchone()
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    failpoint("kpi_before_publish")
    publish_file(tmp, final)
    return rows


def catalog_ddl(warehouse: Warehouse, kpi_tables: list[str]) -> str:
    """The catalog's view definitions for what the warehouse holds now. A view over a glob
    that matches no file cannot be created, so a table gets its view with its first file."""
    sql = load_statements(CATALOG_SQL)
    statements = []
    if warehouse.has_partitions("call_logs"):
        glob = sql_literal(warehouse.table_glob("call_logs"))
        statements.append(compose(sql["call_logs_view"], glob=glob))
        statements.append(
            compose(sql["calls_view"], glob=sql_literal(warehouse.table_glob("call_recordings")))
        )
    for table in sorted(kpi_tables):
        _check_table_name(table)
        if warehouse.has_partitions(table):
            glob = sql_literal(warehouse.table_glob(table))
            statements.append(compose(sql["table_view"], table=table, glob=glob))
    return ";\n\n".join(statements) + (";\n" if statements else "")


def refresh_catalog(warehouse: Warehouse, kpi_tables: list[str]) -> bool:
    """Rebuilds ``alohub.duckdb`` when its definitions changed; returns whether it did.

    Built as a new file and renamed over the old one: a reader keeps the file it opened, the
    next reader gets the new one; concurrent rebuilds write the same content.
    """
    ddl = catalog_ddl(warehouse, kpi_tables)
    target = warehouse.duckdb_path
    definition = target.with_name(target.name + CATALOG_DEFINITION_SUFFIX)
    if target.exists() and definition.exists() and definition.read_text() == ddl:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(target)
    try:
        with duckdb.connect(str(tmp)) as con:
            if ddl:
                con.execute(ddl)
            con.execute("CHECKPOINT")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    def_tmp = temporary_sibling(definition)
    def_tmp.write_text(ddl)
    os.replace(def_tmp, definition)
    remove_abandoned(target)  # temporary catalogs of killed runs
    remove_abandoned(definition)
    log.info("catalog %s rebuilt (%d views)", target, ddl.count("CREATE OR REPLACE VIEW"))
    return True


def _check_table_name(table: str) -> None:
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"{table!r} is not a table name (lowercase letters, digits, _)")
