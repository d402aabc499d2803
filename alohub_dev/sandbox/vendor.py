"""The vendor document's formats, as the sandbox reads them (independently of the pipeline).

From the AloHub call-report document: times are ``dd/MM/yyyy HH:mm:ss`` strings in UTC+7 (no
offset written); a callId has the shape ``YYYYMMDDHHmmss-XXXXXXXX-NNN``. The pipeline has its
own reading in ``alohub_assets.api.records``; the tests compare the two.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

#: UTC+7: Vietnam keeps no daylight saving time.
VIETNAM = timezone(timedelta(hours=7))
_CALL_ID = re.compile(r"\d{14}-[A-Za-z0-9]+-\d+")


def vendor_time(instant: datetime) -> str:
    """dd/MM/yyyy HH:mm:ss, local UTC+7 wall time, as both endpoints write times."""
    local = instant.astimezone(VIETNAM)
    return (
        f"{local.day:02d}/{local.month:02d}/{local.year:04d} "
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    )


def looks_like_call_id(value: str) -> bool:
    """The documented callId shape; a detail request for anything else is a 400."""
    return _CALL_ID.fullmatch(value) is not None


def today_in_vietnam() -> date:
    return datetime.now(VIETNAM).date()
