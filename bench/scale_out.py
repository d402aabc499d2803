"""Scale-out benchmarks -> docs/benchmarks-scale-out.md (``python -m bench.scale_out``).

1. A backfill of N days, 4 partition runs at once (each run a `dagster asset materialize`
   process on one shared instance), on the KPI mart as it was at ``--old-commit`` (DuckDB tables in
   one file, the ``duckdb`` pool of 1, a bounded lock wait) and on this tree's mart. Figures: wall
   time, seconds steps waited for a pool slot, DuckDB lock waits, and every call exactly once.
2. One partition end to end on local disk vs on an S3 server (moto on 127.0.0.1).

The old commit is exported with ``git archive`` into a temporary folder (no worktree is added)
and gets its own environment from its own uv.lock (``uv sync --frozen --no-dev``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import duckdb
import httpx

from alohub_assets.api.client import tls_context
from bench.common import API_KEY, ROOT, commit_stamp, sandbox_process

OLD_COMMIT = "d0035c9"
FIRST_DAY = date(2026, 9, 1)
SELECTION = "raw_call_logs,call_logs,daily_call_metrics,agent_daily_load,hourly_call_volume"
LOCK_WAIT_TEXT = "is locked by another process"


@dataclass
class Sizes:
    days: int = 30
    calls_per_day: int = 2000
    concurrency: int = 4
    e2e_calls: int = 2000
    repeats: int = 3


QUICK = Sizes(days=4, calls_per_day=150, concurrency=4, e2e_calls=150, repeats=1)


@dataclass
class Project:
    """A tree of the project and the Python that runs it."""

    label: str
    root: Path
    python: Path
    commit: str


@dataclass
class EndToEnd:
    calls: int
    local_seconds: list[float]
    s3_seconds: list[float]
    same_kpis: bool
    s3_objects: int


@dataclass
class BackfillRun:
    label: str
    commit: str
    wall_seconds: float
    runs: int
    failed_runs: int
    pool_wait_seconds: float
    blocked_steps: int
    lock_waits: int
    calls_expected: int
    calls_stored: int
    distinct_calls: int
    days_matching: int
    steps: int = 0  # steps that succeeded, over every run: the work each mart does
    load_before: float = 0.0
    load_after: float = 0.0
    notes: list[str] = field(default_factory=list)


def uv_command() -> list[str]:
    if os.environ.get("UV"):
        return [os.environ["UV"]]
    if shutil.which("uv"):
        return [shutil.which("uv")]
    return ["python3", "-m", "uv"]


def export_commit(commit: str, into: Path) -> Project:
    """The tree of ``commit`` (git archive) with an environment from its own lock file."""
    archive = into / "tree.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "archive", "--format=tar", commit], cwd=ROOT, stdout=fh, check=True)
    tree = into / "tree"
    tree.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(into / "venv"), "UV_PYTHON": sys.executable}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([*uv_command(), "sync", "--frozen", "--no-dev", "-q"], cwd=tree, env=env,
                   check=True)  # fmt: skip
    return Project(f"pooled DuckDB-table mart ({commit})", tree, into / "venv" / "bin" / "python",
                   commit)  # fmt: skip


def this_tree(commit: str) -> Project:
    return Project("Parquet mart, catalog of views (this tree)", ROOT, Path(sys.executable),
                   commit)  # fmt: skip


def instance_home(project: Project, into: Path) -> Path:
    """The project's own dagster.yaml, plus the warehouse logger captured as Dagster events so
    that DuckDB lock waits can be counted."""
    import yaml

    home = into / "dagster_home"
    home.mkdir()
    config = yaml.safe_load((project.root / "dagster.yaml").read_text()) or {}
    loggers = [name for name in ("alohub_assets.warehouse", "alohub_assets.storage")]
    config["python_logs"] = {"managed_python_loggers": loggers, "python_log_level": "INFO"}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


def materialize(project: Project, env: dict[str, str], day: date) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(project.python), "-m", "dagster", "asset", "materialize", "-m",
         "alohub_assets.definitions", "--select", SELECTION, "--partition", day.isoformat()],
        cwd=project.root, env=env, capture_output=True, text=True,
    )  # fmt: skip


def pool_waits(home: Path) -> tuple[float, int, int, int, int]:
    """(seconds steps spent blocked on a pool, blocked steps, lock-wait log lines, failed runs,
    steps that succeeded) from the instance's event log."""
    import dagster as dg
    from dagster._core.events import DagsterEventType

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        waited, blocked, lock_waits, failed, steps = 0.0, 0, 0, 0, 0
        for run in instance.get_runs():
            if run.status != dg.DagsterRunStatus.SUCCESS:
                failed += 1
            first_blocked: dict[str, float] = {}
            for record in instance.all_logs(run.run_id):
                if LOCK_WAIT_TEXT in (record.user_message or ""):
                    lock_waits += 1
                event = record.dagster_event
                if event is None or not record.step_key:
                    continue
                if (
                    event.event_type == DagsterEventType.ENGINE_EVENT
                    and "blocked" in (record.user_message or "").lower()
                ):
                    first_blocked.setdefault(record.step_key, record.timestamp)
                elif event.event_type == DagsterEventType.STEP_SUCCESS:
                    steps += 1
                elif event.event_type == DagsterEventType.STEP_START:
                    if record.step_key in first_blocked:
                        blocked += 1
                        waited += record.timestamp - first_blocked.pop(record.step_key)
        return waited, blocked, lock_waits, failed, steps
    finally:
        instance.dispose()


