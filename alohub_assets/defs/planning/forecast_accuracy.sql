-- forecast_accuracy: for the day measured ($day), per hotline and `*`, each forecast made
-- 1 and 7 days before it (their call_volume_forecast partitions, $forecasts) against the
-- inbound calls of the day's call_logs ($call_logs), over the forecast's intervals of the day
-- (an interval without calls counts 0).
--   wape          = sum |forecast - actual| / sum actual
--   bias          = sum forecast / sum actual - 1
--   band_coverage = share of intervals with p10 <= actual <= p90
-- Parameters: $day, $forecasts, $call_logs, $interval_minutes.

-- name: select
WITH forecast AS (
    SELECT as_of, forecast_date, interval_start, hotline,
           offered_calls_forecast AS f, offered_calls_p10 AS p10, offered_calls_p90 AS p90
    FROM read_parquet($forecasts, hive_partitioning = false, union_by_name = true)
    WHERE forecast_date = $day
),
inbound AS (
    SELECT
        time_bucket(to_minutes(CAST($interval_minutes AS BIGINT)), start_time, 'Asia/Ho_Chi_Minh')
            AS interval_start,
        called AS hotline
    FROM read_parquet($call_logs, hive_partitioning = false)
    WHERE direction = 'inbound' AND call_date = $day
),
actual AS (
    SELECT interval_start, hotline, count(*) AS calls
    FROM inbound WHERE hotline IS NOT NULL GROUP BY ALL
    UNION ALL
    SELECT interval_start, '*' AS hotline, count(*) AS calls FROM inbound GROUP BY ALL
),
scored AS (
    SELECT forecast.*, COALESCE(actual.calls, 0) AS a
    FROM forecast LEFT JOIN actual USING (interval_start, hotline)
)
SELECT
    CAST($day AS DATE) AS date,
    hotline,
    CAST(date_diff('day', as_of, forecast_date) AS INTEGER) AS horizon_days,
    as_of,
    count(*) AS intervals,
    CAST(sum(a) AS BIGINT) AS actual_calls,
    CAST(sum(f) AS DOUBLE) AS forecast_calls,
    CASE WHEN sum(a) > 0 THEN sum(abs(f - a)) / sum(a) END AS wape,
    CASE WHEN sum(a) > 0 THEN sum(f) / sum(a) - 1 END AS bias,
    avg(CASE WHEN a BETWEEN p10 AND p90 THEN 1.0 ELSE 0.0 END) AS band_coverage
FROM scored
GROUP BY hotline, as_of, forecast_date
ORDER BY hotline, horizon_days;

-- name: unforecast_hotlines
-- Hotlines with calls on the day that no forecast covered (new hotlines): left out, counted.
SELECT DISTINCT called
FROM read_parquet($call_logs, hive_partitioning = false)
WHERE direction = 'inbound' AND call_date = $day AND called IS NOT NULL
  AND called NOT IN (
      SELECT hotline FROM read_parquet($forecasts, hive_partitioning = false, union_by_name = true)
  )
ORDER BY 1;
