"""The pipeline with ``ALOHUB_DATA_DIR=s3://bucket/prefix`` against a real S3 protocol server on
127.0.0.1 (moto's server mode): the same layout under the prefix, every partition visible only
when complete, a killed landing leaves the previous one readable, and ``open_mart()`` reads the
same KPIs as a run on local disk."""

from __future__ import annotations

import json
import shutil
import signal
from datetime import timedelta
from pathlib import Path

import pytest

from alohub_assets.storage.landing import FETCH_MANIFEST, landed_files
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.mart import open_mart
from alohub_assets.storage.object_store import ObjectStore, parse_s3_uri
from tests.conftest import S3_SECRET
from tests.kpi_reference import sandbox_calls
from tests.support import DAY, INGESTION, materialize_day, start_day_process

ROOT = Path(__file__).resolve().parents[1]
KPI_QUERY = """
SELECT 'daily' AS t, count(*), sum(offered_calls), sum(answered_calls) FROM daily_call_metrics
UNION ALL SELECT 'hourly', count(*), sum(offered_calls), sum(answered_calls) FROM hourly_call_volume
UNION ALL SELECT 'agents', count(*), sum(handled_calls), sum(talk_seconds) FROM agent_daily_load
ORDER BY t
"""


def objects(data_dir: str) -> list[str]:
    return ObjectStore(parse_s3_uri(data_dir)).list_files("")


def sandbox_call_ids(sandbox, day) -> list[str]:
    return sorted(call["call_id"] for call in sandbox_calls(sandbox.url, day))


