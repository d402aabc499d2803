"""A local AloHub call-report API over real HTTP, for the demo and the tests.

It answers both documented endpoints the way the vendor document describes them (auth, body
validation, ``callEndtime`` spelling, paging, ``totalRecord``, error bodies, rate-limit headers
in 10 s windows counted as fixed windows, a sliding log or a token bucket, 429 with
``Retry-After``), can add latency to every answer, and can misbehave on purpose (500s, dropped
connections, slow answers, gateway HTML, truncated bodies, ``success`` "0", list pages shorter
than asked while ``totalRecord`` says more rows match).

Run it with ``uv run alohub-sandbox --port 8765``. Besides the API it serves, without auth and
only for tests, benchmarks and the demo: ``GET /_sandbox/stats`` (requests by route and status),
``GET /_sandbox/calls?date=YYYY-MM-DD`` (the sandbox's own record of a day's calls),
``POST /_sandbox/clock`` with ``{"now": "<ISO 8601>"}`` (the moment that decides which calls
have started or ended; ``{"now": null}`` goes back to the real clock) and, with a volume model
(``--pattern``), ``GET /_sandbox/expected?date=YYYY-MM-DD&interval_minutes=30`` (the expected
inbound calls of each interval per hotline and ``*``: the model's means).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import signal
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from alohub_dev.sandbox.calls import CallStore
from alohub_dev.sandbox.vendor import VIETNAM as ICT
from alohub_dev.sandbox.vendor import looks_like_call_id as is_valid_call_id
from alohub_dev.sandbox.vendor import today_in_vietnam as local_today
from alohub_dev.sandbox.volumes import VolumeModel

DEFAULT_API_KEY = "sandbox-key"
DEFAULT_NO_SCOPE_KEY = "sandbox-key-without-report-scope"
LIST_ROUTE = re.compile(r"^(?:/api)?/v1/reports/call-logs/?$")
DETAIL_ROUTE = re.compile(r"^(?:/api)?/v1/reports/call-logs/([^/]+)$")
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?[+-]\d{2}:\d{2}$")
FAULT_KINDS = (
    "fail_500",  # 500 FAIL
    "drop",  # the connection closed with no answer
    "slow",  # the answer delayed by slow_seconds
    "html_502",  # a gateway's HTML error page
    "truncate",  # half a JSON body
    "success_0",  # 200 with success "0"
    "storm_429",  # 429 with Retry-After although the window has room (a gateway's storm)
    "drift",  # list only: a late call lands in the window just before the answer
    "detail_404",  # detail only: 404 for a call that exists
    "short_page",  # list only: `data` holds half the page's rows (none of a one-row page)
    # although `totalRecord` still counts them all, as a backend cutting a query short would
)
ROUTE_ONLY_FAULTS = {"drift": "list", "detail_404": "detail", "short_page": "list"}
#: How a rate window is counted; the vendor document says only "limit/10s".
RATE_WINDOWS = (
    "fixed",  # a counter per window; it resets at the window's end
    "sliding",  # a log: a request ages out window_seconds after the server saw it
    "token",  # a bucket of `limit` tokens refilled at limit / window_seconds a second
)
WINDOW_ORIGINS = (
    "clock",  # fixed windows start at multiples of window_seconds on the clock
    "first_request",  # fixed windows are counted from the first request the sandbox saw
)
#: When a call shows in the list; the vendor document does not say.
LISTINGS = (
    "ended",  # once it has ended (and --list-delay seconds more: a reporting lag)
    "started",  # from its start, with what is known so far: no end time until it has ended
)


@dataclass
class SandboxConfig:
    api_key: str = DEFAULT_API_KEY
    no_scope_key: str = DEFAULT_NO_SCOPE_KEY
    tenant_limit: int = 100  # requests per 10 s window for the tenant, 0 = unlimited
    route_limit: int = 100  # requests per 10 s window for each route, 0 = unlimited
    window_seconds: float = 10.0
    rate_window: str = "fixed"  # RATE_WINDOWS
    window_origin: str = "clock"  # WINDOW_ORIGINS, for fixed windows
    latency_ms: float = 0.0  # added to every API answer (a slow link or a far server)
    max_limit: int = 100  # the server quietly caps `limit` at this
    default_limit: int = 50
    recording_delay_seconds: float = 60.0
    listing: str = "ended"  # LISTINGS
    list_delay_seconds: float = 0.0  # "ended": a call shows this long after its end
    slow_seconds: float = 3.0
    fault_seed: int = 1
    faults: dict[str, float] = field(default_factory=dict)  # FAULT_KINDS -> probability


class SandboxState:
    """Everything the request handlers share: the calls, the counters, the rate windows."""

    def __init__(self, store: CallStore, config: SandboxConfig):
        self.store = store
        self.config = config
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.fixed: dict[tuple[str, ...], tuple[int, int]] = {}
        self.sliding: dict[tuple[str, ...], deque[float]] = {}
        self.buckets: dict[tuple[str, ...], tuple[float, float]] = {}
        self.window_origin: float | None = None
        self.rng = random.Random(config.fault_seed)
        self.forced_faults: list[str] = []  # tests queue faults for the next requests
        self.clock: Callable[[], float] = time.time  # rate windows; tests put a fake clock here
        # Which calls have started or ended (list, detail); tests and the bench set the day's time.
        self.now: Callable[[], datetime] = lambda: datetime.now(ICT)

    def recordings_ready(self) -> bool:
        return time.monotonic() - self.started >= self.config.recording_delay_seconds

    def count(self, key: str) -> None:
        with self.lock:
            self.requests[key] += 1

    def next_fault(self, route: str) -> str | None:
        with self.lock:
            if self.forced_faults:
                return self.forced_faults.pop(0)
            for kind in FAULT_KINDS:
                if ROUTE_ONLY_FAULTS.get(kind, route) != route:
                    continue
                rate = self.config.faults.get(kind, 0.0)
                if rate and self.rng.random() < rate:
                    return kind
        return None

    def take_quota(self, tenant: str, route: str) -> tuple[dict[str, str], float | None]:
        """Counts a request against the tenant's and the route's limits, in the configured kind
        of window; returns the headers and, when over either limit, the seconds to wait."""
        cfg = self.config
        if cfg.rate_window not in RATE_WINDOWS:
            raise ValueError(f"rate_window must be one of {RATE_WINDOWS}, not {cfg.rate_window!r}")
        now = self.clock()
        limits = {
            "Tenant": (("tenant", tenant), cfg.tenant_limit),
            "Route": (("route", tenant, route), cfg.route_limit),
        }
        with self.lock:
            if self.window_origin is None:
                self.window_origin = now if cfg.window_origin == "first_request" else 0.0
            waits = [self._wait(key, limit, now) for key, limit in limits.values() if limit]
            over = max(waits, default=0.0) > 0
            if not over:
                for key, limit in limits.values():
                    if limit:
                        self._spend(key, now)
            remaining = {
                name: self._remaining(key, limit, now)
                for name, (key, limit) in limits.items()
                if limit
            }
        headers = {}
        for name, (_, limit) in limits.items():
            if limit:
                headers[f"X-RateLimit-Limit-{name}"] = str(limit)
                headers[f"X-RateLimit-Remaining-{name}"] = str(remaining[name])
        return headers, (max(waits) if over else None)

    # One state per key: the fixed window's (index, count), the sliding log, the bucket's
    # (tokens, last refill). Called with self.lock held.

    def _fixed_index(self, now: float) -> int:
        return math.floor((now - self.window_origin) / self.config.window_seconds)

    def _wait(self, key: tuple[str, ...], limit: int, now: float) -> float:
        """Seconds until this key has room for one request (0 when it has room now)."""
        window = self.config.window_seconds
        kind = self.config.rate_window
        if kind == "fixed":
            index, count = self.fixed.get(key, (None, 0))
            if index != self._fixed_index(now) or count < limit:
                return 0.0
            return self.window_origin + (index + 1) * window - now
        if kind == "sliding":
            log = self._sliding_log(key, now)
            return 0.0 if len(log) < limit else log[0] + window - now
        tokens = self._tokens(key, limit, now)
        return 0.0 if tokens >= 1 else (1 - tokens) * window / limit

    def _spend(self, key: tuple[str, ...], now: float) -> None:
        kind = self.config.rate_window
        if kind == "fixed":
            index, count = self.fixed.get(key, (None, 0))
            current = self._fixed_index(now)
            self.fixed[key] = (current, count + 1 if index == current else 1)
        elif kind == "sliding":
            self._sliding_log(key, now).append(now)
        else:
            self.buckets[key] = (self.buckets[key][0] - 1, now)

    def _remaining(self, key: tuple[str, ...], limit: int, now: float) -> int:
        kind = self.config.rate_window
        if kind == "fixed":
            index, count = self.fixed.get(key, (None, 0))
            return max(limit - (count if index == self._fixed_index(now) else 0), 0)
        if kind == "sliding":
            return max(limit - len(self._sliding_log(key, now)), 0)
        return max(math.floor(self._tokens(key, limit, now)), 0)

    def _sliding_log(self, key: tuple[str, ...], now: float) -> deque[float]:
        log = self.sliding.setdefault(key, deque())
        while log and log[0] <= now - self.config.window_seconds:
            log.popleft()
        return log

    def _tokens(self, key: tuple[str, ...], limit: int, now: float) -> float:
        tokens, last = self.buckets.get(key, (float(limit), now))
        tokens = min(float(limit), tokens + (now - last) * limit / self.config.window_seconds)
        self.buckets[key] = (tokens, now)
        return tokens


def _body(success: bool, code: str, message: str, data: list | None = None, total: int = 0) -> dict:
    return {
        "success": "1" if success else "0",
        "error_code": code,
        "error_message": message,
        "totalRecord": total,
        "data": data if data is not None else [],
    }


class SandboxHandler(BaseHTTPRequestHandler):
    server_version = "AloHubSandbox/1.0"
    protocol_version = "HTTP/1.1"
    # Headers and body are two writes: without this, Nagle's algorithm and the client's delayed
    # ACK hold every answer ~40 ms.
    disable_nagle_algorithm = True

    @property
    def state(self) -> SandboxState:
        return self.server.state  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet; stats are in /_sandbox/stats
        pass

    # ------------------------------------------------------------------------------ routing

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if LIST_ROUTE.match(path):
            self._api("list", lambda: self._list(raw))
        elif path == "/_sandbox/clock":
            self._set_clock(raw)
        else:
            self._send(404, _body(False, "NOT_FOUND", f"no route POST {path}"))

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path == "/_sandbox/stats":
            with self.state.lock:
                self._send(200, {"requests": dict(self.state.requests)})
            return
        if parts.path == "/_sandbox/calls":
            self._truth(parse_qs(parts.query))
            return
        if parts.path == "/_sandbox/expected":
            self._expected(parse_qs(parts.query))
            return
        match = DETAIL_ROUTE.match(parts.path)
        if match:
            self._api("detail", lambda: self._detail(unquote(match.group(1))))
        else:
            self._send(404, _body(False, "NOT_FOUND", f"no route GET {parts.path}"))

    # ------------------------------------------------------------------------- API plumbing

    def _api(self, route: str, answer) -> None:
        state = self.state
        key = self.headers.get("X-Api-Key", "")
        if key not in (state.config.api_key, state.config.no_scope_key):
            state.count(f"{route}:401")
            self._send(401, _body(False, "UNAUTHORIZED", "Missing or invalid X-Api-Key"))
            return
        if key == state.config.no_scope_key:
            state.count(f"{route}:403")
            self._send(
                403, _body(False, "INSUFFICIENT_SCOPE", "API key does not have scope report")
            )
            return
        tenant = self.headers.get("X-Tenant-ID") or f"key:{key}"
        if state.config.latency_ms:
            time.sleep(state.config.latency_ms / 1000)
        headers, wait = state.take_quota(tenant, route)
        if wait is not None:
            state.count(f"{route}:429")
            retry_after = str(max(1, math.ceil(wait)))
            self._send(
                429,
                _body(False, "RATE_LIMIT_EXCEEDED", "Too many requests"),
                {**headers, "Retry-After": retry_after},
            )
            return
        fault = state.next_fault(route)
        self.fault = fault
        if fault == "storm_429":
            state.count(f"{route}:429")
            self._send(
                429,
                _body(False, "RATE_LIMIT_EXCEEDED", "Too many requests"),
                {**headers, "Retry-After": "1"},
            )
            return
        if fault == "detail_404":
            state.count(f"{route}:404")
            self._send(404, _body(False, "NOT_FOUND", "Call log not found"), headers)
            return
        if fault == "drop":
            state.count(f"{route}:dropped")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault == "slow":
            time.sleep(state.config.slow_seconds)
        if fault == "fail_500":
            state.count(f"{route}:500")
            self._send(500, _body(False, "FAIL", "System error"), headers)
            return
        if fault == "html_502":
            state.count(f"{route}:502")
            page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
            self._send_bytes(502, page, "text/html", headers)
            return
        if fault == "success_0":
            state.count(f"{route}:success0")
            self._send(200, _body(False, "FAIL", "System error"), headers)
            return
        status, body = answer()
        state.count(f"{route}:{status}")
        if fault == "truncate":
            raw = json.dumps(body, ensure_ascii=False).encode()
            self._send_bytes(status, raw[: max(len(raw) // 2, 1)], "application/json", headers)
            return
        self._send(status, body, headers)

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._send_bytes(status, raw, "application/json; charset=utf-8", headers)

    def _send_bytes(self, status: int, raw: bytes, ctype: str, headers: dict | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    # ---------------------------------------------------------------------------- endpoints

    def _list(self, raw: bytes) -> tuple[int, dict]:
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except (ValueError, UnicodeDecodeError):
            return 400, _body(False, "INVALID_INPUT", "Request body is not valid JSON")
        try:
            start = _iso(body.get("callStartTime"), "callStartTime")
            end = _iso(
                body.get("callEndtime"), "callEndtime"
            )  # callEndTime is not read, as upstream
            page = _positive_int(body.get("page", 1), "page")
            limit = _positive_int(body.get("limit", self.state.config.default_limit), "limit")
            call_type = body.get("callType")
            if call_type is not None and call_type not in (0, 1):
                raise ValueError("callType must be 0 or 1")
        except ValueError as exc:
            return 400, _body(False, "INVALID_INPUT", str(exc))
        limit = min(limit, self.state.config.max_limit)
        if getattr(self, "fault", None) == "drift":
            self.state.store.add_late_call(start, end)
        config = self.state.config
        rows = self.state.store.list_rows(
            start,
            end,
            call_type,
            now=self.state.now(),
            listing=config.listing,
            delay=timedelta(seconds=config.list_delay_seconds),
        )
        phone = body.get("phoneNumber")
        if phone:
            rows = [r for r in rows if phone in (r["caller"], r["called"])]
        offset = (page - 1) * limit
        data = rows[offset : offset + limit]
        if getattr(self, "fault", None) == "short_page":
            data = data[: len(data) // 2]  # fewer rows than asked, though more match
        return 200, _body(True, "SUCCESS", "SUCCESS", data, len(rows))

    def _detail(self, call_id: str) -> tuple[int, dict]:
        if not is_valid_call_id(call_id):
            return 400, _body(False, "INVALID_INPUT", "callId incorrect format")
        call = self.state.store.find(call_id)
        if call is None or call.end_time > self.state.now():
            return 404, _body(False, "NOT_FOUND", "Call log not found")
        return 200, _body(
            True, "SUCCESS", "SUCCESS", [call.detail(self.state.recordings_ready())], 1
        )

    def _set_clock(self, raw: bytes) -> None:
        try:
            value = json.loads(raw or b"{}").get("now")
            moment = None if value is None else datetime.fromisoformat(value)
            if moment is not None and moment.tzinfo is None:
                raise ValueError("give a time with its offset")
        except (ValueError, AttributeError) as exc:
            self._send(400, {"error": f'give {{"now": "<ISO 8601 with offset>"}}: {exc}'})
            return
        self.state.now = (lambda: moment) if moment else (lambda: datetime.now(ICT))
        self._send(200, {"now": self.state.now().isoformat()})

    def _truth(self, query: dict[str, list[str]]) -> None:
        try:
            day = date.fromisoformat(query["date"][0])
        except (KeyError, ValueError):
            self._send(400, {"error": "give ?date=YYYY-MM-DD"})
            return
        calls = [c.truth() for c in self.state.store.calls_on(day)]
        self._send(
            200, {"date": day.isoformat(), "calls": json.loads(json.dumps(calls, default=str))}
        )

    def _expected(self, query: dict[str, list[str]]) -> None:
        model = self.state.store.volume_model
        if model is None:
            self._send(404, {"error": "no volume model: start the sandbox with --pattern"})
            return
        try:
            day = date.fromisoformat(query["date"][0])
            minutes = int(query.get("interval_minutes", ["30"])[0])
            expected = model.expected_calls(day, minutes)
        except (KeyError, ValueError) as exc:
            self._send(400, {"error": f"give ?date=YYYY-MM-DD[&interval_minutes=15|30|60] ({exc})"})
            return
        self._send(
            200, {"date": day.isoformat(), "interval_minutes": minutes, "expected": expected}
        )


def _iso(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not ISO_WITH_OFFSET.match(value):
        raise ValueError(f"{name} must be yyyy-MM-ddTHH:mm:ss±HH:mm")
    return datetime.fromisoformat(value)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive number")
    return value


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0):
        self.state = state
        super().__init__((host, port), SandboxHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_in_thread(self) -> SandboxServer:
        threading.Thread(target=self.serve_forever, name="alohub-sandbox", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def build_server(
    *,
    store: CallStore | None = None,
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> SandboxServer:
    """A sandbox bound to ``host:port`` (0 = a free port), not yet serving."""
    return SandboxServer(SandboxState(store or CallStore(), config or SandboxConfig()), host, port)


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="alohub-sandbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the accepted X-Api-Key")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, help="first day (default: 13 days ago)")
    parser.add_argument("--end", type=date.fromisoformat, help="last day (default: today)")
    parser.add_argument("--calls-per-day", type=int, default=300)
    parser.add_argument(
        "--pattern",
        action="store_true",
        help="inbound volumes with a weekly pattern, a 30 %%/year trend and Vietnamese holidays "
        "per hotline (--calls-per-day is then an ordinary Thursday's inbound calls in 2026)",
    )
    parser.add_argument(
        "--rate-limit", type=int, default=100, help="tenant requests per 10 s, 0 = off"
    )
    parser.add_argument(
        "--route-limit", type=int, help="route requests per 10 s (default: --rate-limit)"
    )
    parser.add_argument("--window-seconds", type=float, default=10.0, help="rate-limit window")
    parser.add_argument(
        "--rate-window",
        choices=RATE_WINDOWS,
        default="fixed",
        help="how the window is counted: fixed counters, a sliding log, or a token bucket",
    )
    parser.add_argument(
        "--window-origin",
        choices=WINDOW_ORIGINS,
        default="clock",
        help="fixed windows start on the clock, or at the first request the sandbox sees",
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="added to every API answer, in ms"
    )
    parser.add_argument("--other-type-share", type=float, default=0.02, help="calls of a 3rd type")
    parser.add_argument("--max-limit", type=int, default=100, help="the server's cap on `limit`")
    parser.add_argument(
        "--recording-delay",
        type=float,
        default=60.0,
        help="seconds until delayed recordings appear",
    )
    parser.add_argument(
        "--fail-rate", type=float, default=0.0, help="share of API requests answered 500"
    )
    parser.add_argument(
        "--drop-rate", type=float, default=0.0, help="share of connections dropped unanswered"
    )
    parser.add_argument(
        "--slow-rate", type=float, default=0.0, help="share of answers delayed by --slow-seconds"
    )
    parser.add_argument("--slow-seconds", type=float, default=3.0)
    parser.add_argument(
        "--list-calls",
        choices=LISTINGS,
        default="ended",
        help="when a call shows in the list: once it has ended, or from its start (no end time yet)",
    )
    parser.add_argument(
        "--list-delay",
        type=float,
        default=0.0,
        help="with --list-calls ended: seconds between a call's end and its listing",
    )
    parser.add_argument("--port-file", help="write the bound port here once listening")
    args = parser.parse_args(argv)

    end = args.end or local_today()
    start = args.start or end - timedelta(days=13)
    store = CallStore(
        seed=args.seed,
        first_day=start,
        last_day=end,
        calls_per_day=args.calls_per_day,
        other_type_share=args.other_type_share,
        volume_model=VolumeModel(base_calls_per_day=args.calls_per_day) if args.pattern else None,
    )
    config = SandboxConfig(
        api_key=args.api_key,
        tenant_limit=args.rate_limit,
        route_limit=args.rate_limit if args.route_limit is None else args.route_limit,
        max_limit=args.max_limit,
        window_seconds=args.window_seconds,
        rate_window=args.rate_window,
        window_origin=args.window_origin,
        latency_ms=args.latency_ms,
        recording_delay_seconds=args.recording_delay,
        listing=args.list_calls,
        list_delay_seconds=args.list_delay,
        slow_seconds=args.slow_seconds,
        faults={"fail_500": args.fail_rate, "drop": args.drop_rate, "slow": args.slow_rate},
    )
    server = build_server(store=store, config=config, host=args.host, port=args.port)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as fh:
            fh.write(str(server.server_address[1]))
        os.replace(args.port_file + ".tmp", args.port_file)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    print(
        f"AloHub sandbox on {server.url} (calls {start}..{end}, {args.calls_per_day}/day, "
        f"rate limit {args.rate_limit}/{args.window_seconds:g}s, {args.rate_window} window, "
        f"latency {args.latency_ms:g} ms); X-Api-Key: the --api-key value",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
