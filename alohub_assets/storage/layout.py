"""Where the data lives: one folder (``ALOHUB_DATA_DIR``) and every path in it.

No Dagster import: the demo, benchmarks and notebooks use the same layout. The layout is a
public contract (``docs/data-contract.md``)::

    DATA/raw/call_logs/date=YYYY-MM-DD/{inbound,outbound,all}.jsonl, _fetch.json
    DATA/warehouse/<table>/date=YYYY-MM-DD/<table>.parquet   call_logs, rejected_call_logs,
                                                            call_recordings and every KPI table
    DATA/alohub.duckdb                                      a catalog of views over those files

``DATA`` is a local folder or ``s3://bucket/prefix`` (``storage/object_store.py``). On object
storage the same layout lives under the prefix; the code works on a local working copy of the
files it needs (``pull``) and uploads each file whole once it is complete (``push``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from alohub_assets.storage.object_store import ObjectStore, parse_s3_uri

#: Default of ``ALOHUB_DATA_DIR``, relative to the working directory.
DEFAULT_DATA_DIR = "data"
DUCKDB_FILE = "alohub.duckdb"
_WORKING_COPIES: dict[str, Path] = {}


def data_dir_from_env() -> str:
    """``ALOHUB_DATA_DIR``, or ``./data``."""
    return os.getenv("ALOHUB_DATA_DIR") or DEFAULT_DATA_DIR


#: Key-value metadata of each call_logs Parquet file: what the landing it was built from was.
CALL_LOGS_FETCHED_AT = "fetched_at"  # when the landing was read (UTC, ISO 8601)
CALL_LOGS_DAY_COMPLETE = "day_complete"  # "true": read after the day ended; "false": day so far
CALL_LOGS_NEWEST_START = "newest_call_start"  # the newest call start of the day (ISO 8601)


@dataclass(frozen=True)
class CallLogsStatus:
    """What a ``call_logs`` file says of itself. Files written before this metadata existed were
    built by the nightly run of a finished day: complete, time unknown."""

    day_complete: bool
    fetched_at: str | None
    newest_call_start: str | None


def call_logs_status(path: Path | str, filesystem=None) -> CallLogsStatus:
    """The status of a ``call_logs`` Parquet file (its footer only is read): a local file, or
    the path of an object in ``filesystem`` (a pyarrow filesystem, for object storage)."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(str(path), filesystem=filesystem).metadata or {}

    def text(key: str) -> str | None:
        value = metadata.get(key.encode())
        return value.decode() if value else None

    return CallLogsStatus(
        day_complete=text(CALL_LOGS_DAY_COMPLETE) != "false",
        fetched_at=text(CALL_LOGS_FETCHED_AT),
        newest_call_start=text(CALL_LOGS_NEWEST_START),
    )


@dataclass(frozen=True)
class Warehouse:
    """The data folder and every path in it. With ``remote`` (object storage), ``data_dir`` is
    this process's local working copy of the files it pulled or is about to push."""

    data_dir: Path
    remote: ObjectStore | None = None

    @classmethod
    def at(cls, data_dir: str | os.PathLike) -> Warehouse:
        location = parse_s3_uri(str(data_dir))
        if location is None:
            return cls(Path(data_dir).resolve())
        uri = location.uri()
        if uri not in _WORKING_COPIES:
            _WORKING_COPIES[uri] = Path(tempfile.mkdtemp(prefix="alohub-s3-"))
            atexit.register(shutil.rmtree, _WORKING_COPIES[uri], True)
        return cls(_WORKING_COPIES[uri], ObjectStore(location))

    @property
    def location(self) -> str:
        """Where the data is, as a user names it: a folder or ``s3://bucket/prefix``."""
        return self.remote.uri() if self.remote else str(self.data_dir)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.data_dir).as_posix()

    def uri(self, path: Path) -> str:
        """A file's name as a user finds it (``s3://...`` on object storage)."""
        return self.remote.uri(self.relative(path)) if self.remote else str(path)

    def pull(self, path: Path) -> bool:
        """Makes the local ``path`` the stored file (downloaded on object storage); False when
        there is none."""
        if self.remote is None:
            return path.exists()
        return self.remote.get_file(self.relative(path), path)

    def push(self, path: Path) -> None:
        """Publishes a complete local file (uploaded whole on object storage: one PUT up to
        10 MB, else a multipart upload; readers see the old object or the new one)."""
        if self.remote is not None:
            self.remote.put_file(path, self.relative(path))

    def call_logs_day_status(self, day: date) -> CallLogsStatus | None:
        """What the ``call_logs`` file of ``day`` says of itself, read from where it is stored
        (the footer only); None when the day has no file."""
        path = self.call_logs_file(day)
        try:
            if self.remote is None:
                return call_logs_status(path)
            key = self.remote.location.key(self.relative(path))
            return call_logs_status(key, filesystem=self.remote.filesystem)
        except FileNotFoundError:
            return None

    def modified_time(self, path: Path) -> float | None:
        if self.remote is not None:
            return self.remote.modified_time(self.relative(path))
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return None

    def register_filesystem(self, con) -> None:
        """Lets a DuckDB connection read this warehouse's ``s3://`` paths (no-op locally)."""
        if self.remote is not None:
            con.register_filesystem(self.remote.fsspec())

    def raw_partition_dir(self, day: date) -> Path:
        return self.data_dir / "raw" / "call_logs" / f"date={day.isoformat()}"

    def partition_file(self, table: str, day: date) -> Path:
        """``warehouse/<table>/date=YYYY-MM-DD/<table>.parquet``: one file per table and day."""
        return self.data_dir / "warehouse" / table / f"date={day.isoformat()}" / f"{table}.parquet"

    def call_logs_file(self, day: date) -> Path:
        return self.partition_file("call_logs", day)

    def rejected_file(self, day: date) -> Path:
        return self.partition_file("rejected_call_logs", day)

    def recordings_file(self, day: date) -> Path:
        return self.partition_file("call_recordings", day)

    def table_glob(self, table: str) -> str:
        """Every partition of a table; hidden temporary files never match."""
        if self.remote is not None:
            return self.remote.uri(f"warehouse/{table}/date=*/{table}.parquet")
        return str(self.data_dir / "warehouse" / table / "date=*" / f"{table}.parquet")

    def has_partitions(self, table: str) -> bool:
        if self.remote is not None:
            return any(
                key.endswith(f"/{table}.parquet") and "/date=" in key
                for key in self.remote.list_files(f"warehouse/{table}")
            )
        return any(self.data_dir.glob(f"warehouse/{table}/date=*/{table}.parquet"))

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / DUCKDB_FILE
