"""Lands one local day of call logs as the API sent them, streamed page by page to disk.

The list rows carry no call type, so the day is read once with ``callType`` 0 and once with 1;
the filter gives each row its direction. A call of any other type would be missed by both, so
the unfiltered ``totalRecord`` is compared with the two, and when they differ the unfiltered
window is read too (its extra calls get direction ``unknown``).

Each page becomes one JSON line ``{"source", "page", "data": [rows as sent]}``.
The partition folder is staged and swapped in whole, with ``_fetch.json`` describing the fetch.
Today's partition is refreshed instead of read whole when it was landed before: only what may
have changed since is read, and the previous rows outside the windows read are kept
(``storage/refresh.py``).

On object storage (no rename) the page files of each fetch are uploaded under a folder of their
own, ``date=DAY/v=<fetch id>/``, and ``date=DAY/_fetch.json`` is uploaded last, naming that
folder: it is the partition's commit point. Readers go through it (``landed_files``), so a fetch
that dies before it leaves the previous landing readable; the superseded folder is deleted after.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from alohub_assets.api.client import AloHubClient, AloHubPagingError, WindowRead
from alohub_assets.api.records import format_iso_ict, local_day_window
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.leftovers import ABANDONED_AFTER_SECONDS
from alohub_assets.storage.publish import (
    failpoint,
    publish_dir,
    staging_dir_for,
)
from alohub_assets.storage.refresh import (
    RefreshPolicy,
    changed_parts,
    keep_previous_rows,
    merge_windows,
    plan_refresh,
)

#: Source name -> callType filter. The order is the priority when a call is in several.
TYPED_SOURCES = {"inbound": 0, "outbound": 1}
UNFILTERED_SOURCE = "all"
FETCH_MANIFEST = "_fetch.json"
MAX_DAY_REREADS = 3


class JsonlPageSink:
    """Writes each page as one JSON line; a re-read of the window truncates the file."""

    def __init__(self, fh: TextIO, source: str):
        self._fh = fh
        self.source = source
        self.pages = 0

    def write_page(self, rows: list[dict[str, Any]]) -> None:
        self.pages += 1
        line = {"source": self.source, "page": self.pages, "data": rows}
        self._fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        failpoint("mid_landing")

    def discard(self) -> None:
        self._fh.seek(0)
        self._fh.truncate()
        self.pages = 0


@dataclass(frozen=True)
class LandingResult:
    day: date
    folder: Path
    #: Per source, what its reads got (summed over the windows read).
    sources: dict[str, WindowRead]
    #: The unfiltered totalRecord of the windows read (the whole day for a full read).
    unfiltered_total: int
    #: The windows read, inclusive ends: the whole day, or what a refresh of today re-read.
    windows: list[tuple[datetime, datetime]]
    #: A refresh: rows kept from the previous landing of the day (outside the windows).
    rows_kept: int = 0
    #: A refresh: the newest call start of the day the new landing holds.
    newest_start: datetime | None = None
    #: "full" (the day read whole) or "refresh" (today, only what may have changed).
    mode: str = "full"

    @property
    def rows(self) -> int:
        """Rows read from the API (kept rows are not counted)."""
        return sum(read.rows for read in self.sources.values())

    @property
    def refresh(self) -> bool:
        return self.mode == "refresh"


def land_call_logs(
    client: AloHubClient,
    warehouse: Warehouse,
    day: date,
    refresh: RefreshPolicy | None = None,
) -> LandingResult:
    """Fetches the local day into ``raw/call_logs/date=DAY/``, replacing what was there.

    With ``refresh`` (today's partition), a previous landing of the day is brought up to date by
    reading only what may have changed since (``storage/refresh.py``); without one, or when it
    holds no call yet, the day is read whole."""
    started_at = datetime.now(UTC)
    day_start, day_end = local_day_window(day)
    final = warehouse.raw_partition_dir(day)
    plan = plan_refresh(landed_files(warehouse, day), day, refresh) if refresh else None
    staging = staging_dir_for(final)
    try:
        other_types_likely = _other_types_landed(warehouse, day)
        if plan is None:
            windows = [(day_start, day_end)]
        else:
            changed = changed_parts(client, plan, client.page_size)
            windows = merge_windows([*changed, (plan.tail_start, day_end)])
        reads_by_window = []
        unfiltered_total = 0
        for number, (start, end) in enumerate(windows):
            reads, total = _read_day(client, staging, start, end, other_types_likely, number)
            reads_by_window.append(reads)
            unfiltered_total += total
            other_types_likely = other_types_likely or UNFILTERED_SOURCE in reads
        kept = None
        if plan is not None:
            kept = keep_previous_rows(plan, _jsonl_files(staging), windows, staging)
        sources = _sum_reads(reads_by_window)
        manifest = {
            "date": day.isoformat(),
            "window": {
                "callStartTime": format_iso_ict(day_start),
                "callEndtime": format_iso_ict(day_end),
            },
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "started_at": started_at.isoformat(timespec="seconds"),
            # Read after the day was over: the finished day, not the day so far.
            "day_complete": started_at > day_end,
            "mode": "full" if plan is None else "refresh",
            "windows_read": [
                {
                    "callStartTime": format_iso_ict(start),
                    "callEndtime": format_iso_ict(end),
                    "sources": {name: r.total_record for name, r in reads.items()},
                }
                for (start, end), reads in zip(windows, reads_by_window, strict=True)
            ],
            "base_url": client.base_url,
            "unfiltered_total_record": unfiltered_total,
            "sources": {
                name: {
                    "total_record": r.total_record,
                    "rows": r.rows,
                    "pages": r.pages,
                    "rereads": r.rereads,
                }
                for name, r in sources.items()
            },
            "client": client.stats.as_dict(),
        }
        if plan is not None and kept is not None:
            manifest["refresh"] = {
                "previous_newest_start": format_iso_ict(plan.newest_start),
                "overlap_start": format_iso_ict(plan.overlap_start),
                "rows_kept": kept.rows,
                "newest_start": format_iso_ict(kept.newest_start) if kept.newest_start else None,
            }
        (staging / FETCH_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        publish_dir(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if warehouse.remote is not None:
        _publish_remote(warehouse, final, manifest)
    return LandingResult(
        day=day,
        folder=final,
        sources=sources,
        unfiltered_total=unfiltered_total,
        windows=windows,
        rows_kept=kept.rows if kept else 0,
        newest_start=kept.newest_start if kept else None,
        mode=manifest["mode"],
    )


def _sum_reads(reads_by_window: list[dict[str, WindowRead]]) -> dict[str, WindowRead]:
    """Each source's reads over the windows, added up (one read per window and source)."""
    totals: dict[str, WindowRead] = {}
    for reads in reads_by_window:
        for name, read in reads.items():
            before = totals.get(name, WindowRead(0, 0, 0, 0))
            totals[name] = WindowRead(
                total_record=before.total_record + read.total_record,
                rows=before.rows + read.rows,
                pages=before.pages + read.pages,
                rereads=before.rereads + read.rereads,
            )
    return totals


def _read_day(
    client: AloHubClient,
    staging: Path,
    start: datetime,
    end: datetime,
    other_types_likely: bool,
    window: int = 0,
) -> tuple[dict[str, WindowRead], int]:
    """The typed reads, then one unfiltered count. Calls are added, never removed: a count equal
    to the typed totals means the window holds no call of another type and none arrived since,
    so such a window costs one request beyond its pages. Otherwise the unfiltered read too, and
    a check that no call arrived after its typed read (it would show only in the unfiltered
    read, as ``unknown``), else the window is read again. The check is an unfiltered count taken
    before the typed reads when calls of other types are expected (they were in the last
    landing), or else the typed counts again after the unfiltered read. ``window`` numbers the
    page files of a refresh that reads several windows."""
    for _ in range(MAX_DAY_REREADS + 1):
        count_before = client.count_call_logs(start, end) if other_types_likely else None
        _page_file(staging, UNFILTERED_SOURCE, window).unlink(missing_ok=True)
        reads = {
            source: _read_into(client, staging, source, start, end, call_type, window)
            for source, call_type in TYPED_SOURCES.items()
        }
        unfiltered_total = client.count_call_logs(start, end)
        if unfiltered_total == sum(r.total_record for r in reads.values()):
            return reads, unfiltered_total
        reads[UNFILTERED_SOURCE] = _read_into(
            client, staging, UNFILTERED_SOURCE, start, end, None, window
        )
        unfiltered_total = reads[UNFILTERED_SOURCE].total_record
        if count_before is not None:
            settled = unfiltered_total == count_before
        else:
            settled = all(
                client.count_call_logs(start, end, call_type=call_type)
                == reads[source].total_record
                for source, call_type in TYPED_SOURCES.items()
            )
        if settled:
            return reads, unfiltered_total
        other_types_likely = True
    raise AloHubPagingError(
        f"the calls of {format_iso_ict(start)}..{format_iso_ict(end)} kept changing between the "
        f"inbound, outbound and unfiltered reads ({MAX_DAY_REREADS + 1} tries); try again when "
        "the day has settled"
    )


def _other_types_landed(warehouse: Warehouse, day: date) -> bool:
    """Did the last landing of this day, or else of the day before, find calls of another
    type? (Only on local disk; on object storage the cheaper check for days without is used.)"""
    if warehouse.remote is not None:
        return False
    for landed in (day, day - timedelta(days=1)):
        manifest = warehouse.raw_partition_dir(landed) / FETCH_MANIFEST
        if manifest.exists():
            try:
                return UNFILTERED_SOURCE in json.loads(manifest.read_text())["sources"]
            except (ValueError, KeyError, TypeError):
                return False
    return False


def _read_into(
    client: AloHubClient,
    folder: Path,
    source: str,
    start: datetime,
    end: datetime,
    call_type: int | None = None,
    window: int = 0,
) -> WindowRead:
    with open(_page_file(folder, source, window), "w", encoding="utf-8") as fh:
        read = client.read_window(start, end, JsonlPageSink(fh, source), call_type=call_type)
        fh.flush()
        os.fsync(fh.fileno())
    return read


def landed_files(warehouse: Warehouse, day: date) -> list[Path]:
    """The page files of a landed day (each line names its source, which sets the priority).
    On object storage, the files the day's ``_fetch.json`` names, downloaded."""
    folder = warehouse.raw_partition_dir(day)
    if warehouse.remote is not None:
        _pull_remote(warehouse, folder)
    return _jsonl_files(folder)


def landing_manifest(warehouse: Warehouse, day: date) -> dict[str, Any] | None:
    """The ``_fetch.json`` of the day's landing in the local folder (pulled by
    ``landed_files``), or None."""
    path = warehouse.raw_partition_dir(day) / FETCH_MANIFEST
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _jsonl_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def _publish_remote(warehouse: Warehouse, folder: Path, manifest: dict) -> None:
    """Uploads the landed files under a new version folder, then the manifest naming it."""
    remote, base = warehouse.remote, warehouse.relative(folder)
    previous = _remote_manifest(warehouse, base)
    version = f"v={time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    names = sorted(p.name for p in folder.glob("*.jsonl"))
    for name in names:
        remote.put_file(folder / name, f"{base}/{version}/{name}")
    failpoint("before_remote_manifest")
    committed = {**manifest, "objects": {"folder": version, "files": names}}
    remote.put_bytes((json.dumps(committed, indent=2) + "\n").encode(), f"{base}/{FETCH_MANIFEST}")
    # The superseded version, and versions of fetches that died before their manifest.
    superseded = (previous or {}).get("objects", {}).get("folder")
    stale_before = time.time() - ABANDONED_AFTER_SECONDS  # object stores have no pids
    for key in remote.list_files(base):
        folder_name = key[len(base) + 1 :].split("/")[0]
        if folder_name in (version, FETCH_MANIFEST):
            continue
        if folder_name == superseded or (remote.modified_time(key) or 0) < stale_before:
            remote.delete([key])


def _pull_remote(warehouse: Warehouse, folder: Path) -> None:
    """Makes ``folder`` a copy of the committed landing (or empty when there is none)."""
    base = warehouse.relative(folder)
    manifest = _remote_manifest(warehouse, base)
    shutil.rmtree(folder, ignore_errors=True)
    if manifest is None:
        return
    objects = manifest["objects"]
    for name in objects["files"]:
        if not warehouse.remote.get_file(f"{base}/{objects['folder']}/{name}", folder / name):
            raise FileNotFoundError(
                f"{warehouse.remote.uri(base)}/{FETCH_MANIFEST} names {objects['folder']}/{name}, "
                "which is missing: re-materialize raw_call_logs for this partition"
            )
    (folder / FETCH_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def _remote_manifest(warehouse: Warehouse, base: str) -> dict | None:
    data = warehouse.remote.get_bytes(f"{base}/{FETCH_MANIFEST}")
    return json.loads(data) if data else None


def _page_file(folder: Path, source: str, window: int = 0) -> Path:
    """``inbound.jsonl``; a refresh's further windows: ``inbound.1.jsonl``, ..."""
    return folder / (f"{source}.jsonl" if window == 0 else f"{source}.{window}.jsonl")
