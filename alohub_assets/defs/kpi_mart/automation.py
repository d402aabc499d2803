"""When a KPI partition is rebuilt on its own: whenever ``call_logs`` of that day changed.

``AutomationCondition.eager()`` looks only at the latest time partition (it contains
``in_latest_time_window()``), so a hand re-materialization of a past day would leave that day's
KPI tables stale. This condition is eager's without that clause and without its
``newly_missing()`` trigger (a day becoming a partition, such as today at midnight, is not built
before it has calls; the schedules build it): any partition whose ``call_logs`` was updated since
the KPI partition was last requested or built is requested, once ``call_logs`` is not missing or
running and the KPI partition is not running.
``any_deps_updated()`` ignores an update made by a run that also built the KPI partition (the
daily job), so the schedule's runs cause no second build.
"""

import dagster as dg

KPI_AUTOMATION_CONDITION = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & ~dg.AutomationCondition.any_deps_missing()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("call_logs of the day updated (any day)")

#: For the tables that read days around their own (``repeat_callers``: the 7 days before,
#: ``abandon_callbacks``: the next day). A missing neighbour is normal there (not loaded yet, or
#: before the history starts), so it blocks only a partition never built: one already built
#: (by the daily job, a backfill or this rule) is rebuilt whenever any ``call_logs`` day it reads
#: was updated since. A late day then refreshes the days whose window holds it, and the next
#: day's arrival completes ``abandon_callbacks``.
KPI_WINDOW_AUTOMATION_CONDITION = (
    dg.AutomationCondition.any_deps_updated().since_last_handled()
    & (~dg.AutomationCondition.missing() | ~dg.AutomationCondition.any_deps_missing())
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("a call_logs day it reads updated")
