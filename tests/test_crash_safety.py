"""Crash safety: runs killed (SIGKILL) at the worst moments, two runs of one partition at once,
and a notebook holding the DuckDB catalog. The previous partition stays readable; the next run
repairs; a held catalog blocks no run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from alohub_assets.api.records import local_day_window
from alohub_assets.defs.kpi_mart.build import kpi_tables
from tests.support import DAY, materialize_day, start_day_process


def run_process(sandbox, data_dir: Path, *, failpoint: str | None = None):
    """The daily job for DAY in a process of its own (forked), killed at ``failpoint``."""
    return start_day_process(
        sandbox, data_dir, DAY, env={"ALOHUB_FAILPOINT": failpoint} if failpoint else {}
    )


def raw_landing(data_dir: Path) -> dict[str, bytes] | None:
    """The partition's raw folder as a reader sees it: its visible files, or None if absent."""
    folder = data_dir / "raw" / "call_logs" / f"date={DAY}"
    if not folder.is_dir():
        return None
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir()) if not f.name.startswith(".")}


def snapshot(data_dir: Path) -> dict:
    """Everything a run of the partition writes, read as a user would: the raw folder, and the
    day's Parquet file of call_logs, rejected_call_logs and every KPI table."""
    warehouse = data_dir / "warehouse"
    return {
        "raw": raw_landing(data_dir),
        **{
            table: pq.read_table(warehouse / table / f"date={DAY}" / f"{table}.parquet")
            for table in ("call_logs", "rejected_call_logs", *kpi_tables())
        },
    }


def visible_parquet(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "warehouse").glob("*/date=*/*.parquet"))


def leftovers(data_dir: Path) -> list[str]:
    """Staging folders, trash and temporary files anywhere in the data folder."""
    return sorted(
        str(p.relative_to(data_dir))
        for p in data_dir.rglob(".*")
        if p.name.endswith((".staging", ".trash", ".tmp"))
    )


# What the interrupted step had replaced when the kill came (the rest is the previous run's).
REPLACED_BEFORE_KILL = {
    "mid_landing": set(),  # still paging into a staging folder
    "between_folder_renames": {"raw"},  # the new raw folder swapped in, the old one beside it
    "before_file_publish": {"raw"},  # call_logs' new file written, not yet renamed in place
    "kpi_before_publish": {"raw", "call_logs"},  # a KPI file written, not renamed in place
}


@pytest.mark.parametrize("point", list(REPLACED_BEFORE_KILL))
def test_a_killed_run_leaves_the_previous_partition_and_the_next_run_repairs(
    point, sandbox, tmp_path, reliability_report
):
    materialize_day(sandbox, tmp_path, DAY)
    before = snapshot(tmp_path)
    files_before = visible_parquet(tmp_path)
    assert leftovers(tmp_path) == []
    # The next fetch finds one more call: every table of the day changes when it is rebuilt.
    sandbox.store.add_late_call(*local_day_window(DAY))

    killed = run_process(sandbox, tmp_path, failpoint=point)
    killed.join(timeout=300)
    assert killed.exitcode == -signal.SIGKILL
    after_kill = snapshot(tmp_path)  # every part readable
    replaced = REPLACED_BEFORE_KILL[point]
    for part, value in after_kill.items():
        if part in replaced:
            assert value != before[part], part  # the new version, complete
        elif isinstance(value, pa.Table):
            assert value.equals(before[part]), part  # the previous version, untouched
        else:
            assert value == before[part], part
    assert after_kill["raw"] is not None  # never a moment without the raw folder
    assert visible_parquet(tmp_path) == files_before  # no half file visible to a glob
    left = leftovers(tmp_path)
    assert left  # the killed run's work file is still there...

    repaired = run_process(sandbox, tmp_path)
    repaired.join(timeout=300)
    assert repaired.exitcode == 0
    assert leftovers(tmp_path) == []  # ...and the next run removed it
    again = snapshot(tmp_path)
    assert again["call_logs"].num_rows == before["call_logs"].num_rows + 1
    for part in ("raw", "daily_call_metrics", "hourly_call_volume"):
        assert again[part] != before[part], part  # rebuilt from the new fetch
    daily = again["daily_call_metrics"].to_pylist()
    assert sum(row["offered_calls"] for row in daily) == again["call_logs"].num_rows
    reliability_report["crashes"].append(
        {
            "crash point": point,
            "previous partition readable": "yes",
            "parts replaced by the killed run": ", ".join(sorted(replaced)) or "none",
            "other parts unchanged": "yes",
            "leftovers after kill": len(left),
            "leftovers after next run": len(leftovers(tmp_path)),
            "next run repaired": "yes",
        }  # fmt: skip
    )


def test_two_runs_of_one_partition_at_once_leave_one_complete_version(
    sandbox, tmp_path, reliability_report
):
    materialize_day(sandbox, tmp_path, DAY)  # the instance and mart exist, as in production

    def list_requests() -> int:
        return sum(n for k, n in sandbox.requests().items() if k.startswith("list:"))

    before = list_requests()
    # Every answer takes 0.2 s, so the two runs page side by side; a call arrives once they
    # have made 4 requests between them: the runs see different days, and the interleaving
    # decides which version each part gets.
    sandbox.config.slow_seconds = 0.2
    sandbox.config.faults = {"slow": 1.0}
    runs = [run_process(sandbox, tmp_path), run_process(sandbox, tmp_path)]
    while list_requests() - before < 4 and all(run.is_alive() for run in runs):
        time.sleep(0.05)
    late = sandbox.store.add_late_call(*local_day_window(DAY))
    for run in runs:
        run.join(timeout=300)
    sandbox.config.faults = {}
    assert [run.exitcode for run in runs] == [0, 0]
    result = snapshot(tmp_path)
    ids = result["call_logs"].column("call_id").to_pylist()
    assert len(ids) == len(set(ids))
    truth = {c.call_id for c in sandbox.store.calls_on(DAY)}
    versions = {"without the late call": truth - {late.call_id}, "with it": truth}
    matching = [name for name, calls in versions.items() if set(ids) == calls]
    assert len(matching) == 1  # one complete version, not a mix
    # Every part agrees with that version: landing, KPI rows, hourly and agent sums.
    raw_ids = {
        row["callId"]
        for name, blob in result["raw"].items()
        if name.endswith(".jsonl")
        for line in blob.decode().splitlines()
        for row in json.loads(line)["data"]
    }
    assert raw_ids in versions.values()  # the raw landing is one complete version too
    assert sum(row["offered_calls"] for row in result["daily_call_metrics"].to_pylist()) == len(ids)
    assert leftovers(tmp_path) == []
    assert visible_parquet(tmp_path) == sorted(
        [
            tmp_path / "warehouse" / t / f"date={DAY}" / f"{t}.parquet"
            for t in ("call_logs", "rejected_call_logs", *kpi_tables())
        ]
    )
    reliability_report["crashes"].append(
        {
            "crash point": "two runs of one partition at once, seeing different data",
            "previous partition readable": "yes",
            "parts replaced by the killed run": "n/a",
            "other parts unchanged": "n/a",
            "leftovers after kill": "n/a",
            "leftovers after next run": len(leftovers(tmp_path)),
            "next run repaired": f"both runs succeeded; result: the version {matching[0]}",
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
