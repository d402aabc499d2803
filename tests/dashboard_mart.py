"""A small mart for the dashboard's tests: synthetic call_logs (bench/kpi_year.py, inbound calls
over several hotlines) with every KPI table built by the same code as the assets
(``write_table_partitions``), and a day marked as today's partition in progress."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from alohub_assets.defs.kpi_mart.build import kpi_tables, write_table_partitions
from alohub_assets.defs.kpi_mart.hotlines import hotline_parameters
from alohub_assets.defs.resources import kpi_settings_resource
from alohub_assets.settings import DEFAULT_SETTINGS, CenterSettings
from alohub_assets.storage.layout import (
    CALL_LOGS_DAY_COMPLETE,
    CALL_LOGS_FETCHED_AT,
    CALL_LOGS_NEWEST_START,
    Warehouse,
)
from bench.kpi_year import synthesize_call_logs

HOTLINES = ["19006868", "19001234", "02873001234"]


def build_mart(
    data_dir: Path,
    first_day: date,
    days: int,
    calls: int = 400,
    tables: list[str] | None = None,
    hotlines: list[str] | None = None,
    settings: CenterSettings = DEFAULT_SETTINGS,
) -> Warehouse:
    """``days`` days of ``calls`` calls from ``first_day``, and the KPI tables (all by default)."""
    synthesize_call_logs(data_dir, first_day, days, calls, hotlines or HOTLINES)
    warehouse = Warehouse.at(data_dir)
    last = first_day + timedelta(days=days - 1)
    params = hotline_parameters(kpi_settings_resource(settings), None)
    for table in tables if tables is not None else kpi_tables():
        write_table_partitions(warehouse, table, first_day, last, params)
    return warehouse


def mark_in_progress(warehouse: Warehouse, day: date, fetched_at: datetime) -> None:
    """Makes ``day``'s call_logs file say what an intraday refresh writes: the day so far,
    fetched at ``fetched_at``."""
    path = warehouse.call_logs_file(day)
    table = pq.read_table(path)
    metadata = {
        **(table.schema.metadata or {}),
        CALL_LOGS_FETCHED_AT.encode(): fetched_at.astimezone(UTC).isoformat().encode(),
        CALL_LOGS_DAY_COMPLETE.encode(): b"false",
        CALL_LOGS_NEWEST_START.encode(): fetched_at.isoformat().encode(),
    }
    pq.write_table(table.replace_schema_metadata(metadata), path)
