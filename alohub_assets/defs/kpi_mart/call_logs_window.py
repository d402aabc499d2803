"""The ``call_logs`` days a KPI table reads beyond its own: the days that exist, the days
missing, and a clear error for a day written before ``customer_number`` existed."""

from datetime import date

import pyarrow.parquet as pq

from alohub_assets.storage.layout import Warehouse


def call_logs_window(store: Warehouse, day: date, days: list[date]) -> tuple[list[str], list[date]]:
    """The Parquet files of ``days`` that exist, and the days without one. ``day``'s own file
    must exist; each file read must have ``customer_number``."""
    if not store.call_logs_file(day).exists():
        raise FileNotFoundError(
            f"{store.call_logs_file(day)} is missing: materialize call_logs for {day} first"
        )
    found, missing = [], []
    for other in days:
        path = store.call_logs_file(other)
        if not path.exists():
            missing.append(other)
            continue
        if "customer_number" not in pq.read_schema(path).names:
            raise ValueError(
                f"call_logs of {other} was written before the customer_number column existed: "
                f"re-materialize call_logs for {other} (it rebuilds from the raw landing)"
            )
        found.append(str(path))
    return found, missing
