"""The catalog ``alohub.duckdb``: a view for every table that has data, whatever order the
tables get their first partitions in, and a whole rebuild whenever the stored catalog is not
what the folder's views would be (a damaged file, a moved folder)."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.mart import DUCKDB_VIEWS_FILE, open_mart, refresh_catalog

DAY = date(2026, 3, 4)
TABLES = ["daily_call_metrics", "hourly_call_volume", "agent_daily_load"]


def write_partition(warehouse: Warehouse, table: str, rows: int) -> None:
    columns = {"date": [DAY] * rows, "offered_calls": list(range(rows))}
    if table == "call_logs":
        columns = {
            "call_id": [f"c{i}" for i in range(rows)],
            "answered": [True] * rows,
            "recording_url": [None] * rows,
        }
    path = warehouse.partition_file(table, DAY)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def views(data_dir) -> dict[str, int]:
    """Each view of the catalog with its row count, as a notebook reads them."""
    with open_mart(data_dir) as con:
        names = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        return {n: con.table(n).count("*").fetchall()[0][0] for (n,) in names}


def test_each_writer_adds_its_tables_view_in_any_order(tmp_path):
    warehouse = Warehouse.at(tmp_path)
    write_partition(warehouse, "call_logs", 5)
    assert refresh_catalog(warehouse, TABLES, "call_logs")
    for rows, table in enumerate(reversed(TABLES), start=1):
        write_partition(warehouse, table, rows)
        assert refresh_catalog(warehouse, TABLES, table)
        assert not refresh_catalog(warehouse, TABLES, table)  # its view is there: no change
    assert views(tmp_path) == {
        "call_logs": 5, "calls": 5, "agent_daily_load": 1, "hourly_call_volume": 2,
        "daily_call_metrics": 3,
    }  # fmt: skip


@pytest.mark.parametrize("damage", ["views lost", "not a DuckDB file"])
def test_a_damaged_catalog_file_is_rebuilt_whole(tmp_path, damage):
    warehouse = Warehouse.at(tmp_path)
    for table in ["call_logs", *TABLES[:2]]:
        write_partition(warehouse, table, 4)
        refresh_catalog(warehouse, TABLES, table)
    # The catalog file is damaged while its definition file says its views are there.
    (tmp_path / "alohub.duckdb").unlink()
    if damage == "views lost":
        duckdb.connect(str(tmp_path / "alohub.duckdb")).close()
    else:
        (tmp_path / "alohub.duckdb").write_bytes(b"not a database " * 100)
    write_partition(warehouse, TABLES[2], 4)
    assert refresh_catalog(warehouse, TABLES, TABLES[2])
    assert set(views(tmp_path)) == {"call_logs", "calls", *TABLES}


def test_a_moved_folder_gets_views_of_its_own_files(tmp_path):
    first = tmp_path / "first"
    warehouse = Warehouse.at(first)
    for table in ["call_logs", *TABLES]:
        write_partition(warehouse, table, 3)
        refresh_catalog(warehouse, TABLES, table)
    moved = tmp_path / "moved"
    shutil.move(first, moved)
    write_partition(Warehouse.at(moved), TABLES[0], 7)  # the first write after the move
    assert refresh_catalog(Warehouse.at(moved), TABLES, TABLES[0])
    assert str(first) not in (moved / DUCKDB_VIEWS_FILE).read_text()
    assert views(moved) == {
        "call_logs": 3, "calls": 3, "daily_call_metrics": 7, "hourly_call_volume": 3,
        "agent_daily_load": 3,
    }  # fmt: skip


def test_a_lost_definition_file_gives_every_table_with_data_a_view(tmp_path):
    warehouse = Warehouse.at(tmp_path)
    for table in ["call_logs", *TABLES]:
        write_partition(warehouse, table, 2)
    assert refresh_catalog(warehouse, TABLES, "call_logs")  # no catalog yet: every table listed
    assert set(views(tmp_path)) == {"call_logs", "calls", *TABLES}
