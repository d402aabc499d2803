"""The vendor document's formats, read by the sandbox on its own.

Deliberately independent of the pipeline (nothing from ``alohub_assets`` outside the sandbox):
if the pipeline misread the document, the tests comparing the two would show it.
From the document: times are ``dd/MM/yyyy HH:mm:ss`` strings in UTC+7 without an offset; a
``callId`` looks like ``YYYYMMDDHHmmss-XXXXXXXX-NNN`` (its own example has 6 letters).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

VENDOR_TZ = timezone(timedelta(hours=7), name="UTC+07:00")
CALL_ID_SHAPE = re.compile(r"[0-9]{14}-[A-Za-z0-9]+-[0-9]+")


def vendor_time(instant: datetime | None) -> str:
    """``dd/MM/yyyy HH:mm:ss`` in UTC+7; ``""`` for no value, as the document's samples show."""
    if instant is None:
        return ""
    local = instant.astimezone(VENDOR_TZ)
    return (
        f"{local.day:02d}/{local.month:02d}/{local.year:04d} "
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    )


def vendor_today() -> date:
    return datetime.now(VENDOR_TZ).date()


def looks_like_call_id(value: str) -> bool:
    return CALL_ID_SHAPE.fullmatch(value) is not None
