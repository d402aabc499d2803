"""`python -m bench.kpi_year`: every KPI table rebuilt for a year of call_logs (365 days x
20,000 calls by default), then one day alone; the figures go to docs/benchmarks-kpi-year.md.

The year's call_logs Parquet is synthesized in DuckDB (vectorized, seconds for the year)
rather than fetched through the sandbox: what is measured is the KPI mart, not ingestion.
The synthetic calls have what the analytics need: hourly waves, answered and abandoned calls,
a pool of returning customers written in several number formats, outbound calls to them.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from alohub_assets.storage.sql import load_statements

ROOT = Path(__file__).resolve().parents[1]
CALL_LOGS_SQL = ROOT / "alohub_assets" / "defs" / "ingest" / "call_logs.sql"
FIRST_DAY = date(2025, 1, 1)
HOURLY_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 10, 18, 20, 20, 16, 10, 14, 18, 18, 16, 12, 8, 6, 4, 3, 2, 1]
CUSTOMERS = 60_000  # pool of returning customers' numbers

SYNTHETIC_DAY = """
COPY (
    WITH raw AS (
        SELECT
            i,
            hash(i, $salt) AS h1,
            hash(i, $salt, 1) AS h2,
            hash(i, $salt, 2) AS h3,
            hash(i, $salt, 3) AS h4
        FROM range($calls) AS t(i)
    ),
    shaped AS (
        SELECT
            *,
            -- the hour by the hourly weights (a per-mille lookup), the second within it uniform
            CAST($hour_of_permille[CAST(1 + h1 % 1000 AS BIGINT)] AS INTEGER) AS hour,
            CASE WHEN h2 % 100 < 65 THEN 'inbound' WHEN h2 % 100 < 98 THEN 'outbound'
                 ELSE 'unknown' END AS direction,
            (h3 % 100) < 78 AS is_answered,
            '09' || lpad(CAST(h4 % $customers AS VARCHAR), 8, '0') AS national,
            (h4 // $customers) % 4 AS number_form
        FROM raw
    ),
    timed AS (
        SELECT
            *,
            CAST($day AS TIMESTAMP) + to_seconds(hour * 3600 + (h2 // 100) % 3600) AS local_start,
            CASE number_form
                WHEN 0 THEN national
                WHEN 1 THEN '84' || national[2:]
                WHEN 2 THEN '+84 ' || national[2:4] || ' ' || national[5:7] || ' ' || national[8:]
                ELSE '84-' || national[2:4] || '-' || national[5:7] || '-' || national[8:]
            END AS written,
            CAST(CASE WHEN is_answered THEN (h1 // 1000) % 60
                      WHEN (h1 // 1000) % 10 < 3 THEN (h1 // 1000) % 5
                      ELSE 5 + (h1 // 1000) % 175 END AS INTEGER) AS waiting_seconds,
            CAST(5 + (h3 // 100) % 340 AS INTEGER) AS talk
        FROM shaped
    )
    SELECT
        strftime(local_start, '%Y%m%d%H%M%S') || '-BENCH' || lpad(CAST(i AS VARCHAR), 6, '0')
            || '-001' AS call_id,
        CAST($day AS DATE) AS call_date,
        direction,
        CASE direction WHEN 'inbound' THEN written ELSE '100' || CAST(i % 8 AS VARCHAR) END
            AS caller,
        CASE direction WHEN 'outbound' THEN written WHEN 'inbound' THEN '19006868'
             ELSE '100' || CAST(h2 % 8 AS VARCHAR) END AS called,
        CASE WHEN is_answered OR direction = 'outbound'
             THEN 'agent' || CAST(h2 % 40 AS VARCHAR) END AS agent_id,
        timezone('Asia/Ho_Chi_Minh', local_start) AS start_time,
        start_time AS first_ring_time,
        CASE WHEN is_answered THEN start_time + to_seconds(waiting_seconds) END
            AS first_connect_time,
        start_time + to_seconds(waiting_seconds + CASE WHEN is_answered THEN talk ELSE 1 END)
            AS end_time,
        waiting_seconds,
        CAST(0 AS INTEGER) AS acd_seconds,
        CASE WHEN is_answered THEN talk END AS talk_seconds,
        'bench' AS description,
        CAST([] AS VARCHAR[]) AS customer_names,
        CAST(NULL AS VARCHAR) AS recording_url,
        is_answered AS answered,
        customer_number(direction, caller, called) AS customer_number
    FROM timed
    ORDER BY start_time, call_id
) TO '__TARGET__' (FORMAT parquet, COMPRESSION zstd)
"""


def synthesize_call_logs(data_dir: Path, first_day: date, days: int, calls: int) -> float:
    """Writes ``days`` partitions of call_logs in the warehouse layout; returns the seconds."""
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Ho_Chi_Minh'")
    con.execute(load_statements(CALL_LOGS_SQL)["customer_number_macro"])
    total = sum(HOURLY_WEIGHTS)
    hour_of_permille = [
        next(h for h in range(24) if sum(HOURLY_WEIGHTS[: h + 1]) > p * total / 1000)
        for p in range(1000)
    ]
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        target = data_dir / "warehouse" / "call_logs" / f"date={day}" / "call_logs.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        statement = SYNTHETIC_DAY.replace("__TARGET__", str(target).replace("'", "''"))
        con.execute(
            statement,
            {
                "day": day,
                "calls": calls,
                "salt": offset,
                "customers": CUSTOMERS,
                "hour_of_permille": hour_of_permille,
            },
        )
    con.close()
    return time.perf_counter() - started
