"""``make demo``: the whole pipeline on the bundled sandbox, for the last 7 complete days,
then a forecast and staffing plan for the next two weeks.

Starts the AloHub sandbox on a free port of 127.0.0.1 (recordings processed without delay;
inbound volumes with a weekly pattern, a trend and Vietnamese holidays, per hotline),
materializes every asset for each day into ``ALOHUB_DATA_DIR`` (default ``./data``): the daily
pipeline, then ``call_recordings`` (what the recording sensor would ask for), with the Dagster
instance in ``DAGSTER_HOME`` (so ``make dev`` shows the runs afterwards), prints the KPIs and
the recording statuses. A forecast wants 8 weeks of history: the 7 weeks before those days are
fetched from the sandbox and written as ``call_logs`` by the same Dagster-free code the assets
call (landing, then ``build_call_logs``), without a Dagster run per day, which is what keeps
the demo short (the demo prints what it cost). Then ``call_volume_forecast``, ``staffing_plan``
and ``forecast_accuracy`` run as assets, and tomorrow's plan for the busiest hours is printed.
"""

import sys
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from alohub_assets.api.client import AloHubClient
from alohub_assets.api.records import local_today
from alohub_assets.defs import ALL_ASSETS
from alohub_assets.defs.ingest.call_logs import build_call_logs
from alohub_assets.defs.ingest.jobs import DAILY_PIPELINE
from alohub_assets.defs.resources import (
    AloHubResource,
    RecordingPolicyResource,
    WarehouseResource,
    kpi_settings_resource,
    planning_settings_resource,
)
from alohub_assets.settings import load_settings
from alohub_assets.storage.landing import land_call_logs
from alohub_assets.storage.layout import Warehouse, data_dir_from_env
from alohub_assets.storage.mart import open_mart
from alohub_dev.local_instance import prepare_dagster_home
from alohub_dev.sandbox.calls import CallStore
from alohub_dev.sandbox.server import DEFAULT_API_KEY, SandboxConfig, build_server
from alohub_dev.sandbox.volumes import VolumeModel

DAYS = 7
#: Weeks of call_logs the forecast learns from in the demo (8: no fallback).
HISTORY_WEEKS = 8
#: Inbound calls of an ordinary Thursday (outbound calls come on top).
INBOUND_PER_DAY = 150
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def demo_settings():
    """The settings file (``ALOHUB_SETTINGS_FILE`` or ``./alohub.yaml``), else the example."""
    settings = load_settings()
    if settings.hotlines:
        return settings
    return load_settings(Path(__file__).resolve().parents[1] / "alohub.example.yaml")


def demo_resources(data_dir: Path, base_url: str) -> dict:
    settings = demo_settings()
    return {
        "alohub": AloHubResource(base_url=base_url, api_key=DEFAULT_API_KEY),
        "warehouse": WarehouseResource(data_dir=str(data_dir)),
        "recording_policy": RecordingPolicyResource(),
        # the center's settings file when there is one (./alohub.yaml), else the example's
        # hotlines, so that the demo shows hotline names and targets
        "kpi_settings": kpi_settings_resource(settings),
        "planning_settings": planning_settings_resource(settings),
    }


def run_pipeline(days: list[date], data_dir: Path, base_url: str) -> None:
    resources = demo_resources(data_dir, base_url)
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


def fetch_history(days: list[date], data_dir: Path, base_url: str) -> None:
    """call_logs of days before the pipeline's, for the forecast: fetched and written by the
    code the assets call, without a Dagster run per day."""
    started = time.monotonic()
    warehouse = Warehouse.at(data_dir)
    with AloHubClient(DEFAULT_API_KEY, base_url=base_url) as client:
        for day in days:
            land_call_logs(client, warehouse, day)
            build_call_logs(warehouse, day)
    print(
        f"History for the forecast: {len(days)} days ({days[0]} to {days[-1]}) fetched and "
        f"written as call_logs in {time.monotonic() - started:.1f}s",
        flush=True,
    )


def run_planning(as_of: date, data_dir: Path, base_url: str) -> None:
    """The forecast and plan made on ``as_of``; the forecast of the day before, so that
    ``as_of``'s accuracy has a 1-day-ahead forecast to score."""
    started = time.monotonic()
    resources = demo_resources(data_dir, base_url)
    instance = dg.DagsterInstance.get()
    for day, selection in (
        (as_of - timedelta(days=1), ["call_volume_forecast"]),
        (as_of, ["forecast_accuracy", "call_volume_forecast", "staffing_plan"]),
    ):
        result = dg.materialize(
            ALL_ASSETS,
            selection=selection,
            partition_key=day.isoformat(),
            resources=resources,
            instance=instance,
            run_config=QUIET,
        )
    made = result.asset_materializations_for_node("call_volume_forecast")[0].metadata
    print(
        f"Forecast made on {as_of}: {made['dagster/row_count'].value} rows, method "
        f"{made['method'].value} from {made['history_days'].value} days; backtest over the last "
        f"4 weeks: WAPE {made['backtest_wape'].value:.1%} vs {made['backtest_naive_wape'].value:.1%} "
        f"for the seasonal naive; forecasts and plan in {time.monotonic() - started:.1f}s",
        flush=True,
    )


