"""Measured work, one function per benchmark step, each run in a fresh process by
``bench.common.run_worker`` so that its peak memory is its own. Prints one JSON line."""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
import traceback
from datetime import date, timedelta
from pathlib import Path

import duckdb

PROCESS_STARTED = time.time()  # before Dagster's import: a run's start-up begins here


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------- 1. ingestion


def ingest(
    url: str,
    api_key: str,
    first_day: str,
    days: int,
    window_seconds: float,
    data_dir: str,
    alohub: dict | None = None,
    dagster_home: str | None = None,
    assets: list[str] | None = None,
    ready_file: str | None = None,
    go_file: str | None = None,
) -> dict:
    """A backfill of ``days`` partitions, every asset (or ``assets``), in one process.
    ``alohub``: more AloHubResource settings (pages_in_flight, rate_state_path, ...);
    ``dagster_home``: the instance (else an ephemeral one); with ``ready_file``, the process
    touches it once started up and waits for ``go_file`` before the first run. Start-up is the
    time from the process's start to the first run, ``ready``/``ended`` are epoch times for
    benchmarks of concurrent processes."""
    import dagster as dg

    from alohub_assets.defs import ALL_ASSETS
    from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
    from alohub_assets.defs.resources import (
        AloHubResource,
        KpiSettingsResource,
        PlanningSettingsResource,
        RecordingPolicyResource,
        WarehouseResource,
    )

    if dagster_home:
        instance = dg.DagsterInstance.from_config(dagster_home)
    else:
        instance = dg.DagsterInstance.ephemeral()
    if ready_file and go_file:
        Path(ready_file).touch()
        startup = time.time() - PROCESS_STARTED
        deadline = time.monotonic() + 600
        while not Path(go_file).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{go_file} never appeared")
            time.sleep(0.01)
        ready = time.time()
    else:
        ready = time.time()
        startup = ready - PROCESS_STARTED
    settings = {"rate_window_seconds": window_seconds, **(alohub or {})}
    resources = {
        "alohub": AloHubResource(base_url=url, api_key=api_key, **settings),
        "warehouse": WarehouseResource(data_dir=data_dir),
        "recording_policy": RecordingPolicyResource(),
        "kpi_settings": KpiSettingsResource(),
        "planning_settings": PlanningSettingsResource(),
    }
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    started = time.perf_counter()
    fetch = 0.0
    for offset in range(days):
        day = date.fromisoformat(first_day) + timedelta(days=offset)
        result = dg.materialize(
            ALL_ASSETS,
            selection=dg.AssetSelection.assets(*assets) if assets else DAILY_PIPELINE,
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
            run_config=quiet,
        )
        fetch += _step_seconds(instance, result.run_id, "raw_call_logs")
    wall = time.perf_counter() - started
    with duckdb.connect(str(Path(data_dir) / "alohub.duckdb"), read_only=True) as con:
        calls, distinct = con.execute(
            "SELECT count(*), count(DISTINCT call_id) FROM call_logs"
        ).fetchone()
    return {"wall": wall, "fetch": fetch, "startup": startup, "calls": calls,
            "duplicates": calls - distinct, "started": PROCESS_STARTED, "ready": ready,
            "ended": time.time()}  # fmt: skip


