"""Recording URLs the list did not have yet: which calls are due for a detail request, the
requests themselves, and the merge with what earlier runs found. No Dagster import.

A call is *due* when it was answered, its ``recording_url`` is null in ``call_logs``, and it is
either unseen, or ``pending`` / ``not_found`` (a detail 404, which a gateway can also answer by
mistake) with attempts left and its backoff elapsed. ``found`` and ``gave_up`` are final, and so
is ``not_found`` once ``max_attempts`` is spent: those calls are never requested again, so a URL
once found is never lost.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from alohub_assets.api.client import AloHubClient
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.mart import local_connection
from alohub_assets.storage.publish import publish_file, temporary_sibling

FOUND, PENDING, NOT_FOUND, GAVE_UP = "found", "pending", "not_found", "gave_up"

RECORDINGS_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("recording_url", pa.string()),
        ("answer_time_seconds", pa.int32()),
        ("duration_seconds", pa.int32()),
        ("call_type", pa.string()),
        ("fetched_at", pa.timestamp("us", tz="UTC")),
        ("attempts", pa.int32()),
        ("status", pa.string()),
    ]
)


@dataclass(frozen=True)
class RecordingPolicy:
    """When to ask again for a recording that is not there yet, and when to stop."""

    max_attempts: int = 5
    backoff_seconds: tuple[int, ...] = field(default=(600, 3600, 21600, 86400))

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or not self.backoff_seconds:
            raise ValueError("max_attempts must be >= 1 and backoff_seconds non-empty")


# After n attempts the next is due backoff[min(n, len) - 1] seconds after the last fetch.
_DUE_SQL = """
WITH missing AS (
    SELECT call_id FROM read_parquet($call_logs, hive_partitioning = false)
    WHERE answered AND recording_url IS NULL AND call_id IS NOT NULL
),
known AS (
    -- typed, and empty while the partition has no recordings file
    SELECT call_id, status, attempts, fetched_at FROM (
        SELECT NULL::VARCHAR AS call_id, NULL::VARCHAR AS status, NULL::INTEGER AS attempts,
               NULL::TIMESTAMPTZ AS fetched_at
        WHERE false
        UNION ALL BY NAME
        SELECT * FROM read_parquet($recordings, allow_empty = true, hive_partitioning = false)
    )
)
SELECT
    m.call_id,
    k.attempts,
    CASE WHEN k.call_id IS NULL THEN NULL
         ELSE k.fetched_at + to_seconds(
             list_extract($backoff, least(k.attempts, len($backoff)))::BIGINT)
    END AS due_at
FROM missing AS m
LEFT JOIN known AS k USING (call_id)
WHERE k.call_id IS NULL
   OR k.status = 'pending'
   OR (k.status = 'not_found' AND k.attempts < $max_attempts)
"""


@dataclass(frozen=True)
class DueSummary:
    due_call_ids: list[str]
    next_due_at: datetime | None  # earliest future due time among pending calls
    attempts: dict[str, int]


def find_due(warehouse: Warehouse, day: date, policy: RecordingPolicy, now: datetime) -> DueSummary:
    """Which of the day's answered calls without a URL should be requested now."""
    call_logs_file = warehouse.call_logs_file(day)
    if not warehouse.pull(call_logs_file):
        return DueSummary([], None, {})
    warehouse.pull(warehouse.recordings_file(day))
    params = {
        "call_logs": str(call_logs_file),
        "recordings": str(warehouse.recordings_file(day)),
        "backoff": list(policy.backoff_seconds),
        "max_attempts": policy.max_attempts,
    }
    with local_connection() as con:
        rows = con.execute(_DUE_SQL, params).fetchall()
    due, later, attempts = [], [], {}
    for call_id, tries, due_at in rows:
        attempts[call_id] = tries or 0
        if due_at is None or due_at <= now:
            due.append(call_id)
        else:
            later.append(due_at)
    return DueSummary(sorted(due), min(later) if later else None, attempts)


@dataclass(frozen=True)
class FetchOutcome:
    table: pa.Table
    counts: dict[str, int]


def fetch_recordings(
    client: AloHubClient,
    call_ids: list[str],
    attempts_before: dict[str, int],
    policy: RecordingPolicy,
    now: datetime,
    workers: int = 4,
) -> FetchOutcome:
    """One detail request per due call (threads share the client's throttle)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        details = list(pool.map(client.get_call_detail, call_ids))
    columns: dict[str, list] = {name: [] for name in RECORDINGS_SCHEMA.names}
    for call_id, detail in zip(call_ids, details, strict=True):
        tries = attempts_before.get(call_id, 0) + 1
        url = detail.recording_url if detail else None
        if detail is None:
            status = NOT_FOUND
        elif url:
            status = FOUND
        elif tries >= policy.max_attempts:
            status = GAVE_UP
        else:
            status = PENDING
        columns["call_id"].append(call_id)
        columns["recording_url"].append(url)
        columns["answer_time_seconds"].append(detail.answer_time_seconds if detail else None)
        columns["duration_seconds"].append(detail.duration_seconds if detail else None)
        columns["call_type"].append(detail.call_type if detail else None)
        columns["fetched_at"].append(now.astimezone(UTC))
        columns["attempts"].append(tries)
        columns["status"].append(status)
    table = pa.table(columns, schema=RECORDINGS_SCHEMA)
    statuses = columns["status"]
    return FetchOutcome(table, {s: statuses.count(s) for s in (FOUND, PENDING, NOT_FOUND, GAVE_UP)})


def merge_recordings(warehouse: Warehouse, day: date, fetched: pa.Table) -> pa.Table:
    """Writes earlier results updated by ``fetched`` (atomically); a found URL always stays."""
    target = warehouse.recordings_file(day)
    con = local_connection()
    try:
        con.register("fetched", fetched)
        if warehouse.pull(target):
            merged = con.sql(
                """
                SELECT * FROM read_parquet($old, hive_partitioning = false)
                WHERE call_id NOT IN (SELECT call_id FROM fetched)
                   OR status = 'found'
                UNION ALL
                SELECT * FROM fetched
                WHERE call_id NOT IN (
                    SELECT call_id FROM read_parquet($old, hive_partitioning = false) WHERE status = 'found')
                ORDER BY call_id
                """,
                params={"old": str(target)},
            ).to_arrow_table()
        else:
            merged = con.sql("SELECT * FROM fetched ORDER BY call_id").to_arrow_table()
    finally:
        con.close()
    merged = merged.cast(RECORDINGS_SCHEMA)
    tmp = temporary_sibling(target)
    pq.write_table(merged, tmp, compression="zstd")
    publish_file(tmp, target)
    warehouse.push(target)
    return merged