def check_calls(sandbox_url: str, mart: Path, days: list[date]) -> tuple[int, int, int, int]:
    """(calls the sandbox has, rows in call_logs, distinct call ids, days whose calls and
    offered-call KPIs match the sandbox exactly) read through the mart's DuckDB catalog."""
    expected_total = stored_total = distinct_total = matching = 0
    with duckdb.connect(str(mart), read_only=True) as con:
        for day in days:
            truth = httpx.get(f"{sandbox_url}/_sandbox/calls", params={"date": day.isoformat()},
                              timeout=60, verify=tls_context()).json()["calls"]  # fmt: skip
            expected = sorted(call["call_id"] for call in truth)
            stored = [r[0] for r in con.execute(
                "SELECT call_id FROM call_logs WHERE call_date = ? ORDER BY call_id", [day]
            ).fetchall()]  # fmt: skip
            offered = con.execute(
                "SELECT coalesce(sum(offered_calls), 0) FROM daily_call_metrics WHERE date = ?",
                [day],
            ).fetchone()[0]
            expected_total += len(expected)
            stored_total += len(stored)
            distinct_total += len(set(stored))
            matching += int(stored == expected and offered == len(expected))
    return expected_total, stored_total, distinct_total, matching


def bench_backfill(project: Project, sizes: Sizes) -> BackfillRun:
    days = [FIRST_DAY + timedelta(days=i) for i in range(sizes.days)]
    with (
        tempfile.TemporaryDirectory(prefix="alohub-scale-") as tmp,
        sandbox_process(
            "--start", days[0].isoformat(), "--end", days[-1].isoformat(),
            "--calls-per-day", str(sizes.calls_per_day), "--rate-limit", "0",
        ) as sandbox,
    ):  # fmt: skip
        tmp_path = Path(tmp)
        home = instance_home(project, tmp_path)
        env = {
            **{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
            "DAGSTER_HOME": str(home),
            "ALOHUB_BASE_URL": sandbox.url,
            "ALOHUB_API_KEY": API_KEY,
            "ALOHUB_DATA_DIR": str(tmp_path / "data"),
            "ALOHUB_PARTITIONS_START": days[0].isoformat(),
        }
        subprocess.run([str(project.python), "-m", "dagster", "instance", "migrate"],
                       cwd=project.root, env=env, check=True, capture_output=True)  # fmt: skip
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=sizes.concurrency) as pool:
            done = list(pool.map(lambda day: materialize(project, env, day), days))
        wall = time.perf_counter() - started
        load_after = os.getloadavg()[0]
        notes = [d.stdout[-1500:] + d.stderr[-1500:] for d in done if d.returncode != 0][:2]
        waited, blocked, lock_waits, failed, steps = pool_waits(home)
        expected, stored, distinct, matching = check_calls(
            sandbox.url, tmp_path / "data" / "alohub.duckdb", days
        )
    return BackfillRun(
        project.label, project.commit, wall, len(days), failed, waited, blocked, lock_waits,
        expected, stored, distinct, matching, steps, load_before, load_after, notes,
    )  # fmt: skip


