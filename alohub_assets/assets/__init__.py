"""The pipeline's assets, one module per stage."""

from alohub_assets.assets.analytics import (
    abandon_callbacks,
    interval_call_metrics,
    repeat_callers,
    staffing_requirements,
)
from alohub_assets.assets.call_logs import call_logs
from alohub_assets.assets.call_recordings import call_recordings
from alohub_assets.assets.mart import agent_daily_load, daily_call_metrics, hourly_call_volume
from alohub_assets.assets.raw_call_logs import raw_call_logs

#: What the daily job materializes for a partition, in dependency order.
PIPELINE_ASSETS = [
    raw_call_logs,
    call_logs,
    daily_call_metrics,
    agent_daily_load,
    hourly_call_volume,
    interval_call_metrics,
    staffing_requirements,
    repeat_callers,
    abandon_callbacks,
]
#: Every asset of the code location (call_recordings runs when the sensor asks for it).
ALL_ASSETS = [*PIPELINE_ASSETS, call_recordings]
