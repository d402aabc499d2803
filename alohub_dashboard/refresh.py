"""When today's partition is refreshed next: the next tick of the settings file's intraday cron
that falls within the opening hours (``intraday_refresh_schedule`` skips the others). No Dagster
import: the dashboard reads the settings, not the code location; the cron grammar is the common
five fields (numbers, ``*``, ranges, steps, lists, month and weekday names)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from alohub_assets.settings import IntradaySettings

_NAMES = {
    3: {n: i + 1 for i, n in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    4: {n: i for i, n in enumerate("sun mon tue wed thu fri sat".split())},
}
_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
#: How far ahead a tick is looked for before saying there is none.
HORIZON_DAYS = 8


def _field(text: str, position: int) -> set[int]:
    low, high = _RANGES[position]
    values: set[int] = set()
    for part in text.lower().split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body in ("*", "?"):
            first, last = low, high
        else:
            start, _, end = body.partition("-")
            names = _NAMES.get(position, {})
            first = names[start] if start in names else int(start)
            last = (names[end] if end in names else int(end)) if end else first
            if step_text and not end:
                last = high
        values.update(range(first, last + 1, step))
    if position == 4 and 7 in values:  # Sunday is 0 or 7
        values.add(0)
    return values


def next_refresh(now: datetime, intraday: IntradaySettings) -> datetime | None:
    """The first tick after ``now`` (an aware local time) of ``intraday.cron`` within
    ``opens_at``-``closes_at``; None when there is none within ``HORIZON_DAYS``."""
    minute, hour, day_of_month, month, day_of_week = intraday.cron.split()
    minutes, hours = sorted(_field(minute, 0)), sorted(_field(hour, 1))
    doms, months, dows = _field(day_of_month, 2), _field(month, 3), _field(day_of_week, 4)
    dom_any, dow_any = day_of_month in ("*", "?"), day_of_week in ("*", "?")
    opens, closes = intraday.opening_hours()
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for offset in range(HORIZON_DAYS + 1):
        day = (start + timedelta(days=offset)).date()
        if day.month not in months:
            continue
        dom_ok, dow_ok = day.day in doms, day.isoweekday() % 7 in dows
        # Cron: when both day fields are restricted, either one matching is enough.
        if not (dom_ok and dow_ok if dom_any or dow_any else dom_ok or dow_ok):
            continue
        for h in hours:
            for m in minutes:
                tick = datetime.combine(day, time(h, m), tzinfo=now.tzinfo)
                if tick < start or tick.time() < opens:
                    continue
                if closes is not None and tick.time() >= closes:
                    break
                return tick
    return None
