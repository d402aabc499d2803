"""The process's in-memory DuckDBs that KPI steps, call_logs builds, recording checks and
intraday plans take cursors of (a new database costs tens of milliseconds of CPU each)."""

from __future__ import annotations

import multiprocessing

import duckdb
import pytest

from alohub_assets.storage.mart import local_connection


def setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    return con.execute("SELECT current_setting($name)::VARCHAR", {"name": name}).fetchone()[0]


def test_each_set_of_settings_is_a_database_of_its_own_and_temp_tables_stay_the_cursors():
    build = local_connection(preserve_insertion_order="false", memory_limit="512MB")
    kpi = local_connection()
    assert setting(build, "preserve_insertion_order") == "false"
    assert setting(kpi, "preserve_insertion_order") == "true"  # KPI files keep their row order
    assert setting(build, "memory_limit") != setting(kpi, "memory_limit")
    for con in (build, kpi):  # the call center's clock and the KPI functions on both
        assert setting(con, "TimeZone") == "Asia/Ho_Chi_Minh"
        assert con.execute("SELECT is_abandoned(false, 30, 'x', 5)").fetchone()[0] is True
    kpi.execute("CREATE TEMP TABLE kpi_rows AS SELECT 1 AS x")
    other = local_connection()
    other.execute("CREATE TEMP TABLE kpi_rows AS SELECT 2 AS x")  # no clash with the first
    assert kpi.execute("SELECT x FROM kpi_rows").fetchone()[0] == 1
    for con in (build, kpi, other):
        con.close()
    with pytest.raises(ValueError, match="setting's name"):  # checked before it reaches SQL
        local_connection(**{"memory_limit = '1GB'; --": "x"})


def _in_child(queue) -> None:
    with local_connection() as con:
        queue.put(con.execute(MADE_BEFORE_THE_FORK).fetchone()[0])


MADE_BEFORE_THE_FORK = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'parents_table'"


def test_a_forked_process_gets_a_database_of_its_own():
    """DuckDB's threads do not survive a fork: the parent's database would hang the child."""
    with local_connection() as con:
        con.execute("CREATE OR REPLACE TABLE parents_table AS SELECT 1 AS x")
        assert con.execute(MADE_BEFORE_THE_FORK).fetchone()[0] == 1
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_in_child, args=(queue,))
    try:
        child.start()
        child.join(timeout=60)
        assert child.exitcode == 0 and queue.get(timeout=5) == 0
    finally:
        with local_connection() as con:
            con.execute("DROP TABLE parents_table")