def pods(rounds: list[dict], pool: str) -> dict:
    """Runs ``ingest(**spec["ingest"])`` for each spec of each round (``{"specs": [...],
    "go": path}``) in a process of its own, forked from this one once Dagster, the code
    location and the instance's storage are loaded (as a preloading server does), so that N
    pods cost one start-up, not N. A child sets its own environment (``spec["env"]``: TMPDIR,
    ALOHUB_RATE_STATE_URL, ...) before anything reads it; the pods of a round start their runs
    together, once every one is ready, and the next round starts when they are all done.

    Every pod's DAGSTER_HOME names one instance: its tables and the limit of ``pool`` (one slot
    per pod of the first round) are made here first, as `dagster instance concurrency set`
    would; pods that all claim a pool the instance does not know yet race to create it, and all
    but one fail (dagster 1.13 on Postgres). Returns each round's results and the pool's slots
    as the instance holds them at the end."""
    import dagster as dg

    import alohub_assets.defs  # noqa: F401  (preloaded: each child starts from here)

    home = rounds[0]["specs"][0]["ingest"]["dagster_home"]
    with dg.DagsterInstance.from_config(home) as instance:
        instance.event_log_storage.set_concurrency_slots(pool, len(rounds[0]["specs"]))
    results = [_pod_round(round_["specs"], round_["go"]) for round_ in rounds]
    with dg.DagsterInstance.from_config(home) as instance:
        slots = instance.event_log_storage.get_concurrency_info(pool).slot_count
    return {"rounds": results, "pool_slots": slots}


def _pod_round(specs: list[dict], go_file: str) -> list[dict]:
    children = []
    for spec in specs:
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.environ.update(spec["env"])
                tempfile.tempdir = None  # the default SQLite state file follows TMPDIR
                outcome = ingest(**spec["ingest"], ready_file=spec["ready"], go_file=go_file)
            except BaseException:
                outcome, code = {"error": traceback.format_exc()}, 1
            Path(spec["result"]).write_text(json.dumps(outcome))
            os._exit(code)
        children.append(pid)
    ended: set[int] = set()
    deadline = time.monotonic() + 300
    while not all(Path(spec["ready"]).exists() for spec in specs):
        ended |= {pid for pid in children if os.waitpid(pid, os.WNOHANG)[0]}
        if ended or time.monotonic() > deadline:
            break  # a pod ended before it was ready: its error is raised below
        time.sleep(0.02)
    Path(go_file).touch()
    for pid in children:
        if pid not in ended:
            os.waitpid(pid, 0)
    results = []
    for spec in specs:
        result = Path(spec["result"])
        outcome = json.loads(result.read_text()) if result.exists() else {"error": "no result"}
        if "error" in outcome:
            raise RuntimeError(
                f"the pod of {spec['ingest']['data_dir']} failed:\n{outcome['error']}"
            )
        results.append(outcome)
    return results


def _step_seconds(instance, run_id: str, step_key: str) -> float:
    """From the step's start to its success, as the run's event log recorded them."""
    import dagster as dg

    def at(kind) -> float:
        records = instance.get_records_for_run(run_id, of_type=kind).records
        return next(r.event_log_entry.timestamp for r in records
                    if r.event_log_entry.step_key == step_key)  # fmt: skip

    return at(dg.DagsterEventType.STEP_SUCCESS) - at(dg.DagsterEventType.STEP_START)


