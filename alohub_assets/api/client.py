"""AloHub call-report API client: paging, retries, throttling and typed errors.

Pure Python (httpx), no Dagster import, so notebooks and scripts can use it too. The traps it
handles come from the vendor's call-report document (summarized in ``docs/architecture.md``): the window end is spelled
``callEndtime``; ``totalRecord`` counts every matching row, repeats included; a server may cap
``limit``; rate limits are per 10 s window and announced in ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import math
import os
import random
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from alohub_assets.api.rate_limit import (
    DEFAULT_MARGIN_SECONDS,
    MemoryQuotaStore,
    PostgresQuotaStore,
    QuotaPacer,
    QuotaStore,
    SqliteQuotaStore,
    Ticket,
    default_state_path,
    quota_key,
)
from alohub_assets.api.records import CallDetail, format_iso_ict, is_valid_call_id

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://xapi.alohub.vn"
LIST_PATH = "/v1/reports/call-logs"
DETAIL_PATH = "/v1/reports/call-logs/{call_id}"
PAGE_SIZE = 100
RATE_WINDOW_SECONDS = 10.0
PAGES_IN_FLIGHT = 8
#: Where processes share what they know of the tenant's quota; ":memory:" keeps it per client.
RATE_STATE_PATH_ENV = "ALOHUB_RATE_STATE_PATH"
#: The same state in Postgres (postgresql://user@host:port/db, password in PGPASSWORD), for
#: processes on machines that share no disk; when set, it is used instead of the file.
RATE_STATE_URL_ENV = "ALOHUB_RATE_STATE_URL"

# --------------------------------------------------------------------------------------- errors


class AloHubError(Exception):
    """Base of every error this client raises; messages never contain the API key."""


class AloHubConfigError(AloHubError):
    """The client was set up in a way that cannot work (or would leak the key)."""


class AloHubAuthError(AloHubError):
    """401: the key is missing or wrong. Retrying cannot help."""


class AloHubScopeError(AloHubAuthError):
    """403: the key is valid but lacks the ``report`` scope."""


class AloHubInputError(AloHubError):
    """400: the server rejected the request body or the callId."""


class AloHubApiError(AloHubError):
    """The server answered with ``success`` "0" or a status this client does not expect."""

    def __init__(self, message: str, *, status: int | None = None, error_code: str | None = None):
        super().__init__(message)
        self.status = status
        self.error_code = error_code


class AloHubRetriesExhausted(AloHubError):
    """Transient failures (5xx, 429, time-outs, dropped connections) outlasted the retry budget."""


class AloHubPagingError(AloHubError):
    """The pages of a window could not be read consistently (drift, empty page, too many pages)."""


class _Transient(Exception):
    """Internal: a failure worth retrying, with its cause for the counters."""

    def __init__(self, cause: str, detail: str, wait: float | None = None):
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.wait = wait


class _WindowChanged(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


# ------------------------------------------------------------------------------------- counters


@dataclass
class ClientStats:
    """What one client did; the assets report these as materialization metadata."""

    requests: int = 0
    pages: int = 0
    rows: int = 0
    total_record: int = 0
    detail_requests: int = 0
    details_not_found: int = 0
    rate_limited: int = 0
    seconds_slept: float = 0.0
    window_rereads: int = 0
    retries: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def add_retry(self, cause: str) -> None:
        with self._lock:
            self.retries[cause] += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "pages": self.pages,
                "rows": self.rows,
                "total_record": self.total_record,
                "detail_requests": self.detail_requests,
                "details_not_found": self.details_not_found,
                "retries": sum(self.retries.values()),
                "retries_by_cause": dict(sorted(self.retries.items())),
                "rate_limited_429": self.rate_limited,
                "seconds_slept": round(self.seconds_slept, 3),
                "window_rereads": self.window_rereads,
            }


# ---------------------------------------------------------------------------------------- paging


class PageSink(Protocol):
    """Where the pages of a window go, so a day is streamed rather than held in memory."""

    def write_page(self, rows: list[dict[str, Any]]) -> None: ...

    def discard(self) -> None:
        """Forget every page written so far: the window is being read again."""


@dataclass(frozen=True)
class WindowRead:
    """The outcome of reading every page of one filtered window."""

    total_record: int
    rows: int
    pages: int
    rereads: int


# ---------------------------------------------------------------------------------------- client


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 8
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 30.0
    max_retry_seconds: float = 300.0
    max_retry_after_seconds: float = 120.0


def list_request_body(
    start: datetime,
    end: datetime,
    limit: int,
    call_type: int | None = None,
    phone_number: str | None = None,
) -> dict[str, Any]:
    """The list filter for [start, end] (both inclusive, by call start), without ``page``."""
    body: dict[str, Any] = {
        "callStartTime": format_iso_ict(start),
        "callEndtime": format_iso_ict(end),  # the vendor's spelling; callEndTime is ignored
        "limit": limit,
    }
    if call_type is not None:
        body["callType"] = int(call_type)
    if phone_number:
        body["phoneNumber"] = phone_number
    return body


def tls_context() -> ssl.SSLContext:
    """The certificate store httpx would load for each client (``SSL_CERT_FILE`` or
    ``SSL_CERT_DIR``, else certifi's), loaded once per process: reading it costs about 50 ms of
    CPU, paid by every run and every recording check that opens a client."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads the same variables


class AloHubClient:
    """Talks to one AloHub tenant. Thread-safe; use as a context manager or call ``close()``.

    The pacer's state is shared as ``_shared_pacer`` says (``rate_state_url``,
    ``rate_state_path``, the environment). ``sleep`` and ``clock`` replace the real ones (tests
    run the pacer and the retries on a simulated clock); ``pacer`` replaces the shared pacer
    the client otherwise makes (and closes)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        tenant_id: str | None = None,
        timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        page_size: int = PAGE_SIZE,
        max_pages: int = 10_000,
        max_window_rereads: int = 3,
        pages_in_flight: int = PAGES_IN_FLIGHT,
        pacer: QuotaPacer | None = None,
        rate_window_seconds: float = RATE_WINDOW_SECONDS,
        rate_margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        rate_state_path: str | None = None,
        rate_state_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ):
        if not api_key:
            raise AloHubConfigError(
                "No AloHub API key: set ALOHUB_API_KEY to a key with the 'report' scope "
                "(or run `make demo` to use the bundled sandbox)."
            )
        self.base_url = base_url.rstrip("/")
        _refuse_plain_http_to_remote(self.base_url)
        self._api_key = api_key
        self.tenant_id = tenant_id or None
        self.retry = retry or RetryPolicy()
        self.page_size = page_size
        self.max_pages = max_pages
        self.max_window_rereads = max_window_rereads
        self.pages_in_flight = max(1, pages_in_flight)
        self.stats = ClientStats()
        self._sleep = sleep or time.sleep  # retries' waits
        self._pacer_sleep = sleep  # None: the pacer also wakes on answers
        self._pages_pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._owns_pacer = pacer is None
        self._pacer = pacer or _shared_pacer(
            self.base_url,
            self.tenant_id or f"key:{api_key}",
            rate_window_seconds,
            rate_margin_seconds,
            rate_state_path,
            clock,
            rate_state_url,
        )
        headers = {"X-Api-Key": api_key, "Accept": "application/json"}
        if self.tenant_id:
            headers["X-Tenant-ID"] = self.tenant_id
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
            follow_redirects=False,
            verify=tls_context(),
        )

    def __repr__(self) -> str:  # never shows the key
        return f"AloHubClient(base_url={self.base_url!r}, tenant_id={self.tenant_id!r})"

    def __enter__(self) -> AloHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pages_pool is not None:
            self._pages_pool.shutdown(wait=True, cancel_futures=True)
        self._http.close()
        if self._owns_pacer:
            self._pacer.store.close()  # a Postgres store holds a connection

    # ------------------------------------------------------------------------------ list API

    def read_window(
        self,
        start: datetime,
        end: datetime,
        sink: PageSink,
        *,
        call_type: int | None = None,
        phone_number: str | None = None,
    ) -> WindowRead:
        """Reads every page of [start, end] (both inclusive, by call start) into ``sink``.

        Paging stops when the rows received reach ``totalRecord``, never on a short page (a
        server may cap ``limit``). If ``totalRecord`` moves while paging, or an empty page comes
        before the rows reach it (a page came back short), the pages already written are
        discarded and the window is read again, up to ``max_window_rereads`` times.
        """
        body = list_request_body(start, end, self.page_size, call_type, phone_number)
        rereads = 0
        while True:
            try:
                total, rows, pages = self._read_pages(body, sink)
            except _WindowChanged as changed:
                sink.discard()
                rereads += 1
                self.stats.add(window_rereads=1)
                log.warning(
                    "AloHub window %s..%s changed or came back short while paging (%s); "
                    "reading it again",
                    body["callStartTime"],
                    body["callEndtime"],
                    changed.detail,
                )
                if rereads > self.max_window_rereads:
                    raise AloHubPagingError(
                        f"the window {body['callStartTime']}..{body['callEndtime']} kept changing "
                        f"or came back short while it was paged ({changed.detail}); gave up "
                        f"after {rereads - 1} re-reads. Try again later, when the day's calls "
                        "have settled."
                    ) from None
                continue
            self.stats.add(total_record=total)
            return WindowRead(total_record=total, rows=rows, pages=pages, rereads=rereads)

    def _read_pages(self, body: dict[str, Any], sink: PageSink) -> tuple[int, int, int]:
        expected: int | None = None
        received = 0
        page = 1
        while True:
            if page > self.max_pages:
                raise AloHubPagingError(
                    f"more than {self.max_pages} pages for one window ({received} of "
                    f"{expected} rows); narrow the window or raise max_pages"
                )
            payload = self._request("POST", LIST_PATH, json={**body, "page": page}, page=True)
            total = payload["totalRecord"]
            data = payload["data"]
            if expected is None:
                expected = total
            elif total != expected:
                raise _WindowChanged(f"totalRecord went from {expected} to {total} at page {page}")
            if data:
                sink.write_page(data)
            received += len(data)
            self.stats.add(pages=1, rows=len(data))
            if received >= expected:
                if received > expected:
                    raise _WindowChanged(f"received {received} rows, totalRecord is {expected}")
                return expected, received, page
            if not data:
                raise _WindowChanged(f"page {page} was empty with {received} of {expected} rows")
            if page == 1 and self.pages_in_flight > 1:
                # totalRecord and page 1's length (the server may cap `limit`) give the pages
                # left: read them a few at a time, written in page order.
                last = min(-(-expected // len(data)), self.max_pages)
                if last > 2:
                    received, page = self._read_pages_in_flight(
                        body, sink, expected, received, last
                    )
                    if received > expected:
                        raise _WindowChanged(f"received {received} rows, totalRecord is {expected}")
                    if received == expected:
                        return expected, received, page
            page += 1

    def _read_pages_in_flight(
        self, body: dict[str, Any], sink: PageSink, expected: int, received: int, last: int
    ) -> tuple[int, int]:
        """Pages 2..last with up to ``pages_in_flight`` requests out; each page is checked
        against page 1's ``totalRecord`` and written in order, so at most that many pages wait
        in memory. Returns the rows received and the last page written."""
        pool = self._pool()
        pending: dict[int, Future] = {}
        next_page, page = 2, 1
        try:
            while page < last:
                while next_page <= last and len(pending) < self.pages_in_flight:
                    request = {**body, "page": next_page}
                    pending[next_page] = pool.submit(
                        self._request, "POST", LIST_PATH, json=request, page=True
                    )
                    next_page += 1
                page += 1
                payload = pending.pop(page).result()
                total, data = payload["totalRecord"], payload["data"]
                if total != expected:
                    raise _WindowChanged(
                        f"totalRecord went from {expected} to {total} at page {page}"
                    )
                if data:
                    sink.write_page(data)
                received += len(data)
                self.stats.add(pages=1, rows=len(data))
                if received > expected:
                    raise _WindowChanged(f"received {received} rows, totalRecord is {expected}")
                if received == expected:
                    break
                if not data:
                    raise _WindowChanged(
                        f"page {page} was empty with {received} of {expected} rows"
                    )
        finally:
            for future in pending.values():
                future.cancel()
        return received, page

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pages_pool is None:
                self._pages_pool = ThreadPoolExecutor(
                    self.pages_in_flight, thread_name_prefix="alohub-page"
                )
            return self._pages_pool

    def count_call_logs(
        self, start: datetime, end: datetime, *, call_type: int | None = None
    ) -> int:
        """``totalRecord`` for a window, at the cost of one one-row page."""
        body = {**list_request_body(start, end, 1, call_type), "page": 1}
        return self._request("POST", LIST_PATH, json=body, page=True)["totalRecord"]

    # ---------------------------------------------------------------------------- detail API

    def get_call_detail(self, call_id: str) -> CallDetail | None:
        """The detail of one call; None when AloHub does not know the callId (404)."""
        if not is_valid_call_id(call_id):
            shown = (
                call_id[:40] + "..." if isinstance(call_id, str) and len(call_id) > 40 else call_id
            )
            raise AloHubInputError(
                f"callId {shown!r} is not of the documented shape YYYYMMDDHHmmss-XXXXXXXX-NNN"
            )
        self.stats.add(detail_requests=1)
        path = DETAIL_PATH.format(call_id=quote(call_id, safe=""))
        payload = self._request("GET", path, not_found_ok=True)
        data = payload.get("data") or []
        if payload.get("_not_found") or not data:
            self.stats.add(details_not_found=1)
            return None
        return CallDetail.from_api(data[0])

    # ----------------------------------------------------------------------------- transport

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        not_found_ok: bool = False,
        page: bool = False,
    ) -> dict:
        policy = self.retry
        attempt = 0
        started = time.monotonic()
        while True:
            ticket, waited = self._pacer.acquire(self._pacer_sleep)
            if waited:
                self.stats.add(seconds_slept=waited)
            self.stats.add(requests=1)
            try:
                payload = self._send_once(method, path, json, not_found_ok, ticket)
                if page:
                    _check_page_shape(payload)
                return payload
            except _Transient as failure:
                attempt += 1
                self.stats.add_retry(failure.cause)
                elapsed = time.monotonic() - started
                if failure.wait is not None:
                    wait = min(failure.wait, policy.max_retry_after_seconds)
                else:
                    ceiling = min(
                        policy.backoff_cap_seconds, policy.backoff_base_seconds * 2 ** (attempt - 1)
                    )
                    wait = random.uniform(ceiling / 2, ceiling)
                if attempt > policy.max_retries or elapsed + wait > policy.max_retry_seconds:
                    raise AloHubRetriesExhausted(
                        f"{method} {path} failed {attempt} times over {elapsed:.0f}s; last: "
                        f"{failure.detail}. AloHub or the network is unwell; the run can be "
                        "retried, nothing was written for this window."
                    ) from None
                log.warning(
                    "AloHub %s %s: %s; retry %d/%d in %.1fs",
                    method,
                    path,
                    failure.detail,
                    attempt,
                    policy.max_retries,
                    wait,
                )
                self._sleep(wait)
                self.stats.add(seconds_slept=wait)

    def _send_once(
        self, method: str, path: str, body: Any, not_found_ok: bool, ticket: Ticket
    ) -> dict:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TimeoutException as exc:
            self._pacer.release(ticket)
            raise _Transient("timeout", f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            self._pacer.release(ticket)
            raise _Transient("connection", f"connection failed ({type(exc).__name__})") from None
        status = response.status_code
        payload = self._json_or_none(response)
        code = str(payload.get("error_code", "")) if payload else ""
        message = self._redact(str(payload.get("error_message", ""))) if payload else ""

        if status == 429 or code == "RATE_LIMIT_EXCEEDED":
            self.stats.add(rate_limited=1)
            retry_after = _retry_after_seconds(response)
            self._pacer.observe(ticket, response.headers, retry_after=retry_after)
            raise _Transient(
                "rate_limited", f"429 rate limited, Retry-After {retry_after:g}s", retry_after
            )
        self._pacer.observe(ticket, response.headers)
        if status == 401 or code == "UNAUTHORIZED":
            raise AloHubAuthError(
                "AloHub refused the API key (401 UNAUTHORIZED): check ALOHUB_API_KEY"
                + (" and ALOHUB_TENANT_ID" if self.tenant_id else "")
                + f" for {self.base_url}."
            )
        if status == 403 or code == "INSUFFICIENT_SCOPE":
            raise AloHubScopeError(
                "AloHub accepted the key but it lacks the 'report' scope (403 INSUFFICIENT_SCOPE): "
                "ask the tenant admin to grant it."
            )
        if status == 404 and not_found_ok:
            return {"_not_found": True, "data": []}
        if status >= 500:
            raise _Transient("server_error", f"HTTP {status}{' ' + code if code else ''}")
        if payload is None:
            if status == 200:
                raise _Transient("bad_body", "HTTP 200 with a body that is not JSON")
            raise AloHubApiError(f"HTTP {status} with a body that is not JSON", status=status)
        if status == 400 or code == "INVALID_INPUT":
            raise AloHubInputError(
                f"AloHub rejected the request (400 {code or 'INVALID_INPUT'}): {message}"
            )
        if status != 200:
            raise AloHubApiError(
                f"unexpected HTTP {status} {code}: {message}", status=status, error_code=code
            )
        success = str(payload.get("success", ""))
        if success != "1":
            if code in ("FAIL", ""):
                raise _Transient("server_error", f"success {success!r} with error_code {code!r}")
            raise AloHubApiError(
                f"AloHub answered success {success!r}: {code} {message}",
                status=status,
                error_code=code,
            )
        return payload

    @staticmethod
    def _json_or_none(response: httpx.Response) -> dict | None:
        try:
            payload = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            return None
        return payload if isinstance(payload, dict) else None

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _shared_pacer(
    base_url: str,
    tenant: str,
    window_seconds: float,
    margin_seconds: float,
    state_path: str | None,
    clock: Callable[[], float] | None = None,
    state_url: str | None = None,
) -> QuotaPacer:
    """The tenant's pacer, its state shared by every process that uses the same store: the
    Postgres table of ``state_url`` (every machine of a deployment), else the SQLite file
    ``state_path`` (every process of this machine), else ``ALOHUB_RATE_STATE_URL``, else
    ``ALOHUB_RATE_STATE_PATH``, else a file in the temp folder. An explicit argument beats the
    environment; ``:memory:`` keeps the state per client."""
    key = quota_key(base_url, tenant)
    url = state_url or (None if state_path else os.environ.get(RATE_STATE_URL_ENV))
    store: QuotaStore
    if url:
        store = PostgresQuotaStore(url, key)
        clock = clock or store.clock  # one clock for the machines that share the state
    else:
        path = state_path or os.environ.get(RATE_STATE_PATH_ENV) or str(default_state_path())
        store = MemoryQuotaStore() if path == ":memory:" else SqliteQuotaStore(Path(path), key)
    return QuotaPacer(
        store,
        window_seconds=window_seconds,
        margin_seconds=margin_seconds,
        clock=clock or time.time,
    )


def _check_page_shape(payload: dict) -> None:
    """A list page must carry a count and a list; a gateway's half-answer is retried."""
    total = payload.get("totalRecord")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise _Transient("bad_body", f"totalRecord is {str(total)[:40]!r}, not a count")
    if payload.get("data") is None:
        payload["data"] = []
    if not isinstance(payload["data"], list):
        raise _Transient("bad_body", "data is not a list")


def _retry_after_seconds(response: httpx.Response) -> float:
    try:
        value = float(response.headers.get("Retry-After", ""))
        if math.isfinite(value) and value >= 0:
            return max(value, 0.05)
    except ValueError:
        pass
    return RATE_WINDOW_SECONDS


def _refuse_plain_http_to_remote(base_url: str) -> None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AloHubConfigError(f"ALOHUB_BASE_URL must be an http(s) URL, got {base_url!r}")
    if parts.scheme == "https":
        return
    host = parts.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise AloHubConfigError(
            f"refusing to send the API key over plain http to {host}: use https "
            "(plain http is allowed only to a loopback sandbox)"
        )
