"""The job the recording sensor launches."""

import dagster as dg

call_recordings_job = dg.define_asset_job(
    name="call_recordings_job",
    selection=dg.AssetSelection.assets("call_recordings"),
    description="Fetch missing recording URLs from the call-detail endpoint for one day.",
)
