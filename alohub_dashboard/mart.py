"""The dashboard's reads of the KPI mart: read-only, and never in a writer's way. No Streamlit
import (the pages cache these reads; tests and the benchmark call them directly).

- Which tables exist comes from the catalog: locally ``alohub.duckdb`` opened read-only for one
  query and closed (the pipeline never writes that file in place: it renames a new catalog in,
  so an open reader blocks nothing and is blocked by nothing); on object storage the DDL file
  the catalog was built from. A table of the data contract that is not there yet (an older
  mart) is simply absent, and its panel hides itself.
- Rows come from the Parquet partition files of the days a page shows, listed from the
  warehouse layout (``warehouse/<table>/date=D/<table>.parquet``), on a cursor of an in-memory
  DuckDB (no file) per query. A catalog view would read the footer of every partition of the table for each query:
  a year of days for one day's tiles, and on object storage one request per file.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from alohub_assets.api.records import LOCAL_TIMEZONE_NAME
from alohub_assets.storage.layout import CallLogsStatus, Warehouse
from alohub_assets.storage.mart import DUCKDB_VIEWS_FILE
from alohub_assets.storage.sql import bound, load_statements, sql_literal

QUERIES_SQL = Path(__file__).with_name("queries.sql")
_VIEW = re.compile(r"CREATE OR REPLACE VIEW (\w+)")
_DAY_FOLDER = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


_SHARED: dict[str, duckdb.DuckDBPyConnection] = {}
_SHARED_LOCK = threading.Lock()


def _in_memory_database(location: str, warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per data folder for this process, holding no file: each query takes
    a cursor of its own (cheap, unlike a new database under load, 50-150 ms here)."""
    with _SHARED_LOCK:
        if location not in _SHARED:
            con = duckdb.connect()
            con.execute(f"SET GLOBAL TimeZone = {sql_literal(LOCAL_TIMEZONE_NAME)}")
            warehouse.register_filesystem(con)
            _SHARED[location] = con
        return _SHARED[location]


class NoMart(Exception):
    """No catalog at the data folder: nothing has been materialized there yet."""


@dataclass(frozen=True)
class MartReader:
    """The mart at ``location`` (a folder or ``s3://bucket/prefix``), read-only."""

    location: str
    warehouse: Warehouse = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "warehouse", Warehouse.at(self.location))

    def tables(self) -> frozenset[str]:
        """The catalog's views (one per table with data); ``NoMart`` when there is no catalog."""
        store = self.warehouse
        if store.remote is not None:
            ddl = store.remote.get_bytes(DUCKDB_VIEWS_FILE)
            if ddl is None:
                raise NoMart(store.location)
            return frozenset(_VIEW.findall(ddl.decode()))
        try:
            con = duckdb.connect(str(store.duckdb_path), read_only=True)
        except duckdb.IOException as error:
            if not store.duckdb_path.exists():
                raise NoMart(store.location) from None
            raise error
        try:
            rows = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        finally:
            con.close()
        return frozenset(name for (name,) in rows)

    def days(self, table: str) -> list[date]:
        """The days that have a partition file of ``table``, oldest first."""
        store = self.warehouse
        if store.remote is not None:
            suffix = f"/{table}.parquet"
            found = []
            for key in store.remote.list_files(f"warehouse/{table}"):
                parts = key.split("/")
                match = _DAY_FOLDER.match(parts[-2]) if len(parts) >= 2 else None
                if match and key.endswith(suffix):
                    found.append(date.fromisoformat(match.group(1)))
            return sorted(found)
        folder = store.data_dir / "warehouse" / table
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            match = _DAY_FOLDER.match(entry.name)
            # A folder without its file is a partition being published for the first time.
            if match and os.path.isfile(os.path.join(entry.path, f"{table}.parquet")):
                found.append(date.fromisoformat(match.group(1)))
        return sorted(found)

    def files(self, table: str, days: list[date]) -> list[str]:
        """The partition files of ``days`` (which must have one), as DuckDB reads them."""
        store = self.warehouse
        return [store.uri(store.partition_file(table, day)) for day in days]

    def query(self, statement: str, files: list[str], **params: Any) -> pd.DataFrame:
        """A named statement of ``queries.sql`` over ``files``, on a cursor of its own that is
        closed at once; timestamps come back in the call center's time zone."""
        sql = load_statements(QUERIES_SQL)[statement]
        con = _in_memory_database(self.location, self.warehouse).cursor()
        try:
            return con.execute(sql, bound(sql, {**params, "files": files})).df()
        finally:
            con.close()

    def call_logs_status(self, day: date) -> CallLogsStatus | None:
        """When the day's ``call_logs`` were fetched and whether the day was complete."""
        return self.warehouse.call_logs_day_status(day)