def dlt_ingest(
    url: str, api_key: str, first_day: str, days: int, data_dir: str, by_direction: bool = True
) -> dict:
    """The same days through dlt's rest_api source into DuckDB, configured as a careful user
    would: the documented spelling callEndtime, 100 rows a page, page number in the JSON body,
    merge on callId so a call's repeated rows collapse, dlt's own retries for 429 and 5xx.
    ``by_direction``: one read per ``callType`` (0, 1) with the direction added to each row, as
    the list rows carry none and the KPIs need it (the same data as ours, but for calls of other
    types); otherwise one unfiltered read, whose rows cannot tell inbound from outbound."""
    import dlt
    from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator
    from dlt.sources.rest_api import rest_api_source

    start = date.fromisoformat(first_day)
    end = start + timedelta(days=days - 1)
    window = {
        "callStartTime": f"{start.isoformat()}T00:00:00+07:00",
        "callEndtime": f"{end.isoformat()}T23:59:59+07:00",
        "limit": 100,
    }

    def resource(name: str, call_type: int | None) -> dict:
        body = window if call_type is None else {**window, "callType": call_type}
        config = {
            "name": name,
            "table_name": "call_logs",
            "endpoint": {
                "path": "/v1/reports/call-logs",
                "method": "POST",
                "json": body,
                "data_selector": "data",
            },
        }
        if call_type is not None:
            config["processing_steps"] = [{"map": lambda row: {**row, "direction": name}}]
        return config

    reads = [("inbound", 0), ("outbound", 1)] if by_direction else [("call_logs", None)]
    source = rest_api_source(
        {
            "client": {
                "base_url": url,
                "headers": {"X-Api-Key": api_key},
                "paginator": PageNumberPaginator(
                    base_page=1, page_body_path="page", total_path=None, stop_after_empty_page=True
                ),
            },
            "resource_defaults": {"write_disposition": "merge", "primary_key": "callId"},
            "resources": [resource(name, call_type) for name, call_type in reads],
        }
    )
    database = Path(data_dir) / "dlt.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="alohub_dlt_bench",
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="alohub",
        pipelines_dir=str(Path(data_dir) / "dlt_pipelines"),
    )
    started = time.perf_counter()
    pipeline.extract(source)  # what `run` does, in its three steps, to time the requests apart
    fetch = time.perf_counter() - started
    pipeline.normalize()
    pipeline.load()
    wall = time.perf_counter() - started
    with duckdb.connect(str(database), read_only=True) as con:
        rows, distinct = con.execute(
            "SELECT count(*), count(DISTINCT call_id) FROM alohub.call_logs"
        ).fetchone()
    return {"wall": wall, "fetch": fetch, "rows": rows, "duplicates": rows - distinct}


# ------------------------------------------------------------------------- 3. transform


def make_raw_day(data_dir: str, day: str, calls: int) -> dict:
    """A landed day of synthetic rows in the raw layout (1 to 3 rows a call, as upstream)."""
    from alohub_assets.storage.layout import Warehouse

    folder = Warehouse.at(data_dir).raw_partition_dir(date.fromisoformat(day))
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(
        f"""
        CREATE TEMP TABLE raw AS
        WITH calls AS (
            SELECT i,
                   TIMESTAMP '{day} 00:00:00' + to_seconds((i * 86399) // {calls}) AS st,
                   hash(i) % 100 < 78 AS answered,
                   (hash(i * 7) % 90)::INT AS wait,
                   (5 + hash(i * 13) % 600)::INT AS talk,
                   i % 3 = 2 AS outbound,
                   1 + (hash(i * 3) % 4 = 0)::INT + (hash(i * 5) % 16 = 0)::INT AS joins
            FROM range({calls}) t(i)
        ),
        rows AS (SELECT *, unnest(range(joins)) AS k FROM calls)
        SELECT CASE WHEN outbound THEN 'outbound' ELSE 'inbound' END AS source,
               st, i, k,
               {{'callId': strftime(st, '%Y%m%d%H%M%S') || '-' || upper(substr(md5(i::VARCHAR), 1, 8))
                           || '-' || lpad((i % 1000)::VARCHAR, 3, '0'),
                 'caller': '09' || lpad((hash(i) % 100000000)::VARCHAR, 8, '0'),
                 'called': '19006868',
                 'startTime': strftime(st, '%d/%m/%Y %H:%M:%S'),
                 'waitingTime': wait::VARCHAR,
                 'firstRingTime': strftime(st + INTERVAL 1 SECOND, '%d/%m/%Y %H:%M:%S'),
                 'firstConnectTime': CASE WHEN answered
                     THEN strftime(st + to_seconds(wait), '%d/%m/%Y %H:%M:%S') ELSE '' END,
                 'agentId': CASE WHEN answered OR outbound THEN 'agent' || (i % 40)::VARCHAR ELSE '' END,
                 'endTime': strftime(st + to_seconds(wait + CASE WHEN answered THEN talk ELSE 0 END),
                                     '%d/%m/%Y %H:%M:%S'),
                 'acdTime': (wait // 2)::VARCHAR,
                 'description': CASE WHEN answered THEN 'INBOUND-Cuộc gọi thành công'
                                     ELSE 'INBOUND-Khách hàng kết thúc trước khi timeout' END,
                 'customerName': 'Khách hàng ' || (hash(i * 11 + k) % 5000)::VARCHAR,
                 'url': CASE WHEN answered AND i % 5 <> 0
                             THEN 'https://records.alohub.vn/x/' || i::VARCHAR || '.mp3' ELSE '' END
               }} AS row
        FROM rows
        """  # noqa: S608 (numbers and a date of our own)
    )
    raw_rows = con.execute("SELECT count(*) FROM raw").fetchone()[0]
    for source in ("inbound", "outbound"):
        target = folder / f"{source}.jsonl"
        con.execute(
            f"""
            COPY (
                SELECT source, (rn // 100 + 1)::INT AS page, list(row ORDER BY rn) AS data
                FROM (SELECT *, row_number() OVER (ORDER BY st DESC, i, k) - 1 AS rn
                      FROM raw WHERE source = '{source}')
                GROUP BY source, page ORDER BY page
            ) TO '{target}' (FORMAT json)
            """  # noqa: S608
        )
    (folder / "_fetch.json").write_text("{}")
    con.close()
    return {"raw_rows": raw_rows}


