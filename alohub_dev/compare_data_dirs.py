"""Compares two data folders written for the same sandbox days, for refactors that must not
change the data: every Parquet file's columns, types and rows; every raw page file byte for
byte (``_fetch.json`` holds fetch times and timings, so it is skipped); and every table or view
of the two ``alohub.duckdb`` files, row by row.

    uv run python -m alohub_dev.compare_data_dirs OLD_DATA_DIR NEW_DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

MART_RELATIONS = (
    "daily_call_metrics",
    "agent_daily_load",
    "hourly_call_volume",
    "call_logs",
    "calls",
)


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: dict | None = None) -> tuple:
    cursor = con.execute(query, params or {})
    return [(d[0], d[1]) for d in cursor.description], cursor.fetchall()


def compare(old: Path, new: Path) -> bool:
    same_everywhere = True
    with duckdb.connect() as con:
        for file in sorted(old.rglob("*.parquet")):
            rel = file.relative_to(old)
            query = "SELECT * FROM read_parquet($f) ORDER BY ALL"
            (types, rows), other = (
                _rows(con, query, {"f": str(file)}),
                _rows(con, query, {"f": str(new / rel)}),
            )
            same = (types, rows) == other
            same_everywhere &= same
            print(f"{rel}: {len(rows)} rows, {len(types)} columns, equal={same}")
    for file in sorted(old.rglob("*.jsonl")):
        rel = file.relative_to(old)
        same = file.read_bytes() == (new / rel).read_bytes()
        same_everywhere &= same
        print(f"{rel}: {file.stat().st_size} bytes, byte-equal={same}")
    with (
        duckdb.connect(str(old / "alohub.duckdb"), read_only=True) as before,
        duckdb.connect(str(new / "alohub.duckdb"), read_only=True) as after,
    ):
        for relation in MART_RELATIONS:
            query = f"SELECT * FROM {relation} ORDER BY ALL"  # noqa: S608 (fixed names)
            (types, rows), other = _rows(before, query), _rows(after, query)
            same = (types, rows) == other
            same_everywhere &= same
            print(f"alohub.duckdb {relation}: {len(rows)} rows, {len(types)} columns, equal={same}")
    print("ALL EQUAL" if same_everywhere else "DIFFERENCES")
    return same_everywhere


if __name__ == "__main__":
    raise SystemExit(0 if compare(Path(sys.argv[1]), Path(sys.argv[2])) else 1)
