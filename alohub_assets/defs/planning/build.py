"""What the planning assets share: reading the history from ``call_logs``, and writing the
forecast, the staffing plan and the accuracy of a day. No Dagster context is needed, so the
benchmark builds them exactly as the assets do (like ``kpi_mart/build.py``).

The math lives in ``storage/forecasting.py``, ``storage/erlang_a.py`` and ``storage/erlang_c.py``;
the SQL beside this file (``history.sql`` and one ``<table>.sql`` per table); the Parquet
partitions are written like the KPI tables' (``storage/mart.py``), under
``warehouse/<table>/date=D/``, D being ``as_of`` (forecast, plan) or the day measured (accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from alohub_assets.api.records import local_today
from alohub_assets.defs.kpi_mart.build import refresh_mart_catalog
from alohub_assets.storage import erlang_a, erlang_c, forecasting
from alohub_assets.storage.forecasting import ALL_HOTLINES, History
from alohub_assets.storage.layout import Warehouse
from alohub_assets.storage.mart import local_connection, write_kpi_partitions
from alohub_assets.storage.sql import bound, load_statements

PLANNING_DIR = Path(__file__).parent
FORECAST_TABLE = "call_volume_forecast"
PLAN_TABLE = "staffing_plan"
ACCURACY_TABLE = "forecast_accuracy"
#: The weeks of history the AHT and the callers' patience are measured on.
HANDLING_WEEKS = forecasting.WINDOW_WEEKS
#: A cell's mean talk time is shrunk towards its interval's (then its hotline's) by this many
#: calls: an interval of a weekday sees few calls, and talk times vary a lot.
AHT_PRIOR_CALLS = 10.0
#: The forecasts forecast_accuracy scores: made this many days before the day measured.
ACCURACY_HORIZONS = (1, 7)


def statements(name: str) -> dict[str, str]:
    return load_statements(PLANNING_DIR / f"{name}.sql")


@dataclass(frozen=True)
class PlanningParams:
    """Every setting the planning tables use (the ``kpi_settings`` and ``planning_settings``
    resources, i.e. the settings file)."""

    interval_minutes: int = 30
    service_level_seconds: int = 20
    short_abandon_seconds: int = 5
    service_level_target: float = 0.8
    max_occupancy: float = 0.85
    after_call_work_seconds: float = 0.0
    holiday_factor: float = 0.3
    shrinkage: float = 0.3
    closed_days: tuple[date, ...] = field(default_factory=tuple)

    @property
    def interval_seconds(self) -> int:
        return self.interval_minutes * 60

    @property
    def intervals_per_day(self) -> int:
        return 24 * 60 // self.interval_minutes


@dataclass
class HistoryRead:
    history: History
    loaded_days: list[date]
    missing_days: int
    complete_as_of: bool  # as_of itself is in the history (a finished day)


def history_end(as_of: date, today: date | None = None) -> tuple[date, bool]:
    """The last day to learn from: ``as_of``, or the day before when ``as_of`` is today or
    later (a day still in progress would be learned as a quiet day)."""
    today = today or local_today()
    return (as_of, True) if as_of < today else (as_of - timedelta(days=1), False)


def _loaded(store: Warehouse, first: date, last: date) -> list[date]:
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [day for day in days if store.pull(store.call_logs_file(day))]


def read_history(
    store: Warehouse,
    as_of: date,
    params: PlanningParams,
    lookback_days: int = forecasting.LOOKBACK_DAYS,
    today: date | None = None,
) -> HistoryRead:
    """Inbound calls per hotline and interval of the ``lookback_days`` days up to ``as_of``
    (one DuckDB query over the days' call_logs files; days without a file are unknown)."""
    last, complete = history_end(as_of, today)
    first = as_of - timedelta(days=lookback_days - 1)
    loaded = _loaded(store, first, last)
    if not loaded:
        raise forecasting.ForecastError(
            f"no call_logs between {first} and {last}: materialize call_logs for the days "
            f"before {as_of} first"
        )
    rows = _history_query(store, "interval_counts", loaded, last, params)
    history = History.from_counts(
        loaded[0],
        last,
        params.intervals_per_day,
        loaded,
        rows["day"],
        rows["hotline"].tolist() if len(rows["hotline"]) else [],
        rows["interval_index"],
        rows["calls"],
    )
    span = (last - loaded[0]).days + 1
    return HistoryRead(history, loaded, span - len(loaded), complete)


def _forecast_rows(made: forecasting.Forecast, as_of: date) -> pa.Table:
    """One row per (series, day, interval), vectorized."""
    n_series, n_days, n_intervals = made.mean.shape
    series = np.asarray(made.series, dtype=object)
    days = np.array(made.days, dtype="datetime64[D]")
    return pa.table(
        {
            "as_of": pa.array(np.full(n_series * n_days * n_intervals, np.datetime64(as_of, "D"))),
            "forecast_date": pa.array(np.tile(np.repeat(days, n_intervals), n_series)),
            "interval_index": np.tile(np.arange(n_intervals), n_series * n_days),
            "hotline": pa.array(np.repeat(series, n_days * n_intervals).tolist(), pa.string()),
            "offered_calls_forecast": made.mean.ravel(),
            "offered_calls_p10": made.p10.ravel(),
            "offered_calls_p90": made.p90.ravel(),
            "method": pa.array(np.repeat(made.method.ravel(), n_intervals).tolist(), pa.string()),
        }
    )


def write_forecast(
    store: Warehouse, as_of: date, params: PlanningParams, today: date | None = None
) -> dict[str, Any]:
    """``call_volume_forecast`` for ``as_of``; returns what the asset reports."""
    read = read_history(store, as_of, params, today=today)
    horizon_end = as_of + timedelta(days=forecasting.HORIZON_DAYS)
    holidays = forecasting.holiday_calendar(read.history.first_day, horizon_end, params.closed_days)
    made = forecasting.forecast(read.history, as_of, holidays, params.holiday_factor)
    checked = forecasting.backtest(read.history, holidays, params.holiday_factor)
    select = statements(FORECAST_TABLE)["select"]
    rows = write_kpi_partitions(
        store,
        FORECAST_TABLE,
        [as_of],
        select,
        {"interval_minutes": params.interval_minutes},
        partition_column="as_of",
        tables={"forecast_rows": _forecast_rows(made, as_of)},
    )
    refresh_mart_catalog(store, FORECAST_TABLE)
    horizon_holidays = {d.isoformat(): holidays[d] for d in made.days if d in holidays}
    return {
        "rows": rows[as_of],
        "file": store.partition_file(FORECAST_TABLE, as_of),
        "forecast": made,
        "info": {
            **made.info,
            "hotlines": len(made.series) - 1,
            "history_missing_days": read.missing_days,
            "as_of_in_history": read.complete_as_of,
            "holidays_in_horizon": horizon_holidays,
            "backtest_weeks": len(checked.origins),
            "backtest_wape": checked.method_wape.get(ALL_HOTLINES),
            "backtest_naive_wape": checked.naive_wape.get(ALL_HOTLINES),
            "backtest_improvement": checked.improvement(),
        },
    }


def _handling(
    store: Warehouse, as_of: date, params: PlanningParams, series: list[str], today: date | None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """AHT [series, weekday, interval] (talk time + after-call work) and mean patience [series]
    from the last ``HANDLING_WEEKS`` weeks of call_logs up to ``as_of``."""
    last, _ = history_end(as_of, today)
    loaded = _loaded(store, last - timedelta(days=7 * HANDLING_WEEKS - 1), last)
    if not loaded:
        raise FileNotFoundError(
            f"no call_logs in the {HANDLING_WEEKS} weeks before {as_of}: the staffing plan "
            "measures handle times and patience there"
        )
    rows = _history_query(store, "handling", loaded, last, params)
    n_series, n_intervals = len(series), params.intervals_per_day
    index = {name: n for n, name in enumerate(series)}
    answered = np.zeros((n_series, 7, n_intervals))
    talk = np.zeros_like(answered)
    abandoned = np.zeros(n_series)
    waits = np.zeros(n_series)
    weekday, interval = rows["weekday"], rows["interval_index"]
    for target, values_ in ((answered, rows["answered_calls"]), (talk, rows["talk_seconds"])):
        np.add.at(target[0], (weekday, interval), values_.astype(float))
    abandoned[0] = rows["abandoned_calls"].sum()
    waits[0] = rows["wait_seconds"].astype(float).sum()
    hotline = rows["hotline"].tolist() if len(rows["hotline"]) else []
    which = np.array([index.get(h, -1) if h is not None else -1 for h in hotline], dtype=np.int64)
    known = which > 0
    np.add.at(
        answered, (which[known], weekday[known], interval[known]), rows["answered_calls"][known]
    )
    np.add.at(talk, (which[known], weekday[known], interval[known]), rows["talk_seconds"][known])
    np.add.at(abandoned, which[known], rows["abandoned_calls"][known])
    np.add.at(waits, which[known], rows["wait_seconds"][known].astype(float))

    # Talk time: the cell's mean, shrunk towards the interval's over the week, then the series'.
    series_calls, series_talk = answered.sum(axis=(1, 2)), talk.sum(axis=(1, 2))
    if series_calls[0] <= 0:
        raise ValueError(
            f"no answered inbound call in the {HANDLING_WEEKS} weeks before {as_of}: there is no "
            "talk time to size the staffing plan with"
        )
    overall = np.where(series_calls > 0, series_talk / np.maximum(series_calls, 1), np.nan)
    overall = np.where(np.isfinite(overall), overall, overall[0])
    week_calls, week_talk = answered.sum(axis=1), talk.sum(axis=1)
    by_interval = (week_talk + AHT_PRIOR_CALLS * overall[:, None]) / (week_calls + AHT_PRIOR_CALLS)
    aht = (talk + AHT_PRIOR_CALLS * by_interval[:, None, :]) / (answered + AHT_PRIOR_CALLS)
    aht = np.maximum(aht, 1.0) + params.after_call_work_seconds

    patience = np.array(
        [erlang_a.patience_seconds(a, w) or np.nan for a, w in zip(abandoned, waits, strict=True)]
    )
    patience = np.where(np.isfinite(patience), patience, patience[0])
    patience = np.nan_to_num(patience, nan=erlang_a.MAX_PATIENCE_SECONDS)
    info = {
        "handling_days": len(loaded),
        "patience_seconds": {s: round(float(p), 1) for s, p in zip(series, patience, strict=True)},
        "mean_talk_seconds": {s: round(float(t), 1) for s, t in zip(series, overall, strict=True)},
    }
    return aht, patience, info


def write_staffing_plan(
    store: Warehouse, as_of: date, params: PlanningParams, today: date | None = None
) -> dict[str, Any]:
    """``staffing_plan`` for ``as_of``, from that day's ``call_volume_forecast``."""
    forecast_file = store.partition_file(FORECAST_TABLE, as_of)
    if not store.pull(forecast_file):
        raise FileNotFoundError(
            f"{forecast_file} is missing: materialize call_volume_forecast for {as_of} first"
        )
    sql = statements(PLAN_TABLE)["forecast"]
    with local_connection() as con:
        plan = con.execute(sql, bound(sql, {"forecast": str(forecast_file)})).fetchnumpy()
    hotlines = plan["hotline"].tolist()
    series = [ALL_HOTLINES, *sorted(set(hotlines) - {ALL_HOTLINES})]
    aht_cells, patience, info = _handling(store, as_of, params, series, today)

    position = {name: n for n, name in enumerate(series)}
    which = np.array([position[h] for h in hotlines], dtype=np.int64)
    starts = plan["interval_start"]
    local = _local_clock(starts)
    weekday = ((local.astype("datetime64[D]").view("int64") + 3) % 7).astype(np.int64)  # 0 = Mon
    minutes = (local - local.astype("datetime64[D]")).astype("timedelta64[m]").astype(np.int64)
    interval = minutes // params.interval_minutes
    calls = np.maximum(plan["offered_calls_forecast"].astype(float), 0.0)
    aht = aht_cells[which, weekday, interval]
    traffic = calls * aht / params.interval_seconds

    agents_c = np.array(
        [
            erlang_c.required_agents(
                float(a),
                float(h),
                params.service_level_seconds,
                params.service_level_target,
                params.max_occupancy,
            ).agents
            for a, h in zip(traffic, aht, strict=True)
        ],
        dtype=np.int64,
    )
    sized = erlang_a.required_agents(
        calls,
        aht,
        patience[which],
        params.interval_seconds,
        params.service_level_seconds,
        params.service_level_target,
        params.max_occupancy,
        params.short_abandon_seconds,
    )
    scheduled = np.ceil(sized.agents / (1 - params.shrinkage) - 1e-9).astype(np.int64)
    table = pa.table(
        {
            "as_of": plan["as_of"],
            "forecast_date": plan["forecast_date"],
            # numpy holds the instants as naive UTC: say so, or DuckDB would read local times.
            "interval_start": pa.array(starts).cast(pa.timestamp("us", tz="UTC")),
            "hotline": pa.array(hotlines, pa.string()),
            "aht_seconds": aht,
            "traffic_erlangs": traffic,
            "agents_erlang_c": agents_c,
            "agents_erlang_a": sized.agents,
            "expected_service_level": sized.service_level,
            "expected_abandon_rate": sized.abandon_rate,
            "scheduled_agents": scheduled,
        }
    )
    rows = write_kpi_partitions(
        store,
        PLAN_TABLE,
        [as_of],
        statements(PLAN_TABLE)["select"],
        {},
        partition_column="as_of",
        tables={"plan_rows": table},
    )
    refresh_mart_catalog(store, PLAN_TABLE)
    return {
        "rows": rows[as_of],
        "file": store.partition_file(PLAN_TABLE, as_of),
        "info": {
            **info,
            "shrinkage": params.shrinkage,
            "erlang_a_agent_hours_saved": round(
                float((agents_c - sized.agents).sum()) * params.interval_minutes / 60, 1
            ),
        },
    }


def _local_clock(starts: np.ndarray) -> np.ndarray:
    """Instants (UTC, as DuckDB returns TIMESTAMPTZ to numpy) on the call center's wall clock
    (UTC+7 all year: Vietnam keeps no daylight saving time)."""
    instants = np.asarray(starts).astype("datetime64[m]")
    return instants + np.timedelta64(7 * 60, "m")


def write_forecast_accuracy(store: Warehouse, day: date, params: PlanningParams) -> dict[str, Any]:
    """``forecast_accuracy`` for the day measured: the forecasts made 1 and 7 days before it
    against its call_logs."""
    if not store.pull(store.call_logs_file(day)):
        raise FileNotFoundError(
            f"{store.call_logs_file(day)} is missing: materialize call_logs for {day} first"
        )
    made = {h: day - timedelta(days=h) for h in ACCURACY_HORIZONS}
    found = {
        h: store.partition_file(FORECAST_TABLE, as_of)
        for h, as_of in made.items()
        if store.pull(store.partition_file(FORECAST_TABLE, as_of))
    }
    sql = statements(ACCURACY_TABLE)
    if found:
        values = {
            "day": day,
            "forecasts": [str(f) for f in found.values()],
            "call_logs": [str(store.call_logs_file(day))],
            "interval_minutes": params.interval_minutes,
        }
        select, tables = sql["select"], None
        with local_connection() as con:
            unforecast = [
                r[0]
                for r in con.execute(
                    sql["unforecast_hotlines"], bound(sql["unforecast_hotlines"], values)
                ).fetchall()
            ]
    else:  # nothing to score: an empty partition with the table's columns
        values, unforecast = {}, []
        select = "SELECT * FROM accuracy_rows WHERE false"
        tables = {"accuracy_rows": _empty_accuracy()}
    rows = write_kpi_partitions(store, ACCURACY_TABLE, [day], select, values, tables=tables)
    refresh_mart_catalog(store, ACCURACY_TABLE)
    return {
        "rows": rows[day],
        "file": store.partition_file(ACCURACY_TABLE, day),
        "info": {
            "forecasts_scored": {f"{h}d": made[h].isoformat() for h in found},
            "forecasts_missing": [made[h].isoformat() for h in ACCURACY_HORIZONS if h not in found],
            "hotlines_without_forecast": unforecast,
        },
    }


def _empty_accuracy() -> pa.Table:
    return pa.table(
        {
            "date": pa.array([], pa.date32()),
            "hotline": pa.array([], pa.string()),
            "horizon_days": pa.array([], pa.int32()),
            "as_of": pa.array([], pa.date32()),
            "intervals": pa.array([], pa.int64()),
            "actual_calls": pa.array([], pa.int64()),
            "forecast_calls": pa.array([], pa.float64()),
            "wape": pa.array([], pa.float64()),
            "bias": pa.array([], pa.float64()),
            "band_coverage": pa.array([], pa.float64()),
        }
    )


def _history_query(
    store: Warehouse, name: str, loaded: list[date], last: date, params: PlanningParams
) -> dict:
    """One of history.sql's statements over the call_logs of the ``loaded`` days up to ``last``."""
    sql = statements("history")[name]
    values = {
        "call_logs": [str(store.call_logs_file(day)) for day in loaded],
        "first_day": loaded[0],
        "last_day": last,
        "interval_minutes": params.interval_minutes,
    }
    with local_connection() as con:
        return con.execute(sql, bound(sql, values)).fetchnumpy()
