"""The sensor that evaluates the assets' automation conditions (the KPI mart's: rebuild a day
when its ``call_logs`` changed).

Dagster adds a ``default_automation_condition_sensor`` by itself, but stopped; this one has the
same name and starts running, so a new deployment follows ``call_logs`` without a click. It
targets every asset, so a KPI table added later (it gets the condition from ``KPI_ASSET_ARGS``)
is covered too. It runs in the Dagster daemon (``dagster dev`` starts one).
"""

import dagster as dg

AUTOMATION_SENSOR_NAME = "default_automation_condition_sensor"

automation_condition_sensor = dg.AutomationConditionSensorDefinition(
    AUTOMATION_SENSOR_NAME,
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description=(
        "Evaluates the automation conditions: rebuilds a day's KPI tables after its call_logs "
        "changed (a backfill or a hand re-materialization; not after the daily job, which "
        "builds them itself)."
    ),
)
