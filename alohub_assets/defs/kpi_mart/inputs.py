"""Which ``call_logs`` days a KPI table reads: its own day, or a window around it.

Most tables read their own day. ``repeat_callers`` also reads the 7 days before (a repeat may
look back 7 days), ``abandon_callbacks`` the next day (a 23:50 abandon can be called back at
00:10). Dagster-free, so the assets, benchmarks and scripts feed a table the same files; the
assets declare the same windows as partition mappings on ``call_logs``.
"""

from datetime import date, timedelta
from typing import Any

import pyarrow.parquet as pq

from alohub_assets.storage.layout import Warehouse

REPEAT_LOOKBACK_DAYS = 7
#: table -> (first, last) day offsets of the call_logs it reads, relative to its own day.
WINDOWS = {"repeat_callers": (-REPEAT_LOOKBACK_DAYS, 0), "abandon_callbacks": (0, 1)}


def kpi_inputs(store: Warehouse, table: str, day: date) -> tuple[dict[str, Any], list[date]]:
    """The ``$call_logs`` (and for ``abandon_callbacks`` ``$complete``) parameters of ``table``
    on ``day``, and the days of its window without ``call_logs``. ``day``'s own file must
    exist; a window's files must have ``customer_number``."""
    if not store.call_logs_file(day).exists():
        raise FileNotFoundError(
            f"{store.call_logs_file(day)} is missing: materialize call_logs for {day} first"
        )
    if table not in WINDOWS:
        return {"call_logs": str(store.call_logs_file(day))}, []
    first, last = WINDOWS[table]
    found, missing = [], []
    for offset in range(first, last + 1):
        other = day + timedelta(days=offset)
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
    params: dict[str, Any] = {"call_logs": found}
    if table == "abandon_callbacks":
        params["complete"] = not missing
    return params, missing
