"""``daily_call_logs_schedule``: 02:00 in Ho Chi Minh City, yesterday plus a lookback re-fetch."""

import os
from datetime import date, timedelta

import dagster as dg

from alohub_assets.api.records import LOCAL_TIMEZONE_NAME
from alohub_assets.defs.ingest.jobs import daily_call_logs_job
from alohub_assets.defs.partitions import daily_partitions

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
