"""The KPI mart: one Parquet file per table and day, and ``alohub.duckdb`` as a catalog of views.

No Dagster import. A KPI partition is computed on a cursor of the process's in-memory DuckDB
(its temporary tables are the cursor's own) and published like ``call_logs`` (temporary file,
then an atomic rename), so runs for different days write at once with no lock and no pool, and a
reader holding ``alohub.duckdb`` open blocks nobody. The catalog file holds only view
definitions; it is rebuilt in a temporary file and renamed into place when, and only when, the
definitions change (a new table gets its first partition).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from alohub_assets.api.records import LOCAL_TIMEZONE_NAME
from alohub_assets.storage import erlang_c
from alohub_assets.storage.layout import DUCKDB_FILE, Warehouse, data_dir_from_env
from alohub_assets.storage.leftovers import remove_abandoned
from alohub_assets.storage.publish import failpoint, publish_file, temporary_sibling
from alohub_assets.storage.sql import bound, compose, load_statements, sql_literal

log = logging.getLogger(__name__)

CATALOG_SQL = Path(__file__).with_name("catalog.sql")
KPI_RULES_SQL = Path(__file__).with_name("kpi_rules.sql")
#: Beside the catalog: the exact DDL it was built from, compared before any rebuild.
CATALOG_DEFINITION_SUFFIX = ".views.sql"
DUCKDB_VIEWS_FILE = DUCKDB_FILE + CATALOG_DEFINITION_SUFFIX
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def fresh_connection() -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB of its own, whose clock is the call center's (hour(), ::DATE are
    local), with the KPI queries' own functions: ``erlang_c_staffing`` (``erlang_c.py``) and
    the abandon rules (``kpi_rules.sql``): what each of ``local_connection``'s databases is."""
    con = duckdb.connect()
    con.execute(f"SET GLOBAL TimeZone = {sql_literal(LOCAL_TIMEZONE_NAME)}")
    erlang_c.register_in_duckdb(con)
    con.execute(KPI_RULES_SQL.read_text())
    return con


_PROCESS_DATABASES: dict[tuple[int, tuple[tuple[str, str], ...]], duckdb.DuckDBPyConnection] = {}
_PROCESS_DATABASE_LOCK = threading.Lock()
#: A forked process's copies of its parent's databases: never used, and never closed either
#: (closing one would wait for DuckDB threads that exist only in the parent).
_INHERITED: list[duckdb.DuckDBPyConnection] = []


def local_connection(**settings: str) -> duckdb.DuckDBPyConnection:
    """A connection to one of this process's in-memory DuckDBs (as ``fresh_connection`` sets
    it up): a cursor costs half a millisecond where a new database costs about 40 ms of CPU,
    paid by every KPI step, call_logs build, recording check and intraday plan. ``settings``
    are database-wide (``SET GLOBAL``, e.g. ``memory_limit``), so each distinct set is a
    database of its own. Temporary tables, macros and registered tables stay the cursor's own;
    close it when done. A forked process gets databases of its own (DuckDB's threads do not
    survive a fork)."""
    for name in settings:
        if not _TABLE_NAME.fullmatch(name):  # it goes into SQL as a name
            raise ValueError(f"{name!r} is not a DuckDB setting's name")
    key = (os.getpid(), tuple(sorted(settings.items())))
    with _PROCESS_DATABASE_LOCK:
        if key not in _PROCESS_DATABASES:
            inherited = [k for k in _PROCESS_DATABASES if k[0] != key[0]]
            _INHERITED.extend(_PROCESS_DATABASES.pop(k) for k in inherited)
            con = fresh_connection()
            for name, value in key[1]:
                con.execute(f"SET GLOBAL {name} = {sql_literal(value)}")
            _PROCESS_DATABASES[key] = con
        return _PROCESS_DATABASES[key].cursor()


