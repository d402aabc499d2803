"""Which ``call_logs`` days a KPI table reads for the days it builds: those days, or a window
around them (pulled to the local working copy when the data folder is object storage).

Most tables read the days they build. ``repeat_callers`` also reads the 7 days before (a repeat
may look back 7 days), ``abandon_callbacks`` the next day (a 23:50 abandon can be called back
at 00:10). Dagster-free, so the assets, benchmarks and scripts feed a table the same files; the
assets declare the same windows as partition mappings on ``call_logs``.
"""

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from alohub_assets.storage.layout import Warehouse, call_logs_status

REPEAT_LOOKBACK_DAYS = 7
#: table -> (first, last) day offsets of the call_logs it reads, relative to the days it builds.
WINDOWS = {
    "repeat_callers": (-REPEAT_LOOKBACK_DAYS, 0),
    "abandon_callbacks": (0, 1),
    "callback_worklist": (0, 1),
}
#: Tables whose rows say whether the next day's calls were all read (``$complete_days``).
COMPLETION_TABLES = ("abandon_callbacks",)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def kpi_inputs(
    store: Warehouse, table: str, first_day: date, last_day: date
) -> tuple[dict[str, Any], list[date]]:
    """``$call_logs`` (and for ``abandon_callbacks`` ``$complete_days``) for building
    ``first_day..last_day`` of ``table``, and the days of its window without ``call_logs``.
    Every built day's own file must exist; a window's files must have ``customer_number``."""
    before, after = WINDOWS.get(table, (0, 0))
    window = _days(first_day + timedelta(days=before), last_day + timedelta(days=after))
    built = _days(first_day, last_day)
    # Each day pulled once: on object storage a pull is a download.
    pulled = {day for day in sorted({*built, *window}) if store.pull(store.call_logs_file(day))}
    for day in built:
        if day not in pulled:
            raise FileNotFoundError(
                f"{store.call_logs_file(day)} is missing: materialize call_logs for {day} first"
            )
    loaded = [day for day in window if day in pulled]
    missing = [day for day in window if day not in pulled]
    files = [str(store.call_logs_file(day)) for day in loaded]
    if table in WINDOWS:
        for day, file in zip(loaded, files, strict=True):
            if "customer_number" not in pq.read_schema(file).names:
                raise ValueError(
                    f"call_logs of {day} was written before the customer_number column "
                    f"existed: re-materialize call_logs for {day} (it rebuilds from the raw "
                    "landing)"
                )
    params: dict[str, Any] = {"call_logs": files}
    if table in COMPLETION_TABLES:
        # A day whose call_logs is the day so far (today's partition) does not complete the
        # day before it: more callbacks can come.
        params["complete_days"] = [
            day
            for day, file in zip(loaded, files, strict=True)
            if call_logs_status(Path(file)).day_complete
        ]
    return params, missing