def transform(data_dir: str, day: str) -> dict:
    """The pipeline's own parse and dedup of a landed day into call_logs Parquet."""
    from alohub_assets.defs.ingest.call_logs import build_call_logs
    from alohub_assets.storage.layout import Warehouse

    warehouse = Warehouse.at(data_dir)
    baseline = _peak_rss_mb()
    started = time.perf_counter()
    built = build_call_logs(warehouse, date.fromisoformat(day))
    wall = time.perf_counter() - started
    return {"wall": wall, "calls": built.calls, "raw_rows": built.raw_rows, "peak_rss_mb": _peak_rss_mb(),
            "baseline_rss_mb": baseline}  # fmt: skip


def transform_floor(data_dir: str, day: str) -> dict:
    """The floor: one bare DuckDB query parsing the same files and keeping one row per callId."""
    from alohub_assets.storage.layout import Warehouse

    folder = Warehouse.at(data_dir).raw_partition_dir(date.fromisoformat(day))
    files = [str(folder / "inbound.jsonl"), str(folder / "outbound.jsonl")]
    out = Path(data_dir) / "floor.parquet"
    started = time.perf_counter()
    con = duckdb.connect()
    fields = ["callId", "caller", "called", "agentId", "startTime", "firstRingTime",
              "firstConnectTime", "endTime", "waitingTime", "acdTime", "description",
              "customerName", "url"]  # fmt: skip
    row_type = "STRUCT(" + ", ".join(f'"{f}" VARCHAR' for f in fields) + ")[]"
    ts = "'%d/%m/%Y %H:%M:%S %z'"
    con.execute(
        f"""
        COPY (
            WITH rows AS (
                SELECT unnest(data, recursive := true), page,
                       unnest(generate_series(1, len(data))) AS position
                FROM read_json($files, format = 'newline_delimited',
                               columns = {{'source': 'VARCHAR', 'page': 'INTEGER', 'data': '{row_type}'}})
            ),
            names AS (SELECT "callId", list(DISTINCT "customerName") AS customer_names
                      FROM rows GROUP BY "callId")
            SELECT r."callId" AS call_id, r.caller, r.called, NULLIF(r."agentId", '') AS agent_id,
                   strptime(r."startTime" || ' +0700', {ts}) AS start_time,
                   try_strptime(NULLIF(r."firstRingTime", '') || ' +0700', {ts}) AS first_ring_time,
                   try_strptime(NULLIF(r."firstConnectTime", '') || ' +0700', {ts}) AS first_connect_time,
                   strptime(r."endTime" || ' +0700', {ts}) AS end_time,
                   CAST(r."waitingTime" AS INTEGER) AS waiting_seconds,
                   CAST(r."acdTime" AS INTEGER) AS acd_seconds,
                   r.description, names.customer_names, NULLIF(r.url, '') AS recording_url
            FROM rows AS r JOIN names USING ("callId")
            QUALIFY row_number() OVER (PARTITION BY r."callId" ORDER BY r.page, r.position) = 1
        ) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
        """,  # noqa: S608
        {"files": files},
    )
    wall = time.perf_counter() - started
    calls = con.execute("SELECT count(*) FROM read_parquet($p)", {"p": str(out)}).fetchone()[0]
    con.close()
    return {"wall": wall, "calls": calls, "peak_rss_mb": _peak_rss_mb()}