def write_kpi_partitions(
    warehouse: Warehouse,
    table: str,
    days: list[date],
    select_sql: str,
    params: dict[str, Any],
    *,
    partition_column: str = "date",
    tables: dict[str, Any] | None = None,
) -> dict[date, int]:
    """Runs ``select_sql`` (the rows of ``days``, with a ``date`` column, or the column named
    by ``partition_column``) once and writes each day's rows to
    ``warehouse/<table>/date=DAY/<table>.parquet``, each file atomically; returns the rows per
    day. A day with no rows gets an empty file, so a re-run of a day that lost its calls
    replaces the old rows. One query for many days is what makes a year's rebuild (a
    single-run backfill) take seconds instead of minutes. ``tables`` (name -> Arrow table or
    data frame) are registered for the query to read, for rows computed in Python."""
    _check_table_name(table)
    _check_table_name(partition_column)
    wanted = set(days)
    staging = temporary_sibling(warehouse.data_dir / "warehouse" / table / "staging")
    con = local_connection()
    try:
        for name, rows in (tables or {}).items():
            con.register(name, rows)
        con.execute(f"CREATE TEMP TABLE kpi_rows AS {select_sql}", bound(select_sql, params))
        counts = dict(
            con.execute(
                f"SELECT {partition_column}, count(*) FROM kpi_rows GROUP BY {partition_column}"  # noqa: S608 (a checked identifier)
            ).fetchall()
        )
        stray = sorted(set(counts) - wanted)
        if stray:
            raise ValueError(f"{table}: the query gave rows for days not asked for: {stray[:5]}")
        con.execute(
            f"COPY kpi_rows TO {sql_literal(staging)} (FORMAT parquet, COMPRESSION zstd, "
            f"PARTITION_BY ({partition_column}), WRITE_PARTITION_COLUMNS true, "
            "FILENAME_PATTERN 'rows')"
        )
        files = {day: _only_file(staging / f"{partition_column}={day.isoformat()}") for day in days}
        for day, file in files.items():
            if day not in counts:  # no rows that day: an empty file with the table's columns
                file.parent.mkdir(parents=True, exist_ok=True)
                empty = "SELECT * FROM kpi_rows LIMIT 0"
                con.execute(
                    f"COPY ({empty}) TO {sql_literal(file)} (FORMAT parquet, COMPRESSION zstd)"
                )
        con.close()
        failpoint("kpi_before_publish")
        for day, file in files.items():
            final = warehouse.partition_file(table, day)
            final.parent.mkdir(parents=True, exist_ok=True)
            publish_file(file, final)
            warehouse.push(final)
    finally:
        con.close()
        shutil.rmtree(staging, ignore_errors=True)
    # Staging folders of killed runs of this table (same hidden name, another writer's pid).
    remove_abandoned(warehouse.data_dir / "warehouse" / table / "staging")
    return {day: counts.get(day, 0) for day in days}


def _only_file(folder: Path) -> Path:
    """The one file DuckDB wrote for a day (``rows0.parquet``), or where an empty one goes."""
    files = sorted(folder.glob("*.parquet"))
    if len(files) > 1:
        raise RuntimeError(f"{folder}: expected one Parquet file, found {len(files)}")
    return files[0] if files else folder / "rows0.parquet"


def _views(warehouse: Warehouse, table: str) -> list[str]:
    """The catalog's statements for ``table``: its view (``call_logs`` also gives ``calls``)."""
    sql = load_statements(CATALOG_SQL)
    glob = sql_literal(warehouse.table_glob(table))
    if table == "call_logs":
        recordings = sql_literal(warehouse.table_glob("call_recordings"))
        return [
            compose(sql["call_logs_view"], glob=glob),
            compose(sql["calls_view"], glob=recordings),
        ]
    _check_table_name(table)
    return [compose(sql["table_view"], table=table, glob=glob)]


def _ddl(warehouse: Warehouse, tables: list[str]) -> str:
    """The catalog's view definitions for ``tables`` (each must have a partition: a view over a
    glob that matches no file cannot be created)."""
    statements = [view for table in tables for view in _views(warehouse, table)]
    return ";\n\n".join(statements) + (";\n" if statements else "")


def refresh_catalog(
    warehouse: Warehouse, kpi_tables: list[str], written: str | None = None
) -> bool:
    """Rebuilds ``alohub.duckdb`` when its definitions changed; returns whether it did.

    Views are only ever added (a table gets its view with its first partition, and partitions
    are replaced, never removed). So ``written``, the table just written, costs nothing when
    the stored definition has its view already: no listing (one request per table on object
    storage); when it has none, that table's view is added (each table's writer adds its own).
    Without ``written``, or when the stored definition is not what this folder's views would
    be (none yet, a moved folder, a changed view), every table is listed. New views are added
    to a copy of the current catalog: creating a view binds it (its files are listed and a
    footer read), which over object storage costs far more than a copy, and a new folder would
    otherwise bind every earlier view again for each table its first run adds.
    Built as a new file and renamed over the old one: a reader keeps the file it opened, the
    next reader gets the new one. Two runs that each add a first table at once may race, the
    later rename keeping only its own new view; the lost view comes back with the next write of
    its table (every daily run writes every table).
    """
    target = warehouse.duckdb_path
    definition = target.with_name(target.name + CATALOG_DEFINITION_SUFFIX)
    stored = _stored_definition(warehouse, target, definition)
    stored_text = stored or ""

    def has_view(table: str) -> bool:
        return all(view in stored_text for view in _views(warehouse, table))

    if written is not None and has_view(written):
        return False
    tables = ["call_logs", *sorted(kpi_tables)]
    present = [t for t in tables if has_view(t)]
    # The stored catalog holds the views of ``present`` and nothing stale (a moved folder, a
    # changed view): then only ``written`` can have gained a first partition worth listing.
    consistent = stored is not None and stored == _ddl(warehouse, present)
    listed = [written] if written is not None and consistent else tables
    with_data = [t for t in tables if t in present or (t in listed and warehouse.has_partitions(t))]
    ddl = _ddl(warehouse, with_data)
    if stored == ddl:
        return False
    added = [t for t in with_data if t not in present]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(target)
    try:
        catalog, incremental = _open_copy(warehouse, target, tmp, stored if consistent else None)
        with catalog as con:
            statements = _ddl(warehouse, added) if incremental else ddl
            if statements:
                con.execute(statements)
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
    warehouse.push(target)
    warehouse.push(definition)  # last: what the next writer compares with
    log.info(
        "catalog %s %s (%d views)",
        target,
        f"given {len(added)} new table(s)" if incremental else "rebuilt",
        ddl.count("CREATE OR REPLACE VIEW"),
    )
    return True


