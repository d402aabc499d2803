"""Are the numbers on time? Two checks on ``daily_call_metrics``, and the sensor that keeps them
current without starting a run.

- ``freshness_check``, yesterday's numbers: after the deadline (``ALOHUB_FRESHNESS_DEADLINE``,
  local ``HH:MM``, default 09:00 Asia/Ho_Chi_Minh) of day D, partition D-1 must have been built
  **after D-1 ended** (the 02:00 run's full read): an intraday refresh of D-1 made during D-1 is
  the day so far, not the day. Before the deadline it looks at D-2 the same way.
- ``intraday_freshness_check``, today's numbers during opening hours (settings file
  ``intraday.opens_at``..``closes_at``): fails when today's partition is older than two refresh
  intervals (the gap between the intraday cron's last two ticks), i.e. two refreshes in a row
  did not land. Outside the opening hours, or before two refreshes were due, it passes.

Dagster's ``build_time_partition_freshness_checks`` would look at the last partition, which is
today's now that today is a partition, and would accept a refresh made during the day. These are
plain checks: the daily job runs them after ``daily_call_metrics`` (a run that fixes the numbers
records a passing result), and ``freshness_checks_sensor`` evaluates them every minute in the
daemon and records a result (runless: no run, no process) whenever it changes.
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import dagster as dg
from dagster._time import get_current_datetime  # Dagster's clock (frozen by its test utils)
from dagster._utils.schedules import reverse_cron_string_iterator  # no public equivalent in 1.13

from alohub_assets.api.records import ICT, LOCAL_TIMEZONE_NAME
from alohub_assets.defs.partitions import daily_partitions
from alohub_assets.defs.settings import CENTER_SETTINGS
from alohub_assets.settings import IntradaySettings

FRESHNESS_DEADLINE_ENV = "ALOHUB_FRESHNESS_DEADLINE"
DEFAULT_FRESHNESS_DEADLINE = "09:00"
FRESHNESS_ASSET = dg.AssetKey("daily_call_metrics")
YESTERDAY_CHECK = "freshness_check"
TODAY_CHECK = "intraday_freshness_check"
#: Metadata key of every result: the partition the check looked at.
PARTITION_KEY = "partition"


def deadline_time(local_time: str) -> time:
    """``"09:00"`` -> 09:00 (a local time of day)."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", local_time.strip())
    if not match:
        raise ValueError(
            f"{FRESHNESS_DEADLINE_ENV} must be a local time HH:MM (e.g. 09:00), got {local_time!r}"
        )
    hour, minute = (int(part) for part in match.groups())
    return time(hour, minute)


def freshness_deadline() -> time:
    return deadline_time(os.getenv(FRESHNESS_DEADLINE_ENV) or DEFAULT_FRESHNESS_DEADLINE)


@dataclass(frozen=True)
class Freshness:
    """One check's verdict, as the check and the sensor both record it."""

    check_name: str
    passed: bool
    description: str
    partition: str | None
    metadata: dict[str, Any] = field(default_factory=dict)

    def evaluation(self) -> dg.AssetCheckEvaluation:
        return dg.AssetCheckEvaluation(check_name=self.check_name, **self._fields())

    def result(self) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(check_name=self.check_name, **self._fields())

    def _fields(self) -> dict[str, Any]:
        """What the runless evaluation and the check's result say alike."""
        return {
            "asset_key": FRESHNESS_ASSET,
            "passed": self.passed,
            "description": self.description,
            "severity": dg.AssetCheckSeverity.ERROR,
            "metadata": {PARTITION_KEY: self.partition or "", **self.metadata},
        }


def _last_build(instance: dg.DagsterInstance, day: date) -> float | None:
    """When the partition ``day`` of ``daily_call_metrics`` was last materialized (epoch s)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=FRESHNESS_ASSET, asset_partitions=[day.isoformat()]),
        limit=1,
        ascending=False,
    ).records
    return records[0].timestamp if records else None


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, ICT).strftime("%Y-%m-%d %H:%M")


def yesterday_freshness(instance: dg.DagsterInstance, now: datetime, deadline: time) -> Freshness:
    """The last finished day due by now has a build made after it ended."""
    local = now.astimezone(ICT)
    expected = local.date() - timedelta(days=1 if local.time() >= deadline else 2)
    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    if expected < first:
        return Freshness(YESTERDAY_CHECK, True, f"nothing due yet ({expected} < {first})", None)
    ended = datetime.combine(expected + timedelta(days=1), time(0), tzinfo=ICT).timestamp()
    built = _last_build(instance, expected)
    metadata = {"deadline": f"{deadline:%H:%M} {LOCAL_TIMEZONE_NAME}"}
    if built is not None:
        metadata["last_built"] = _clock(built)
    if built is not None and built >= ended:
        description = f"{expected} was built at {_clock(built)}, after the day ended"
        return Freshness(YESTERDAY_CHECK, True, description, expected.isoformat(), metadata)
    if built is None:
        description = f"{expected} has not been built, and was due by {deadline:%H:%M}"
    else:
        description = (
            f"{expected} was last built at {_clock(built)}, before the day ended (an intraday "
            f"refresh): its full read was due by {deadline:%H:%M}"
        )
    return Freshness(YESTERDAY_CHECK, False, description, expected.isoformat(), metadata)


def _ticks_today(intraday: IntradaySettings, now: datetime) -> list[datetime]:
    """The intraday cron's ticks of today within the opening hours, up to now, newest first."""
    opens, _ = intraday.opening_hours()
    start = datetime.combine(now.date(), opens, tzinfo=ICT)
    ticks: list[datetime] = []
    for tick in reverse_cron_string_iterator(now.timestamp(), intraday.cron, LOCAL_TIMEZONE_NAME):
        if tick < start or len(ticks) == 2:
            break
        if tick <= now:
            ticks.append(tick.astimezone(ICT))
    return ticks


