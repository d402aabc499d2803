"""The two message catalogs (``messages/vi.toml``, ``messages/en.toml``) and the number and date
formats of each language. Every text, number and date the dashboard shows goes through here, so
that switching the language switches all of it: vi ``1.234,5`` and ``dd/MM/yyyy``, en
``1,234.5`` and ``yyyy-MM-dd``. No Streamlit import: the formats are tested on their own."""

from __future__ import annotations

import functools
import math
import string
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

MESSAGES_DIR = Path(__file__).with_name("messages")
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


class MissingMessage(KeyError):
    """A key that a catalog lacks (tests/test_dashboard.py keeps the two catalogs equal)."""


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = str(value)
    return flat


@functools.cache
def catalog(language: str) -> dict[str, str]:
    """The messages of a language, as ``section.key`` -> text."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: one of {', '.join(LANGUAGES)}")
    with open(MESSAGES_DIR / f"{language}.toml", "rb") as file:
        return _flatten(tomllib.load(file))


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a message."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


class Texts:
    """One language's messages and formats; ``texts("today.title")`` gives a message."""

    def __init__(self, language: str = DEFAULT_LANGUAGE):
        self.language = language
        self.messages = catalog(language)

    def __call__(self, key: str, **values: Any) -> str:
        try:
            message = self.messages[key]
        except KeyError:
            raise MissingMessage(f"{key!r} is not in messages/{self.language}.toml") from None
        return message.format(**values) if values else message

    # ------------------------------------------------------------------------------- numbers

    def number(self, value: float | int | None, decimals: int = 0) -> str:
        """``1.234,5`` (vi) or ``1,234.5`` (en); None and NaN are the missing mark."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self("format.missing")
        text = f"{value:,.{decimals}f}"
        thousands, decimal = self("format.thousands"), self("format.decimal")
        return text.translate(str.maketrans({",": thousands, ".": decimal}))

    def percent(self, share: float | None, decimals: int = 1) -> str:
        """A share (0.834) as ``83,4 %`` (vi) or ``83.4%`` (en)."""
        if share is None or (isinstance(share, float) and math.isnan(share)):
            return self("format.missing")
        return self("format.percent", value=self.number(share * 100, decimals))

    def points(self, share_difference: float) -> str:
        """A difference of shares in percentage points, signed (``+3,4 điểm``)."""
        sign = "+" if share_difference >= 0 else "-"
        return sign + self("format.points", value=self.number(abs(share_difference) * 100, 1))

    def seconds(self, value: float | None, decimals: int = 1) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self("format.missing")
        return self("format.seconds", value=self.number(value, decimals))

    def duration(self, seconds: float | None) -> str:
        """Hours, minutes and seconds (``12:04:09``): the same in both languages."""
        if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
            return self("format.missing")
        total = int(round(seconds))
        return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"

    # --------------------------------------------------------------------------------- dates

    def date(self, day: date | None) -> str:
        return self("format.missing") if day is None else day.strftime(self("format.date"))

    def datetime(self, moment: datetime | None) -> str:
        if moment is None:
            return self("format.missing")
        return moment.strftime(self("format.datetime"))

    def time(self, moment: datetime | None, with_seconds: bool = False) -> str:
        if moment is None:
            return self("format.missing")
        return moment.strftime(self("format.time_seconds" if with_seconds else "format.time"))

    def vega_locale(self) -> dict[str, Any]:
        """The number locale of the charts (Vega's d3-format), so that axes and tooltips use
        the language's separators too."""
        return {
            "decimal": self("format.decimal"),
            "thousands": self("format.thousands"),
            "grouping": [3],
            "currency": ["", ""],
            "percent": self("format.percent", value="").strip() or "%",
        }
