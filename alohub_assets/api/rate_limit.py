"""Pacing to a quota whatever way the server counts it, shared by every process of the tenant.

The vendor document says only "limit/10s" and gives ``X-RateLimit-*`` and ``Retry-After``; it does
not say how a window is counted. Gateways count fixed windows (reset on a clock), sliding windows
(a request ages out a window after it was seen) or token buckets (refilled continuously). The
pacer keeps a log of send times, learns the limit and ``Remaining`` from every answer, and
models the server's counting:

- ``unknown`` and ``sliding``: room = the limit less the requests of the last window, checked
  against the last ``Remaining`` (which also counts other machines' spending). This rule is safe
  on all three kinds, so it is where the pacer starts; it never waits more than a window.
- once the quota is spent and the kind is unknown, it sends one probe a token's refill time
  later. A bucket answers 200 (the kind is ``token``: then it sends as tokens come back); a
  window answers 429 with ``Retry-After``. A wait as long as the log predicts means a sliding
  window (or a fixed one starting where the log does: the same pacing); a shorter one means a
  fixed window whose reset is then seen as ``Remaining`` jumping back up (``fixed``: then it
  sends the whole quota at each reset).
- a 429 blocks every process until its ``Retry-After``; an unexpected one sends the pacer back
  to ``unknown``.
- room goes to the oldest waiting pacer first (first come, first served between processes): of
  four concurrent partition runs one fetches at the whole quota while the others write files,
  instead of all four fetching at a quarter and then all leaving the quota idle together.

The state lives in a small SQLite file (one row per API and tenant) so that concurrent runs,
the daily run and a recordings run pace as one client; what was learned survives the process,
so a later run does not probe again. Run pods and run containers share no disk: for them the
same row lives in a Postgres table (``PostgresQuotaStore``, the deployment's database), with the
same one transaction per ticket and answer. A margin (default 40 ms) covers the time between
our clock reading and the server's; it is never a whole window. No Dagster import; psycopg2
only when the Postgres store is used.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

KINDS = ("unknown", "sliding", "fixed", "token")
DEFAULT_MARGIN_SECONDS = 0.04
MAX_SLEEP_SECONDS = 1.0  # re-read the shared state at least this often while waiting
PENDING_SECONDS = 60.0  # a request unanswered this long (a crashed process) no longer counts
WAITER_STALE_SECONDS = 5.0  # a waiter not seen this long (a crashed process) holds no place
RESERVED_POLL_SECONDS = 0.05  # room is there but an older waiter is about to take it
LIMIT_HEADERS = ("X-RateLimit-Limit-Tenant", "X-RateLimit-Limit-Route")
REMAINING_HEADERS = ("X-RateLimit-Remaining-Tenant", "X-RateLimit-Remaining-Route")


@dataclass
class QuotaState:
    """What every process knows about one tenant's quota (times are epoch seconds)."""

    limit: int | None = None
    kind: str = "unknown"
    sends: list[float] = field(default_factory=list)  # by every process sharing the state
    remaining: float | None = None  # the last Remaining the server reported (token: rolled)...
    observed_at: float = 0.0  # ...for the request sent at this moment
    blocked_until: float = 0.0  # a 429's Retry-After, honoured by all
    reset_at: float | None = None  # fixed: a send that saw the window reset (on or after it)
    probe_due: bool = True  # a probe may be sent when the quota is spent and the kind unknown
    expect_jump: bool = False  # a probe got a wait shorter than the log predicts
    promised_at: float | None = None  # a 429's end, when the server will take one request
    pending: list[float] = field(default_factory=list)  # sent, not yet answered
    unsure: list[float] = field(default_factory=list)  # sent before the observed one and
    # unanswered then: maybe not counted in its Remaining, until their own answers tell
    waiting: dict[str, list[float]] = field(default_factory=dict)  # id: [place, place, seen at]
    answered: list[list[float]] = field(default_factory=list)  # [sent, answered, Remaining]

    @classmethod
    def from_json(cls, text: str | None) -> QuotaState:
        if not text:
            return cls()
        known = {k: v for k, v in json.loads(text).items() if k in cls.__dataclass_fields__}
        if not isinstance(known.get("unsure", []), list):  # a state file of an older version
            known["unsure"] = []
        return cls(**known)

    def to_json(self) -> str:
        # Every field is a JSON value already: no deep copy (``asdict``) per request.
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class Ticket:
    """One permission to send; hand it back to ``observe`` with the answer."""

    sent_at: float
    probe: bool = False


