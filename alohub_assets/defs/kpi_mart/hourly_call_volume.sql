-- hourly_call_volume: one row per (date, local hour 0-23, direction) with at least one call.
-- Parameters: $call_logs (the days' Parquet), $first_day..$last_day (the partitions built). The connection's TimeZone is
-- Asia/Ho_Chi_Minh, so hour() of a start_time is its local hour.

-- name: select
SELECT
    call_date AS date,
    CAST(hour(start_time) AS INTEGER) AS hour,
    direction,
    count(*) AS offered_calls,
    count(*) FILTER (WHERE answered) AS answered_calls,
    avg(waiting_seconds) AS avg_wait_seconds
FROM read_parquet($call_logs, hive_partitioning = false)
WHERE call_date BETWEEN $first_day AND $last_day
GROUP BY ALL
ORDER BY date, hour, direction;
