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
so a later run does not probe again. A margin (default 40 ms) covers the time between our clock
reading and the server's; it is never a whole window. No Dagster import.
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
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
        return json.dumps(asdict(self))


@dataclass(frozen=True)
class Ticket:
    """One permission to send; hand it back to ``observe`` with the answer."""

    sent_at: float
    probe: bool = False


# -------------------------------------------------------------------------------------- stores


class MemoryQuotaStore:
    """The state in this process only (notebooks, unit tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = QuotaState()

    @contextmanager
    def transaction(self) -> Iterator[QuotaState]:
        with self._lock:
            yield self._state


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
        store: MemoryQuotaStore | SqliteQuotaStore,
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
