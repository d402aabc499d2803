"""Rate windows counted three ways, pages read concurrently, one quota shared by processes.

Over real HTTP to the sandbox with short windows; nothing here asserts a duration (the
benchmarks measure pacing), only what a user would check: the right rows, once each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from alohub_assets.api.records import ICT, local_day_window
from tests.support import API_KEY, DAY, ListSink, list_call_logs

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("fixed", "sliding", "token")


def truth_rows(sandbox, start, end, call_type=None) -> list[dict]:
    """The rows the sandbox serves for the window, in its order (what one huge page holds)."""
    return sandbox.store.list_rows(start, end, call_type, now=datetime.now(ICT))


@pytest.mark.parametrize("kind", KINDS)
def test_every_row_once_in_page_order_on_each_window_kind(make_sandbox, kind):
    sandbox = make_sandbox(tenant_limit=5, route_limit=5, window_seconds=1.0, rate_window=kind)
    start, end = local_day_window(DAY)
    with sandbox.client(page_size=30, rate_window_seconds=1.0) as client:
        inbound = list_call_logs(client, start, end, call_type=0)
        outbound = list_call_logs(client, start, end, call_type=1)
    served = sandbox.requests()
    pages = -(-len(inbound) // 30) + -(-len(outbound) // 30)
    assert served["list:200"] == client.stats.pages == pages
    # The same rows in the same order as one big page: pages were written in page order.
    assert inbound == truth_rows(sandbox, start, end, 0)
    assert outbound == truth_rows(sandbox, start, end, 1)
    assert served.get("list:429", 0) == client.stats.rate_limited


def test_pages_in_flight_is_what_the_resource_sets(make_sandbox):
    from alohub_assets.defs.resources import AloHubResource

    sandbox = make_sandbox()
    resource = AloHubResource(base_url=sandbox.url, api_key=API_KEY, pages_in_flight=3)
    seen: list[int] = []
    lock = threading.Lock()
    three_at_once = threading.Event()
    in_flight = 0

    class Counting(httpx.HTTPTransport):
        def handle_request(self, request):
            nonlocal in_flight
            with lock:
                in_flight += 1
                seen.append(in_flight)
                if in_flight >= 3:
                    three_at_once.set()
            try:
                # After page 1, hold each request until three are in flight together (no timing
                # luck); a client that never sends three at once only loses the 2 s time-outs.
                if len(seen) > 1:
                    three_at_once.wait(timeout=2)
                return super().handle_request(request)
            finally:
                with lock:
                    in_flight -= 1

    with resource.get_client() as client:
        client._http._transport = Counting()
        rows = list_call_logs(client, *local_day_window(DAY))
    assert client.pages_in_flight == 3
    assert max(seen) == 3  # more than one page at a time, never more than the setting
    assert rows == truth_rows(sandbox, *local_day_window(DAY))


def test_drift_while_pages_are_in_flight_rereads_the_window(make_sandbox):
    sandbox = make_sandbox()
    # The 4th request of the read (some page among those in flight) sees a late call land.
    sandbox.server.state.forced_faults = [None, None, None, "drift"]
    start, end = local_day_window(DAY)
    sink = ListSink()
    with sandbox.client(page_size=40) as client:
        result = client.read_window(start, end, sink)
    assert client.pages_in_flight > 1
    assert result.rereads == 1 and client.stats.window_rereads == 1
    assert sink.rows == truth_rows(sandbox, start, end)  # the late call, nothing twice
    assert len(sink.rows) == result.total_record


def test_a_429_from_another_process_spending_is_honoured_by_every_process(make_sandbox, tmp_path):
    """Process B waits out the Retry-After that process A was given, without asking itself."""
    sandbox = make_sandbox(tenant_limit=3, route_limit=3, window_seconds=3.0, rate_window="sliding")
    state = tmp_path / "quota.sqlite3"
    go, out = tmp_path / "go", tmp_path / "b.json"
    script = f"""
import json, time
from pathlib import Path
from alohub_assets.api.client import AloHubClient
from alohub_assets.api.records import ICT, local_day_window
from datetime import date
while not Path({str(go)!r}).exists():
    time.sleep(0.01)
with AloHubClient({API_KEY!r}, base_url={sandbox.url!r}, rate_window_seconds=3.0,
                  rate_state_path={str(state)!r}) as client:
    client.count_call_logs(*local_day_window(date.fromisoformat({DAY.isoformat()!r})))
    Path({str(out)!r}).write_text(json.dumps(client.stats.as_dict()))
