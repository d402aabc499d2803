"""The KPI mart: one asset (``<table>.py``) and one query (``<table>.sql``) per table."""

import dagster as dg

from alohub_assets.defs.kpi_mart import build

KPI_ASSETS = [
    asset
    for asset in dg.load_assets_from_package_name(__name__)
    if isinstance(asset, dg.AssetsDefinition)
]
__all__ = ["KPI_ASSETS", "build"]
