-- callback_worklist: per date, one row per customer (customer_number, normalized; a token under
-- the PII option) who abandoned an inbound call on the date (not a short abandon, by the hotline's
-- own threshold) and has not been reached since their last such abandon of the day, as of the
-- data read. Reached: an answered inbound call from them, or an answered outbound call to them,
-- starting after that abandon, on the date or the next day (whose call_logs is read when it
-- exists). Parameters as hotline_call_metrics ($call_logs holds the days built and, when they
-- exist, the days after them).
--   hotline, last_call_id, last_abandon_time = of the last such abandon (by start, then call_id)
--   abandons             = the customer's non-short inbound abandons of the date
--   longest_wait_seconds = the longest known wait of those abandons
--   as_of                = the newest call start among the call_logs read for the date (the date
--                          and the next day)

-- name: select
WITH everything AS (
    SELECT call_id, call_date, direction, start_time, answered, customer_number
    FROM read_parquet($call_logs, hive_partitioning = false, union_by_name = true)
    WHERE call_date BETWEEN $first_day AND $last_day + INTERVAL 1 DAY
),
abandons AS (
    SELECT call_date, customer_number, call_id, hotline, hotline_name, start_time, waiting_seconds
    FROM ({{hotline_calls}})
    WHERE call_date BETWEEN $first_day AND $last_day
      AND customer_number IS NOT NULL
      AND is_abandoned(answered, waiting_seconds, end_time, hotline_short_abandon_seconds)
),
per_customer AS (
    SELECT
        call_date AS date,
        customer_number,
        arg_max(
            struct_pack(call_id, hotline, hotline_name, start_time),
            struct_pack(start_time, call_id)
        ) AS last_abandon,
        count(*) AS abandons,
        max(waiting_seconds) AS longest_wait_seconds
    FROM abandons
    GROUP BY ALL
),
reached AS (
    SELECT DISTINCT p.date, p.customer_number
    FROM per_customer AS p
    JOIN everything AS c
      ON c.customer_number = p.customer_number
     AND c.call_date BETWEEN p.date AND p.date + INTERVAL 1 DAY
     AND c.answered
     AND c.direction IN ('inbound', 'outbound')
     AND c.start_time > p.last_abandon.start_time
),
newest AS (
    SELECT d.date, max(e.start_time) AS as_of
    FROM (SELECT DISTINCT date FROM per_customer) AS d
    JOIN everything AS e ON e.call_date BETWEEN d.date AND d.date + INTERVAL 1 DAY
    GROUP BY d.date
)
SELECT
    CAST(p.date AS DATE) AS date,
    p.customer_number,
    p.last_abandon.hotline AS hotline,
    p.last_abandon.hotline_name AS hotline_name,
    p.last_abandon.call_id AS last_call_id,
    p.last_abandon.start_time AS last_abandon_time,
    p.abandons,
    p.longest_wait_seconds,
    n.as_of
FROM per_customer AS p
JOIN newest AS n USING (date)
WHERE NOT EXISTS (
    SELECT 1 FROM reached AS r WHERE r.date = p.date AND r.customer_number = p.customer_number)
ORDER BY date, longest_wait_seconds DESC NULLS LAST, customer_number;
