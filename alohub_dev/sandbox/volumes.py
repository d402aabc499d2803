"""A call history worth forecasting: inbound volumes with a weekly pattern, a trend and
Vietnamese holidays, per hotline, and the expected volume of every interval (the model's means).

Off by default: the sandbox then makes exactly ``calls_per_day`` calls a day, as the other tests
rely on. With a ``VolumeModel`` (``alohub-sandbox --pattern``), each hotline's inbound calls of
an hour are a Poisson count whose mean is

    base x growth^(years since epoch) x weekday factor x holiday factor x hotline share
      x the hotline's share of the day in that hour

spread uniformly within the hour, so an interval's expected calls are known exactly
(``expected_calls``, and ``GET /_sandbox/expected`` over HTTP). Outbound calls and calls of
another type are drawn besides them and do not count. Holidays come from the ``holidays``
package (Vietnam, Tết by the lunar calendar), read here independently of the pipeline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from functools import cache

import holidays as holiday_calendars
import numpy as np

#: Share of the day's calls per local hour, per hotline: sales peaks in the morning and the
#: evening, support keeps office hours, the third line is flatter.
HOURLY_SHAPES = {
    "19006868": [1, 1, 0, 0, 0, 1, 3, 9, 18, 22, 20, 15, 9, 12, 16, 17, 16, 14, 12, 10, 8, 5, 3, 2],
    "02873001234": [0, 0, 0, 0, 0, 0, 1, 8, 20, 22, 21, 18, 8, 18, 21, 20, 16, 8, 2, 1, 0, 0, 0, 0],
    "alohub2": [2, 1, 1, 1, 1, 2, 4, 8, 12, 13, 13, 12, 10, 12, 13, 13, 12, 10, 8, 7, 6, 5, 4, 3],
}
HOTLINE_SHARES = {"19006868": 0.55, "02873001234": 0.30, "alohub2": 0.15}
#: Monday .. Sunday.
WEEKDAY_FACTORS = (1.18, 1.08, 1.04, 1.0, 0.96, 0.62, 0.4)
TET = "Lunar New Year"


@dataclass(frozen=True)
class VolumeModel:
    """Expected inbound calls; ``base_calls_per_day`` is an ordinary Thursday's at ``epoch``."""

    base_calls_per_day: float = 300.0
    epoch: date = date(2026, 1, 1)
    yearly_growth: float = 0.30  # +30 % a year, compounded daily
    weekday_factors: tuple[float, ...] = WEEKDAY_FACTORS
    hotline_shares: dict[str, float] = field(default_factory=lambda: dict(HOTLINE_SHARES))
    tet_factor: float = 0.12  # the days of Tết
    holiday_factor: float = 0.35  # other public holidays
    closed_days: tuple[date, ...] = ()  # the center's own closures: almost nobody calls
    closed_factor: float = 0.05
    outbound_per_inbound: float = 0.45

    def holiday_name(self, day: date) -> str | None:
        if day in self.closed_days:
            return "closed"
        return _vietnam_holidays(day.year).get(day)

    def day_factor(self, day: date) -> float:
        """Trend x weekday x holiday: the day's calls over the base."""
        years = (day - self.epoch).days / 365.25
        factor = (1 + self.yearly_growth) ** years * self.weekday_factors[day.weekday()]
        name = self.holiday_name(day)
        if name == "closed":
            factor *= self.closed_factor
        elif name is not None:
            factor *= self.tet_factor if TET in name else self.holiday_factor
        return factor

    def hourly_means(self, day: date) -> dict[str, np.ndarray]:
        """Expected inbound calls of each hotline in each local hour of ``day``."""
        total = self.base_calls_per_day * self.day_factor(day)
        means = {}
        for hotline, share in self.hotline_shares.items():
            shape = np.asarray(HOURLY_SHAPES.get(hotline, HOURLY_SHAPES["alohub2"]), dtype=float)
            means[hotline] = total * share * shape / shape.sum()
        return means

    def expected_calls(self, day: date, interval_minutes: int = 30) -> dict[str, list[float]]:
        """Expected inbound calls per interval of ``day`` (intervals of 15, 30 or 60 minutes
        from local midnight), per hotline and for all of them (``*``)."""
        if interval_minutes not in (15, 30, 60):
            raise ValueError("interval_minutes must be 15, 30 or 60")
        per_hour = 60 // interval_minutes
        out = {
            hotline: np.repeat(hourly / per_hour, per_hour)
            for hotline, hourly in self.hourly_means(day).items()
        }
        out["*"] = np.sum(list(out.values()), axis=0)
        return {hotline: values.tolist() for hotline, values in out.items()}


@cache
def _vietnam_holidays(year: int) -> dict[date, str]:
    return dict(holiday_calendars.country_holidays("VN", years=year))


def day_generator(seed: int, day: date) -> np.random.Generator:
    """The day's own random numbers (a day looks the same whatever was asked before it)."""
    digest = hashlib.sha256(f"{seed}:{day.isoformat()}:volumes".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def inbound_offsets(model: VolumeModel, seed: int, day: date) -> list[tuple[str, int]]:
    """(hotline, seconds after local midnight) of the day's inbound calls, drawn from the model."""
    rng = day_generator(seed, day)
    calls: list[tuple[str, int]] = []
    for hotline, hourly in sorted(model.hourly_means(day).items()):
        counts = rng.poisson(hourly)
        hours = np.repeat(np.arange(24), counts)
        seconds = hours * 3600 + rng.integers(0, 3600, size=len(hours))
        calls.extend((hotline, int(s)) for s in seconds)
    return calls


def other_offsets(model: VolumeModel, seed: int, day: date, share: float) -> np.ndarray:
    """Seconds after midnight of calls that are not inbound (their count: ``share`` of the
    expected inbound calls), following the sum of the hotlines' hours."""
    rng = day_generator(seed + 1, day)
    hourly = np.sum(list(model.hourly_means(day).values()), axis=0)
    counts = rng.poisson(hourly * share)
    hours = np.repeat(np.arange(24), counts)
    return hours * 3600 + rng.integers(0, 3600, size=len(hours))
