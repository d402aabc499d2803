"""``make demo``: the whole pipeline on the bundled sandbox, for the last 7 complete days.

Starts the AloHub sandbox on a free port of 127.0.0.1 (recordings processed without delay),
materializes every asset for each day into ``ALOHUB_DATA_DIR`` (default ``./data``): the daily
pipeline, then ``call_recordings`` (what the recording sensor would ask for), with the Dagster
instance in ``DAGSTER_HOME`` (so ``make dev`` shows the runs afterwards), prints the KPIs and
the recording statuses, and stops the sandbox.
"""

import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from alohub_assets.api.records import local_today
from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
from alohub_assets.defs.resources import (
    AloHubResource,
    KpiSettingsResource,
    PlanningSettingsResource,
    RecordingPolicyResource,
    WarehouseResource,
)
from alohub_assets.storage.layout import Warehouse, data_dir_from_env
from alohub_dev.local_instance import prepare_dagster_home
from alohub_dev.sandbox.server import DEFAULT_API_KEY, SandboxConfig, build_server

DAYS = 7
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_pipeline(days: list[date], data_dir: Path, base_url: str) -> None:
    resources = {
        "alohub": AloHubResource(base_url=base_url, api_key=DEFAULT_API_KEY),
        "warehouse": WarehouseResource(data_dir=str(data_dir)),
        "recording_policy": RecordingPolicyResource(),
        "kpi_settings": KpiSettingsResource(),
        "planning_settings": PlanningSettingsResource(),
    }
    instance = dg.DagsterInstance.get()
    for number, day in enumerate(days, start=1):
        started = time.monotonic()
        result = dg.materialize(
            ALL_ASSETS,
            selection=DAILY_PIPELINE,
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
            run_config=QUIET,
        )
        raw = result.asset_materializations_for_node("raw_call_logs")[0].metadata
        calls = result.asset_materializations_for_node("call_logs")[0].metadata
        recordings = dg.materialize(
            ALL_ASSETS,
            selection="call_recordings",
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
            run_config=QUIET,
        )
        found = recordings.asset_materializations_for_node("call_recordings")[0].metadata
        print(
            f"[{number}/{len(days)}] {day}: {calls['dagster/row_count'].value} calls, "
            f"{raw['rows'].value} rows landed, {raw['requests'].value} requests, "
            f"{raw['retries'].value} retries; {found['detail_requests'].value} detail requests, "
            f"{found['total_found'].value} recording URLs found; "
            f"{time.monotonic() - started:.1f}s",
            flush=True,
        )


def print_kpis(warehouse: Warehouse, first: date, last: date) -> None:
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        print(
            "\nQueue KPIs per day (service level: answered within 20 s / offered - short abandons)"
        )
        print(
            con.sql(
                """
                SELECT date, direction, offered_calls AS offered,
                       round(answer_rate * 100, 1) AS "answer %",
                       round(asa_seconds, 1) AS "ASA s",
                       round(service_level * 100, 1) AS "service level %"
                FROM daily_call_metrics
                WHERE date BETWEEN $first AND $last
                ORDER BY date, direction
                """,
                params={"first": first, "last": last},
            )
            .fetchdf()
            .to_string(index=False)
        )
        print(f"\nBusiest agents, {first} to {last}")
        print(
            con.sql(
                """
                SELECT agent_id, sum(handled_calls)::BIGINT AS handled,
                       sum(inbound_handled)::BIGINT AS inbound,
                       sum(outbound_handled)::BIGINT AS outbound,
                       sum(unknown_handled)::BIGINT AS "other type",
                       round(sum(talk_seconds) / 3600, 1) AS "talk h",
                       round(sum(handled_calls) * 100 / sum(sum(handled_calls)) OVER (), 1)
                           AS "share %"
                FROM agent_daily_load
                WHERE date BETWEEN $first AND $last
                GROUP BY agent_id ORDER BY handled DESC LIMIT 5
                """,
                params={"first": first, "last": last},
            )
            .fetchdf()
            .to_string(index=False)
        )
        print(f"\nRecording URLs of the calls, {first} to {last} (the calls view)")
        print(
            con.sql(
                """
                SELECT recording_status, count(*) AS calls FROM calls
                WHERE call_date BETWEEN $first AND $last
                GROUP BY recording_status ORDER BY calls DESC
                """,
                params={"first": first, "last": last},
            )
            .fetchdf()
            .to_string(index=False)
        )


def main() -> None:
    data_dir = Path(data_dir_from_env()).resolve()
    home = prepare_dagster_home()
    last = local_today() - timedelta(days=1)
    days = [last - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    # Recordings processed at once, so the demo's call_recordings runs find them.
    server = build_server(config=SandboxConfig(recording_delay_seconds=0)).start_in_thread()
    print(f"AloHub sandbox on {server.url}; pipeline data in {data_dir}; Dagster home {home}")
    try:
        run_pipeline(days, data_dir, server.url)
    except Exception as exc:  # the run's own log says more; keep the demo's answer short
        print(f"demo failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        server.stop()
    print_kpis(Warehouse.at(data_dir), days[0], days[-1])
    print(
        f"""
Done. Next:
  make dev                      the Dagster UI on http://127.0.0.1:3000 (with these runs)
  {data_dir}/warehouse/call_logs/date=*/call_logs.parquet   one row per call (pandas, DuckDB)
  {data_dir}/alohub.duckdb      KPI mart: open read-only, query, close
                                (duckdb.connect(path, read_only=True))"""
    )


if __name__ == "__main__":
    main()
