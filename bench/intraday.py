"""What refreshing today costs: a section of `make bench` (docs/benchmarks.md).

The sandbox allows 10 requests a second (its default rate, on 1 s windows): the refreshes follow
each other at once rather than 15 minutes apart, so they meet the quota and must be paced.

A 20,000-call day on the sandbox (in its own process, its clock set to each refresh's moment),
refreshed every 15 minutes from 07:00 to 18:00 as ``intraday_refresh_schedule`` would, through
the landing the ``raw_call_logs`` asset runs (``land_call_logs`` with a refresh policy). At 18:00
the day so far is also read whole into another folder: the refresh's requests are compared with
that full read's, and both landings are built into ``call_logs`` and compared call by call. Once
for each way the sandbox can list calls in progress (the vendor document does not say): once
ended, five minutes after ending, and from their start (no end time until they end).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq

from alohub_assets.api.client import AloHubClient, tls_context
from alohub_assets.api.records import ICT
from alohub_assets.defs.ingest.call_logs import build_call_logs
from alohub_assets.storage.landing import land_call_logs
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.refresh import RefreshPolicy
from bench.common import API_KEY, Result, sandbox_process

DAY = date(2026, 3, 4)
TARGET_RATIO = 0.15
#: 10 requests a second, the sandbox's default rate (100 per 10 s) on 1 s windows: refreshes here
#: follow each other at once instead of 15 minutes apart, so they meet the quota and are paced,
#: which is what "no 429 in steady state" is about (the first refresh teaches the pacer).
RATE_ARGS = ["--rate-limit", "10", "--window-seconds", "1"]
LISTINGS = {
    "once ended": ["--list-calls", "ended"],
    "5 min after ending": ["--list-calls", "ended", "--list-delay", "300"],
    "from the start": ["--list-calls", "started"],
}


@dataclass
class Refresh:
    clock: str
    requests: int
    rate_limited: int
    seconds: float
    rows_read: int
    rows_kept: int
    windows: int


def _list_requests(url: str) -> tuple[int, int]:
    counts = httpx.get(f"{url}/_sandbox/stats", timeout=30, verify=tls_context()).json()["requests"]
    sent = sum(n for key, n in counts.items() if key.startswith("list:"))
    return sent, counts.get("list:429", 0)


def _land(url: str, store: Warehouse, state: Path, refresh: RefreshPolicy | None):
    before, limited_before = _list_requests(url)
    started = time.perf_counter()
    with AloHubClient(API_KEY, base_url=url, rate_state_path=str(state)) as client:
        landed = land_call_logs(client, store, DAY, refresh=refresh)
    seconds = time.perf_counter() - started
    after, limited_after = _list_requests(url)
    return landed, after - before, limited_after - limited_before, seconds


def run_listing(name: str, args: list[str], calls: int, until: str, every: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp, sandbox_process(
        "--start", DAY.isoformat(), "--end", DAY.isoformat(), "--calls-per-day", str(calls),
        *RATE_ARGS, *args,
    ) as sandbox:  # fmt: skip
        state = Path(tmp) / "quota.sqlite3"
        store = Warehouse.at(Path(tmp) / "refreshed")
        last = datetime.combine(DAY, datetime.strptime(until, "%H:%M").time(), tzinfo=ICT)
        moment = datetime.combine(DAY, datetime.strptime("07:00", "%H:%M").time(), tzinfo=ICT)
        refreshes: list[Refresh] = []
        while moment <= last:
            httpx.post(
                f"{sandbox.url}/_sandbox/clock",
                json={"now": moment.isoformat()},
                verify=tls_context(),
            )
            landed, sent, limited, seconds = _land(sandbox.url, store, state, RefreshPolicy())
            refreshes.append(
                Refresh(
                    moment.strftime("%H:%M"),
                    sent,
                    limited,
                    seconds,
                    landed.rows,
                    landed.rows_kept,
                    len(landed.windows),
                )
            )
            print(f"  {name} {refreshes[-1]}", flush=True)
            moment += timedelta(minutes=every)
        full_store = Warehouse.at(Path(tmp) / "full")
        _, full_sent, full_limited, full_seconds = _land(sandbox.url, full_store, state, None)
        build_call_logs(store, DAY)
        build_call_logs(full_store, DAY)
        refreshed = pq.read_table(store.call_logs_file(DAY)).sort_by("call_id")
        whole = pq.read_table(full_store.call_logs_file(DAY)).sort_by("call_id")
    last_refresh = refreshes[-1]
    return {
        "listing": name,
        "refreshes": refreshes,
        "full_requests": full_sent,
        "full_rate_limited": full_limited,
        "full_seconds": full_seconds,
        "ratio": last_refresh.requests / full_sent,
        "steady_429": sum(r.rate_limited for r in refreshes[1:]),
        "same_calls": refreshed.column("call_id").equals(whole.column("call_id")),
        "same_rows": refreshed.equals(whole),
        "calls": refreshed.num_rows,
    }


@dataclass
class IntradaySizes:
    calls: int = 20_000
    every_minutes: int = 15
    until: str = "18:00"
    listings: tuple[str, ...] = tuple(LISTINGS)


#: What `make test` runs (one listing: tests/test_intraday.py covers the others).
QUICK_INTRADAY = IntradaySizes(
    calls=600, every_minutes=120, until="11:00", listings=("once ended",)
)


def run_intraday(sizes: IntradaySizes) -> list[Result]:
    """One result per way of listing calls in progress: the last refresh against a full read."""
    results = []
    for name in sizes.listings:
        r = run_listing(name, LISTINGS[name], sizes.calls, sizes.until, sizes.every_minutes)
        last = r["refreshes"][-1]
        results.append(
            Result(
                f"{sizes.calls:,}-call day refreshed every {sizes.every_minutes} min from 07:00, "
                f"calls listed {name}",
                {
                    f"{sizes.until} refresh requests": last.requests,
                    "full read requests": r["full_requests"],
                    "ratio": round(r["ratio"], 3),
                    "429s after the first refresh": r["steady_429"],
                    "refreshes": len(r["refreshes"]),
                    "requests of all refreshes": sum(x.requests for x in r["refreshes"]),
                    "calls": r["calls"],
                    "same rows as the full read": "yes" if r["same_rows"] else "NO",
                },
                f"ratio <= {TARGET_RATIO}, no 429 after the first refresh, same rows",
                r["ratio"] <= TARGET_RATIO and r["steady_429"] == 0 and r["same_rows"],
                note=(
                    f"{last.rows_read:,} rows read and {last.rows_kept:,} kept by the "
                    f"{sizes.until} refresh in {last.seconds:.2f} s; the full read took "
                    f"{r['full_seconds']:.2f} s"
                ),
                runs=[{**r, "refreshes": [x.__dict__ for x in r["refreshes"]]}],
            )
        )
    return results
