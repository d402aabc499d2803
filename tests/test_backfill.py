"""Several partitions materialized at once through the CLI (`dagster job execute`, each in a
process forked from the test's), as separate processes sharing one data folder: the writers
never share a file (a Parquet file per table and day; the catalog changed by rename), so no pool
or lock is needed and every run stays green."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb

from tests.support import API_KEY, FIRST_DAY, ForkedCli, daily_job_cli_args

ROOT = Path(__file__).resolve().parents[1]


def cli_env(sandbox, tmp_path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ALOHUB_BASE_URL": sandbox.url,
        "ALOHUB_API_KEY": API_KEY,
        "ALOHUB_DATA_DIR": str(tmp_path / "data"),
        "ALOHUB_PARTITIONS_START": "2026-02-01",
    }


def test_concurrent_partition_runs_all_succeed_without_duplicates(sandbox, tmp_path):
    env = cli_env(sandbox, tmp_path)
    # The instance exists before the runs, as it does once `make dev` has run once.
    code, output = ForkedCli(["instance", "migrate"], env, ROOT, tmp_path / "migrate.log").wait()
    assert code == 0, output[-3000:]
    days = [FIRST_DAY + timedelta(days=i) for i in range(3)]
    runs = [ForkedCli(daily_job_cli_args(day), env, ROOT, tmp_path / f"{day}.log") for day in days]
    outputs = []
    for run in runs:
        code, output = run.wait(timeout=300)
        assert code == 0, output[-3000:]
        outputs.append(output)
    assert "raw_call_logs" in outputs[0]  # the run's own output
    assert API_KEY not in "".join(outputs)
    with duckdb.connect(str(tmp_path / "data" / "alohub.duckdb"), read_only=True) as con:
        per_day = con.execute(
            "SELECT date, sum(offered_calls) FROM daily_call_metrics GROUP BY date ORDER BY date"
        ).fetchall()
        calls = con.execute("SELECT count(*), count(DISTINCT call_id) FROM call_logs").fetchone()
    assert per_day == [(day, 300) for day in days]
    assert calls == (900, 900)
