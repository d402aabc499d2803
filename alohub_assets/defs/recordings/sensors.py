"""``recording_url_sensor``: asks for ``call_recordings`` runs where recordings are due.

It reads Parquet only (never the DuckDB file a writer may hold). Its cursor remembers, per
partition, when the next pending call falls due and the files' modification times, so a tick
with nothing due and nothing new reads no file at all. Run keys carry a time bucket, so a
failed run is asked for again in a later bucket (a run key is never launched twice).
"""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from alohub_assets.api.records import ICT
from alohub_assets.defs.partitions import daily_partitions
from alohub_assets.defs.recordings.jobs import call_recordings_job
from alohub_assets.defs.resources import RecordingPolicyResource, WarehouseResource
from alohub_assets.storage.recordings import find_due

RUN_KEY_BUCKET_SECONDS = 600


def utc_now() -> datetime:
    """The sensor's clock: tests put a fake one here instead of sleeping until a backoff ends."""
    return datetime.now(UTC)


def _mtime(path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


@dg.sensor(
    job=call_recordings_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests call_recordings runs for recent days with recordings due.",
)
def recording_url_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    recording_policy: RecordingPolicyResource,
) -> dg.SensorResult:
    store = warehouse.get_warehouse()
    policy = recording_policy.get_policy()
    now = utc_now()
    cursor = json.loads(context.cursor) if context.cursor else {}
    first_key = daily_partitions.get_first_partition_key()
    today = now.astimezone(ICT).date()  # the call center's date (UTC+7)
    bucket = int(now.timestamp()) // RUN_KEY_BUCKET_SECONDS
    requests, new_cursor, skipped = [], {}, []
    for back in range(1, recording_policy.scan_days + 1):
        day = today - timedelta(days=back)
        key = day.isoformat()
        if key < first_key:
            break
        files = (_mtime(store.call_logs_file(day)), _mtime(store.recordings_file(day)))
        if files[0] is None:
            continue
        seen = cursor.get(key)
        if (
            seen
            and seen["files"] == list(files)
            and (seen["next_due"] is None or datetime.fromisoformat(seen["next_due"]) > now)
        ):
            new_cursor[key] = seen  # nothing new, nothing due: no file read
            skipped.append(key)
            continue
        due = find_due(store, day, policy, now)
        next_due = due.next_due_at.isoformat() if due.next_due_at else None
        if due.due_call_ids:
            requests.append(
                dg.RunRequest(
                    run_key=f"call_recordings:{key}:{bucket}",
                    partition_key=key,
                    tags={"alohub/due_calls": str(len(due.due_call_ids))},
                )
            )
            next_due = now.isoformat()  # look again once the run has written its results
        new_cursor[key] = {"files": list(files), "next_due": next_due}
    context.log.info(
        f"{len(requests)} partitions with recordings due; {len(skipped)} unchanged and not due"
    )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(new_cursor, sort_keys=True))
