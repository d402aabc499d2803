"""The API client against the sandbox over real HTTP: paging, spelling, retries, errors, secrets."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from alohub_assets.api.client import (
    AloHubAuthError,
    AloHubClient,
    AloHubConfigError,
    AloHubInputError,
    AloHubPagingError,
    AloHubRetriesExhausted,
    AloHubScopeError,
    RetryPolicy,
    tls_context,
)
from alohub_assets.api.rate_limit import MemoryQuotaStore, QuotaPacer
from alohub_assets.api.records import ICT, local_day_window
from alohub_assets.defs.ingest.call_logs import build_call_logs
from alohub_assets.storage.layout import Warehouse
from alohub_dev.sandbox.calls import RECORDING_IN_DETAIL, SandboxCall
from tests.support import API_KEY, DAY, ListSink, list_call_logs


def day_ids(sandbox, day: date = DAY) -> Counter:
    return Counter(c.call_id for c in sandbox.store.calls_on(day))


def test_every_call_of_a_day_exactly_once_across_pages(sandbox):
    start, end = local_day_window(DAY)
    with sandbox.client() as client:
        rows = list_call_logs(client, start, end)
    truth = sandbox.store.calls_on(DAY)
    assert len(rows) == sum(len(c.customer_names) for c in truth)  # totalRecord counts repeats
    assert client.stats.total_record == len(rows)
    assert set(r["callId"] for r in rows) == set(c.call_id for c in truth)
    # Some call's rows straddle a page boundary (100 rows a page): the case a per-page dedup misses.
    positions: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        positions.setdefault(row["callId"], []).append(index // 100)
    assert any(len(set(pages)) > 1 for pages in positions.values())
    assert client.stats.pages == -(-len(rows) // 100)


def test_window_end_is_sent_as_callEndtime(sandbox):  # noqa: N802
    start, end = local_day_window(DAY)
    with sandbox.client() as client:
        rows = list_call_logs(client, start, end)
    assert {r["startTime"][:10] for r in rows} == {"04/03/2026"}  # DAY, as AloHub writes it
    # The sandbox, like AloHub, ignores the other spelling: the same window with callEndTime
    # reaches to the end of the data, so a client with the wrong spelling would take more days.
    wrong = httpx.post(
        f"{sandbox.url}/v1/reports/call-logs",
        headers={"X-Api-Key": API_KEY},
        verify=tls_context(),
        json={
            "callStartTime": start.isoformat(),
            "callEndTime": end.isoformat(),
            "limit": 1,
        },
    ).json()
    assert wrong["totalRecord"] > len(rows)


def test_midnight_calls_belong_to_their_own_day(sandbox):
    start, end = local_day_window(DAY)
    with sandbox.client() as client:
        rows = list_call_logs(client, start, end)
    times = {r["startTime"] for r in rows}
    assert "04/03/2026 00:00:00" in times and "04/03/2026 23:59:59" in times
    assert not any(t.startswith(("03/03/2026", "05/03/2026")) for t in times)


def test_server_cap_on_limit_does_not_end_paging(make_sandbox):
    sandbox = make_sandbox(max_limit=30)  # asks 100 a page, gets 30: a short page is no end
    start, end = local_day_window(DAY)
    with sandbox.client() as client:
        rows = list_call_logs(client, start, end)
    assert set(r["callId"] for r in rows) == set(day_ids(sandbox))
    assert client.stats.pages == -(-len(rows) // 30)


def truth_rows(sandbox, day: date = DAY) -> list[dict]:
    """The rows the sandbox serves for the day, in its order (what one huge page would hold)."""
    return sandbox.store.list_rows(*local_day_window(day), None, now=datetime.now(ICT))


@pytest.mark.parametrize("pages_in_flight", [1, 8])
def test_a_short_page_before_total_record_rereads_the_window(make_sandbox, pages_in_flight):
    """Page 2 comes back with half its rows although totalRecord says more match. Paging may
    end neither on that page nor on the empty page past the rows it got: the window is read
    again, and every row lands once."""
    sandbox = make_sandbox()
    sandbox.server.state.forced_faults = [None, "short_page"]  # the 2nd request of the read
    sink = ListSink()
    with sandbox.client(pages_in_flight=pages_in_flight) as client:
        result = client.read_window(*local_day_window(DAY), sink)
    assert result.rereads == 1 and client.stats.window_rereads == 1
    assert sink.rows == truth_rows(sandbox)
    assert result.rows == result.total_record == len(sink.rows)


def test_pages_that_keep_coming_back_short_are_a_clear_error(make_sandbox):
    sandbox = make_sandbox(faults={"short_page": 1.0})
    sink = ListSink()
    with sandbox.client(max_window_rereads=2) as client, pytest.raises(AloHubPagingError) as info:
        client.read_window(*local_day_window(DAY), sink)
    assert "came back short" in str(info.value) and "was empty with" in str(info.value)
    assert sink.rows == []  # nothing is passed off as the whole window
    assert client.stats.window_rereads == 3


def test_filters_by_call_type_and_phone(sandbox):
    start, end = local_day_window(DAY)
    truth = sandbox.store.calls_on(DAY)
    with sandbox.client() as client:
        inbound = list_call_logs(client, start, end, call_type=0)
        outbound = list_call_logs(client, start, end, call_type=1)
        one = truth[5]
        by_phone = list_call_logs(client, start, end, phone_number=one.caller)
    assert {r["callId"] for r in inbound} == {c.call_id for c in truth if c.call_type == "0"}
    assert {r["callId"] for r in outbound} == {c.call_id for c in truth if c.call_type == "1"}
    assert one.call_id in {r["callId"] for r in by_phone}


def test_rate_limit_and_injected_500s_still_give_every_call_once(make_sandbox):
    # 3 requests per 1 s window (the sandbox's window shortened so the test is quick).
    sandbox = make_sandbox(
        tenant_limit=3, route_limit=3, window_seconds=1.0, faults={"fail_500": 0.1}, fault_seed=3
    )
    start, end = local_day_window(DAY)
    with sandbox.client(page_size=40, rate_window_seconds=1.0) as client:
        rows = list_call_logs(client, start, end)
    assert Counter(r["callId"] for r in rows).keys() == day_ids(sandbox).keys()
    assert client.stats.retries["server_error"] >= 1
    assert client.stats.seconds_slept > 0  # the throttle paced requests ahead of the limit
    served = sandbox.requests()
    assert served.get("list:200") == client.stats.pages


class FakeClock:
    """One clock for the sandbox's rate windows and the client's throttle: sleeping advances it,
    so the test waits no real time and no request can straddle a window boundary by luck."""

    def __init__(self, start: float = 1_000_000.0):  # a multiple of the 2 s window
        self.now = start

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_429_waits_retry_after_then_continues(make_sandbox):
    # A sliding window, so the spent quota is still spent when the client asks; and one fake
    # clock for the sandbox's window and the client's pacer, so no real time passes at all.
    sandbox = make_sandbox(tenant_limit=4, route_limit=4, window_seconds=2.0, rate_window="sliding")
    clock = FakeClock()
    sandbox.server.state.clock = clock.time
    # Another process of the tenant spends the window, unseen by this client's throttle.
    for _ in range(4):
        httpx.post(
            f"{sandbox.url}/v1/reports/call-logs",
            headers={"X-Api-Key": API_KEY},
            json={},
            verify=tls_context(),
        )
    start, end = local_day_window(DAY)
    pacer = QuotaPacer(MemoryQuotaStore(), window_seconds=2.0, clock=clock.time)
    with sandbox.client(pacer=pacer, sleep=clock.sleep) as client:
        rows = list_call_logs(client, start, end)
    assert {r["callId"] for r in rows} == set(day_ids(sandbox))
    # The first request found the window spent: a 429 with Retry-After, waited out on the
    # clock (the pacer may probe once more while it learns how the window is counted).
    assert client.stats.rate_limited >= 1
    assert sandbox.requests()["list:429"] == client.stats.rate_limited
    assert client.stats.retries["rate_limited"] == client.stats.rate_limited
    assert sandbox.requests()["list:200"] == 4 + client.stats.pages  # the 4 others, then ours
    assert client.stats.seconds_slept == clock.now - 1_000_000.0 >= 2.0  # all on the fake clock


def test_the_client_paces_to_the_vendors_10_s_window(make_sandbox):
    """The client as the pipeline builds it (no window given: the vendor's "limit/10s") against
    4 requests per sliding 10 s window, on one simulated clock: the pacer it makes meets at
    most the one 429 with which it learns how the window is counted, and loses no window. Handed
    a shorter window it would send too early (429s); a longer one, it would wait for nothing."""
    sandbox = make_sandbox(
        tenant_limit=4, route_limit=4, window_seconds=10.0, rate_window="sliding"
    )
    clock = FakeClock()
    sandbox.server.state.clock = clock.time
    # One page at a time: every wait is then one sleep on the simulated clock.
    with sandbox.client(
        page_size=25, pages_in_flight=1, clock=clock.time, sleep=clock.sleep
    ) as client:
        rows = list_call_logs(client, *local_day_window(DAY))
    assert rows == truth_rows(sandbox)
    served = sandbox.requests()
    assert served.get("list:429", 0) <= 1
    # Simulated seconds (the schedule the pacer chose, not a measured duration) against the
    # bound: 4 requests at the start of each window.
    bound = 10.0 * ((served["list:200"] - 1) // 4)
    assert bound >= 30 and clock.now - 1_000_000.0 <= 1.1 * bound


def test_drops_timeouts_and_bad_bodies_are_retried(make_sandbox):
    sandbox = make_sandbox(slow_seconds=1.5)
    sandbox.server.state.forced_faults = ["drop", "slow", "html_502", "truncate", "success_0"]
    start, end = local_day_window(DAY)
    with sandbox.client(timeout_seconds=0.5) as client:
        rows = list_call_logs(client, start, end)
    assert {r["callId"] for r in rows} == set(day_ids(sandbox))
    assert dict(client.stats.retries) == {
        "connection": 1,
        "timeout": 1,
        "server_error": 2,
        "bad_body": 1,
    }


def test_retries_are_bounded_and_fail_clearly(make_sandbox):
    sandbox = make_sandbox(faults={"fail_500": 1.0})
    start, end = local_day_window(DAY)
    policy = RetryPolicy(max_retries=3, backoff_base_seconds=0.01, backoff_cap_seconds=0.02)
    with sandbox.client(retry=policy) as client, pytest.raises(AloHubRetriesExhausted) as info:
        list_call_logs(client, start, end)
    assert "failed 4 times" in str(info.value)
    assert sandbox.requests()["list:500"] == 4


@pytest.mark.parametrize(
    ("key", "error", "hint"),
    [("wrong-key", AloHubAuthError, "ALOHUB_API_KEY"), (None, AloHubScopeError, "'report' scope")],
)
def test_401_and_403_fail_at_once(sandbox, key, error, hint):
    key = key or sandbox.config.no_scope_key
    start, end = local_day_window(DAY)
    with sandbox.client(api_key=key) as client, pytest.raises(error) as info:
        list_call_logs(client, start, end)
    assert hint in str(info.value)
    assert key not in str(info.value)
    assert sum(sandbox.requests().values()) == 1  # no retry
    assert not client.stats.retries


def test_400_carries_the_server_message(sandbox):
    start, end = local_day_window(DAY)
    with sandbox.client(page_size=0) as client, pytest.raises(AloHubInputError) as info:
        list_call_logs(client, start, end)
    assert "limit must be a positive number" in str(info.value)


def test_page_drift_rereads_the_window(sandbox):
    start, end = local_day_window(DAY)
    first = sandbox.store.calls_on(DAY)[0]
    late = SandboxCall(
        **{
            **first.__dict__,
            "call_id": first.start_time.strftime("%Y%m%d%H%M%S") + "-LATECALL-001",
            "start_time": first.start_time - timedelta(seconds=1),
            "customer_names": ["Khách mới"],
        }
    )

    class InsertAfterFirstPage(ListSink):
        def write_page(self, rows):
            super().write_page(rows)
            if late.call_id not in {c.call_id for c in sandbox.store.calls_on(DAY)}:
                sandbox.store.add_call(late)  # a call lands at the top while we page

    sink = InsertAfterFirstPage()
    with sandbox.client() as client:
        result = client.read_window(start, end, sink)
    ids = Counter(r["callId"] for r in sink.rows)
    assert result.rereads == 1
    assert client.stats.window_rereads == 1
    assert set(ids) == set(day_ids(sandbox))
    assert late.call_id in ids
    assert len(sink.rows) == result.total_record


def test_endless_drift_is_a_clear_error(sandbox):
    start, end = local_day_window(DAY)
    counter = iter(range(1000))

    class AlwaysInsert(ListSink):
        def write_page(self, rows):
            super().write_page(rows)
            n = next(counter)
            base = sandbox.store.calls_on(DAY)[-1]
            sandbox.store.add_call(
                SandboxCall(**{**base.__dict__, "call_id": f"20260304000000-DRIFT-{n:03d}"})
            )

    with sandbox.client(max_window_rereads=2) as client, pytest.raises(AloHubPagingError) as info:
        client.read_window(start, end, AlwaysInsert())
    assert "kept changing" in str(info.value)


def test_call_detail_vocabulary_and_404(sandbox):
    answered = [c for c in sandbox.store.calls_on(DAY) if c.recording == RECORDING_IN_DETAIL]
    with sandbox.client() as client:
        detail = client.get_call_detail(answered[0].call_id)
        missing = client.get_call_detail("20260304101010-NOSUCHID-999")
    assert detail is not None
    assert detail.recording_url == answered[0].recording_url  # empty in the list, set here
    assert detail.first_connect_time == answered[0].first_connect_time
    assert detail.answer_time_seconds == answered[0].waiting_seconds
    assert missing is None
    assert client.stats.detail_requests == 2 and client.stats.details_not_found == 1


def test_call_detail_direction_from_its_call_type(sandbox):
    # The detail's callType: "0" inbound, "1" outbound (documented); other values happen.
    calls = sandbox.store.calls_on(DAY)
    expected = {"0": ("inbound", "0"), "1": ("outbound", "1"), "2": ("unknown", "2")}
    with sandbox.client() as client:
        for call_type, (direction, raw) in expected.items():
            call = next(c for c in calls if c.call_type == call_type)
            detail = client.get_call_detail(call.call_id)
            assert (detail.direction, detail.call_type) == (direction, raw)


@pytest.mark.parametrize("bad", ["../x", "a b", "20260304101010-AB/C-1", "9" * 2048, ""])
def test_bad_call_ids_are_refused_before_any_request(sandbox, bad):
    with sandbox.client() as client, pytest.raises(AloHubInputError):
        client.get_call_detail(bad)
    assert sandbox.requests() == {}


def test_the_vendor_sample_row_parses_as_written_by_hand(tmp_path):
    # The list row of the vendor document, word for word, and what it says by a human reading.
    sample = {
        "callId": "20260310095227-ABCXYZ-342",
        "caller": "0912345678",
        "called": "alohub2",
        "startTime": "21/01/2026 09:52:33",
        "waitingTime": "6",
        "firstRingTime": "21/01/2026 09:52:35",
        "firstConnectTime": "",
        "agentId": "AloHub",
        "endTime": "21/01/2026 09:52:41",
        "acdTime": "0",
        "description": "INBOUND-Khách hàng kết thúc trước khi timeout",
        "customerName": "0912345678",
        "url": "",
    }
    # Landed as an inbound page and parsed by the pipeline's own SQL (call_logs.sql).
    warehouse = Warehouse.at(tmp_path)
    day = date(2026, 1, 21)
    folder = warehouse.raw_partition_dir(day)
    folder.mkdir(parents=True)
    page = {"source": "inbound", "page": 1, "data": [sample]}
    (folder / "inbound.jsonl").write_text(json.dumps(page, ensure_ascii=False) + "\n")
    assert build_call_logs(warehouse, day).calls == 1
    (row,) = pq.read_table(warehouse.call_logs_file(day)).to_pylist()
    utc = UTC
    assert row["call_id"] == "20260310095227-ABCXYZ-342"
    assert row["start_time"] == datetime(2026, 1, 21, 2, 52, 33, tzinfo=utc)  # 09:52:33 UTC+7
    assert row["first_ring_time"] == datetime(2026, 1, 21, 2, 52, 35, tzinfo=utc)
    assert row["end_time"] == datetime(2026, 1, 21, 2, 52, 41, tzinfo=utc)
    assert row["first_connect_time"] is None and row["recording_url"] is None
    assert (row["waiting_seconds"], row["acd_seconds"]) == (6, 0)
    assert row["description"] == "INBOUND-Khách hàng kết thúc trước khi timeout"
    assert row["agent_id"] == "AloHub" and row["customer_names"] == ["0912345678"]
    assert (row["call_date"], row["direction"], row["answered"]) == (day, "inbound", False)


def test_rows_keep_vietnamese_text_and_empty_strings(sandbox):
    start, end = local_day_window(DAY)
    with sandbox.client() as client:
        rows = list_call_logs(client, start, end)
    names = {r["customerName"] for r in rows}
    assert "Nguyễn Văn An" in names and "Khách lẻ 🎧" in names  # UTF-8 both ways, emoji too
    unanswered = [r for r in rows if r["firstConnectTime"] == ""]
    assert unanswered and {r["url"] for r in unanswered} == {""}
    assert {type(r["waitingTime"]) for r in rows} == {str}  # strings of seconds, as documented


def test_the_key_never_reaches_a_log_or_an_error(make_sandbox, caplog):
    sandbox = make_sandbox(faults={"fail_500": 0.3, "drop": 0.1}, fault_seed=5)
    caplog.set_level(logging.DEBUG)
    start, end = local_day_window(DAY)
    with sandbox.client() as client:
        list_call_logs(client, start, end)
        text = repr(client) + str(client.stats.as_dict())
    with pytest.raises(AloHubRetriesExhausted) as info:
        with sandbox.client(retry=RetryPolicy(max_retries=0)) as client:
            sandbox.server.state.forced_faults = ["fail_500"]
            list_call_logs(client, start, end)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("alohub_assets")]
    assert any("retry" in message for message in ours)  # the client's own retry lines
    for blob in (caplog.text, text, str(info.value), repr(info.value)):
        assert API_KEY not in blob


def test_plain_http_to_a_remote_host_is_refused():
    with pytest.raises(AloHubConfigError, match="plain http"):
        AloHubClient(API_KEY, base_url="http://xapi.alohub.vn")
    with pytest.raises(AloHubConfigError, match="ALOHUB_API_KEY"):
        AloHubClient("", base_url="https://xapi.alohub.vn")


def test_clients_share_one_certificate_store_and_follow_ssl_cert_file(monkeypatch, tmp_path):
    """The store is read once per process (each read costs ~50 ms of CPU), from where httpx
    would read it: SSL_CERT_FILE when set (a company's own CA), else certifi's bundle."""
    import certifi

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    default = tls_context()
    assert tls_context() is default and len(default.get_ca_certs()) > 50
    bundle = Path(certifi.where()).read_text()
    first = bundle[: bundle.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    own_ca = tmp_path / "company-ca.pem"
    own_ca.write_text(first[first.index("-----BEGIN CERTIFICATE-----") :] + "\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(own_ca))
    assert len(tls_context().get_ca_certs()) == 1
    with AloHubClient(API_KEY, base_url="https://xapi.alohub.vn") as client:
        pool = client._http._transport._pool  # noqa: SLF001 (what httpx verifies peers with)
        assert pool._ssl_context is tls_context()  # noqa: SLF001
