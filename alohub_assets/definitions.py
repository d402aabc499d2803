"""The code location: only assembles what ``defs/`` defines."""

import dagster as dg

from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.ingest.jobs import daily_call_logs_job
from alohub_assets.defs.ingest.schedules import (
    daily_call_logs_schedule,
    intraday_refresh_schedule,
)
from alohub_assets.defs.operations import FRESHNESS_CHECKS, OPERATIONS_SENSORS
from alohub_assets.defs.recordings.jobs import call_recordings_job
from alohub_assets.defs.recordings.sensors import recording_url_sensor
from alohub_assets.defs.resources import (
    RecordingPolicyResource,
    alohub_resource_from_env,
    kpi_settings_resource,
    planning_settings_resource,
    warehouse_resource_from_env,
)
from alohub_assets.defs.settings import CENTER_SETTINGS

defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=FRESHNESS_CHECKS,
    jobs=[daily_call_logs_job, call_recordings_job],
    schedules=[daily_call_logs_schedule, intraday_refresh_schedule],
    sensors=[recording_url_sensor, *OPERATIONS_SENSORS],
    # Steps are short and mostly I/O-bound: one process per run starts in a fraction of the time
    # a process per step takes.
    executor=dg.in_process_executor,
    resources={
        "alohub": alohub_resource_from_env(CENTER_SETTINGS),
        "warehouse": warehouse_resource_from_env(),
        "recording_policy": RecordingPolicyResource(),
        "kpi_settings": kpi_settings_resource(CENTER_SETTINGS),
        "planning_settings": planning_settings_resource(CENTER_SETTINGS),
    },
)
