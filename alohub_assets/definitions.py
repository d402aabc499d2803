"""The code location: only assembles what the other modules define."""

import dagster as dg

from alohub_assets.assets.call_logs import call_logs
from alohub_assets.assets.mart import agent_daily_load, daily_call_metrics, hourly_call_volume
from alohub_assets.assets.raw_call_logs import raw_call_logs
from alohub_assets.jobs import daily_call_logs_job
from alohub_assets.resources import alohub_resource_from_env, warehouse_resource_from_env
from alohub_assets.schedules import daily_call_logs_schedule

defs = dg.Definitions(
    assets=[raw_call_logs, call_logs, daily_call_metrics, agent_daily_load, hourly_call_volume],
    jobs=[daily_call_logs_job],
    schedules=[daily_call_logs_schedule],
    # Steps are short and mostly I/O-bound: one process per run starts in a fraction of the time
    # a process per step takes, and runs its DuckDB writers one after another.
    executor=dg.in_process_executor,
    resources={
        "alohub": alohub_resource_from_env(),
        "warehouse": warehouse_resource_from_env(),
    },
)
