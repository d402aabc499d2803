"""Crash safety: runs killed (SIGKILL) at the worst moments, two runs of one partition at once,
and a notebook holding the DuckDB file. The previous partition stays readable; the next run
repairs; the writer waits for a held lock, then names the holder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from alohub_assets.assets.mart import daily_call_metrics
from alohub_assets.records import local_day_window
from alohub_assets.resources import KpiSettingsResource, WarehouseResource
from tests.conftest import API_KEY, DAY, materialize_day

ROOT = Path(__file__).resolve().parents[1]
SELECTION = "raw_call_logs,call_logs,daily_call_metrics,agent_daily_load,hourly_call_volume"


def cli(sandbox, data_dir: Path, *, failpoint: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "ALOHUB_BASE_URL": sandbox.url, "ALOHUB_API_KEY": API_KEY,
           "ALOHUB_DATA_DIR": str(data_dir), "ALOHUB_PARTITIONS_START": "2026-02-01"}  # fmt: skip
    env.pop("DAGSTER_HOME", None)
    if failpoint:
        env["ALOHUB_FAILPOINT"] = failpoint
    return subprocess.Popen(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "alohub_assets.definitions",
         "--select", SELECTION, "--partition", DAY.isoformat()],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def snapshot(data_dir: Path) -> dict:
    calls = pq.read_table(
        data_dir / "warehouse" / "call_logs" / f"date={DAY}" / "call_logs.parquet"
    )
    with duckdb.connect(str(data_dir / "alohub.duckdb"), read_only=True) as con:
        metrics = con.execute("SELECT * FROM daily_call_metrics ORDER BY ALL").fetchall()
        agents = con.execute("SELECT count(*) FROM agent_daily_load").fetchone()
    return {"calls": calls, "metrics": metrics, "agents": agents}


def visible_parquet(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "warehouse").glob("*/date=*/*.parquet"))


@pytest.mark.parametrize(
    "point",
    ["mid_landing", "between_folder_renames", "before_file_publish", "mart_mid_transaction"],
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
    if point == "mart_mid_transaction":
        # call_logs was already replaced whole by then (the new day, complete); the KPI
        # transaction that was cut is rolled back, so the KPI rows are the previous ones.
        assert after_kill["calls"].num_rows == before["calls"].num_rows + 1
    else:
        assert after_kill["calls"].equals(before["calls"])
    assert after_kill["metrics"] == before["metrics"]
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
            for t in ("call_logs", "rejected_call_logs")
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
con = duckdb.connect(sys.argv[1])  # a notebook that did not close its connection
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def hold_duckdb(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def test_a_notebook_holding_the_file_makes_the_writer_wait_then_name_it(sandbox, tmp_path):
    materialize_day(sandbox, tmp_path, DAY)
    database = tmp_path / "alohub.duckdb"

    holder = hold_duckdb(database, 60)
    try:
        result = dg.materialize(
            [daily_call_metrics],
            partition_key=DAY.isoformat(),
            resources={
                "warehouse": WarehouseResource(data_dir=str(tmp_path), lock_timeout_seconds=2),
                "kpi_settings": KpiSettingsResource(),
            },
            raise_on_error=False,
        )
    finally:
        holder.kill()
        holder.wait()
    assert not result.success
    error = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "stayed locked for 2s" in error and f"PID {holder.pid}" in error
    assert "Close the notebook" in error

    holder = hold_duckdb(database, 1.5)  # released while the writer waits: the run succeeds
    try:
        result = dg.materialize(
            [daily_call_metrics],
            partition_key=DAY.isoformat(),
            resources={
                "warehouse": WarehouseResource(data_dir=str(tmp_path), lock_timeout_seconds=60),
                "kpi_settings": KpiSettingsResource(),
            },
        )
    finally:
        holder.wait()
    assert result.success
