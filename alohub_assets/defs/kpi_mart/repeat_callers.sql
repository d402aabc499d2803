-- repeat_callers: one row per date. Parameters: $call_logs (the Parquet of $first_day..$last_day
-- and of those of the 7 days before $first_day that exist), $first_day..$last_day (the
-- partitions built; each has its call_logs).
--   inbound_calls      = inbound calls of the date with a customer_number
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
        -- Calls of one customer starting in the same second: whichever comes first in the
        -- order, one of them gets the earlier call before both and the other a gap of 0, so
        -- the counts are those of ordering ties by call_id.
        lag(start_time) OVER by_customer AS previous_start,
        lag(call_date) OVER by_customer AS previous_date
    FROM read_parquet($call_logs, hive_partitioning = false, union_by_name = true)
    WHERE direction = 'inbound'
      AND customer_number IS NOT NULL
      AND call_date BETWEEN $first_day - INTERVAL 7 DAY AND $last_day
    WINDOW by_customer AS (PARTITION BY customer_number ORDER BY start_time)
),
per_day AS (
    SELECT
        call_date AS date,
        count(*) AS inbound_calls,
        -- a customer's first call of the day (cheaper than count(DISTINCT) over a year)
        count(*) FILTER (WHERE previous_date IS DISTINCT FROM call_date) AS distinct_callers,
        count(*) FILTER (WHERE previous_start >= start_time - INTERVAL 24 HOUR)
            AS repeat_calls_24h,
        count(*) FILTER (WHERE previous_start >= start_time - INTERVAL 7 DAY) AS repeat_calls_7d
    FROM inbound
    WHERE call_date BETWEEN $first_day AND $last_day
    GROUP BY call_date
)
SELECT
    CAST(d.date AS DATE) AS date,
    COALESCE(p.inbound_calls, 0) AS inbound_calls,
    COALESCE(p.distinct_callers, 0) AS distinct_callers,
    COALESCE(p.repeat_calls_24h, 0) AS repeat_calls_24h,
    COALESCE(p.repeat_calls_7d, 0) AS repeat_calls_7d,
    p.repeat_calls_24h / NULLIF(p.inbound_calls, 0) AS repeat_rate_24h,
    p.repeat_calls_7d / NULLIF(p.inbound_calls, 0) AS repeat_rate_7d
FROM range(CAST($first_day AS DATE), CAST($last_day AS DATE) + 1, INTERVAL 1 DAY) AS d(date)
LEFT JOIN per_day AS p ON p.date = CAST(d.date AS DATE)
ORDER BY date;
