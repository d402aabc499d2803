"""An independent computation of the analytics KPIs in plain Python, over the sandbox's own record
of its calls (``GET /_sandbox/calls?date=``, read over HTTP). It shares no code with the
pipeline: the number rule, percentiles and Erlang C (factorial formula, in log space) are
written out here from the issue's definitions."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import httpx

from alohub_assets.api.client import tls_context

DAY_SECONDS = 86_400


@dataclass(frozen=True)
class Settings:
    service_level_seconds: int = 20
    short_abandon_seconds: int = 5
    interval_minutes: int = 30
    after_call_work_seconds: float = 0.0
    service_level_target: float = 0.8
    max_occupancy: float = 0.85


def sandbox_calls(url: str, day: date) -> list[dict]:
    """The sandbox's record of ``day``'s calls, times parsed, each with its customer number."""
    answer = httpx.get(
        f"{url}/_sandbox/calls", params={"date": day.isoformat()}, timeout=30, verify=tls_context()
    )
    answer.raise_for_status()
    calls = answer.json()["calls"]
    for call in calls:
        for name in ("start_time", "first_ring_time", "first_connect_time", "end_time"):
            if call[name] is not None:
                call[name] = datetime.fromisoformat(call[name])
        call["call_date"] = date.fromisoformat(call["call_date"])
        call["customer"] = customer_of(call)
    return calls


def national_number(written: str | None) -> str | None:
    """0912345678 = 84912345678 = +84 912 345 678 = 84-912-345-678; None if not a customer."""
    if written is None:
        return None
    digits = "".join(ch for ch in written if ch in "0123456789")
    if len(digits) in (11, 12) and digits[:2] == "84":
        digits = "0" + digits[2:]
    if len(digits) in (10, 11) and digits[0] == "0":
        return digits
    return None


def customer_of(call: dict) -> str | None:
    if call["direction"] == "inbound":
        return national_number(call["caller"])
    if call["direction"] == "outbound":
        return national_number(call["called"])
    return None


def percentile(values: list[float], q: float) -> float | None:
    """Continuous percentile: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def is_abandoned(call: dict, s: Settings) -> bool:
    """Not answered and waited at least the short-abandon threshold, or the wait is unknown."""
    wait = call["waiting_seconds"]
    return not call["answered"] and (wait is None or wait >= s.short_abandon_seconds)


def is_short_abandoned(call: dict, s: Settings) -> bool:
    return (
        not call["answered"]
        and call["waiting_seconds"] is not None
        and call["waiting_seconds"] < s.short_abandon_seconds
    )


def queue_figures(calls: list[dict], s: Settings) -> dict:
    offered = len(calls)
    answered = [c for c in calls if c["answered"]]
    short = [c for c in calls if is_short_abandoned(c, s)]
    abandoned = [c for c in calls if is_abandoned(c, s)]
    within = [
        c
        for c in answered
        if c["waiting_seconds"] is not None and c["waiting_seconds"] <= s.service_level_seconds
    ]
    base = offered - len(short)
    answered_waits = [c["waiting_seconds"] for c in answered if c["waiting_seconds"] is not None]
    return {
        "offered_calls": offered,
        "answered_calls": len(answered),
        "abandoned_calls": len(abandoned),
        "short_abandoned_calls": len(short),
        "answered_within_sl": len(within),
        "service_level": len(within) / base if base else None,
        "avg_wait_seconds": mean(
            [c["waiting_seconds"] for c in calls if c["waiting_seconds"] is not None]
        ),
        "wait_p50_seconds": percentile(answered_waits, 0.5),
        "wait_p90_seconds": percentile(answered_waits, 0.9),
        "wait_p95_seconds": percentile(answered_waits, 0.95),
        "avg_abandon_seconds": mean(
            [c["waiting_seconds"] for c in abandoned if c["waiting_seconds"] is not None]
        ),
        "avg_talk_seconds": mean(
            [c["talk_seconds"] for c in answered if c["talk_seconds"] is not None]
        ),
    }


