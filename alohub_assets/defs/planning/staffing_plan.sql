-- staffing_plan: one row per (forecast_date, interval_start, hotline) of the forecast made on
-- as_of. The staffing is computed in Python (alohub_assets/storage/erlang_a.py and
-- erlang_c.py) as the registered table plan_rows; this statement gives the contract's types.

-- name: select
SELECT
    CAST(as_of AS DATE) AS as_of,
    CAST(forecast_date AS DATE) AS forecast_date,
    CAST(interval_start AS TIMESTAMPTZ) AS interval_start,
    CAST(hotline AS VARCHAR) AS hotline,
    CAST(aht_seconds AS DOUBLE) AS aht_seconds,
    CAST(traffic_erlangs AS DOUBLE) AS traffic_erlangs,
    CAST(agents_erlang_c AS BIGINT) AS agents_erlang_c,
    CAST(agents_erlang_a AS BIGINT) AS agents_erlang_a,
    CAST(expected_service_level AS DOUBLE) AS expected_service_level,
    CAST(expected_abandon_rate AS DOUBLE) AS expected_abandon_rate,
    CAST(scheduled_agents AS BIGINT) AS scheduled_agents
FROM plan_rows
ORDER BY forecast_date, interval_start, hotline;

-- name: forecast
-- The forecast the plan staffs.
SELECT as_of, forecast_date, interval_start, hotline, offered_calls_forecast
FROM read_parquet($forecast, hive_partitioning = false)
ORDER BY forecast_date, interval_start, hotline;

-- name: busiest
-- Tomorrow's busiest intervals, all hotlines together (metadata preview).
SELECT strftime(interval_start, '%H:%M') AS "interval", agents_erlang_c, agents_erlang_a,
       scheduled_agents, round(expected_service_level, 3), round(expected_abandon_rate, 3)
FROM read_parquet($partition)
WHERE hotline = '*' AND forecast_date = $day
ORDER BY agents_erlang_a DESC, interval_start
LIMIT 8;
