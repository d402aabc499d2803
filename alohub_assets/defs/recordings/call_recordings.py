"""``call_recordings``: recording URLs fetched from the call-detail endpoint for answered calls
whose list row had none (the recording was still being processed)."""

from datetime import UTC, datetime

import dagster as dg

from alohub_assets.defs.partitions import daily_partitions, partition_day
from alohub_assets.defs.resources import (
    ALOHUB_API_POOL,
    AloHubResource,
    RecordingPolicyResource,
    WarehouseResource,
)
from alohub_assets.storage.recordings import fetch_recordings, find_due, merge_recordings

CALL_RECORDINGS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("call_id", "string"),
        dg.TableColumn(
            "recording_url", "string", description="detail's recordingUrl; null while missing"
        ),
        dg.TableColumn("answer_time_seconds", "int32", description="detail's answerTime"),
        dg.TableColumn("duration_seconds", "int32", description="detail's duration"),
        dg.TableColumn("call_type", "string", description='detail\'s callType: "0" in, "1" out'),
        dg.TableColumn("fetched_at", "timestamp with time zone", description="last detail request"),
        dg.TableColumn("attempts", "int32", description="detail requests made for the call"),
        dg.TableColumn("status", "string", description="found | pending | not_found | gave_up"),
    ]
)


def utc_now() -> datetime:
    """The run's clock (a seam: tests drive it together with the sensor's)."""
    return datetime.now(UTC)


@dg.asset(
    partitions_def=daily_partitions,
    deps=["call_logs"],
    kinds={"python", "parquet"},
    group_name="recordings",
    pool=ALOHUB_API_POOL,
)
def call_recordings(
    context: dg.AssetExecutionContext,
    alohub: AloHubResource,
    warehouse: WarehouseResource,
    recording_policy: RecordingPolicyResource,
) -> dg.MaterializeResult:
    """GET /v1/reports/call-logs/{callId} for each answered call of the day that is due: never
    asked, or still pending with its backoff elapsed. Final answers are never asked again."""
    day = partition_day(context)
    store = warehouse.get_warehouse()
    policy = recording_policy.get_policy()
    now = utc_now()
    due = find_due(store, day, policy, now)
    context.log.info(f"{day}: {len(due.due_call_ids)} answered calls due for a detail request")
    with alohub.get_client() as client:
        fetched = fetch_recordings(client, due.due_call_ids, due.attempts, policy, now)
        stats = client.stats.as_dict()
    merged = merge_recordings(store, day, fetched.table)
    statuses = merged.column("status").to_pylist()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": merged.num_rows,
            "dagster/column_schema": CALL_RECORDINGS_SCHEMA,
            "path": dg.MetadataValue.path(store.uri(store.recordings_file(day))),
            "detail_requests": stats["detail_requests"],
            "requests": stats["requests"],
            "retries": stats["retries"],
            "rate_limited_429": stats["rate_limited_429"],
            "seconds_slept": stats["seconds_slept"],
            "fetched_found": fetched.counts["found"],
            "fetched_pending": fetched.counts["pending"],
            "fetched_not_found": fetched.counts["not_found"],
            "fetched_gave_up": fetched.counts["gave_up"],
            **{
                f"total_{s}": statuses.count(s)
                for s in ("found", "pending", "not_found", "gave_up")
            },
        }
    )
