"""A refresh of the day in progress: read only what may have changed since the previous landing.

No Dagster import. The list filters by call start and may show a call only once it has ended,
so what changes between two refreshes of today is (1) calls that started after the previous
landing's newest call, and (2) calls that started before it but were not listed yet (still in
progress, or reported late). (1) is one window, the *tail*, from the previous newest start
(less ``recent``, where most calls still in progress started) to the end of the day. For (2),
the *overlap* before the tail (``overlap``, default 2 h) is checked by counting: an unfiltered
``totalRecord`` of a part of it that equals the rows the previous landing holds there means
nothing was added (calls are added, never removed); a part that differs, or that holds a call
listed before it ended, is halved until the parts are small, and those are read again. Every
window read passes the same completeness check against ``totalRecord`` as a whole day.

The new landing is the windows just read plus the previous landing's rows outside them
(``kept.jsonl``): the previous rows are filtered and copied by DuckDB, never held in Python.
A call that started before the overlap and is listed only later is missed until the next full
read of the day (the 02:00 run reads yesterday whole).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from alohub_assets.api.client import AloHubClient
from alohub_assets.api.records import local_day_window
from alohub_assets.storage.mart import local_connection
from alohub_assets.storage.sql import bound, compose, load_statements, sql_literal

SQL = Path(__file__).with_name("refresh.sql")
#: Re-read outright before the previous newest start: calls in progress then mostly started here.
RECENT = timedelta(minutes=15)
#: A part of the overlap is read again rather than halved when it is this small.
SMALLEST_PART = timedelta(minutes=2)
#: Page numbers of kept rows start here, after every page a window read can have.
FIRST_KEPT_PAGE = 100_000
KEPT_FILE = "kept.jsonl"
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class RefreshPolicy:
    """How far back a refresh of today looks for calls the previous landing lacked."""

    overlap: timedelta = timedelta(minutes=120)
    recent: timedelta = RECENT


@dataclass
class RefreshPlan:
    """What the previous landing of the day says about where the new one must look."""

    day: date
    previous_files: list[Path]
    newest_start: datetime
    overlap_start: datetime
    tail_start: datetime
    #: Epoch seconds of call starts in the overlap, with the rows the previous landing holds.
    seconds: list[int] = field(default_factory=list)
    rows_before: list[int] = field(default_factory=list)  # cumulative, same order
    in_progress: list[int] = field(default_factory=list)  # starts of calls listed unfinished

    def rows_between(self, start: datetime, end: datetime) -> int:
        """Rows the previous landing holds for calls starting in [start, end)."""
        lo = bisect.bisect_left(self.seconds, int(start.timestamp()))
        hi = bisect.bisect_left(self.seconds, int(end.timestamp()))
        return (self.rows_before[hi - 1] if hi else 0) - (self.rows_before[lo - 1] if lo else 0)

    def unfinished_between(self, start: datetime, end: datetime) -> bool:
        lo = bisect.bisect_left(self.in_progress, int(start.timestamp()))
        return lo < len(self.in_progress) and self.in_progress[lo] < int(end.timestamp())


def _connection(files: list[Path]) -> duckdb.DuckDBPyConnection:
    con = local_connection()
    sql = load_statements(SQL)
    statement = compose(sql["rows"], table="previous")
    con.execute(statement, bound(statement, {"files": [str(f) for f in files]}))
    return con


def plan_refresh(
    previous_files: list[Path], day: date, policy: RefreshPolicy
) -> RefreshPlan | None:
    """Where to look, from the previous landing of ``day``; None when it holds no call of the
    day yet (then the day is read whole)."""
    if not previous_files:
        return None
    sql = load_statements(SQL)
    day_start, day_end = local_day_window(day)
    with _connection(previous_files) as con:
        newest_sql = compose(sql["newest_start"], table="previous")
        params = {"day_start": day_start, "day_end": day_end}
        ((newest,),) = con.execute(newest_sql, bound(newest_sql, params)).fetchall()
        if newest is None:
            return None
        recent = min(policy.recent, policy.overlap)
        plan = RefreshPlan(
            day=day,
            previous_files=previous_files,
            newest_start=newest,
            overlap_start=max(day_start, newest - policy.overlap),
            tail_start=max(day_start, newest - recent),
        )
        part = {"from": plan.overlap_start, "to": plan.tail_start}
        rows = con.execute(sql["rows_by_second"], bound(sql["rows_by_second"], part)).fetchall()
        unfinished = con.execute(
            sql["in_progress_starts"], bound(sql["in_progress_starts"], part)
        ).fetchall()
    running = 0
    for second, count in sorted(rows):
        running += count
        plan.seconds.append(second)
        plan.rows_before.append(running)
    plan.in_progress = sorted(second for (second,) in unfinished)
    return plan


def changed_parts(
    client: AloHubClient, plan: RefreshPlan, page_size: int
) -> list[tuple[datetime, datetime]]:
    """The parts of the overlap whose calls changed since the previous landing, as windows with
    inclusive ends. One count covers an unchanged overlap; changes are narrowed down by halving
    while a part holds more than two pages of rows."""
    found: list[tuple[datetime, datetime]] = []

    def look(start: datetime, end: datetime) -> None:
        if end <= start:
            return
        held = plan.rows_between(start, end)
        if not plan.unfinished_between(start, end):
            if client.count_call_logs(start, end - SECOND) == held:
                return
        if held <= 2 * page_size or end - start <= SMALLEST_PART:
            found.append((start, end - SECOND))
            return
        middle = start + timedelta(seconds=int((end - start).total_seconds()) // 2)
        look(start, middle)
        look(middle, end)

    look(plan.overlap_start, plan.tail_start)
    return found


def merge_windows(windows: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Windows with inclusive whole-second ends, sorted, touching ones joined."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1] + SECOND:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class Kept:
    """The previous rows kept, and the newest call start of the day in the new landing."""

    rows: int
    newest_start: datetime | None


def keep_previous_rows(
    plan: RefreshPlan,
    fresh_files: list[Path],
    windows: list[tuple[datetime, datetime]],
    folder: Path,
) -> Kept:
    """Writes the previous landing's rows outside ``windows`` to ``folder/kept.jsonl``."""
    sql = load_statements(SQL)
    day_start, day_end = local_day_window(plan.day)
    target = folder / KEPT_FILE
    with _connection(plan.previous_files) as con:
        fresh = compose(sql["rows"], table="fresh")
        con.execute(fresh, bound(fresh, {"files": [str(f) for f in fresh_files]}))
        params = {
            "day_start": day_start,
            "day_end": day_end,
            "window_starts": [start for start, _ in windows],
            "window_ends": [end for _, end in windows],
            "first_page": FIRST_KEPT_PAGE,
        }
        con.execute(sql["keep"], bound(sql["keep"], params))
        write = compose(sql["write_kept"], target=sql_literal(target))
        con.execute(write, bound(write, params))
        ((rows, newest_kept),) = con.execute(
            sql["kept_summary"], bound(sql["kept_summary"], params)
        ).fetchall()
        newest_fresh_sql = compose(sql["newest_start"], table="fresh")
        ((newest_fresh,),) = con.execute(
            newest_fresh_sql, bound(newest_fresh_sql, params)
        ).fetchall()
    if not rows:
        target.unlink(missing_ok=True)
    newest = max((t for t in (newest_kept, newest_fresh) if t is not None), default=None)
    return Kept(rows=rows, newest_start=newest)
