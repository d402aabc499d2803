"""Where the data lives, how it is written atomically, and how the DuckDB mart is opened.

No Dagster import: the demo, benchmarks and notebooks use the same layout. The layout is a
public contract (``docs/data-contract.md``)::

    DATA/raw/call_logs/date=YYYY-MM-DD/{inbound,outbound,all}.jsonl, _fetch.json
    DATA/warehouse/call_logs/date=YYYY-MM-DD/call_logs.parquet
    DATA/warehouse/rejected_call_logs/date=YYYY-MM-DD/rejected_call_logs.parquet
    DATA/warehouse/call_recordings/date=YYYY-MM-DD/call_recordings.parquet
    DATA/alohub.duckdb
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from alohub_assets.leftovers import exchange, remove_abandoned, work_name
from alohub_assets.records import LOCAL_TIMEZONE_NAME

log = logging.getLogger(__name__)

DUCKDB_FILE = "alohub.duckdb"


class DuckDBLockTimeout(RuntimeError):
    """Another process held the DuckDB file for longer than the configured wait."""


@dataclass(frozen=True)
class Warehouse:
    """The data folder (``ALOHUB_DATA_DIR``) and every path in it."""

    data_dir: Path

    @classmethod
    def at(cls, data_dir: str | os.PathLike) -> Warehouse:
        return cls(Path(data_dir).resolve())

    def raw_partition_dir(self, day: date) -> Path:
        return self.data_dir / "raw" / "call_logs" / f"date={day.isoformat()}"

    def call_logs_file(self, day: date) -> Path:
        return self._partition_file("call_logs", day)

    def rejected_file(self, day: date) -> Path:
        return self._partition_file("rejected_call_logs", day)

    def recordings_file(self, day: date) -> Path:
        return self._partition_file("call_recordings", day)

    def table_glob(self, table: str) -> str:
        return str(self.data_dir / "warehouse" / table / "date=*" / f"{table}.parquet")

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / DUCKDB_FILE

    def _partition_file(self, table: str, day: date) -> Path:
        return self.data_dir / "warehouse" / table / f"date={day.isoformat()}" / f"{table}.parquet"


def failpoint(name: str) -> None:
    """Crash-safety tests set ``ALOHUB_FAILPOINT`` to a name to have the process killed here."""
    if os.environ.get("ALOHUB_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def temporary_sibling(path: Path) -> Path:
    """A hidden name in the same folder (same file system, so the rename is atomic); hidden so
    that ``*.parquet`` globs never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return work_name(path, "tmp")


def publish_file(tmp: Path, final: Path) -> None:
    """Atomically puts ``tmp`` in place of ``final``: readers see the old file or the new one.
    Temporary files of killed writers of ``final`` are removed on the way."""
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    failpoint("before_file_publish")
    os.replace(tmp, final)
    remove_abandoned(final)


def publish_dir(staging: Path, final: Path) -> None:
    """Replaces a partition folder by a complete staged one. Where the system can, the two are
    exchanged in one atomic step, so readers always find the folder (old or new); elsewhere two
    renames leave a moment with no folder. Work folders of killed writers are removed after."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(10):  # another run of the same partition may be swapping at the same time
        if final.exists() and exchange(staging, final):
            failpoint("between_folder_renames")  # the new folder is in; the old one beside it
            trash = work_name(final, "trash")
            os.replace(staging, trash)
            break
        trash = work_name(final, "trash")
        try:
            os.replace(final, trash)
        except FileNotFoundError:
            pass
        failpoint("between_folder_renames")
        try:
            os.replace(staging, final)
            break
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
    else:
        raise RuntimeError(f"could not publish {final}: another writer kept replacing it")
    shutil.rmtree(trash, ignore_errors=True)
    remove_abandoned(final)


def staging_dir_for(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = work_name(final, "staging")
    staging.mkdir()
    return staging


def hmac_pads(key: str) -> dict[str, bytes]:
    """HMAC-SHA256's inner and outer keys, so SQL can compute HMAC(key, value) as
    sha256(opad || sha256(ipad || value)) without the key itself entering the query."""
    raw = key.encode()
    if len(raw) > 64:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(64, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in raw), "opad": bytes(b ^ 0x5C for b in raw)}


@contextmanager
def connect_mart(
    path: Path, *, read_only: bool = False, lock_timeout_seconds: float = 120.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Opens the DuckDB file, waiting a bounded time while another process holds it.

    DuckDB lets one process write a file at a time; a backfill's runs, or a notebook that
    left a connection open, hold it. The wait ends in an error naming the holder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_seconds
    pause = 0.1
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise DuckDBLockTimeout(
                    f"{path} stayed locked for {lock_timeout_seconds:.0f}s: {exc}. Close the "
                    "notebook or process holding it (open, query, close), or read the Parquet."
                ) from None
            log.info("DuckDB file %s is locked by another process; waiting %.1fs", path, pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
    try:
        con.execute(f"SET TimeZone = '{LOCAL_TIMEZONE_NAME}'")
        yield con
    finally:
        con.close()
