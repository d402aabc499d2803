"""Crash safety: runs killed (SIGKILL) at the worst moments, two runs of one partition at once,
and a notebook holding the DuckDB catalog. The previous partition stays readable; the next run
repairs; a held catalog blocks no run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from alohub_assets.api.records import local_day_window
from alohub_assets.defs.kpi_mart.build import kpi_tables
from tests.support import API_KEY, DAY, daily_job_cli_args, materialize_day

ROOT = Path(__file__).resolve().parents[1]


def cli(sandbox, data_dir: Path, *, failpoint: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "ALOHUB_BASE_URL": sandbox.url, "ALOHUB_API_KEY": API_KEY,
           "ALOHUB_DATA_DIR": str(data_dir), "ALOHUB_PARTITIONS_START": "2026-02-01"}  # fmt: skip
    env.pop("DAGSTER_HOME", None)
    if failpoint:
        env["ALOHUB_FAILPOINT"] = failpoint
    return subprocess.Popen(
        [sys.executable, "-m", "dagster", *daily_job_cli_args(DAY)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def snapshot(data_dir: Path) -> dict:
    calls = pq.read_table(
        data_dir / "warehouse" / "call_logs" / f"date={DAY}" / "call_logs.parquet"
    )
    with duckdb.connect(str(data_dir / "alohub.duckdb"), read_only=True) as con:
        kpis = {
            table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()  # noqa: S608
            for table in kpi_tables()
        }
    return {"calls": calls, "metrics": kpis["daily_call_metrics"], "kpis": kpis}


def visible_parquet(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "warehouse").glob("*/date=*/*.parquet"))


@pytest.mark.parametrize(
    "point",
    ["mid_landing", "between_folder_renames", "before_file_publish", "kpi_before_publish"],
)
def test_a_killed_run_leaves_the_previous_partition_and_the_next_run_repairs(
    point, sandbox, tmp_path, reliability_report
):
    materialize_day(sandbox, tmp_path, DAY)
    before = snapshot(tmp_path)
    files_before = visible_parquet(tmp_path)
    # The next fetch finds one more call: a repaired partition must show it.
    sandbox.store.add_late_call(*local_day_window(DAY))

    killed = cli(sandbox, tmp_path, failpoint=point)
    output = killed.communicate(timeout=300)[0]
    assert killed.returncode == -9, output[-2000:]
    after_kill = snapshot(tmp_path)  # readable, and what it was
    if point == "kpi_before_publish":
        # call_logs was already replaced whole by then (the new day, complete); the KPI file
        # that was being written never became visible, so every KPI table is the previous one.
        assert after_kill["calls"].num_rows == before["calls"].num_rows + 1
    else:
        assert after_kill["calls"].equals(before["calls"])
    assert after_kill["kpis"] == before["kpis"]
    assert visible_parquet(tmp_path) == files_before  # no half file visible to a glob

    repaired = cli(sandbox, tmp_path)
    assert repaired.wait(timeout=300) == 0
    again = snapshot(tmp_path)
    assert again["calls"].num_rows == before["calls"].num_rows + 1
    assert sum(row[2] for row in again["metrics"]) == again["calls"].num_rows
    reliability_report["crashes"].append(
        {
            "crash point": point,
            "previous partition readable": "yes",
            "unchanged": "yes",
            "next run repaired": "yes",
        }  # fmt: skip
    )


def test_two_runs_of_one_partition_at_once_leave_one_consistent_result(
    sandbox, tmp_path, reliability_report
):
    materialize_day(sandbox, tmp_path, DAY)  # the instance and mart exist, as in production
    runs = [cli(sandbox, tmp_path), cli(sandbox, tmp_path)]
    codes = [run.wait(timeout=300) for run in runs]
    assert codes == [0, 0], [run.stdout.read()[-2000:] for run in runs]
    result = snapshot(tmp_path)
    ids = result["calls"].column("call_id").to_pylist()
    assert len(ids) == len(set(ids)) == 300
    assert sum(row[2] for row in result["metrics"]) == 300  # one set of KPI rows, not two
    assert visible_parquet(tmp_path) == sorted(
        [
            tmp_path / "warehouse" / t / f"date={DAY}" / f"{t}.parquet"
            for t in ("call_logs", "rejected_call_logs", *kpi_tables())
        ]
    )
    reliability_report["crashes"].append(
        {
            "crash point": "two runs of one partition at once",
            "previous partition readable": "yes",
            "unchanged": "n/a",
            "next run repaired": "both runs succeeded, one result",
        }  # fmt: skip
    )


HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])  # a notebook that did not close its connection (read-write)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_a_notebook_holding_the_catalog_blocks_no_run(sandbox, tmp_path):
    materialize_day(sandbox, tmp_path, DAY)
    catalog = tmp_path / "alohub.duckdb"
    definition = tmp_path / "alohub.duckdb.views.sql"
    definition.unlink()  # the next run must rebuild the catalog while it is held

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(catalog), "120"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        next_day = DAY.replace(day=DAY.day + 1)
        assert materialize_day(sandbox, tmp_path, next_day).success
        assert holder.poll() is None  # still holding its connection
    finally:
        holder.kill()
        holder.wait()
    assert definition.exists()
    with duckdb.connect(str(catalog), read_only=True) as con:
        days = con.execute("SELECT DISTINCT date FROM daily_call_metrics ORDER BY 1").fetchall()
    assert [d for (d,) in days] == [DAY, next_day]
