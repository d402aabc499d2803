"""Where the data lives: one folder (``ALOHUB_DATA_DIR``) and every path in it.

No Dagster import: the demo, benchmarks and notebooks use the same layout. The layout is a
public contract (``docs/data-contract.md``)::

    DATA/raw/call_logs/date=YYYY-MM-DD/{inbound,outbound,all}.jsonl, _fetch.json
    DATA/warehouse/<table>/date=YYYY-MM-DD/<table>.parquet   call_logs, rejected_call_logs,
                                                            call_recordings and every KPI table
    DATA/alohub.duckdb                                      a catalog of views over those files
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

#: Default of ``ALOHUB_DATA_DIR``, relative to the working directory.
DEFAULT_DATA_DIR = "data"
DUCKDB_FILE = "alohub.duckdb"


def data_dir_from_env() -> str:
    """``ALOHUB_DATA_DIR``, or ``./data``."""
    return os.getenv("ALOHUB_DATA_DIR") or DEFAULT_DATA_DIR


@dataclass(frozen=True)
class Warehouse:
    """The data folder and every path in it."""

    data_dir: Path

    @classmethod
    def at(cls, data_dir: str | os.PathLike) -> Warehouse:
        return cls(Path(data_dir).resolve())

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
        return str(self.data_dir / "warehouse" / table / "date=*" / f"{table}.parquet")

    def has_partitions(self, table: str) -> bool:
        return any(self.data_dir.glob(f"warehouse/{table}/date=*/{table}.parquet"))

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / DUCKDB_FILE