def daily_extras(calls: list[dict], s: Settings = Settings()) -> dict[str, dict]:
    """daily_call_metrics' new columns, by direction."""
    by_direction = defaultdict(list)
    for call in calls:
        by_direction[call["direction"]].append(call)
    keys = ("wait_p50_seconds", "wait_p90_seconds", "wait_p95_seconds", "avg_abandon_seconds")
    return {
        d: {k: v for k, v in queue_figures(group, s).items() if k in keys}
        for d, group in by_direction.items()
    }


def interval_of(start: datetime, minutes: int) -> datetime:
    """The local interval a start time falls in (the sandbox's times carry +07:00)."""
    since_midnight = start.hour * 60 + start.minute
    first = since_midnight - since_midnight % minutes
    return start.replace(hour=first // 60, minute=first % 60, second=0, microsecond=0)


def interval_metrics(calls: list[dict], s: Settings = Settings()) -> dict[tuple, dict]:
    """interval_call_metrics keyed by (interval_start, direction)."""
    groups = defaultdict(list)
    for call in calls:
        groups[(interval_of(call["start_time"], s.interval_minutes), call["direction"])].append(
            call
        )
    columns = (
        "offered_calls",
        "answered_calls",
        "abandoned_calls",
        "short_abandoned_calls",
        "answered_within_sl",
        "service_level",
        "avg_wait_seconds",
        "wait_p90_seconds",
        "avg_talk_seconds",
    )
    return {
        key: {k: v for k, v in queue_figures(group, s).items() if k in columns}
        for key, group in groups.items()
    }


# ------------------------------------------------------------------------------ Erlang C


def erlang_c(n: int, a: float) -> float:
    """P(wait) from the factorial formula, each term taken as a logarithm (no overflow)."""
    if a == 0:
        return 0.0
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    top = n * math.log(a) - math.lgamma(n + 1) + math.log(n / (n - a))
    peak = max([*logs, top])
    return math.exp(top - peak) / (sum(math.exp(x - peak) for x in logs) + math.exp(top - peak))


def staffing_for(a: float, aht: float, s: Settings) -> dict:
    n = math.floor(a) + 1
    while True:
        c = erlang_c(n, a)
        sl = 1 - c * math.exp(-(n - a) * s.service_level_seconds / aht) if a else 1.0
        if sl >= s.service_level_target and a / n <= s.max_occupancy:
            return {
                "required_agents": n,
                "expected_service_level": sl,
                "expected_asa_seconds": c * aht / (n - a),
                "occupancy": a / n,
            }
        n += 1


def staffing(calls: list[dict], s: Settings = Settings()) -> dict[datetime, dict]:
    """staffing_requirements keyed by interval_start (intervals with inbound calls)."""
    inbound = [c for c in calls if c["direction"] == "inbound"]
    day_talks = [
        c["talk_seconds"] for c in inbound if c["answered"] and c["talk_seconds"] is not None
    ]
    groups = defaultdict(list)
    for call in inbound:
        groups[interval_of(call["start_time"], s.interval_minutes)].append(call)
    rows = {}
    for start, group in groups.items():
        talks = [
            c["talk_seconds"] for c in group if c["answered"] and c["talk_seconds"] is not None
        ]
        talk = mean(talks) if talks else mean(day_talks)
        aht = None if talk is None else talk + s.after_call_work_seconds
        traffic = None if aht is None else len(group) * aht / (s.interval_minutes * 60)
        active = len({c["agent_id"] for c in group if c["answered"] and c["agent_id"]})
        row = {
            "offered_calls": len(group),
            "aht_seconds": aht,
            "traffic_erlangs": traffic,
            "agents_active": active,
        }
        if traffic is None:
            row |= dict.fromkeys(
                ("required_agents", "expected_service_level", "expected_asa_seconds", "occupancy")
            )
            row["staffing_gap"] = None
        else:
            row |= staffing_for(traffic, aht, s)
            row["staffing_gap"] = row["required_agents"] - active
        rows[start] = row
    return rows


# ------------------------------------------------------------------ across days: customers


def repeat_callers(calls_by_day: dict[date, list[dict]], day: date) -> dict:
    """repeat_callers of ``day`` from whatever days ``calls_by_day`` holds (the 7 before)."""
    inbound = [
        c
        for d, calls in calls_by_day.items()
        if day - timedelta(days=7) <= d <= day
        for c in calls
        if c["direction"] == "inbound" and c["customer"] is not None
    ]
    history = defaultdict(list)
    for call in inbound:
        history[call["customer"]].append((call["start_time"], call["call_id"]))
    today = [c for c in inbound if c["call_date"] == day]
    repeats_24h = repeats_7d = 0
    for call in today:
        key = (call["start_time"], call["call_id"])
        earlier = [t for t, i in history[call["customer"]] if (t, i) < key]
        if earlier:
            gap = call["start_time"] - max(earlier)
            repeats_24h += gap <= timedelta(hours=24)
            repeats_7d += gap <= timedelta(days=7)
    return {
        "inbound_calls": len(today),
        "distinct_callers": len({c["customer"] for c in today}),
        "repeat_calls_24h": repeats_24h,
        "repeat_calls_7d": repeats_7d,
        "repeat_rate_24h": repeats_24h / len(today) if today else None,
        "repeat_rate_7d": repeats_7d / len(today) if today else None,
    }


def abandon_callbacks(
    calls_by_day: dict[date, list[dict]], day: date, s: Settings = Settings()
) -> dict:
    """abandon_callbacks of ``day`` from ``day``'s calls and, when present, the next day's."""
    every = [c for calls in calls_by_day.values() for c in calls if c["customer"] is not None]
    abandons = [
        c
        for c in every
        if c["call_date"] == day and c["direction"] == "inbound" and is_abandoned(c, s)
    ]
    attempted = recovered = by_callback = by_customer = 0
    minutes = []
    for a in abandons:
        window = [
            c
            for c in every
            if c["customer"] == a["customer"]
            and a["start_time"] < c["start_time"] <= a["start_time"] + timedelta(hours=24)
        ]
        attempted += any(c["direction"] == "outbound" for c in window)
        answered = sorted(
            (c for c in window if c["answered"]), key=lambda c: (c["start_time"], c["call_id"])
        )
        if answered:
            first = answered[0]
            recovered += 1
            by_callback += first["direction"] == "outbound"
            by_customer += first["direction"] == "inbound"
            minutes.append((first["start_time"] - a["start_time"]).total_seconds() / 60)
    return {
        "abandoned_calls": len(abandons),
        "callback_attempted_24h": attempted,
        "recovered_24h": recovered,
        "recovered_by_callback_24h": by_callback,
        "recovered_by_customer_24h": by_customer,
        "recovery_rate_24h": recovered / len(abandons) if abandons else None,
        "median_minutes_to_recovery": percentile(minutes, 0.5),
        "complete": day + timedelta(days=1) in calls_by_day,
    }


# ------------------------------------------------------------------------ per hotline


@dataclass(frozen=True)
class Hotline:
    """A hotline's entry in the settings file; None: the kpi default applies."""

    name: str | None = None
    service_level_seconds: int | None = None
    short_abandon_seconds: int | None = None


def thresholds(number: str, s: Settings, hotlines: dict[str, Hotline]) -> Settings:
    entry = hotlines.get(number, Hotline())
    return Settings(
        service_level_seconds=entry.service_level_seconds
        if entry.service_level_seconds is not None
        else s.service_level_seconds,
        short_abandon_seconds=entry.short_abandon_seconds
        if entry.short_abandon_seconds is not None
        else s.short_abandon_seconds,
        interval_minutes=s.interval_minutes,
    )


def _by_hotline(calls: list[dict]) -> dict[str, list[dict]]:
    groups = defaultdict(list)
    for call in calls:
        if call["direction"] == "inbound" and call["called"] is not None:
            groups[call["called"]].append(call)
    return groups


def _named(number: str, hotlines: dict[str, Hotline], token) -> str:
    entry = hotlines.get(number)
    return entry.name if entry is not None and entry.name else token(number)


def hotline_metrics(
    calls: list[dict], s: Settings, hotlines: dict[str, Hotline], token=lambda x: x
) -> dict[str, dict]:
    """hotline_call_metrics keyed by hotline (as stored: ``token`` of the called number)."""
    rows = {}
    for number, group in _by_hotline(calls).items():
        own = thresholds(number, s, hotlines)
        f = queue_figures(group, own)
        answered_waits = [
            c["waiting_seconds"]
            for c in group
            if c["answered"] and c["waiting_seconds"] is not None
        ]
        base = f["offered_calls"] - f["short_abandoned_calls"]
        rows[token(number)] = {
            "hotline_name": _named(number, hotlines, token),
            "offered_calls": f["offered_calls"],
            "answered_calls": f["answered_calls"],
            "abandoned_calls": f["abandoned_calls"],
            "short_abandoned_calls": f["short_abandoned_calls"],
            "answered_within_sl": f["answered_within_sl"],
            "answer_rate": f["answered_calls"] / f["offered_calls"],
            "abandon_rate": f["abandoned_calls"] / base if base else None,
            "service_level": f["service_level"],
            "service_level_seconds": own.service_level_seconds,
            "short_abandon_seconds": own.short_abandon_seconds,
            "asa_seconds": mean(answered_waits),
            "wait_p90_seconds": f["wait_p90_seconds"],
            "avg_talk_seconds": f["avg_talk_seconds"],
        }
    return rows


def hotline_intervals(
    calls: list[dict], s: Settings, hotlines: dict[str, Hotline], token=lambda x: x
) -> dict[tuple, dict]:
    """hotline_interval_metrics keyed by (interval_start, hotline as stored)."""
    rows = {}
    for number, group in _by_hotline(calls).items():
        own = thresholds(number, s, hotlines)
        for start, figures in interval_metrics(group, own).items():
            rows[(start[0], token(number))] = {
                **figures,
                "direction": "inbound",
                "hotline_name": _named(number, hotlines, token),
                "service_level_seconds": own.service_level_seconds,
                "short_abandon_seconds": own.short_abandon_seconds,
            }
    return rows


def wait_distribution(
    calls: list[dict], buckets: list[int], hotlines: dict[str, Hotline], token=lambda x: x
) -> dict[tuple, dict]:
    """wait_time_distribution keyed by (hotline as stored, bucket start): every bucket of every
    hotline with an inbound call; unknown waits left out."""
    rows = {}
    for number, group in _by_hotline(calls).items():
        for i, start in enumerate(buckets):
            end = buckets[i + 1] if i + 1 < len(buckets) else None
            inside = [
                c
                for c in group
                if c["waiting_seconds"] is not None
                and c["waiting_seconds"] >= start
                and (end is None or c["waiting_seconds"] < end)
            ]
            rows[(token(number), start)] = {
                "bucket_end_seconds": end,
                "answered_calls": sum(c["answered"] for c in inside),
                "abandoned_calls": sum(not c["answered"] for c in inside),
                "hotline_name": _named(number, hotlines, token),
            }
    return rows


def callback_worklist(
    calls_by_day: dict[date, list[dict]],
    day: date,
    s: Settings,
    hotlines: dict[str, Hotline],
    token=lambda x: x,
) -> dict[str, dict]:
    """callback_worklist of ``day`` keyed by customer (as stored), from ``day``'s calls and the
    next day's when ``calls_by_day`` has them."""
    read = [c for d in (day, day + timedelta(days=1)) for c in calls_by_day.get(d, [])]
    abandons = defaultdict(list)
    for call in calls_by_day[day]:
        if call["direction"] != "inbound" or call["customer"] is None:
            continue
        if is_abandoned(call, thresholds(call["called"], s, hotlines)):
            abandons[call["customer"]].append(call)
    newest = max(c["start_time"] for c in read)
    rows = {}
    for customer, theirs in abandons.items():
        last = max(theirs, key=lambda c: (c["start_time"], c["call_id"]))
        reached = any(
            c["customer"] == customer
            and c["answered"]
            and c["direction"] in ("inbound", "outbound")
            and c["start_time"] > last["start_time"]
            for c in read
        )
        if reached:
            continue
        waits = [c["waiting_seconds"] for c in theirs if c["waiting_seconds"] is not None]
        rows[token(customer)] = {
            "hotline": token(last["called"]),
            "hotline_name": _named(last["called"], hotlines, token),
            "last_call_id": last["call_id"],
            "last_abandon_time": last["start_time"],
            "abandons": len(theirs),
            "longest_wait_seconds": max(waits) if waits else None,
            "as_of": newest,
        }
    return rows
