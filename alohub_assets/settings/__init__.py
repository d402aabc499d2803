"""What a call center tunes, in one YAML file read in one place (no Dagster import).

``ALOHUB_SETTINGS_FILE`` names the file; without it, ``./alohub.yaml`` is used when it exists, and
without either the defaults below apply (they are the pipeline's behaviour before the file
existed). The code location reads it once when it loads (``alohub_assets/defs/settings.py``) and
hands each part to what uses it; the dashboard reads it the same way. A file that cannot be used
raises ``SettingsError`` with one line naming the file and the key, so the code location does not
load half-configured. Secrets never go in this file: they stay in the environment.

See ``alohub.example.yaml`` at the project's root for every key with its default.
"""

from __future__ import annotations

import os
import re
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SETTINGS_FILE_ENV = "ALOHUB_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = "alohub.yaml"

#: The local clock times the settings use: "HH:MM", 00:00 to 24:00.
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
#: One cron field: numbers, names, *, ranges, steps and lists (validated again by Dagster).
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?]+$")


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class SettingsError(ValueError):
    """The settings file cannot be used; the message names the file and the key."""


class _Section(BaseModel):
    # Unknown keys are typos, not extensions; "20" is not a number of seconds.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class KpiSettings(_Section):
    """The thresholds of the KPI tables (the same names and defaults as the ``kpi_settings``
    resource, which takes its defaults from here)."""

    service_level_seconds: int = Field(20, ge=0)
    short_abandon_seconds: int = Field(5, ge=0)
    interval_minutes: Literal[15, 30, 60] = 30
    after_call_work_seconds: float = Field(0.0, ge=0)
    service_level_target: float = Field(0.8, gt=0, lt=1)
    max_occupancy: float = Field(0.85, gt=0, le=1)


class HotlineSettings(_Section):
    """One hotline (an inbound ``called`` number): its display name and its own thresholds,
    which replace the ``kpi`` ones for its calls in the hotline tables."""

    name: str | None = Field(None, min_length=1)
    service_level_seconds: int | None = Field(None, ge=0)
    short_abandon_seconds: int | None = Field(None, ge=0)


class IntradaySettings(_Section):
    """Today's partition refreshed during opening hours (local time, Asia/Ho_Chi_Minh)."""

    cron: str = "*/15 7-21 * * *"
    #: How far before the previous refresh's newest call the next refresh looks for changes.
    overlap_minutes: int = Field(120, ge=0, le=24 * 60)
    opens_at: str = "07:00"
    closes_at: str = "22:00"

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(f"must be a cron expression of 5 fields, got {value!r}")
        return value

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError(f"must be a local time HH:MM, got {value!r}")
        return value

    @model_validator(mode="after")
    def _opens_before_closing(self) -> IntradaySettings:
        if _minutes(self.opens_at) >= _minutes(self.closes_at):
            raise ValueError(f"opens_at {self.opens_at} must be before closes_at {self.closes_at}")
        return self

    def opening_hours(self) -> tuple[time, time | None]:
        """Opening and closing time; a closing of 24:00 is None (the end of the day)."""
        close = None if self.closes_at == "24:00" else time.fromisoformat(self.closes_at)
        return time.fromisoformat(self.opens_at), close


class ForecastSettings(_Section):
    """The call-volume forecast."""

    #: A holiday in the horizon with no past holiday to learn from: this share of a normal day.
    holiday_factor: float = Field(0.3, ge=0, le=2)


class StaffingSettings(_Section):
    """Required agents -> rostered agents."""

    #: Breaks, training, absence: scheduled = required / (1 - shrinkage), rounded up.
    shrinkage: float = Field(0.30, ge=0, lt=1)


def _hotline_key(value: Any) -> Any:
    # YAML reads an unquoted 19006868 as a number; a hotline is a string, and an int loses no digit.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Day = Annotated[date, Field(strict=False)]  # YAML gives a date object, or a quoted "YYYY-MM-DD"


