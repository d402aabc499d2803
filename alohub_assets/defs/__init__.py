"""Dagster objects by domain: ``ingest/`` (fetch, land, call_logs), ``kpi_mart/`` (one asset
and one query per KPI table), ``recordings/`` (recording URLs from the detail endpoint),
``planning/`` (call-volume forecast, staffing plan, forecast accuracy)."""

from alohub_assets.defs.ingest.call_logs import call_logs
from alohub_assets.defs.ingest.raw_call_logs import raw_call_logs
from alohub_assets.defs.kpi_mart import KPI_ASSETS
from alohub_assets.defs.planning import PLANNING_ASSETS
from alohub_assets.defs.recordings.call_recordings import call_recordings

#: Every asset of the code location; which of them a run builds is a selection (``jobs.py``).
ALL_ASSETS = [raw_call_logs, call_logs, *KPI_ASSETS, call_recordings, *PLANNING_ASSETS]
