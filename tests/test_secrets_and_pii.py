"""Secrets never leave the environment; the PII option stores keyed hashes, KPIs unchanged."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from tests.support import API_KEY, DAY, ForkedCli, daily_job_cli_args, materialize_day

ROOT = Path(__file__).resolve().parents[1]
PII_KEY = "pii-Hm4cK3y-for-tests-only"


def files_containing(folder: Path, needle: str) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            found.append(str(path))
    return found


def test_the_api_key_reaches_no_log_event_store_run_config_or_data(
    make_sandbox, tmp_path, reliability_report
):
    sandbox = make_sandbox(faults={"fail_500": 0.2}, fault_seed=9)
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "ALOHUB_BASE_URL": sandbox.url,
           "ALOHUB_API_KEY": API_KEY, "ALOHUB_DATA_DIR": str(data),
           "ALOHUB_PARTITIONS_START": "2026-02-01"}  # fmt: skip
    command = daily_job_cli_args(DAY)  # `dagster job execute`, in a process of its own
    code, ok = ForkedCli(command, env, ROOT, tmp_path / "ok.log").wait()
    assert code == 0, ok[-2000:]
    # A refused key fails the run; its error text is stored in the event log too.
    wrong = "wrong-key-that-must-not-leak-42"
    bad_env = {**env, "ALOHUB_API_KEY": wrong}
    code, bad = ForkedCli(command, bad_env, ROOT, tmp_path / "bad.log").wait()
    assert code != 0 and "401 UNAUTHORIZED" in bad
    output = ok + bad
    # event log, run storage, compute logs; raw landing, manifests, Parquet, DuckDB
    found = {
        secret: files_containing(home, secret) + files_containing(data, secret)
        for secret in (API_KEY, wrong)
    }
    in_output = [secret for secret in (API_KEY, wrong) if secret in output]
    reliability_report["secrets"].append(
        {
            "check": "API key in DAGSTER_HOME, data folder, CLI output (2 runs, one refused)",
            "files scanned": sum(1 for p in [*home.rglob("*"), *data.rglob("*")] if p.is_file()),
            "found": sum(len(files) for files in found.values()) + len(in_output),
        }  # fmt: skip
    )
    assert in_output == []
    assert found == {API_KEY: [], wrong: []}


def test_pii_option_hashes_numbers_and_names_and_keeps_the_kpis(sandbox, tmp_path):
    from alohub_assets.defs.resources import WarehouseResource

    plain, hashed = tmp_path / "plain", tmp_path / "hashed"
    materialize_day(sandbox, plain, DAY)
    import dagster as dg

    from alohub_assets.defs import ALL_ASSETS
    from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
    from tests.support import pipeline_resources

    resources = pipeline_resources(sandbox, hashed)
    resources["warehouse"] = WarehouseResource(data_dir=str(hashed), pii_hmac_key=PII_KEY)
    assert dg.materialize(
        ALL_ASSETS, selection=DAILY_PIPELINE, partition_key=DAY.isoformat(), resources=resources
    ).success

    def token(value: str) -> str:
        return hmac.new(PII_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()

    truth = {c.call_id: c for c in sandbox.store.calls_on(DAY)}
    rows = pq.read_table(
        hashed / "warehouse" / "call_logs" / f"date={DAY}" / "call_logs.parquet"
    ).to_pylist()
    for row in rows:
        call = truth[row["call_id"]]
        assert row["caller"] == token(call.caller) and row["called"] == token(call.called)
        assert row["customer_names"] == [token(n) for n in dict.fromkeys(call.customer_names)]
    warehouse_files = list((hashed / "warehouse").rglob("*.parquet")) + [hashed / "alohub.duckdb"]
    some_caller = next(iter(truth.values())).caller
    assert not any(some_caller.encode() in f.read_bytes() for f in warehouse_files)
    assert files_containing(hashed, PII_KEY) == []

    def kpis(folder: Path):
        with duckdb.connect(str(folder / "alohub.duckdb"), read_only=True) as con:
            return [
                con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()  # noqa: S608
                for t in ("daily_call_metrics", "agent_daily_load", "hourly_call_volume")
            ]

    assert kpis(hashed) == kpis(plain)
