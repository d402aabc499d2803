"""When the planning tables are built on their own.

- ``call_volume_forecast`` and ``staffing_plan`` of ``as_of``: once ``call_logs`` of ``as_of``
  is materialized (the nightly run, a re-fetch, a backfill) while ``as_of`` is a finished day.
  While today is a partition of its own (``end_offset=1``), the intraday refreshes of today's
  ``call_logs`` do not count: a forecast learns from whole days, so today's waits for the
  nightly run. A forecast is a snapshot of what was known: a late history day does not rebuild
  older forecasts (materialize one by hand to redo it).
- ``forecast_accuracy`` of a day: once its ``call_logs`` exist, and again whenever they or the
  forecasts it scores (made 1 and 7 days before) are materialized, so a late day is measured
  when it arrives.
"""

import dagster as dg

from alohub_assets.defs.partitions import daily_partitions

#: A partition of a finished day: with today a partition (end_offset=1), not the latest one.
_FINISHED_DAY = (
    ~dg.AutomationCondition.in_latest_time_window() if daily_partitions.end_offset >= 1 else None
)


def _finished(condition: dg.AutomationCondition) -> dg.AutomationCondition:
    return condition & _FINISHED_DAY if _FINISHED_DAY is not None else condition


_BLOCKERS = ~dg.AutomationCondition.any_deps_in_progress() & ~dg.AutomationCondition.in_progress()

PLANNING_AUTOMATION_CONDITION = (
    _finished(dg.AutomationCondition.any_deps_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_missing()
    & _BLOCKERS
).with_label("call_logs of as_of updated, as_of finished")

#: The day's own call_logs must be there; the forecasts scored may be missing (scored when any).
ACCURACY_AUTOMATION_CONDITION = (
    _finished(dg.AutomationCondition.any_deps_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_missing().ignore(
        dg.AssetSelection.assets("call_volume_forecast")
    )
    & _BLOCKERS
).with_label("call_logs of the day or a forecast of it updated")