# -------------------------------------------------------------------------------------- stores


class QuotaStore(Protocol):
    """Where the pacers of one quota keep their state: one read-modify-write at a time."""

    def transaction(self) -> AbstractContextManager[QuotaState]: ...

    def close(self) -> None: ...


class QuotaStoreError(RuntimeError):
    """The shared state cannot be read or written; the text never holds a password."""


class MemoryQuotaStore:
    """The state in this process only (notebooks, unit tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = QuotaState()

    @contextmanager
    def transaction(self) -> Iterator[QuotaState]:
        with self._lock:
            yield self._state

    def close(self) -> None:
        pass


class SqliteQuotaStore:
    """The state in a SQLite file: one row per quota, read and written in one immediate
    transaction, so processes on one machine take turns and see each other's sends."""

    def __init__(self, path: str | Path, key: str):
        self.path = Path(path)
        self.key = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(self.path), timeout=60, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # pacing state: no fsync per ticket
        self._db.execute("CREATE TABLE IF NOT EXISTS quota (key TEXT PRIMARY KEY, state TEXT)")

    @contextmanager
    def transaction(self) -> Iterator[QuotaState]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT state FROM quota WHERE key = ?", (self.key,)
                ).fetchone()
                state = QuotaState.from_json(row[0] if row else None)
                yield state
                self._db.execute(
                    "INSERT INTO quota (key, state) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET state = excluded.state",
                    (self.key, state.to_json()),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self._db.close()


RATE_STATE_TABLE = "alohub_rate_quota"
_TABLE_LOCK = 0x616C6F68  # pg_advisory_xact_lock key: one process creates the table
_SQL = {  # the table's name written out: no statement is composed at run time
    "create": "CREATE TABLE IF NOT EXISTS alohub_rate_quota "
    "(key TEXT PRIMARY KEY, state TEXT NOT NULL)",
    "lock": "SELECT state FROM alohub_rate_quota WHERE key = %s FOR UPDATE",
    "add": "INSERT INTO alohub_rate_quota (key, state) VALUES (%s, '') "
    "ON CONFLICT (key) DO NOTHING",
    "write": "UPDATE alohub_rate_quota SET state = %s WHERE key = %s",
}
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")


class PostgresQuotaStore:
    """The state in a Postgres table, for processes on machines that share no disk (run pods,
    run containers): one row per quota, locked by ``SELECT ... FOR UPDATE`` for the one
    transaction of each ticket and answer, as ``BEGIN IMMEDIATE`` does for the SQLite file.

    ``url`` is ``postgresql://user@host:port/db``; the password comes from libpq's
    ``PGPASSWORD`` (or ``~/.pgpass``). One put in the URL anyway is used but never shown: not
    in ``repr``, not in an error. The table is created when missing. The pacer's clock is this
    machine's clock set to the database server's (``clock``), so the send times that machines
    compare with each other are on one clock.
    """

    def __init__(self, url: str, key: str, *, connect_timeout_seconds: int = 10):
        self.key = key
        self.where, self._dsn, self._secrets = _postgres_target(url)
        import psycopg2  # here, not at the top: only this store needs it

        self._pg = psycopg2
        self._connect_timeout = connect_timeout_seconds
        self._lock = threading.Lock()
        self._db: Any = None
        self._offset = 0.0
        with self._lock:
            self._connection()

    def __repr__(self) -> str:
        return f"PostgresQuotaStore({self.where!r})"

    def clock(self) -> float:
        """Epoch seconds on the database server's clock, read from this machine's."""
        return time.time() + self._offset

    @contextmanager
    def transaction(self) -> Iterator[QuotaState]:
        with self._lock:
            db, state = self._begin()
            try:
                yield state
                with db.cursor() as cursor:
                    cursor.execute(_SQL["write"], (state.to_json(), self.key))
                db.commit()
            except self._pg.Error as error:
                self._drop()
                raise self._failure("could not be written", error) from None
            except BaseException:
                self._rollback()
                raise

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _begin(self) -> tuple[Any, QuotaState]:
        """Locks the quota's row (created when missing) and reads it. A connection lost since
        the last ticket (a database restart, a fail-over) is replaced once."""
        for attempt in (1, 2):
            db = self._connection()
            try:
                with db.cursor() as cursor:
                    cursor.execute(_SQL["lock"], (self.key,))
                    row = cursor.fetchone()
                    if row is None:  # the first ticket of this quota
                        cursor.execute(_SQL["add"], (self.key,))
                        cursor.execute(_SQL["lock"], (self.key,))
                        row = cursor.fetchone()
                return db, QuotaState.from_json(row[0])
            except self._pg.Error as error:
                if not db.closed:  # the statement failed (a lock time-out, a privilege)
                    self._rollback()
                    raise self._failure("could not be read", error) from None
                self._drop()
                if attempt == 2:
                    raise self._failure("could not be read", error) from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _connection(self) -> Any:
        if self._db is not None and not self._db.closed:
            return self._db
        try:
            db = self._pg.connect(
                self._dsn,
                connect_timeout=self._connect_timeout,
                application_name="alohub-rate-pacer",
            )
        except self._pg.Error as error:
            raise self._failure("could not be reached", error) from None
        try:
            with db.cursor() as cursor:
                # A waiter holds the row for microseconds; a frozen process must not hold it.
                cursor.execute("SET lock_timeout = '60s'")
                cursor.execute("SET idle_in_transaction_session_timeout = '30s'")
                cursor.execute("SELECT to_regclass(%s)", (RATE_STATE_TABLE,))
                if cursor.fetchone()[0] is None:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_TABLE_LOCK,))
                    cursor.execute(_SQL["create"])
                db.commit()
                self._offset = _clock_offset(cursor)
                db.commit()
        except self._pg.Error as error:
            db.close()
            raise self._failure("could not be set up", error) from None
        self._db = db
        return db

    def _rollback(self) -> None:
        try:
            self._db.rollback()
        except self._pg.Error:
            self._drop()

    def _drop(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except self._pg.Error:
                pass
        self._db = None

    def _failure(self, what: str, error: Exception) -> QuotaStoreError:
        detail = " ".join(str(error).split())
        for secret in self._secrets:
            detail = detail.replace(secret, "***")
        return QuotaStoreError(
            f"the shared rate-limit state in Postgres ({self.where}) {what}: "
            f"{detail[:300] or type(error).__name__}"
        )


def _postgres_target(url: str) -> tuple[str, str, tuple[str, ...]]:
    """(the URL as shown, any password masked; the URL for libpq; the strings never shown)."""
    parts = urlsplit(url)
    secrets = {parts.password or "", unquote(parts.password or "")}
    netloc = parts.netloc
    if parts.password is not None:
        user = netloc.rpartition("@")[0].partition(":")[0]
        netloc = f"{user}:***@{netloc.rpartition('@')[2]}"
    query = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "password":  # libpq takes it as a URL parameter too
            secrets.add(value)
            value = "***"
        query.append((name, value))
    shown = urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*/")))
    secrets.discard("")
    if parts.scheme.lower() not in _POSTGRES_SCHEMES:
        raise QuotaStoreError(
            "the rate-limit state URL (ALOHUB_RATE_STATE_URL) must be "
            f"postgresql://user@host:port/db, with the password in PGPASSWORD; got {shown!r}"
        )
    secrets_longest_first = tuple(sorted(secrets, key=len, reverse=True))
    return shown, urlunsplit(parts._replace(scheme="postgresql")), secrets_longest_first


def _clock_offset(cursor: Any) -> float:
    """The database clock less ours, from the quickest of three readings."""
    best: tuple[float, float] | None = None
    for _ in range(3):
        before = time.time()
        cursor.execute("SELECT extract(epoch FROM clock_timestamp())")
        server = float(cursor.fetchone()[0])
        after = time.time()
        if best is None or after - before < best[0]:
            best = (after - before, server - (before + after) / 2)
    return best[1] if best else 0.0


def quota_key(base_url: str, tenant: str) -> str:
    """A stable name for one tenant's quota; a hash, so no key or id is written anywhere."""
    return hashlib.sha256(f"{base_url}\0{tenant}".encode()).hexdigest()[:24]


def default_state_path() -> Path:
    """Shared by every process of this user on this machine."""
    return Path(tempfile.gettempdir()) / "alohub-rate-limits.sqlite3"


# --------------------------------------------------------------------------------------- pacer


class QuotaPacer:
    """Decides when a request may go, from the shared state; thread- and process-safe."""

    def __init__(
        self,
        store: QuotaStore,
        *,
        window_seconds: float = 10.0,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.window = window_seconds
        self.margin = margin_seconds
        self.clock = clock
        self.started = clock()  # this pacer's place in the queue of every waiting pacer
        self._waiter_ids = itertools.count()
        self._answered = threading.Condition()  # an answer can make room: wake this process

    # --------------------------------------------------------------------------- acquire

    def acquire(self, sleep: Callable[[float], None] | None = None) -> tuple[Ticket, float]:
        """Blocks until a request may go; returns its ticket and the seconds waited. Without
        ``sleep`` (a simulated clock's, in tests) it also wakes when this process gets an
        answer, which can make room before the model's next moment."""
        waited = 0.0
        waiter = f"{os.getpid()}:{id(self)}:{next(self._waiter_ids)}"
        place: tuple[float, float] | None = None
        while True:
            with self.store.transaction() as state:
                now = self.clock()
                place = place or (self.started, now)
                ticket, delay = self._decide(state, now, waiter, place)
            if ticket is not None:
                return ticket, waited
            delay = min(max(delay, 0.001), MAX_SLEEP_SECONDS)
            if sleep is not None:
                sleep(delay)
                waited += delay
                continue
            began = time.monotonic()
            with self._answered:
                self._answered.wait(delay)
            waited += time.monotonic() - began

    def _decide(
        self, state: QuotaState, now: float, waiter: str, place: tuple[float, float]
    ) -> tuple[Ticket | None, float]:
        # Sends since the last reading stay (a token model counts them), a minute at most.
        keep_after = max(min(now - self.window - 2.0, state.observed_at), now - PENDING_SECONDS)
        state.sends = [t for t in state.sends if t > keep_after]
        state.pending = [t for t in state.pending if t > now - PENDING_SECONDS]
        state.waiting = {
            key: seen
            for key, seen in state.waiting.items()
            if key != waiter and seen[2] > now - WAITER_STALE_SECONDS
        }
        ahead = sum(1 for first, then, _ in state.waiting.values() if (first, then) < place)
        if now < state.blocked_until:
            state.waiting[waiter] = [*place, now]
            return None, state.blocked_until - now
        room = 1 if state.limit is None else self.room(state, now)
        if room >= 1 + ahead:
            state.sends.append(now)
            state.pending.append(now)
            return Ticket(now), 0.0
        state.waiting[waiter] = [*place, now]
        if room >= 1:  # an older waiter takes it when it wakes, at this same moment
            return None, RESERVED_POLL_SECONDS
        wake = self._next_room_time(state, now)
        if state.kind == "unknown" and state.probe_due and not ahead:
            probe_at = max([state.observed_at, *state.sends[-1:]]) + self._token_seconds(state)
            if now >= probe_at:
                del state.waiting[waiter]
                state.probe_due = False
                state.sends.append(now)
                state.pending.append(now)
                return Ticket(now, probe=True), 0.0
            wake = min(wake, probe_at)
        return None, wake - now

    def _token_seconds(self, state: QuotaState) -> float:
        return self.window / max(state.limit or 1, 1) + self.margin

    def room(self, state: QuotaState, now: float) -> int:
        """Requests the server will take now, as far as the model knows."""
        limit, window, margin = state.limit or 0, self.window, self.margin
        after_obs = sum(1 for t in state.sends if t > state.observed_at) + len(state.unsure)
        if state.kind == "token" and state.remaining is not None:
            refill = max(0.0, now - state.observed_at - margin) * limit / window
            return math.floor(min(limit, state.remaining + refill) - after_obs)
        if state.kind == "fixed" and state.reset_at is not None:
            boundary = (
                state.reset_at + math.floor((now - margin - state.reset_at) / window) * window
            )
            if state.observed_at >= boundary and state.remaining is not None:
                return state.remaining - after_obs
            since = boundary - min(1.0, window / 2)  # the reset is known to a second or so
            return limit - sum(1 for t in state.sends if t > since)
        in_window = sum(1 for t in state.sends if t > now - window - margin)
        room = limit - in_window
        if state.remaining is not None and now < state.observed_at + window + margin:
            # What the server counted then (other machines' requests too) ages out within a
            # window; after that, the log alone knows.
            low, high = state.observed_at - window + margin, now - window - margin
            aged = sum(1 for t in state.sends if low < t <= high)
            server_room = state.remaining + aged - after_obs
            if state.promised_at is not None and now >= state.promised_at:
                # A 429's Retry-After is over: the server promised room for one request.
                since = sum(1 for t in state.sends if t >= state.promised_at)
                server_room = max(server_room, 1 - since)
            room = min(room, server_room)
        return room

    def _next_room_time(self, state: QuotaState, now: float) -> float:
        """The first moment the model gives room, assuming nobody sends before it."""
        window, margin = self.window, self.margin
        candidates = {t + window + margin + 1e-6 for t in state.sends}
        candidates.add(state.observed_at + window + margin + 1e-6)
        if state.kind == "token" and state.remaining is not None and state.limit:
            after_obs = sum(1 for t in state.sends if t > state.observed_at) + len(state.unsure)
            need = after_obs + 1 - state.remaining
            candidates.add(state.observed_at + margin + need * window / state.limit + 1e-6)
        if state.kind == "fixed" and state.reset_at is not None:
            step = math.floor((now - margin - state.reset_at) / window) + 1
            candidates.add(state.reset_at + step * window + margin + 1e-6)
        for moment in sorted(c for c in candidates if c > now):
            if self.room(state, moment) >= 1:
                return moment
        return now + MAX_SLEEP_SECONDS

    # --------------------------------------------------------------------------- observe

    def observe(
        self, ticket: Ticket, headers: Mapping[str, str], *, retry_after: float | None = None
    ) -> None:
        """Learns from an answer: the limit, ``Remaining`` and, for a 429, ``Retry-After``."""
        limit = _smallest(headers, LIMIT_HEADERS, positive=True)
        remaining = _smallest(headers, REMAINING_HEADERS)
        with self.store.transaction() as state:
            _remove(state.pending, ticket.sent_at)
            if limit is not None:
                state.limit = limit
            if retry_after is not None:
                self._learn_from_429(state, ticket, self.clock(), retry_after)
            elif remaining is not None:
                self._learn_from_remaining(state, ticket, remaining)
        self._wake_waiters()

    def _learn_from_remaining(self, state: QuotaState, ticket: Ticket, remaining: int) -> None:
        now = self.clock()
        state.answered = [a for a in state.answered if a[1] > now - self.window]
        state.answered.append([ticket.sent_at, now, remaining])
        if ticket.sent_at < state.observed_at:
            if state.remaining is not None and remaining > state.remaining:
                # More left than the reading after it: the server counted it before that one.
                _remove(state.unsure, ticket.sent_at)
            return
        if state.kind == "unknown" and (ticket.probe or state.expect_jump):
            self._classify(state, ticket, remaining)
        state.promised_at = None
        if state.kind == "token" and state.remaining is not None and state.limit:
            predicted = self._tokens_after(state, ticket.sent_at)
            if remaining <= predicted < remaining + 1:
                # The reading before, refilled since, agrees: roll it forward. Taking the
                # rounded-down Remaining instead would lose a fraction of a token (and the
                # margin) at every request.
                state.remaining, state.observed_at, state.unsure = predicted, ticket.sent_at, []
                return
        state.remaining = remaining
        state.observed_at = ticket.sent_at
        state.unsure = self._not_counted_in(state, ticket.sent_at, remaining)

    @staticmethod
    def _not_counted_in(state: QuotaState, sent_at: float, remaining: int) -> list[float]:
        """Requests in flight when this one was sent may reach the server after it: those still
        unanswered, and those answered with no more left than it (counted after it). Without
        the second kind, a later-sent request answered last would seem to give room back."""
        later = [
            sent
            for sent, answered, left in state.answered
            if sent < sent_at < answered and left <= remaining
        ]
        return sorted({*later, *(t for t in state.pending if t <= sent_at)})

    def _wake_waiters(self) -> None:
        with self._answered:
            self._answered.notify_all()

    def _tokens_after(self, state: QuotaState, sent_at: float) -> float:
        """Token model: the tokens left just after the request sent at ``sent_at``."""
        limit = state.limit or 0
        refill = max(0.0, sent_at - state.observed_at) * limit / self.window
        spent = sum(1 for t in state.sends if state.observed_at < t <= sent_at)
        return min(limit, (state.remaining or 0) + refill) - spent - len(state.unsure)

    def release(self, ticket: Ticket) -> None:
        """No answer came (time-out, dropped connection): the request is no longer pending."""
        with self.store.transaction() as state:
            _remove(state.pending, ticket.sent_at)
        self._wake_waiters()

    def _learn_from_429(
        self, state: QuotaState, ticket: Ticket, now: float, retry_after: float
    ) -> None:
        state.blocked_until = max(state.blocked_until, now + retry_after)
        _remove(state.sends, ticket.sent_at)  # refused, so not counted by the server
        if ticket.probe and state.kind == "unknown":
            log_says = self._next_room_time(state, now)
            if now + retry_after >= log_says - 1.0:  # Retry-After is rounded up to a second
                state.kind = "sliding"
            else:
                state.expect_jump = True
        elif not ticket.probe and state.kind in ("fixed", "token"):
            state.kind, state.probe_due, state.reset_at = "unknown", True, None
        _remove(state.unsure, ticket.sent_at)
        if ticket.sent_at >= state.observed_at:
            state.remaining, state.observed_at = 0, ticket.sent_at
            state.unsure = self._not_counted_in(state, ticket.sent_at, 0)
        state.promised_at = state.blocked_until

    def _classify(self, state: QuotaState, ticket: Ticket, remaining: int) -> None:
        """A probe, or the first request after a short Retry-After, was answered: did the
        server have more room than a sliding window would have given?"""
        limit = state.limit or 1
        state.expect_jump = False
        low = ticket.sent_at - self.window + self.margin
        surely_counted = sum(1 for t in state.sends if low < t < ticket.sent_at)
        if remaining <= limit - 1 - surely_counted:
            state.probe_due = True  # what a sliding window gives too: ask again next time
        elif remaining >= limit / 2:
            state.kind, state.reset_at = "fixed", ticket.sent_at
        else:
            state.kind = "token"


def _remove(times: list[float], moment: float) -> None:
    if moment in times:
        times.remove(moment)


def _smallest(headers: Mapping[str, str], names: tuple[str, ...], positive: bool = False):
    values = []
    for name in names:
        try:
            value = int(headers[name])
        except (KeyError, ValueError, TypeError):
            continue
        if value > 0 or (not positive and value >= 0):
            values.append(value)
    return min(values) if values else None