KPI_QUERY = """
SELECT 'daily', count(*), sum(offered_calls), sum(answered_calls) FROM daily_call_metrics
UNION ALL SELECT 'hourly', count(*), sum(offered_calls), sum(answered_calls) FROM hourly_call_volume
UNION ALL SELECT 'agents', count(*), sum(handled_calls), sum(talk_seconds) FROM agent_daily_load
"""


def bench_end_to_end_s3(sizes: Sizes) -> EndToEnd:
    """One partition, the daily job through the CLI, on local disk and on an S3 server (moto on
    127.0.0.1), alternating; both results read back through open_mart() and compared."""
    import pyarrow.fs as pafs
    from moto.server import ThreadedMotoServer

    from alohub_assets.storage.mart import open_mart
    from alohub_assets.storage.object_store import ObjectStore, parse_s3_uri
    from alohub_dev.commands import daily_job_cli_args

    day = FIRST_DAY
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    aws = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_REGION": "us-east-1"}  # fmt: skip
    local_times, s3_times, kpis = [], [], {}
    try:
        pafs.S3FileSystem(access_key="bench", secret_key="bench-secret", region="us-east-1",
                          endpoint_override=f"{host}:{port}", scheme="http",
                          allow_bucket_creation=True).create_dir("alohub-bench")  # fmt: skip
        with (
            tempfile.TemporaryDirectory(prefix="alohub-e2e-") as tmp,
            sandbox_process("--start", day.isoformat(), "--end", day.isoformat(),
                            "--calls-per-day", str(sizes.e2e_calls)) as sandbox,
        ):  # fmt: skip
            base = {**os.environ, **aws, "ALOHUB_BASE_URL": sandbox.url, "ALOHUB_API_KEY": API_KEY,
                    "ALOHUB_PARTITIONS_START": day.isoformat()}  # fmt: skip
            base.pop("DAGSTER_HOME", None)
            for repeat in range(sizes.repeats):
                for kind, data_dir in (("local", f"{tmp}/local-{repeat}"),
                                       ("s3", f"s3://alohub-bench/run-{repeat}")):  # fmt: skip
                    env = {**base, "ALOHUB_DATA_DIR": data_dir}
                    started = time.perf_counter()
                    done = subprocess.run([sys.executable, "-m", "dagster",
                                           *daily_job_cli_args(day)], cwd=ROOT, env=env,
                                          capture_output=True, text=True)  # fmt: skip
                    elapsed = time.perf_counter() - started
                    if done.returncode != 0:
                        raise RuntimeError(
                            f"{kind} run failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
                        )
                    (local_times if kind == "local" else s3_times).append(elapsed)
                    os.environ.update(aws)
                    with open_mart(data_dir) as con:
                        kpis.setdefault(kind, con.execute(KPI_QUERY).fetchall())
            objects = len(ObjectStore(parse_s3_uri("s3://alohub-bench/run-0")).list_files(""))
    finally:
        server.stop()
    return EndToEnd(sizes.e2e_calls, local_times, s3_times, kpis["local"] == kpis["s3"], objects)