def fetch(url: str, api_key: str, data_dir: str, day: str) -> dict:
    """Lands one day from the sandbox; its memory must not grow with the day's rows."""
    from alohub_assets.api.client import AloHubClient
    from alohub_assets.storage.landing import land_call_logs
    from alohub_assets.storage.layout import Warehouse

    baseline = _peak_rss_mb()
    started = time.perf_counter()
    with AloHubClient(api_key, base_url=url) as client:
        landed = land_call_logs(client, Warehouse.at(data_dir), date.fromisoformat(day))
    return {"wall": time.perf_counter() - started, "rows": landed.rows, "peak_rss_mb": _peak_rss_mb(),
            "baseline_rss_mb": baseline}  # fmt: skip


# ------------------------------------------------------------------------- 4. KPI mart


def make_call_logs_year(data_dir: str, first_day: str, days: int, calls: int) -> dict:
    """``days`` partitions of synthetic call_logs Parquet in the warehouse layout (returning
    customers, several number formats, abandons: what every KPI table reads)."""
    from bench.kpi_year import synthesize_call_logs

    seconds = synthesize_call_logs(Path(data_dir), date.fromisoformat(first_day), days, calls)
    return {"partitions": days, "seconds": seconds}


def mart_rebuild(data_dir: str, first_day: str, days: int) -> dict:
    """Full rebuild of every KPI table as a single-run backfill does it (one query per table for
    all the days), then the update of one day, as a daily run does it; default KPI settings."""
    from alohub_assets.defs.kpi_mart.build import kpi_tables, write_table_partitions
    from alohub_assets.defs.kpi_mart.hotlines import hotline_parameters
    from alohub_assets.defs.resources import KpiSettingsResource
    from alohub_assets.storage.layout import Warehouse

    warehouse = Warehouse.at(data_dir)
    first = date.fromisoformat(first_day)
    last = first + timedelta(days=days - 1)
    # The hotline tables take the settings file's hotlines too (none: names are the numbers).
    settings = hotline_parameters(KpiSettingsResource(), None)
    per_table = {}
    started, cpu = time.perf_counter(), time.process_time()
    for table in kpi_tables():
        table_started = time.perf_counter()
        write_table_partitions(warehouse, table, first, last, settings)
        per_table[table] = round(time.perf_counter() - table_started, 2)
    full, full_cpu = time.perf_counter() - started, time.process_time() - cpu
    day = first + timedelta(days=days // 2)
    started, cpu = time.perf_counter(), time.process_time()
    for table in kpi_tables():
        write_table_partitions(warehouse, table, day, day, settings)
    one_day, one_day_cpu = time.perf_counter() - started, time.process_time() - cpu
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        offered = con.execute("SELECT sum(offered_calls) FROM daily_call_metrics").fetchone()[0]
    return {
        "full": full,
        "full_cpu": full_cpu,
        "per_table": per_table,
        "one_day": one_day,
        "one_day_cpu": one_day_cpu,
        "offered": int(offered),
        "peak_rss_mb": _peak_rss_mb(),
    }


if __name__ == "__main__":
    function, arguments = sys.argv[1], json.loads(sys.argv[2])
    result = globals()[function](**arguments)
    print(json.dumps(result))
