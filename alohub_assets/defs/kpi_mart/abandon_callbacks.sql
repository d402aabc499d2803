-- abandon_callbacks: one row per date. Parameters: $call_logs (the Parquet of
-- $first_day..$last_day and, when it exists, of the day after $last_day), $first_day..$last_day
-- (the partitions built), $complete_days (the dates whose call_logs were read and were read
-- after the day ended, not the day so far),
-- $short_abandon_seconds.
--   abandoned_calls             = inbound calls of the date, not answered, waited >=
--                                 short-abandon threshold or wait unknown (as in
--                                 daily_call_metrics), with a customer_number
--   callback_attempted_24h      = of those, followed by an outbound call to that customer
--                                 starting within 24 h after the abandoned call started
--   recovered_24h               = followed within 24 h by an answered call with that customer,
--                                 either direction
--   recovered_by_callback_24h / = the first such answered call (by start, then call_id) is
--   recovered_by_customer_24h     outbound / inbound
--   recovery_rate_24h           = recovered_24h / abandoned_calls, null when 0
--   median_minutes_to_recovery  = continuous median of (first answered call's start - abandon
--                                 start) in minutes over the recovered abandons
--   complete                    = the next day's call_logs was read, after that day ended
--                                 (false: figures can grow)
-- "Within 24 h after" is (start, start + 24 h]: a 23:50 abandon recovered at 00:10 counts.

-- name: select
WITH calls AS (
    SELECT call_id, call_date, direction, start_time, end_time, answered, waiting_seconds,
           customer_number
    FROM read_parquet($call_logs, hive_partitioning = false, union_by_name = true)
    WHERE customer_number IS NOT NULL
      AND call_date BETWEEN $first_day AND $last_day + INTERVAL 1 DAY
),
abandons AS (
    SELECT call_id, call_date, start_time, customer_number
    FROM calls
    WHERE call_date BETWEEN $first_day AND $last_day
      AND direction = 'inbound'
      AND is_abandoned(answered, waiting_seconds, end_time, $short_abandon_seconds)
),
followed AS (
    SELECT
        a.call_id,
        bool_or(c.direction = 'outbound') AS callback_attempted,
        arg_min(
            struct_pack(direction := c.direction, start_time := c.start_time),
            struct_pack(start_time := c.start_time, call_id := c.call_id)
        ) FILTER (WHERE c.answered) AS first_answered
    FROM (
        -- A call within 24 h after the abandon starts on its date or the next: joining on
        -- (customer, date) keeps the join to the customer's calls of those two days.
        SELECT *, unnest([call_date, call_date + 1]) AS near_date FROM abandons
    ) AS a
    JOIN calls AS c
      ON c.customer_number = a.customer_number
     AND c.call_date = a.near_date
     AND c.start_time > a.start_time
     AND c.start_time <= a.start_time + INTERVAL 24 HOUR
    GROUP BY a.call_id
),
per_day AS (
    SELECT
        a.call_date AS date,
        count(*) AS abandoned_calls,
        count(*) FILTER (WHERE f.callback_attempted) AS callback_attempted_24h,
        count(f.first_answered) AS recovered_24h,
        count(*) FILTER (WHERE f.first_answered.direction = 'outbound')
            AS recovered_by_callback_24h,
        count(*) FILTER (WHERE f.first_answered.direction = 'inbound')
            AS recovered_by_customer_24h,
        quantile_cont(
            date_diff('second', a.start_time, f.first_answered.start_time) / 60.0, 0.5
        ) AS median_minutes_to_recovery
    FROM abandons AS a
    LEFT JOIN followed AS f USING (call_id)
    GROUP BY a.call_date
)
SELECT
    CAST(d.date AS DATE) AS date,
    COALESCE(p.abandoned_calls, 0) AS abandoned_calls,
    COALESCE(p.callback_attempted_24h, 0) AS callback_attempted_24h,
    COALESCE(p.recovered_24h, 0) AS recovered_24h,
    COALESCE(p.recovered_by_callback_24h, 0) AS recovered_by_callback_24h,
    COALESCE(p.recovered_by_customer_24h, 0) AS recovered_by_customer_24h,
    p.recovered_24h / NULLIF(p.abandoned_calls, 0) AS recovery_rate_24h,
    p.median_minutes_to_recovery,
    list_contains(CAST($complete_days AS DATE[]), CAST(d.date AS DATE) + 1) AS complete
FROM range(CAST($first_day AS DATE), CAST($last_day AS DATE) + 1, INTERVAL 1 DAY) AS d(date)
LEFT JOIN per_day AS p ON p.date = CAST(d.date AS DATE)
ORDER BY date;
