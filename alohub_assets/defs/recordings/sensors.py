"""``recording_url_sensor``: asks for ``call_recordings`` runs where recordings are due.

It works from what was loaded, not from the calendar: it follows the materialization events of
``call_logs`` and ``call_recordings`` (any partition, any date: a backfill of last year, a day
re-fetched by hand) with a storage-id cursor. A day is read (Parquet only, never the DuckDB file
a writer may hold) when an event for it arrives or when the due time the cursor keeps for it
has come. A day with nothing left to ask for leaves the cursor, so it costs no file read until
its files change again; the cursor holds only days with work ahead, a year of partitions fits.

At most ``max_runs_per_tick`` runs are requested per tick, the longest-due days first. A
requested day is not read again until its ``call_recordings`` run has written (an event) or,
if that run failed, ``rerequest_after_minutes`` later; never while a run of it is queued or
running (a re-fetch of its ``call_logs`` meanwhile does not ask for a second run).
Run keys carry a time bucket, since Dagster never launches a sensor run key twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import dagster as dg

from alohub_assets.defs.recordings.jobs import call_recordings_job
from alohub_assets.defs.resources import RecordingPolicyResource, WarehouseResource
from alohub_assets.storage.recordings import find_due

RUN_KEY_BUCKET_SECONDS = 600
FOLLOWED_ASSETS = ("call_logs", "call_recordings")
EVENTS_PER_PAGE = 1000
ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


@dataclass
class RecordingCursor:
    """``after``: last storage id seen per followed asset. ``due``: partition -> epoch seconds
    when the day is to be read next (only days with work ahead). ``asked``: partitions with a
    requested run not written yet (their ``due`` is the time to ask again if it never is)."""

    after: dict[str, int]
    due: dict[str, int]
    asked: set[str]

    @classmethod
    def parse(cls, text: str | None) -> RecordingCursor:
        data = json.loads(text) if text else {}
        if "after" not in data:  # none yet, or the calendar sensor's format: start from events
            return cls({}, {}, set())
        return cls(dict(data["after"]), dict(data["due"]), set(data.get("asked", [])))

    def dump(self) -> str:
        return json.dumps(
            {"after": self.after, "due": self.due, "asked": sorted(self.asked)},
            sort_keys=True,
            separators=(",", ":"),
        )


def _new_events(instance: dg.DagsterInstance, cursor: RecordingCursor) -> dict[str, float]:
    """Partition -> earliest event time among materializations not seen yet (cursor advanced)."""
    touched: dict[str, float] = {}
    for asset in FOLLOWED_ASSETS:
        after = cursor.after.get(asset)
        while True:
            page = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=after),
                limit=EVENTS_PER_PAGE,
                ascending=True,
            )
            for record in page.records:
                after = record.storage_id
                if record.partition_key:
                    key = record.partition_key
                    touched[key] = min(touched.get(key, record.timestamp), record.timestamp)
            if not page.has_more:
                break
        if after is not None:
            cursor.after[asset] = after
    return touched


def _run_in_flight(instance: dg.DagsterInstance, partition: str) -> bool:
    runs = instance.get_run_records(
        dg.RunsFilter(
            job_name=call_recordings_job.name,
            statuses=ACTIVE_RUN_STATUSES,
            tags={"dagster/partition": partition},
        ),
        limit=1,
    )
    return bool(runs)


def plan_recording_runs(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    recording_policy: RecordingPolicyResource,
    now: datetime,
) -> dg.SensorResult:
    """One tick at ``now`` (the sensor passes the clock; tests inject one)."""
    store = warehouse.get_warehouse()
    policy = recording_policy.get_policy()
    cursor = RecordingCursor.parse(context.cursor)
    now_ts = int(now.timestamp())
    for key, at in _new_events(context.instance, cursor).items():
        # Its run wrote, or call_logs changed: read it again (unless its run is still pending).
        cursor.due[key] = min(cursor.due.get(key, now_ts), int(at), now_ts)
    # Longest-due first; the partition key breaks ties (older days first).
    candidates = sorted((due_at, key) for key, due_at in cursor.due.items() if due_at <= now_ts)
    bucket = now_ts // RUN_KEY_BUCKET_SECONDS
    rerequest_seconds = round(recording_policy.rerequest_after_minutes * 60)
    requests: list[dg.RunRequest] = []
    reads = 0
    for _due_at, key in candidates:
        if len(requests) >= recording_policy.max_runs_per_tick:
            break  # the rest keep their due time and come first next tick
        if key in cursor.asked and _run_in_flight(context.instance, key):
            cursor.due[key] = now_ts + rerequest_seconds
            continue
        cursor.asked.discard(key)
        reads += 1
        due = find_due(store, date.fromisoformat(key), policy, now)
        if due.due_call_ids:
            requests.append(
                dg.RunRequest(
                    run_key=f"call_recordings:{key}:{bucket}",
                    partition_key=key,
                    tags={"alohub/due_calls": str(len(due.due_call_ids))},
                )
            )
            cursor.asked.add(key)
            cursor.due[key] = now_ts + rerequest_seconds
        elif due.next_due_at is not None:
            cursor.due[key] = int(due.next_due_at.timestamp()) + 1
        else:
            del cursor.due[key]  # nothing ahead: no read until the day is materialized again
    waiting = sum(1 for due_at in cursor.due.values() if due_at <= now_ts)
    context.log.info(
        f"{len(requests)} call_recordings runs requested; {reads} partitions read; "
        f"{waiting} due partitions left for the next ticks; {len(cursor.due)} in the cursor"
    )
    return dg.SensorResult(run_requests=requests, cursor=cursor.dump())


@dg.sensor(
    job=call_recordings_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests call_recordings runs for every loaded day with recordings due "
        "(follows call_logs and call_recordings materializations)."
    ),
)
def recording_url_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    recording_policy: RecordingPolicyResource,
) -> dg.SensorResult:
    return plan_recording_runs(context, warehouse, recording_policy, datetime.now(UTC))
