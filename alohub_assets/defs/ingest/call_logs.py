"""``call_logs``: the day's landing -> one row per call in Parquet, parsed and deduplicated in
DuckDB (``call_logs.sql``); unreadable rows go to ``rejected_call_logs`` with the reason."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg

from alohub_assets.api.records import CALL_ID_REGEX
from alohub_assets.defs.kpi_mart.build import refresh_mart_catalog
from alohub_assets.defs.partitions import daily_partitions, partition_day
from alohub_assets.defs.resources import WarehouseResource
from alohub_assets.storage.landing import landed_files, landing_manifest
from alohub_assets.storage.layout import (
    CALL_LOGS_DAY_COMPLETE,
    CALL_LOGS_FETCHED_AT,
    CALL_LOGS_NEWEST_START,
    Warehouse,
)
from alohub_assets.storage.mart import local_connection
from alohub_assets.storage.pii import hmac_pads
from alohub_assets.storage.publish import publish_file, temporary_sibling
from alohub_assets.storage.sql import bound, compose, load_statements, sql_literal

SQL = Path(__file__).with_name("call_logs.sql")
# DuckDB spills to disk past this; a million-row day then stays under 1.5 GB of memory.
MEMORY_LIMIT = "1GB"

CALL_LOGS_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("call_id", "string", description="AloHub callId, unique per partition"),
        dg.TableColumn("call_date", "date", description="local (UTC+7) date of the call's start"),
        dg.TableColumn("direction", "string", description="inbound | outbound | unknown"),
        dg.TableColumn("caller", "string"),
        dg.TableColumn("called", "string"),
        dg.TableColumn("agent_id", "string", description="null when empty"),
        dg.TableColumn("start_time", "timestamp with time zone"),
        dg.TableColumn("first_ring_time", "timestamp with time zone"),
        dg.TableColumn(
            "first_connect_time", "timestamp with time zone", description="null: not answered"
        ),
        dg.TableColumn("end_time", "timestamp with time zone"),
        dg.TableColumn("waiting_seconds", "int32", description="waitingTime"),
        dg.TableColumn("acd_seconds", "int32", description="acdTime"),
        dg.TableColumn("talk_seconds", "int32", description="end - first connect, answered calls"),
        dg.TableColumn("description", "string"),
        dg.TableColumn("customer_names", "list<string>", description="distinct, first seen first"),
        dg.TableColumn("recording_url", "string", description="the list's url; null when empty"),
        dg.TableColumn("answered", "boolean", description="first_connect_time is not null"),
        dg.TableColumn(
            "customer_number",
            "string",
            description="inbound caller / outbound called in national form (0 + 9-10 digits); "
            "null: not a customer's number",
        ),
    ]
)


@dataclass(frozen=True)
class CallLogsBuild:
    calls: int
    rejected_rows: int
    raw_rows: int
    calls_in_landing: int
    calls_outside_day: int
    duplicate_call_ids: int
    null_call_ids: int
    calls_rejected_whole: int
    calls_lost: int


def build_call_logs(warehouse: Warehouse, day: date, pii_key: str | None = None) -> CallLogsBuild:
    """Writes the day's ``call_logs`` (and ``rejected_call_logs``) Parquet atomically. With
    ``pii_key``, phone numbers and customer names are stored as keyed hashes."""
    pages = landed_files(warehouse, day)
    if not pages:
        raise FileNotFoundError(
            f"no raw landing for {day} under "
            f"{warehouse.uri(warehouse.raw_partition_dir(day))}: "
            "materialize raw_call_logs for this partition first"
        )
    sql = load_statements(SQL)
    params = {"files": [str(f) for f in pages], "day": day, "call_id_pattern": CALL_ID_REGEX}
    # A database with its own memory settings (they are database-wide), shared by this
    # process's builds. Row order is carried by the `arrival` column, so DuckDB need not keep
    # it: less memory.
    con = local_connection(preserve_insertion_order="false", memory_limit=MEMORY_LIMIT)
    try:
        con.execute(sql["customer_number_macro"])
        raw_rows_sql = compose(sql["raw_rows"], landed=sql["landed"])
        con.execute(raw_rows_sql, bound(raw_rows_sql, params))
        calls_sql, rejected_sql = sql["call_logs"], sql["rejected_call_logs"]
        if pii_key:
            calls_sql = compose(sql["pseudonymize"], call_logs=calls_sql)
            rejected_sql = compose(sql["withhold_raw_rows"], rejected=rejected_sql)
            params |= hmac_pads(pii_key)
        ((newest,),) = con.execute(sql["newest_start"], {"day": day}).fetchall()
        manifest = landing_manifest(warehouse, day) or {}
        status = {
            CALL_LOGS_FETCHED_AT: manifest.get("fetched_at") or "",
            CALL_LOGS_DAY_COMPLETE: "false" if manifest.get("day_complete") is False else "true",
            CALL_LOGS_NEWEST_START: newest.isoformat() if newest else "",
        }
        kv = ", ".join(f"{name}: {sql_literal(value)}" for name, value in status.items())
        for final, statement in (
            (warehouse.call_logs_file(day), calls_sql),
            (warehouse.rejected_file(day), rejected_sql),
        ):
            tmp = temporary_sibling(final)
            con.execute(
                f"COPY ({statement}) TO {sql_literal(tmp)} "
                f"(FORMAT parquet, COMPRESSION zstd, KV_METADATA {{{kv}}})",
                bound(statement, params),
            )
            publish_file(tmp, final)
            warehouse.push(final)
        calls_in_landing, outside, raw_rows = con.execute(
            sql["landing_summary"], {"day": day}
        ).fetchone()
        cursor = con.execute(
            sql["written_summary"],
            {
                "calls": str(warehouse.call_logs_file(day)),
                "rejected": str(warehouse.rejected_file(day)),
                "day": day,
            },
        )
        written = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
    finally:
        con.close()
    return CallLogsBuild(
        raw_rows=raw_rows,
        calls_in_landing=calls_in_landing,
        calls_outside_day=outside,
        **written,
    )


@dg.asset(
    partitions_def=daily_partitions,
    deps=["raw_call_logs"],
    kinds={"duckdb", "parquet"},
    group_name="call_logs",
    check_specs=[
        dg.AssetCheckSpec(
            "call_id_unique_and_not_null",
            asset="call_logs",
            blocking=True,
            description="one row per call: no duplicate or null call_id",
        ),
        dg.AssetCheckSpec(
            "every_landed_call_reaches_call_logs",
            asset="call_logs",
            description="each distinct callId landed for the day is in call_logs or quarantined",
        ),
        dg.AssetCheckSpec(
            "no_rejected_rows",
            asset="call_logs",
            description="rows that could not be read went to rejected_call_logs (WARN)",
        ),
    ],
)
def call_logs(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One row per call of the partition's local day, deduplicated by callId, as Parquet."""
    day = partition_day(context)
    store = warehouse.get_warehouse()
    built = build_call_logs(store, day, pii_key=warehouse.pii_hmac_key)
    refresh_mart_catalog(store, "call_logs")
    context.log.info(
        f"{day}: {built.raw_rows} raw rows -> {built.calls} calls "
        f"({built.calls_outside_day} calls of other days dropped, {built.rejected_rows} rows rejected)"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": built.calls,
            "dagster/column_schema": CALL_LOGS_SCHEMA,
            "path": dg.MetadataValue.path(store.uri(store.call_logs_file(day))),
            "raw_rows": built.raw_rows,
            "calls_outside_partition_dropped": built.calls_outside_day,
            "rejected_rows": built.rejected_rows,
            "pii_hashed": bool(warehouse.pii_hmac_key),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="call_id_unique_and_not_null",
                passed=built.duplicate_call_ids == 0 and built.null_call_ids == 0,
                metadata={"duplicates": built.duplicate_call_ids, "nulls": built.null_call_ids},
            ),
            dg.AssetCheckResult(
                check_name="every_landed_call_reaches_call_logs",
                passed=built.calls_lost == 0,
                metadata={
                    "calls_landed": built.calls_in_landing,
                    "calls_lost": built.calls_lost,
                    "calls_written": built.calls,
                    "calls_quarantined": built.calls_rejected_whole,
                },
            ),
            dg.AssetCheckResult(
                check_name="no_rejected_rows",
                passed=built.rejected_rows == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "rejected_rows": built.rejected_rows,
                    "path": dg.MetadataValue.path(store.uri(store.rejected_file(day))),
                },
            ),
        ],
    )
