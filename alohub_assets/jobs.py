"""Jobs: the whole daily pipeline for one partition."""

import dagster as dg

PIPELINE_SELECTION = dg.AssetSelection.groups("call_logs", "kpi_mart")

daily_call_logs_job = dg.define_asset_job(
    name="daily_call_logs_job",
    selection=PIPELINE_SELECTION,
    description="Fetch, land, deduplicate and build the KPI mart for one local day.",
)

call_recordings_job = dg.define_asset_job(
    name="call_recordings_job",
    selection=dg.AssetSelection.assets("call_recordings"),
    description="Fetch missing recording URLs from the call-detail endpoint for one day.",
)