def render(
    runs: list[BackfillRun],
    sizes: Sizes,
    started: datetime,
    elapsed: float,
    e2e: EndToEnd | None = None,
    commit: str | None = None,
) -> str:
    lines = [
        "# Scale-out benchmarks",
        "",
        f"Made by `python -m bench.scale_out` at commit {commit or commit_stamp()} on "
        f"{started:%Y-%m-%d %H:%M} UTC in {elapsed / 60:.1f} min. Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, dagster {version('dagster')}, "
        f"duckdb {version('duckdb')}, pyarrow {version('pyarrow')}.",
        "",
        f"## Backfill: {sizes.days} days x {sizes.calls_per_day} calls, {sizes.concurrency} runs "
        "at once",
        "",
        "Each run is `dagster asset materialize` of one partition (every asset but the "
        "recordings) in its own process on one instance (the project's `dagster.yaml`), against "
        "the sandbox on 127.0.0.1 with no rate limit, so the mart, not the API quota, is measured. "
        "Pool waits are the seconds between a step's first 'blocked' engine event and its start; "
        "lock waits count the warehouse's 'locked by another process' retries. Steps a run is "
        "how many steps each partition run completed, from the same event log: the two trees "
        "do not build the same number of KPI tables.",
        "",
        "The machine is shared (2 cores, other developers' work running): the 1-minute load "
        "average before and after each backfill is given, and the two backfills run one after "
        "the other, so compare their wall times with that in mind.",
        "",
        "| mart | commit | wall s | load before / after | failed runs | steps a run "
        "| steps blocked on a pool "
        "| pool wait s | DuckDB lock waits | calls (sandbox) | rows in call_logs | distinct calls "
        "| days exact |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.label} | {r.commit} | {r.wall_seconds:.1f} | "
            f"{r.load_before:.1f} / {r.load_after:.1f} | {r.failed_runs} | "
            f"{r.steps / max(r.runs, 1):g} | "
            f"{r.blocked_steps} | {r.pool_wait_seconds:.1f} | {r.lock_waits} | "
            f"{r.calls_expected} | {r.calls_stored} | {r.distinct_calls} | "
            f"{r.days_matching}/{r.runs} |"
        )
    if len(runs) == 2 and runs[1].wall_seconds > 0:
        lines += [
            "",
            f"Wall time ratio old/new: {runs[0].wall_seconds / runs[1].wall_seconds:.2f}.",
        ]
    if e2e is not None:
        local, s3 = statistics.median(e2e.local_seconds), statistics.median(e2e.s3_seconds)
        lines += [
            "",
            f"## One partition end to end: local disk vs S3 ({e2e.calls} calls)",
            "",
            "The daily job through `dagster job execute` (a new process each time, so Dagster's "
            "start-up is included), alternating local disk and an S3 server (moto's server mode "
            f"on 127.0.0.1), median of {len(e2e.local_seconds)} runs each. The KPI tables read "
            "back through `open_mart()` are compared.",
            "",
            "| data on | median s | runs s | objects written | KPIs equal to local |",
            "|---|---|---|---|---|",
            f"| local disk | {local:.2f} | {', '.join(f'{t:.2f}' for t in e2e.local_seconds)} "
            "| - | - |",
            f"| S3 (moto, loopback) | {s3:.2f} | {', '.join(f'{t:.2f}' for t in e2e.s3_seconds)} "
            f"| {e2e.s3_objects} | {'yes' if e2e.same_kpis else '**no**'} |",
            "",
            f"S3 / local: {s3 / local:.2f}. A loopback S3 server has no network latency; a real "
            f"bucket adds a round trip per object read or written ({e2e.s3_objects} objects "
            "written for this partition).",
        ]
    for r in runs:
        for note in r.notes:
            lines += ["", f"Failed run output ({r.label}):", "", "```", note.strip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=Sizes.days)
    parser.add_argument("--calls-per-day", type=int, default=Sizes.calls_per_day)
    parser.add_argument("--concurrency", type=int, default=Sizes.concurrency)
    parser.add_argument("--old-commit", default=OLD_COMMIT)
    parser.add_argument("--skip-old", action="store_true", help="only this tree's mart")
    parser.add_argument("--skip-backfill", action="store_true", help="only local vs S3")
    parser.add_argument("--skip-s3", action="store_true", help="only the backfill")
    parser.add_argument("--repeats", type=int, default=Sizes.repeats)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks-scale-out.md"))
    args = parser.parse_args(argv)
    sizes = (
        QUICK
        if args.quick
        else Sizes(args.days, args.calls_per_day, args.concurrency, repeats=args.repeats)
    )
    started, clock, commit = datetime.now(UTC), time.perf_counter(), commit_stamp()
    runs = []
    with tempfile.TemporaryDirectory(prefix="alohub-old-") as old_dir:
        projects = [] if args.skip_old else [export_commit(args.old_commit, Path(old_dir))]
        for project in [] if args.skip_backfill else [*projects, this_tree(commit)]:
            print(f"backfill on {project.label} ...", flush=True)
            runs.append(bench_backfill(project, sizes))
            print(json.dumps(runs[-1].__dict__, default=str)[:600], flush=True)
    e2e = None
    if not args.skip_s3:
        print("one partition, local disk vs S3 ...", flush=True)
        e2e = bench_end_to_end_s3(sizes)
    text = render(runs, sizes, started, time.perf_counter() - clock, e2e, commit)
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
