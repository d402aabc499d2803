"""The AloHub vocabulary: time and number parsing, and one set of field names for list and detail.

Pure Python, no Dagster. The pipeline parses whole days in DuckDB (``defs/ingest/call_logs.sql``); these
per-record helpers serve the client's detail lookups, the sandbox and the tests, and define the
rules the SQL follows: ``dd/MM/yyyy HH:mm:ss`` in UTC+7, ``""`` means null, seconds arrive as
strings in the list and as numbers in the detail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

#: AloHub reports every time in Vietnam's offset, which has no daylight saving time.
ICT = timezone(timedelta(hours=7), name="ICT")
LOCAL_TIMEZONE_NAME = "Asia/Ho_Chi_Minh"
ALOHUB_TIME_FORMAT = "%d/%m/%Y %H:%M:%S"

#: Documented shape ``YYYYMMDDHHmmss-XXXXXXXX-NNN`` (the vendor's own example has 6 letters).
#: One pattern for Python (``fullmatch``) and the SQL that quarantines rows (``$call_id_pattern``).
CALL_ID_REGEX = r"[0-9]{14}-[A-Za-z0-9]{1,32}-[0-9]{1,10}"
CALL_ID_PATTERN = re.compile(CALL_ID_REGEX)

#: Detail field -> vocabulary name (the list rows are parsed by call_logs.sql).
DETAIL_FIELDS = {
    "callId": "call_id",
    "caller": "caller",
    "called": "called",
    "agentId": "agent_id",
    "startTime": "start_time",
    "endTime": "end_time",
    "ringTime": "first_ring_time",
    "connectTime": "first_connect_time",
    "answerTime": "answer_time_seconds",
    "duration": "duration_seconds",
    "callType": "call_type",
    "description": "description",
    "customerName": "customer_name",
    "recordingUrl": "recording_url",
}
TIME_FIELDS = ("start_time", "end_time", "first_ring_time", "first_connect_time")
SECONDS_FIELDS = ("answer_time_seconds", "duration_seconds")

CALL_TYPE_DIRECTIONS = {"0": "inbound", "1": "outbound"}


class RecordParseError(ValueError):
    """A field that does not have the documented format."""


def empty_to_none(value: Any) -> Any:
    """AloHub writes "no value" as an empty string."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip() == "":
        return None
    return value


def parse_alohub_time(value: str | None) -> datetime | None:
    """``dd/MM/yyyy HH:mm:ss`` (UTC+7) -> aware instant; ``""`` -> None."""
    value = empty_to_none(value)
    if value is None:
        return None
    try:
        return datetime.strptime(value.strip(), ALOHUB_TIME_FORMAT).replace(tzinfo=ICT)
    except (TypeError, ValueError) as exc:
        raise RecordParseError(f"time {value!r} is not dd/MM/yyyy HH:mm:ss") from exc


def format_iso_ict(instant: datetime) -> str:
    """An instant as the list filter wants it: ISO 8601 with the ``+07:00`` offset."""
    if instant.tzinfo is None:
        raise ValueError("window bounds must be time-zone-aware")
    return instant.astimezone(ICT).isoformat(timespec="seconds")


def parse_seconds(value: Any) -> int | None:
    """Seconds as a string (list) or a number (detail) -> int; ``""`` -> None."""
    value = empty_to_none(value)
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordParseError(f"seconds {value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    raise RecordParseError(f"seconds {value!r} is not a whole number")


def local_day_window(day: date) -> tuple[datetime, datetime]:
    """The API window for one local day. The API's end is inclusive and its times have whole
    seconds, so the day ends at 23:59:59; the next midnight belongs to the next day."""
    start = datetime.combine(day, time(0, 0, 0), tzinfo=ICT)
    return start, start + timedelta(days=1) - timedelta(seconds=1)


def local_today() -> date:
    """Today in the call center (UTC+7), which is not the machine's date for 7 hours a day."""
    return datetime.now(ICT).date()


def is_valid_call_id(call_id: Any) -> bool:
    return isinstance(call_id, str) and CALL_ID_PATTERN.fullmatch(call_id) is not None


def _normalize(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for api_name, name in DETAIL_FIELDS.items():
        value = empty_to_none(row.get(api_name))
        if name in TIME_FIELDS:
            value = parse_alohub_time(value)
        elif name in SECONDS_FIELDS:
            value = parse_seconds(value)
        out[name] = value
    return out


@dataclass(frozen=True)
class CallDetail:
    """The detail endpoint's view of one call, in the project's vocabulary."""

    call_id: str
    caller: str | None
    called: str | None
    agent_id: str | None
    start_time: datetime | None
    end_time: datetime | None
    first_ring_time: datetime | None
    first_connect_time: datetime | None
    answer_time_seconds: int | None
    duration_seconds: int | None
    call_type: str | None
    description: str | None
    customer_name: str | None
    recording_url: str | None

    @property
    def direction(self) -> str:
        return CALL_TYPE_DIRECTIONS.get(self.call_type or "", "unknown")

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> CallDetail:
        values = _normalize(row)
        if values["call_type"] is not None:
            values["call_type"] = str(values["call_type"])
        return cls(**values)
