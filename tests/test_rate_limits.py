"""Rate windows counted three ways, pages read concurrently, one quota shared by processes.

Over real HTTP to the sandbox with short windows; nothing here asserts a duration (the
benchmarks measure pacing), only what a user would check: the right rows, once each."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from alohub_assets.api.client import AloHubClient, tls_context
from alohub_assets.api.rate_limit import (
    PostgresQuotaStore,
    QuotaPacer,
    QuotaStoreError,
    SqliteQuotaStore,
)
from alohub_assets.api.records import ICT, local_day_window
from bench import common as bench_common
from bench.rate_limits import QUICK_RATE, bench_pods_one_quota
from tests.support import API_KEY, DAY, ListSink, list_call_logs

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("fixed", "sliding", "token")
LIMIT_0 = {"X-RateLimit-Limit-Tenant": "5", "X-RateLimit-Remaining-Tenant": "0"}


@pytest.fixture(params=["sqlite", "postgres"])
def quota_store(request, tmp_path):
    """Makes stores on one shared quota state: a machine's SQLite file, or a deployment's
    Postgres table. Each store made is one more process (or machine) on that state."""
    made = []
    if request.param == "sqlite":

        def connect():
            return SqliteQuotaStore(tmp_path / "quota.sqlite3", "k")
    else:
        server = request.getfixturevalue("postgres_server")
        database = server.create_database(f"quota_{tmp_path.name.lower()}"[:60])
        url = f"postgresql://{server.user}@{server.host}:{server.port}/{database}"

        def connect():
            return PostgresQuotaStore(url, "k")

    def make():
        made.append(connect())
        return made[-1]

    yield make
    for store in made:
        store.close()


def simulated_clock(start: float = 1000.0):
    """(now, sleep) of one simulated clock: sleeping moves it."""
    clock = [start]
    return (lambda: clock[0]), (lambda seconds: clock.__setitem__(0, clock[0] + seconds))


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
from alohub_assets.api.client import AloHubClient, tls_context
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
            httpx.post(
                f"{sandbox.url}/v1/reports/call-logs",
                headers={"X-Api-Key": API_KEY},
                verify=tls_context(),
            )
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
def test_the_pacer_learns_how_the_server_counts_and_then_meets_no_429(kind, quota_store):
    clock = [1000.0]
    server = SimulatedServer(kind, phase=1003.0)

    def run(requests: int) -> tuple[int, float]:
        """429s, and the simulated seconds from the first request sent to the last."""
        pacer = QuotaPacer(quota_store(), clock=lambda: clock[0])  # a later run: a new store
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
    with quota_store().transaction() as state:
        assert state.kind == kind
    clock[0] += 60
    refused, seconds = run(45)
    assert refused == 0  # a later run starts with the kind known...
    # ...and uses a bucket's refill, not a window's pace (simulated seconds: the schedule the
    # pacer chose, not a measured duration). 45 requests at 10 per 10 s: 35 tokens at 1 a
    # second, or 4 whole windows.
    least = 35.0 if kind == "token" else 40.0
    assert seconds <= least * 1.02


def test_room_goes_to_the_oldest_waiting_pacer_first(quota_store):
    """Two runs share a spent quota: the one that started first gets the next request even
    when it wakes later, so one run finishes its fetch while the other writes, and the quota
    is not left idle by both finishing at once."""
    with quota_store().transaction() as learned:
        learned.kind = "sliding"  # learned before: no probe
    older = QuotaPacer(quota_store(), window_seconds=1.0)
    younger = QuotaPacer(quota_store(), window_seconds=1.0)
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


def test_a_crashed_waiter_holds_no_place(quota_store):
    """A run that asked for room and then vanished (its process killed while it waited) keeps
    its place in the queue for 5 s at most: a younger run gets the first room after that, not
    only the room left once the vanished run's turn would have passed. Simulated clock."""
    now, sleep = simulated_clock()
    with quota_store().transaction() as state:  # 2 a window, spent at 999.0 and 999.95
        state.kind, state.limit, state.sends = "sliding", 2, [999.0, 999.95]
        state.remaining, state.observed_at = 0, 999.95

    class Killed(Exception):
        pass

    def killed(seconds: float) -> None:
        raise Killed

    with pytest.raises(Killed):  # waits in the queue (room at 1009.04), then is gone
        QuotaPacer(quota_store(), clock=now).acquire(sleep=killed)
    sleep(1.0)
    younger = QuotaPacer(quota_store(), clock=now)
    ticket, _ = younger.acquire(sleep=sleep)
    # The first room (one request aged out) at 1009.04; waiting on behind the vanished run
    # would have meant the second, at 1009.99.
    assert 1009.04 < ticket.sent_at < 1009.5


