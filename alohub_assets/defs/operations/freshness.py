"""Yesterday's numbers on time: a check that the previous local day's ``daily_call_metrics``
partition exists by a deadline (``ALOHUB_FRESHNESS_DEADLINE``, local ``HH:MM``, default 09:00
Asia/Ho_Chi_Minh), and the sensor that evaluates it.

Dagster's time-partition freshness check: after the deadline of day D it passes when partition
D-1 has been materialized, and fails (severity ERROR, shown on the asset in the UI) when not;
before the deadline it looks at D-2. The sensor runs the check when it could have turned late;
once failed, the check is run again by the materialization that fixes it.
"""

import os
import re
import warnings

import dagster as dg

from alohub_assets.api.records import LOCAL_TIMEZONE_NAME

FRESHNESS_DEADLINE_ENV = "ALOHUB_FRESHNESS_DEADLINE"
DEFAULT_FRESHNESS_DEADLINE = "09:00"
FRESHNESS_ASSET = dg.AssetKey("daily_call_metrics")


def deadline_cron(local_time: str) -> str:
    """``"09:00"`` -> ``"0 9 * * *"`` (every day at that local time)."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", local_time.strip())
    if not match:
        raise ValueError(
            f"{FRESHNESS_DEADLINE_ENV} must be a local time HH:MM (e.g. 09:00), got {local_time!r}"
        )
    hour, minute = (int(part) for part in match.groups())
    return f"{minute} {hour} * * *"


def freshness_deadline_cron() -> str:
    return deadline_cron(os.getenv(FRESHNESS_DEADLINE_ENV) or DEFAULT_FRESHNESS_DEADLINE)


# Dagster marks these superseded by FreshnessPolicy, which does not look at partitions: the
# question here is "is yesterday's partition there", so the partition-aware builders stay.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    freshness_checks = dg.build_time_partition_freshness_checks(
        assets=[FRESHNESS_ASSET],
        deadline_cron=freshness_deadline_cron(),
        timezone=LOCAL_TIMEZONE_NAME,
        # Dagster's default is WARN; yesterday's numbers missing at the deadline is an error.
        severity=dg.AssetCheckSeverity.ERROR,
    )
    freshness_checks_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
