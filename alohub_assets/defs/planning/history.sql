-- What the forecast and the staffing plan learn from: inbound calls of call_logs.
-- Parameters: $call_logs (the days' Parquet files), $first_day..$last_day, $interval_minutes.
-- A call's hotline is its `called` number (null: counted in `*` only); its interval is that of
-- its local start (the connection's time zone is the call center's), as in
-- interval_call_metrics.

-- name: interval_counts
-- Inbound calls per (day, hotline, interval).
SELECT
    call_date AS day,
    called AS hotline,
    CAST((hour(start_time) * 60 + minute(start_time)) // $interval_minutes AS INTEGER)
        AS interval_index,
    count(*) AS calls
FROM read_parquet($call_logs, hive_partitioning = false, union_by_name = true)
WHERE direction = 'inbound' AND call_date BETWEEN $first_day AND $last_day
GROUP BY ALL;

-- name: handling
-- Per (hotline, weekday 0 = Monday, interval) over the recent weeks: answered calls and their
-- talk seconds (AHT), unanswered calls with a known wait (observed patiences) and the known
-- waits of every call (answered waits are censored patiences).
SELECT
    called AS hotline,
    CAST(isodow(call_date) - 1 AS INTEGER) AS weekday,
    CAST((hour(start_time) * 60 + minute(start_time)) // $interval_minutes AS INTEGER)
        AS interval_index,
    count(*) FILTER (WHERE answered AND talk_seconds IS NOT NULL) AS answered_calls,
    COALESCE(sum(talk_seconds) FILTER (WHERE answered), 0) AS talk_seconds,
    count(*) FILTER (WHERE NOT answered AND waiting_seconds IS NOT NULL) AS abandoned_calls,
    COALESCE(sum(waiting_seconds), 0) AS wait_seconds
FROM read_parquet($call_logs, hive_partitioning = false, union_by_name = true)
WHERE direction = 'inbound' AND call_date BETWEEN $first_day AND $last_day
GROUP BY ALL;