def print_plan(warehouse: Warehouse, as_of: date, day: date) -> None:
    with open_mart(warehouse.data_dir) as con:  # local times, like the data contract's
        print(f"\nStaffing plan for {day} (made on {as_of}), all hotlines, the busiest hours")
        print(
            con.sql(
                """
                SELECT strftime(p.interval_start, '%H:%M') AS "from",
                       round(f.offered_calls_forecast, 1) AS calls,
                       round(f.offered_calls_p10) || '-' || round(f.offered_calls_p90) AS "p10-p90",
                       round(p.aht_seconds) AS "AHT s",
                       p.agents_erlang_c AS "Erlang C", p.agents_erlang_a AS "Erlang A",
                       p.scheduled_agents AS scheduled,
                       round(p.expected_service_level * 100, 1) AS "SL %",
                       round(p.expected_abandon_rate * 100, 1) AS "abandon %"
                FROM staffing_plan AS p
                JOIN call_volume_forecast AS f USING (as_of, forecast_date, interval_start, hotline)
                WHERE p.as_of = $as_of AND p.forecast_date = $day AND p.hotline = '*'
                ORDER BY f.offered_calls_forecast DESC LIMIT 8
                """,
                params={"as_of": as_of, "day": day},
            )
            .fetchdf()
            .sort_values("from")
            .to_string(index=False)
        )
        print(f"\nForecast accuracy on {as_of} (forecast made the day before)")
        print(
            con.sql(
                """
                SELECT hotline, actual_calls AS calls, round(forecast_calls, 1) AS forecast,
                       round(wape * 100, 1) AS "WAPE %", round(bias * 100, 1) AS "bias %",
                       round(band_coverage * 100, 1) AS "in p10-p90 %"
                FROM forecast_accuracy WHERE date = $day AND horizon_days = 1 ORDER BY hotline
                """,
                params={"day": as_of},
            )
            .fetchdf()
            .to_string(index=False)
        )


def print_kpis(warehouse: Warehouse, first: date, last: date, settings) -> None:
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        print(
            "\nQueue KPIs per day (service level: answered within "
            f"{settings.kpi.service_level_seconds} s / offered - short abandons)"
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
        print(
            f"\nHotlines on {last} (service level against each hotline's own target, settings "
            "file `hotlines`)"
        )
        print(
            con.sql(
                """
                SELECT hotline_name AS hotline, offered_calls AS offered,
                       answered_calls AS answered,
                       round(service_level * 100, 1) AS "service level %",
                       service_level_seconds AS "target s",
                       round(abandon_rate * 100, 1) AS "abandon %",
                       round(asa_seconds, 1) AS "ASA s", round(wait_p90_seconds, 1) AS "p90 wait s"
                FROM hotline_call_metrics
                WHERE date = $last
                ORDER BY offered_calls DESC
                """,
                params={"last": last},
            )
            .fetchdf()
            .to_string(index=False)
        )
        ((waiting,),) = con.execute(
            "SELECT count(*) FROM callback_worklist WHERE date = $last", {"last": last}
        ).fetchall()
        print(f"{waiting} callers who hung up on {last} were not reached by the end of the data")
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
    today = local_today()
    last = today - timedelta(days=1)
    days = [last - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    history = [days[0] - timedelta(days=back) for back in range(7 * HISTORY_WEEKS - DAYS, 0, -1)]
    store = CallStore(
        first_day=history[0],
        last_day=today,
        volume_model=VolumeModel(base_calls_per_day=INBOUND_PER_DAY),
    )
    # Recordings processed at once, so the demo's call_recordings runs find them.
    # A quota of 300 requests per 10 s (the default 100 would make the history's ~500
    # requests wait about a minute).
    server = build_server(
        store=store,
        config=SandboxConfig(recording_delay_seconds=0, tenant_limit=300, route_limit=300),
    ).start_in_thread()
    print(f"AloHub sandbox on {server.url}; pipeline data in {data_dir}; Dagster home {home}")
    try:
        run_pipeline(days, data_dir, server.url)
        fetch_history(history, data_dir, server.url)
        run_planning(last, data_dir, server.url)
    except Exception as exc:  # the run's own log says more; keep the demo's answer short
        print(f"demo failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        server.stop()
    warehouse = Warehouse.at(data_dir)
    print_kpis(warehouse, days[0], days[-1], demo_settings())
    print_plan(warehouse, last, today + timedelta(days=1))
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
