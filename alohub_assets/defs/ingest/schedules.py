"""The schedules of the daily job: ``daily_call_logs_schedule`` at 02:00 in Ho Chi Minh City
(yesterday, read whole, plus a lookback re-fetch) and ``intraday_refresh_schedule`` (today so far,
every 15 minutes during opening hours by default: the settings file's ``intraday``)."""

import os
from datetime import date, timedelta

import dagster as dg
from dagster._utils.schedules import is_valid_cron_string  # no public equivalent in 1.13

from alohub_assets.api.records import ICT, LOCAL_TIMEZONE_NAME
from alohub_assets.defs.ingest.jobs import daily_call_logs_job
from alohub_assets.defs.partitions import daily_partitions
from alohub_assets.defs.settings import CENTER_SETTINGS, settings_error

DEFAULT_LOOKBACK_DAYS = 2


def lookback_days() -> int:
    """``ALOHUB_LOOKBACK_DAYS``: how many days before yesterday are fetched again, since
    AloHub can report a call late (default 2)."""
    return int(os.getenv("ALOHUB_LOOKBACK_DAYS") or DEFAULT_LOOKBACK_DAYS)


def days_to_fetch(run_day: date, lookback: int) -> list[date]:
    """Yesterday first, then the lookback days, newest first."""
    return [run_day - timedelta(days=back) for back in range(1, lookback + 2)]


@dg.schedule(
    job=daily_call_logs_job,
    cron_schedule="0 2 * * *",
    execution_timezone=LOCAL_TIMEZONE_NAME,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 ICT: yesterday's partition, then the lookback days again for late calls.",
)
def daily_call_logs_schedule(context: dg.ScheduleEvaluationContext):
    run_day = context.scheduled_execution_time.date()
    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    for day in days_to_fetch(run_day, lookback_days()):
        if day < first:
            continue
        yield dg.RunRequest(
            run_key=f"{day.isoformat()}@{run_day.isoformat()}",
            partition_key=day.isoformat(),
            tags={"alohub/scheduled_for": run_day.isoformat()},
        )


#: Tag of the runs the intraday schedule requests (the landing reads only what may have changed).
INTRADAY_TAG = "alohub/refresh"
ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _intraday_cron() -> str:
    cron = CENTER_SETTINGS.intraday.cron
    if not is_valid_cron_string(cron):
        raise settings_error("intraday.cron", f"{cron!r} is not a cron expression Dagster accepts")
    return cron


def refresh_in_flight(instance: dg.DagsterInstance, day: str) -> dg.DagsterRun | None:
    """A run of the daily job for ``day`` that is queued or running, if any."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=daily_call_logs_job.name,
            tags={"dagster/partition": day},
            statuses=ACTIVE_RUN_STATUSES,
        ),
        limit=1,
    )
    return runs[0] if runs else None


@dg.schedule(
    job=daily_call_logs_job,
    cron_schedule=_intraday_cron(),
    execution_timezone=LOCAL_TIMEZONE_NAME,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Today's partition (the day so far) during opening hours: the daily job, reading "
    "only what may have changed since the previous refresh. Skips a tick while a run of today is "
    "queued or running.",
)
def intraday_refresh_schedule(context: dg.ScheduleEvaluationContext):
    tick = context.scheduled_execution_time.astimezone(ICT)
    opens, closes = CENTER_SETTINGS.intraday.opening_hours()
    if tick.time() < opens or (closes is not None and tick.time() >= closes):
        return dg.SkipReason(f"{tick:%H:%M} is outside the opening hours ({opens}-{closes})")
    day = tick.date().isoformat()
    if day < daily_partitions.get_first_partition_key():
        return dg.SkipReason(f"{day} is before the first partition")
    busy = refresh_in_flight(context.instance, day)
    if busy is not None:
        return dg.SkipReason(
            f"a run of {day} is still {busy.status.value.lower()} ({busy.run_id}): this tick is "
            "skipped rather than queued behind it"
        )
    return dg.RunRequest(
        run_key=f"intraday:{day}@{tick:%H%M}",
        partition_key=day,
        tags={INTRADAY_TAG: "intraday", "alohub/scheduled_for": tick.isoformat(timespec="minutes")},
    )