def today_freshness(
    instance: dg.DagsterInstance, now: datetime, intraday: IntradaySettings
) -> Freshness:
    """Today's partition is no older than two refresh intervals, during opening hours."""
    local = now.astimezone(ICT)
    today = local.date()
    opens, closes = intraday.opening_hours()
    if local.time() < opens or (closes is not None and local.time() >= closes):
        hours = f"{intraday.opens_at}-{intraday.closes_at}"
        return Freshness(TODAY_CHECK, True, f"outside the opening hours ({hours})", None)
    ticks = _ticks_today(intraday, local)
    if len(ticks) < 2:
        description = "fewer than two refreshes were due today so far"
        return Freshness(TODAY_CHECK, True, description, today.isoformat())
    interval = ticks[0] - ticks[1]
    built = _last_build(instance, today)
    since = built if built is not None else datetime.combine(today, opens, tzinfo=ICT).timestamp()
    age = timedelta(seconds=local.timestamp() - since)
    metadata = {
        "refresh_interval_minutes": interval.total_seconds() / 60,
        "age_minutes": round(age.total_seconds() / 60, 1),
    }
    if built is not None:
        metadata["last_built"] = _clock(built)
    if age <= 2 * interval:
        description = f"today's figures are {age.total_seconds() / 60:.0f} min old"
        return Freshness(TODAY_CHECK, True, description, today.isoformat(), metadata)
    if built is None:
        description = f"today has not been refreshed since opening at {intraday.opens_at}"
    else:
        description = (
            f"today's figures are {age.total_seconds() / 60:.0f} min old (last refresh "
            f"{_clock(built)}): more than two refresh intervals of "
            f"{interval.total_seconds() / 60:.0f} min"
        )
    return Freshness(TODAY_CHECK, False, description, today.isoformat(), metadata)


def evaluate_freshness(
    instance: dg.DagsterInstance, now: datetime | None = None
) -> Iterator[Freshness]:
    now = now or get_current_datetime()
    yield yesterday_freshness(instance, now, freshness_deadline())
    yield today_freshness(instance, now, CENTER_SETTINGS.intraday)


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            YESTERDAY_CHECK,
            asset=FRESHNESS_ASSET,
            description="yesterday's partition built after the day ended, by the deadline "
            "(ALOHUB_FRESHNESS_DEADLINE)",
        ),
        dg.AssetCheckSpec(
            TODAY_CHECK,
            asset=FRESHNESS_ASSET,
            description="during opening hours, today's partition no older than two refresh "
            "intervals",
        ),
    ],
    can_subset=True,
)
def freshness_checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
    """Both verdicts at the moment the check runs (in a run of the daily job, or by hand)."""
    selected = {key.name for key in context.selected_asset_check_keys}
    for verdict in evaluate_freshness(context.instance):
        if verdict.check_name in selected:
            yield verdict.result()


CHECK_KEYS = [dg.AssetCheckKey(FRESHNESS_ASSET, name) for name in (YESTERDAY_CHECK, TODAY_CHECK)]


def last_results(instance: dg.DagsterInstance) -> dict[dg.AssetCheckKey, Any]:
    """The latest completed result of each check (its execution record), or None."""
    summaries = instance.event_log_storage.get_asset_check_summary_records(CHECK_KEYS)
    return {key: summaries[key].last_completed_check_execution_record for key in CHECK_KEYS}


def _recorded(record: Any) -> tuple[bool, str] | None:
    if record is None or record.event is None or record.event.asset_check_evaluation is None:
        return None
    evaluation = record.event.asset_check_evaluation
    partition = evaluation.metadata.get(PARTITION_KEY)
    return evaluation.passed, partition.value if partition is not None else ""


@dg.sensor(
    name="freshness_checks_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Evaluates the two freshness checks of daily_call_metrics every minute and "
    "records a result (without a run) whenever one changes.",
)
def freshness_checks_sensor(context: dg.SensorEvaluationContext):
    recorded = last_results(context.instance)
    changed = []
    for verdict in evaluate_freshness(context.instance):
        key = dg.AssetCheckKey(FRESHNESS_ASSET, verdict.check_name)
        if _recorded(recorded[key]) != (verdict.passed, verdict.partition or ""):
            changed.append(verdict.evaluation())
    if not changed:
        return dg.SkipReason("both freshness results unchanged")
    return dg.SensorResult(asset_events=changed)
