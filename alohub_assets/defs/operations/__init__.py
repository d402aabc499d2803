"""What keeps the pipeline running without a click: the automation sensor the KPI mart's
conditions need, the freshness checks of yesterday's and today's numbers, and alerts to a
webhook."""

from alohub_assets.defs.operations.alerts import freshness_alert_sensor, run_failure_alert_sensor
from alohub_assets.defs.operations.automation import automation_condition_sensor
from alohub_assets.defs.operations.freshness import (
    freshness_checks,
    freshness_checks_sensor,
)

OPERATIONS_SENSORS = [
    automation_condition_sensor,
    freshness_checks_sensor,
    freshness_alert_sensor,
    run_failure_alert_sensor,
]
FRESHNESS_CHECKS = [freshness_checks]
__all__ = ["FRESHNESS_CHECKS", "OPERATIONS_SENSORS"]
