"""One calendar for every asset: local days in Asia/Ho_Chi_Minh, the call center's own, up to and
including today (``end_offset=1``): today's key is the day so far, refreshed during opening hours
by ``intraday_refresh_schedule`` and read whole again by the 02:00 run once it is over."""

import os
from datetime import date

import dagster as dg

from alohub_assets.api.records import LOCAL_TIMEZONE_NAME

DEFAULT_PARTITIONS_START = "2026-01-01"

daily_partitions = dg.DailyPartitionsDefinition(
    start_date=os.getenv("ALOHUB_PARTITIONS_START") or DEFAULT_PARTITIONS_START,
    timezone=LOCAL_TIMEZONE_NAME,
    end_offset=1,
)


def partition_day(context: dg.AssetExecutionContext) -> date:
    """The local date a run's partition stands for."""
    return date.fromisoformat(context.partition_key)
