-- call_volume_forecast: one row per (forecast_date, interval_start, hotline) for the 14 days
-- after as_of, hotline `*` = every inbound call. The numbers come from Python
-- (alohub_assets/storage/forecasting.py) as the registered table forecast_rows; this statement
-- gives them their local interval start and the types the data contract promises.
-- Parameters: $interval_minutes.

-- name: select
SELECT
    CAST(as_of AS DATE) AS as_of,
    CAST(forecast_date AS DATE) AS forecast_date,
    CAST(
        CAST(forecast_date AS TIMESTAMP) + to_minutes(CAST(interval_index * $interval_minutes AS BIGINT))
        AS TIMESTAMPTZ
    ) AS interval_start,
    CAST(hotline AS VARCHAR) AS hotline,
    CAST(offered_calls_forecast AS DOUBLE) AS offered_calls_forecast,
    CAST(offered_calls_p10 AS DOUBLE) AS offered_calls_p10,
    CAST(offered_calls_p90 AS DOUBLE) AS offered_calls_p90,
    CAST(method AS VARCHAR) AS method
FROM forecast_rows
ORDER BY forecast_date, interval_start, hotline;

-- name: busiest
-- The forecast's busiest intervals of its first day, all hotlines together (metadata preview).
SELECT strftime(interval_start, '%H:%M') AS "interval", round(offered_calls_forecast, 1),
       round(offered_calls_p10, 1), round(offered_calls_p90, 1), method
FROM read_parquet($partition)
WHERE hotline = '*' AND forecast_date = $day
ORDER BY offered_calls_forecast DESC
LIMIT 8;