def test_pipeline_on_s3_keeps_the_layout_and_reads_like_local_disk(
    sandbox, s3_data_dir, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # nothing may land in a local ./data
    days = [DAY, DAY + timedelta(days=1)]
    for day in days:
        materialize_day(sandbox, s3_data_dir, day)
        materialize_day(sandbox, tmp_path / "local", day)

    keys = objects(s3_data_dir)
    for day in days:
        part = f"date={day.isoformat()}"
        assert f"raw/call_logs/{part}/{FETCH_MANIFEST}" in keys
        assert any(k.startswith(f"raw/call_logs/{part}/v=") and k.endswith("/inbound.jsonl")
                   for k in keys)  # fmt: skip
        for table in ("call_logs", "rejected_call_logs", "daily_call_metrics",
                      "agent_daily_load", "hourly_call_volume"):  # fmt: skip
            assert f"warehouse/{table}/{part}/{table}.parquet" in keys
    assert {"alohub.duckdb", "alohub.duckdb.views.sql"} <= set(keys)
    assert not (tmp_path / "data").exists()

    with open_mart(s3_data_dir) as con:
        for day in days:
            stored = [r[0] for r in con.execute(
                "SELECT call_id FROM call_logs WHERE call_date = ? ORDER BY call_id", [day]
            ).fetchall()]  # fmt: skip
            assert stored == sandbox_call_ids(sandbox, day)
        on_s3 = con.sql(KPI_QUERY).fetchall()
        statuses = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    with open_mart(tmp_path / "local") as con:
        on_disk = con.sql(KPI_QUERY).fetchall()
    assert on_s3 == on_disk
    assert statuses == len(sandbox_call_ids(sandbox, days[0])) + len(
        sandbox_call_ids(sandbox, days[1])
    )


def test_a_landing_killed_before_its_manifest_leaves_the_previous_one(
    sandbox, s3_data_dir, s3_env, tmp_path
):
    materialize_day(sandbox, s3_data_dir, DAY)
    store = ObjectStore(parse_s3_uri(s3_data_dir))
    manifest_key = f"raw/call_logs/date={DAY.isoformat()}/{FETCH_MANIFEST}"
    committed = store.get_bytes(manifest_key)
    with open_mart(s3_data_dir) as con:
        before = con.sql(KPI_QUERY).fetchall()

    killed_log, repaired_log = tmp_path / "killed.log", tmp_path / "repaired.log"
    killed = start_day_process(
        sandbox, s3_data_dir, DAY, env={"ALOHUB_FAILPOINT": "before_remote_manifest"},
        log=killed_log,
    )  # fmt: skip
    killed.join(timeout=300)
    assert killed.exitcode == -signal.SIGKILL
    # The killed fetch uploaded its page files, but not the manifest: readers still get the
    # previous landing, whole.
    assert store.get_bytes(manifest_key) == committed
    versions = {k.split("/")[3] for k in objects(s3_data_dir) if "/v=" in k}
    assert len(versions) == 2
    reader = Warehouse.at(s3_data_dir)
    pages = landed_files(reader, DAY)
    assert sorted(p.name for p in pages) == json.loads(committed)["objects"]["files"]
    with open_mart(s3_data_dir) as con:
        assert con.sql(KPI_QUERY).fetchall() == before

    # The next run commits a new landing and deletes the one it replaced.
    repaired = start_day_process(sandbox, s3_data_dir, DAY, log=repaired_log)
    repaired.join(timeout=300)
    assert repaired.exitcode == 0, repaired_log.read_text()[-3000:]
    assert store.get_bytes(manifest_key) != committed
    old_folder = json.loads(committed)["objects"]["folder"]
    assert not any(f"/{old_folder}/" in k for k in objects(s3_data_dir))
    with open_mart(s3_data_dir) as con:
        assert con.sql(KPI_QUERY).fetchall() == before
    assert S3_SECRET not in killed_log.read_text() + repaired_log.read_text()
    assert "raw_call_logs" in repaired_log.read_text()  # the log is the run's output


def test_a_file_up_to_the_part_size_is_one_put_and_a_larger_one_a_multipart_upload(
    s3_data_dir, tmp_path, monkeypatch
):
    """S3 bills each request: a partition file (kilobytes) is one PUT, not a multipart upload's
    start, part and completion. A file over pyarrow's 10 MB part size is uploaded in parts,
    and either way the object holds the whole file."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    bucket = parse_s3_uri(s3_data_dir).bucket
    seen: list[tuple[str, str]] = []
    serve = DomainDispatcherApplication.__call__

    def counting(app, environ, start_response):  # the server's threads call it
        if environ["PATH_INFO"].startswith(f"/{bucket}/"):
            query = environ.get("QUERY_STRING", "")
            kind = (
                "start" if query == "uploads" else "part" if "partNumber=" in query
                else "complete" if "uploadId=" in query else query
            )  # fmt: skip
            seen.append((environ["REQUEST_METHOD"], kind))
        return serve(app, environ, start_response)

    monkeypatch.setattr(DomainDispatcherApplication, "__call__", counting)
    store = ObjectStore(parse_s3_uri(s3_data_dir))
    for name, size in (("small.parquet", 40_000), ("large.parquet", 11 << 20)):
        local = tmp_path / name
        local.write_bytes(bytes(range(256)) * (size // 256))
        seen.clear()
        store.put_file(local, f"warehouse/{name}")
        uploads = list(seen)
        assert store.get_bytes(f"warehouse/{name}") == local.read_bytes()
        if name == "small.parquet":
            assert uploads == [("PUT", "")]
        else:
            assert uploads == [("POST", "start"), ("PUT", "part"), ("PUT", "part"),
                               ("POST", "complete")]  # fmt: skip


def test_s3_location_and_store_name_no_secret(s3_data_dir):
    store = ObjectStore(parse_s3_uri(s3_data_dir))
    assert S3_SECRET not in repr(store) and S3_SECRET not in repr(Warehouse.at(s3_data_dir))
    assert parse_s3_uri("s3://bucket/a/b/").uri("warehouse/x") == "s3://bucket/a/b/warehouse/x"
    assert parse_s3_uri("s3://bucket").key("x") == "bucket/x"
    assert parse_s3_uri("/srv/data") is None
    with pytest.raises(ValueError):
        parse_s3_uri("s3:///no-bucket")


def test_recordings_on_s3_are_merged_with_what_the_bucket_holds(make_sandbox, s3_data_dir):
    from alohub_assets.defs.recordings.call_recordings import call_recordings

    sandbox = make_sandbox(recording_delay_seconds=3600)
    materialize_day(sandbox, s3_data_dir, DAY, assets=INGESTION)
    with open_mart(s3_data_dir) as con:
        (missing,) = con.execute(
            "SELECT count(*) FROM calls WHERE recording_status = 'not_checked'"
        ).fetchone()
    assert missing > 0

    def detail_requests() -> int:
        return sum(n for key, n in sandbox.requests().items() if key.startswith("detail:"))

    materialize_day(sandbox, s3_data_dir, DAY, assets=[call_recordings])
    assert detail_requests() == missing
    # The second run, with nothing left on local disk (as in a new run container), reads the
    # first one's results back from the bucket: pending calls wait their backoff.
    working_copy = Warehouse.at(s3_data_dir).data_dir
    shutil.rmtree(working_copy)
    working_copy.mkdir()
    materialize_day(sandbox, s3_data_dir, DAY, assets=[call_recordings])
    assert detail_requests() == missing
    assert f"warehouse/call_recordings/date={DAY}/call_recordings.parquet" in objects(s3_data_dir)
    with open_mart(s3_data_dir) as con:
        statuses = dict(
            con.execute("SELECT recording_status, count(*) FROM calls GROUP BY 1").fetchall()
        )
    assert "not_checked" not in statuses
    assert statuses.get("found", 0) + statuses.get("pending", 0) == missing
