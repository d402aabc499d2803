-- abandon_callbacks: one row per date. Parameters: $call_logs (the Parquet of $day and, when it
-- exists, of the next day), $day, $short_abandon_seconds, $complete (the next day was read).
--   abandoned_calls             = inbound calls of $day, not answered, waited >= short-abandon
--                                 threshold, with a customer_number
--   callback_attempted_24h      = of those, followed by an outbound call to that customer
--                                 starting within 24 h after the abandoned call started
--   recovered_24h               = followed within 24 h by an answered call with that customer,
--                                 either direction
--   recovered_by_callback_24h / = the first such answered call (by start, then call_id) is
--   recovered_by_customer_24h     outbound / inbound
--   recovery_rate_24h           = recovered_24h / abandoned_calls, null when 0
--   median_minutes_to_recovery  = continuous median of (first answered call's start - abandon
--                                 start) in minutes over the recovered abandons
--   complete                    = the next day's call_logs was there (false: figures can grow)
-- "Within 24 h after" is (start, start + 24 h]: a 23:50 abandon recovered at 00:10 counts.

-- name: select
WITH calls AS (
    SELECT call_id, call_date, direction, start_time, answered, waiting_seconds, customer_number
    FROM read_parquet($call_logs, hive_partitioning = false, union_by_name = true)
    WHERE customer_number IS NOT NULL
),
abandons AS (
    SELECT call_id, start_time, customer_number
    FROM calls
    WHERE call_date = $day
      AND direction = 'inbound'
      AND NOT answered
      AND waiting_seconds >= $short_abandon_seconds
),
followed AS (
    SELECT
        a.call_id,
        a.start_time,
        bool_or(c.direction = 'outbound') AS callback_attempted,
        arg_min(
            struct_pack(direction := c.direction, start_time := c.start_time),
            struct_pack(start_time := c.start_time, call_id := c.call_id)
        ) FILTER (WHERE c.answered) AS first_answered
    FROM abandons AS a
    JOIN calls AS c
      ON c.customer_number = a.customer_number
     AND c.start_time > a.start_time
     AND c.start_time <= a.start_time + INTERVAL 24 HOUR
    GROUP BY a.call_id, a.start_time
)
SELECT
    CAST($day AS DATE) AS date,
    count(*) AS abandoned_calls,
    count(*) FILTER (WHERE f.callback_attempted) AS callback_attempted_24h,
    count(f.first_answered) AS recovered_24h,
    count(*) FILTER (WHERE f.first_answered.direction = 'outbound') AS recovered_by_callback_24h,
    count(*) FILTER (WHERE f.first_answered.direction = 'inbound') AS recovered_by_customer_24h,
    recovered_24h / NULLIF(abandoned_calls, 0) AS recovery_rate_24h,
    quantile_cont(
        date_diff('second', a.start_time, f.first_answered.start_time) / 60.0, 0.5
    ) AS median_minutes_to_recovery,
    CAST($complete AS BOOLEAN) AS complete
FROM abandons AS a
LEFT JOIN followed AS f USING (call_id);
