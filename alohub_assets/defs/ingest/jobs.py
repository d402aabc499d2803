"""The daily job and its selection: the one definition of "the pipeline for a day"."""

import dagster as dg

from alohub_assets.defs.kpi_mart.build import KPI_GROUP

INGEST_GROUP = "call_logs"

#: raw_call_logs, call_logs and every KPI table: used by the job, the demo, the bench and tests.
DAILY_PIPELINE = dg.AssetSelection.groups(INGEST_GROUP, KPI_GROUP)

daily_call_logs_job = dg.define_asset_job(
    name="daily_call_logs_job",
    selection=DAILY_PIPELINE,
    description="Fetch, land, deduplicate and build the KPI mart for one local day.",
)