def _open_copy(
    warehouse: Warehouse, target: Path, tmp: Path, stored: str | None
) -> tuple[_CatalogFile, bool]:
    """``tmp`` opened as a copy of the catalog built from ``stored`` (downloaded first on object
    storage) and True; or, when there is none or it lacks some of those views (a damaged or
    replaced file), ``tmp`` opened empty and False."""
    if stored is not None and warehouse.pull(target):
        shutil.copyfile(target, tmp)
        try:
            catalog = _CatalogFile(tmp, warehouse)
        except duckdb.Error:  # not a DuckDB file (any more)
            catalog = None
        if catalog is not None:
            views = catalog.con.execute(
                "SELECT count(*) FROM duckdb_views() "
                "WHERE NOT internal AND database_name = current_database()"
            )
            if views.fetchone()[0] == stored.count("CREATE OR REPLACE VIEW"):
                return catalog, True
            catalog.close()
        tmp.unlink(missing_ok=True)
        Path(str(tmp) + ".wal").unlink(missing_ok=True)
    return _CatalogFile(tmp, warehouse), False


class _CatalogFile:
    """A catalog file open for its views to be written (``with`` gives the connection). On
    local disk it is attached to this process's in-memory DuckDB, the default database of a
    cursor of its own: an ATTACH costs about 6 ms of CPU where a database of its own costs
    about 45, and every table's first partition in a new folder writes the catalog once. On
    object storage it is a database of its own, so the filesystem registered for the bucket's
    credentials is not shared with other work."""

    def __init__(self, path: Path, warehouse: Warehouse) -> None:
        self._alias: str | None = None
        if warehouse.remote is not None:
            self.con = duckdb.connect(str(path))
            warehouse.register_filesystem(self.con)  # a view is bound when created
            return
        con = local_connection()
        alias = f"catalog_{uuid.uuid4().hex}"  # attached names are the whole database's
        try:
            con.execute(f"ATTACH {sql_literal(str(path))} AS {alias}")
        except BaseException:
            con.close()
            raise
        self.con, self._alias = con, alias
        try:
            con.execute(f"USE {alias}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        try:
            if self._alias is not None:
                self.con.execute("USE memory")
                self.con.execute(f"DETACH {self._alias}")
        finally:
            self.con.close()

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stored_definition(warehouse: Warehouse, target: Path, definition: Path) -> str | None:
    """The DDL the current catalog was built from (None when there is no catalog). On object
    storage the stored definition is what counts: the catalog file is rebuilt from it."""
    if warehouse.remote is not None:
        return definition.read_text() if warehouse.pull(definition) else None
    if target.exists() and definition.exists():
        return definition.read_text()
    return None


def open_mart(data_dir: str | os.PathLike | None = None) -> duckdb.DuckDBPyConnection:
    """The mart for a notebook or script: its views (``call_logs``, ``calls`` and every KPI
    table) on a connection that only reads them, for a local folder or ``s3://bucket/prefix`` (default
    ``ALOHUB_DATA_DIR``). It holds no lock a writer waits for; close it when done."""
    warehouse = Warehouse.at(data_dir if data_dir is not None else data_dir_from_env())
    if warehouse.remote is None:
        if not warehouse.duckdb_path.exists():
            raise FileNotFoundError(
                f"no mart at {warehouse.duckdb_path}: materialize the pipeline (make demo) first"
            )
        con = duckdb.connect(str(warehouse.duckdb_path), read_only=True)
    else:
        definition = warehouse.duckdb_path.with_name(DUCKDB_VIEWS_FILE)
        ddl = warehouse.remote.get_bytes(warehouse.relative(definition))
        if ddl is None:
            raise FileNotFoundError(f"no mart at {warehouse.location}: materialize it first")
        con = duckdb.connect()
        warehouse.register_filesystem(con)
        con.execute(ddl.decode())
    con.execute(f"SET TimeZone = {sql_literal(LOCAL_TIMEZONE_NAME)}")
    return con


def _check_table_name(table: str) -> None:
    if not _TABLE_NAME.fullmatch(table):
        raise ValueError(f"{table!r} is not a table name (lowercase letters, digits, _)")