"""
    process_b = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=os.environ.copy())
    try:
        # Someone outside the shared state (another machine, a script) spends the quota.
        for _ in range(3):
            httpx.post(f"{sandbox.url}/v1/reports/call-logs", headers={"X-Api-Key": API_KEY})
        start, end = local_day_window(DAY)
        with sandbox.client(rate_window_seconds=3.0, rate_state_path=str(state)) as client_a:
            first = client_a._pacer.acquire()[0]
            answer = client_a._http.post(
                "/v1/reports/call-logs",
                json={"callStartTime": start.isoformat(), "callEndtime": end.isoformat()},
            )
            assert answer.status_code == 429
            client_a._pacer.observe(
                first, answer.headers, retry_after=float(answer.headers["Retry-After"])
            )
            go.touch()  # B starts asking only now, after A's 429
            assert process_b.wait(timeout=60) == 0
    finally:
        process_b.kill()
    stats_b = json.loads(out.read_text())
    assert stats_b["rate_limited_429"] == 0  # B never asked too early...
    assert stats_b["seconds_slept"] > 0  # ...because it waited out A's Retry-After
    assert sandbox.requests()["list:429"] == 1  # A's answer only


@pytest.mark.parametrize("kind", KINDS)
def test_limit_change_mid_day_loses_and_duplicates_nothing(make_sandbox, kind):
    sandbox = make_sandbox(tenant_limit=6, route_limit=6, window_seconds=1.0, rate_window=kind)
    start, end = local_day_window(DAY)

    class ChangeLimit(ListSink):
        def write_page(self, rows):
            super().write_page(rows)
            if len(self.rows) > 60:  # the tenant's plan changes while the day is read
                sandbox.config.tenant_limit = sandbox.config.route_limit = 2
            if len(self.rows) > 200:
                sandbox.config.tenant_limit = sandbox.config.route_limit = 8

    sink = ChangeLimit()
    with sandbox.client(page_size=20, rate_window_seconds=1.0) as client:
        result = client.read_window(start, end, sink)
    assert sink.rows == truth_rows(sandbox, start, end)
    assert Counter(r["callId"] for r in sink.rows) == Counter(
        c.call_id for c in sandbox.store.calls_on(DAY) for _ in c.customer_names
    )
    assert result.rows == result.total_record == len(sink.rows)


class SimulatedServer:
    """A server counting `limit` per `window` one way, on a simulated clock (no HTTP): the
    pacer's learning is checked on every kind without waiting real seconds."""

    def __init__(self, kind: str, limit: int = 10, window: float = 10.0, phase: float = 3.0):
        self.kind, self.limit, self.window, self.phase = kind, limit, window, phase
        self.log: list[float] = []
        self.tokens, self.last = float(limit), 0.0

    def answer(self, now: float) -> tuple[dict[str, str], float | None]:
        if self.kind == "token":
            self.tokens = min(
                self.limit, self.tokens + (now - self.last) * self.limit / self.window
            )
            self.last = now
            wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) * self.window / self.limit
            self.tokens -= 1 if wait == 0 else 0
            left = int(self.tokens)
        else:
            if self.kind == "fixed":
                start = (now - self.phase) // self.window * self.window + self.phase
                counted = [t for t in self.log if t >= start]
                wait = start + self.window - now
            else:
                counted = [t for t in self.log if t > now - self.window]
                wait = counted[0] + self.window - now if counted else 0.0
            wait = 0.0 if len(counted) < self.limit else wait
            self.log += [now] if wait == 0 else []
            left = self.limit - len(counted) - (1 if wait == 0 else 0)
        headers = {"X-RateLimit-Limit-Tenant": str(self.limit),
                   "X-RateLimit-Remaining-Tenant": str(max(left, 0))}  # fmt: skip
        return headers, (max(1.0, float(-(-wait // 1))) if wait > 0 else None)


@pytest.mark.parametrize("kind", KINDS)
def test_the_pacer_learns_how_the_server_counts_and_then_meets_no_429(kind, tmp_path):
    from alohub_assets.api.rate_limit import QuotaPacer, SqliteQuotaStore

    clock = [1000.0]
    server = SimulatedServer(kind, phase=1003.0)

    def run(requests: int) -> tuple[int, float]:
        """429s, and the simulated seconds from the first request sent to the last."""
        pacer = QuotaPacer(SqliteQuotaStore(tmp_path / "q.sqlite3", "k"), clock=lambda: clock[0])
        refused, sent = 0, []
        while requests:
            ticket, _ = pacer.acquire(sleep=lambda s: clock.__setitem__(0, clock[0] + s))
            sent.append(ticket.sent_at)
            clock[0] += 0.01  # the round trip
            headers, retry_after = server.answer(clock[0])
            pacer.observe(ticket, headers, retry_after=retry_after)
            if retry_after is None:
                requests -= 1
            else:
                refused += 1
                clock[0] += retry_after
        return refused, sent[-1] - sent[0]

    assert run(40)[0] <= 1  # at most the one probe that tells the kinds apart
    with SqliteQuotaStore(tmp_path / "q.sqlite3", "k").transaction() as state:
        assert state.kind == kind
    clock[0] += 60
    refused, seconds = run(45)
    assert refused == 0  # a later run starts with the kind known...
    # ...and uses a bucket's refill, not a window's pace (simulated seconds: the schedule the
    # pacer chose, not a measured duration). 45 requests at 10 per 10 s: 35 tokens at 1 a
    # second, or 4 whole windows.
    least = 35.0 if kind == "token" else 40.0
    assert seconds <= least * 1.02


def test_room_goes_to_the_oldest_waiting_pacer_first(tmp_path):
    """Two runs share a spent quota: the one that started first gets the next request even
    when it wakes later, so one run finishes its fetch while the other writes, and the quota
    is not left idle by both finishing at once."""
    from alohub_assets.api.rate_limit import QuotaPacer, SqliteQuotaStore

    state = tmp_path / "quota.sqlite3"
    with SqliteQuotaStore(state, "k").transaction() as learned:
        learned.kind = "sliding"  # learned before: no probe
    older = QuotaPacer(SqliteQuotaStore(state, "k"), window_seconds=1.0)
    younger = QuotaPacer(SqliteQuotaStore(state, "k"), window_seconds=1.0)
    for remaining in (1, 0):  # the younger run spends the quota of 2 per second...
        ticket, _ = younger.acquire()
        younger.observe(ticket, {"X-RateLimit-Limit-Tenant": "2",
                                 "X-RateLimit-Remaining-Tenant": str(remaining)})  # fmt: skip
        time.sleep(0.3)  # ...in two requests that age out one at a time
    granted: list[str] = []
    younger_waiting = threading.Event()

    def take(name: str, pacer: QuotaPacer, sleep) -> None:
        pacer.acquire(sleep)
        granted.append(name)

    def younger_sleep(seconds: float) -> None:
        younger_waiting.set()
        time.sleep(seconds)

    def older_sleep(seconds: float) -> None:  # the older run is the slower to wake
        time.sleep(seconds + 0.2)

    first = threading.Thread(target=take, args=("younger", younger, younger_sleep))
    first.start()
    assert younger_waiting.wait(timeout=5)  # the younger run asked first...
    second = threading.Thread(target=take, args=("older", older, older_sleep))
    second.start()
    first.join(timeout=10)
    second.join(timeout=10)
    assert granted == ["older", "younger"]  # ...and the older one was served first


def test_an_answer_overtaken_by_a_later_request_gives_no_room_back():
    """Two pages in flight: the one sent first reaches the bucket second, but its answer comes
    back first. The later answer shows more tokens left; the pacer must still count the first
    page as spent, or it sends one request too many (a 429)."""
    from alohub_assets.api.rate_limit import MemoryQuotaStore, QuotaPacer

    clock = [100.0]
    store = MemoryQuotaStore()
    pacer = QuotaPacer(store, clock=lambda: clock[0])
    with store.transaction() as state:  # learned: a bucket of 10, 3 tokens left at t = 100
        state.kind, state.limit, state.remaining, state.observed_at = "token", 10, 3, 100.0
    clock[0] = 101.0  # one token refilled: 4
    first, _ = pacer.acquire()
    clock[0] = 101.001
    second, _ = pacer.acquire()
    # The bucket took the second (4 -> 3), then the first (3 -> 2): 2 tokens are left.
    clock[0] = 101.01
    pacer.observe(first, {"X-RateLimit-Limit-Tenant": "10", "X-RateLimit-Remaining-Tenant": "2"})
    clock[0] = 101.02
    pacer.observe(second, {"X-RateLimit-Limit-Tenant": "10", "X-RateLimit-Remaining-Tenant": "3"})
    with store.transaction() as state:
        assert pacer.room(state, clock[0]) == 2