def test_a_429_blocks_every_pacer_on_the_state(quota_store):
    """One process (or machine) is told Retry-After 3 s; another sends nothing before."""
    now, sleep = simulated_clock()
    told, other = QuotaPacer(quota_store(), clock=now), QuotaPacer(quota_store(), clock=now)
    ticket, _ = told.acquire(sleep=sleep)
    told.observe(ticket, LIMIT_0, retry_after=3.0)
    later, waited = other.acquire(sleep=sleep)
    assert later.sent_at >= 1003.0 and waited >= 3.0


def test_tickets_taken_at_once_are_one_transaction_each(quota_store):
    """Four processes' pacers (one connection each) take 100 tickets at the same time: the
    shared log holds every one; none was written over by another's transaction."""
    with quota_store().transaction() as state:
        state.kind, state.limit = "sliding", 1000
    pacers = [QuotaPacer(quota_store(), window_seconds=60.0) for _ in range(4)]
    threads = [
        threading.Thread(target=lambda p=p: [p.acquire() for _ in range(25)]) for p in pacers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with quota_store().transaction() as state:
        assert len(state.sends) == len(state.pending) == 100


def test_a_postgres_connection_lost_between_tickets_is_replaced(postgres_server, tmp_path):
    """The database restarts or fails over between two tickets: the next ticket is taken on a
    new connection, from the state the old one wrote."""
    import psycopg2

    database = postgres_server.create_database(f"lost_{tmp_path.name.lower()}"[:60])
    where = f"{postgres_server.user}@{postgres_server.host}:{postgres_server.port}/{database}"
    now, sleep = simulated_clock()
    pacer = QuotaPacer(PostgresQuotaStore(f"postgresql://{where}", "k"), clock=now)
    first, _ = pacer.acquire(sleep=sleep)
    admin = psycopg2.connect(f"postgresql://{where}")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'alohub-rate-pacer' AND datname = %s",
            (database,),
        )
        assert cursor.fetchall() == [(True,)]
    admin.close()
    second, _ = pacer.acquire(sleep=sleep)
    with pacer.store.transaction() as state:
        assert state.pending == [first.sent_at, second.sent_at]
    pacer.store.close()


def password_role(server, name: str) -> tuple[str, str, str]:
    """A role that must give its password (scram-sha-256 on loopback, unlike the tests' trust)
    and a database it owns, on the tests' server: (role, password, database)."""
    import psycopg2

    role, password = f"pacer_{name}"[:40], "pw-Zq81NeverShownAnywhere"
    hba = server.data_dir / "pg_hba.conf"
    hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    connection = psycopg2.connect(host=server.host, port=server.port, user=server.user)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (password,))
            cursor.execute(f"CREATE DATABASE {role} OWNER {role}")
            cursor.execute("SELECT pg_reload_conf()")
    finally:
        connection.close()
    return role, password, role