class CenterSettings(_Section):
    """Everything the settings file holds."""

    kpi: KpiSettings = KpiSettings()
    wait_buckets: list[int] = Field(default_factory=lambda: [0, 10, 20, 30, 60, 120])
    intraday: IntradaySettings = IntradaySettings()
    hotlines: dict[str, HotlineSettings] = Field(default_factory=dict)
    closed_days: list[Day] = Field(default_factory=list)
    forecast: ForecastSettings = ForecastSettings()
    staffing: StaffingSettings = StaffingSettings()

    @field_validator("hotlines", mode="before")
    @classmethod
    def _string_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_hotline_key(k): v for k, v in value.items()}
        return value

    @field_validator("hotlines")
    @classmethod
    def _non_empty_numbers(cls, value: dict[str, HotlineSettings]) -> dict:
        for number in value:
            if not number.strip():
                raise ValueError("a hotline number cannot be empty")
        return value

    @field_validator("wait_buckets")
    @classmethod
    def _increasing_from_zero(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("needs at least one bucket start (0)")
        if value[0] != 0:
            raise ValueError(f"must start at 0 (every known wait falls in a bucket), got {value}")
        if any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError(f"must be strictly increasing, got {value}")
        return value

    def hotline(self, number: str) -> HotlineSettings:
        return self.hotlines.get(number, HotlineSettings())

    def hotline_thresholds(self) -> list[dict[str, Any]]:
        """One record per configured hotline: name and thresholds, the ``kpi`` ones filled in."""
        return [
            {
                "hotline": number,
                "hotline_name": entry.name or number,
                "service_level_seconds": _first(
                    entry.service_level_seconds, self.kpi.service_level_seconds
                ),
                "short_abandon_seconds": _first(
                    entry.short_abandon_seconds, self.kpi.short_abandon_seconds
                ),
            }
            for number, entry in sorted(self.hotlines.items())
        ]


DEFAULT_SETTINGS = CenterSettings()


def settings_path(path: str | os.PathLike | None = None) -> Path | None:
    """The file to read: ``path``, else ``ALOHUB_SETTINGS_FILE``, else ``./alohub.yaml`` when it
    exists; None means the defaults."""
    named = path if path is not None else os.getenv(SETTINGS_FILE_ENV)
    if named:
        return Path(named)
    default = Path(DEFAULT_SETTINGS_FILE)
    return default if default.is_file() else None


def load_settings(path: str | os.PathLike | None = None) -> CenterSettings:
    """The center's settings; ``SettingsError`` (one line: file, key, problem) when unusable."""
    file = settings_path(path)
    if file is None:
        return DEFAULT_SETTINGS
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"settings file {file}: not found (set {SETTINGS_FILE_ENV})") from None
    except OSError as error:
        raise SettingsError(f"settings file {file}: cannot be read ({error.strerror})") from None
    return parse_settings(text, str(file))


def parse_settings(text: str, source: str = "<settings>") -> CenterSettings:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SettingsError(f"settings file {source}: not valid YAML: {where}{problem}") from None
    if data is None:
        return DEFAULT_SETTINGS
    if not isinstance(data, dict):
        raise SettingsError(
            f"settings file {source}: the top level must be a mapping of keys "
            f"({', '.join(CenterSettings.model_fields)}), got {type(data).__name__}"
        )
    try:
        return CenterSettings.model_validate(data)
    except ValidationError as error:
        raise SettingsError(f"settings file {source}: {_describe(error)}") from None


def _describe(error: ValidationError) -> str:
    """Each problem as ``key.path: what is wrong``, on one line."""
    problems = []
    for item in error.errors(include_url=False):
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            parent = _section_at(item["loc"][:-1])
            known = ", ".join(parent.model_fields) if parent else ""
            message = "unknown key" + (f" (known keys: {known})" if known else "")
        else:
            message = item["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            if item["type"] not in ("value_error",) and "input" in item:
                message += f" (got {item['input']!r})"
        problems.append(f"{key}: {message}")
    return "; ".join(problems)


def _section_at(loc: tuple) -> type[BaseModel] | None:
    """The settings class a key's parent location points at (for the list of known keys)."""
    if not loc:
        return CenterSettings
    if loc[0] == "hotlines":
        return HotlineSettings if len(loc) == 2 else None
    field = CenterSettings.model_fields.get(str(loc[0]))
    annotation = field.annotation if field is not None else None
    if len(loc) == 1 and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _first(value: Any, default: Any) -> Any:
    return default if value is None else value
