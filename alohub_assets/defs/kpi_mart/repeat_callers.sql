-- repeat_callers: one row per date. Parameters: $call_logs (the Parquet of $day and of those of
-- the 7 days before it that exist), $day.
--   inbound_calls      = inbound calls of $day with a customer_number
--   distinct_callers   = distinct customer_number among them
--   repeat_calls_24h   = those whose customer had another inbound call starting within the
--   / repeat_calls_7d    24 h / 7 days before it (any day; ties in start time ordered by call_id)
--   repeat_rate_*      = repeat_calls_* / inbound_calls, null when 0
-- customer_number is the national form of the caller (hashed the same way under the PII option).

-- name: select
WITH inbound AS (
    SELECT
        call_date,
        start_time,
        customer_number,
        lag(start_time) OVER (
            PARTITION BY customer_number ORDER BY start_time, call_id
        ) AS previous_start
    FROM read_parquet($call_logs, hive_partitioning = false, union_by_name = true)
    WHERE direction = 'inbound'
      AND customer_number IS NOT NULL
      AND call_date BETWEEN $day - INTERVAL 7 DAY AND $day
)
SELECT
    CAST($day AS DATE) AS date,
    count(*) AS inbound_calls,
    count(DISTINCT customer_number) AS distinct_callers,
    count(*) FILTER (WHERE previous_start >= start_time - INTERVAL 24 HOUR) AS repeat_calls_24h,
    count(*) FILTER (WHERE previous_start >= start_time - INTERVAL 7 DAY) AS repeat_calls_7d,
    repeat_calls_24h / NULLIF(inbound_calls, 0) AS repeat_rate_24h,
    repeat_calls_7d / NULLIF(inbound_calls, 0) AS repeat_rate_7d
FROM inbound
WHERE call_date = $day;