def test_the_state_password_comes_from_pgpassword_and_is_never_shown(
    postgres_server, sandbox, tmp_path, monkeypatch, caplog, rate_state_file
):
    import psycopg2

    role, password, database = password_role(postgres_server, tmp_path.name.lower())
    where = f"{postgres_server.host}:{postgres_server.port}/{database}"
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))  # no ~/.pgpass either
    monkeypatch.delenv("PGPASSWORD", raising=False)
    caplog.set_level(logging.DEBUG)
    window = local_day_window(DAY)

    # ALOHUB_RATE_STATE_URL without a password, and none in PGPASSWORD: a clear refusal.
    monkeypatch.setenv("ALOHUB_RATE_STATE_URL", f"postgresql://{role}@{where}")
    with pytest.raises(QuotaStoreError, match="no password supplied") as refused:
        sandbox.client()
    # With PGPASSWORD (libpq's own variable): the client paces from the table, not the file
    # ALOHUB_RATE_STATE_PATH names (the URL wins).
    monkeypatch.setenv("PGPASSWORD", password)
    with sandbox.client() as client:
        client.count_call_logs(*window)
    assert not rate_state_file.exists()
    db = psycopg2.connect(f"postgresql://{role}@{where}")
    with db.cursor() as cursor:
        cursor.execute("SELECT state FROM alohub_rate_quota")
        (state,) = cursor.fetchone()
    db.close()
    assert len(json.loads(state)["sends"]) == 1  # the count's ticket

    # A password put in the URL anyway works, and no repr, error or log line shows it.
    monkeypatch.delenv("PGPASSWORD")
    monkeypatch.delenv("ALOHUB_RATE_STATE_URL")
    with sandbox.client(rate_state_url=f"postgresql://{role}:{password}@{where}") as client:
        client.count_call_logs(*window)
        shown = repr(client._pacer.store)
    errors = [refused.value]
    for url in (f"postgresql://{role}:{password}-wrong@{where}", f"mysql://{role}:{password}@h/d"):
        with pytest.raises(QuotaStoreError) as info:
            AloHubClient(API_KEY, base_url=sandbox.url, rate_state_url=url)
        errors.append(info.value)
    assert "password authentication failed" in str(errors[1])
    assert shown == f"PostgresQuotaStore('postgresql://{role}:***@{where}')"
    texts = [shown, caplog.text] + [t for e in errors for t in traceback.format_exception(e)]
    assert not [text for text in texts if password in text]


def test_runs_as_pods_keep_one_quota_only_with_the_state_in_postgres(postgres_server, monkeypatch):
    """Four partition runs as a cluster runs them (bench.rate_limits.run_pods): each a process
    with its own temp folder, data folder and DAGSTER_HOME, one Dagster instance in Postgres
    with the pool alohub_api at 4 slots, one sliding-window quota. With the pacer's state in
    Postgres (ALOHUB_RATE_STATE_URL) every call lands once and 429s stay within 1 % of the
    requests; with the SQLite default (each pod its own file) the same runs overrun the quota.
    Nothing timed here: `make bench` measures the same set-up against the bound. The process
    that forks the pods is forked from this one (Dagster loaded), not started fresh."""
    monkeypatch.setattr(bench_common, "FORK_WORKERS", True)
    # 20 a second: a pod alone reaches that pace even on 2 busy cores, so pods pacing each from
    # a file of its own overrun the quota whenever two of them overlap. At 80 a second, four
    # pods slowed by the other tests' load stayed under it together (no 429 to see).
    sizes = dataclasses.replace(
        QUICK_RATE, limit=20, window_seconds=1.0, concurrent_runs=4, concurrent_partitions=4,
        concurrent_calls_per_day=300,
    )  # fmt: skip
    # A margin of 0.5 s (default 40 ms) for the gap between a ticket and its request reaching
    # the server: this test shares 2 cores with others, and 1 % of its ~170 requests is one 429.
    # At 0.25 s a fresh clone's `make test` (every core busy) once saw a second 429 here.
    alohub = {"page_size": 10, "rate_margin_seconds": 0.5}
    result = bench_pods_one_quota(
        sizes, postgres_server, assets=["raw_call_logs", "call_logs"], alohub=alohub
    )
    shared, apart = result.runs
    for measured in (shared, apart):
        assert measured["pool"] == 4
        assert measured["calls"] == 4 * 300 and measured["duplicates"] == 0
        assert [run["calls"] for run in measured["runs"]] == [300] * 4  # one day each
    assert shared["requests"] >= 100  # so that 1 % allows the one probe of the learning
    assert shared["limited"] <= 0.01 * (shared["requests"] + shared["limited"])
    assert apart["limited"] > 0.01 * (apart["requests"] + apart["limited"])
