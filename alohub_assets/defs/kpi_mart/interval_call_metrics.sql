-- interval_call_metrics: one row per (date, interval_start, direction) for each interval of the
-- local day with at least one call. Parameters: $call_logs (the days' Parquet),
-- $first_day..$last_day (the partitions built),
-- $interval_minutes (15, 30 or 60), $short_abandon_seconds, $service_level_seconds.
-- A call belongs to the interval of its local (Asia/Ho_Chi_Minh) start time. Formulas as in
-- daily_call_metrics:
--   abandoned          = not answered and waited >= short-abandon threshold, or wait unknown
--   short abandoned    = not answered and waited <  short-abandon threshold (a known wait)
--   answered_within_sl = answered with waiting_seconds <= T
--   service_level      = answered_within_sl / (offered - short abandoned), null when 0
--   avg_wait_seconds   = mean wait of every call; wait_p90_seconds over answered calls
--   (continuous percentile); avg_talk_seconds over answered calls.

-- name: select
SELECT
    call_date AS date,
    time_bucket(to_minutes(CAST($interval_minutes AS BIGINT)), start_time, 'Asia/Ho_Chi_Minh')
        AS interval_start,
    direction,
    count(*) AS offered_calls,
    count(*) FILTER (WHERE answered) AS answered_calls,
    count(*) FILTER (WHERE is_abandoned(answered, waiting_seconds, end_time, $short_abandon_seconds))
        AS abandoned_calls,
    count(*) FILTER (WHERE is_short_abandoned(answered, waiting_seconds, end_time, $short_abandon_seconds))
        AS short_abandoned_calls,
    count(*) FILTER (WHERE answered AND waiting_seconds <= $service_level_seconds)
        AS answered_within_sl,
    answered_within_sl / NULLIF(offered_calls - short_abandoned_calls, 0) AS service_level,
    avg(waiting_seconds) AS avg_wait_seconds,
    quantile_cont(waiting_seconds, 0.9) FILTER (WHERE answered) AS wait_p90_seconds,
    avg(talk_seconds) FILTER (WHERE answered) AS avg_talk_seconds
FROM read_parquet($call_logs, hive_partitioning = false)
WHERE call_date BETWEEN $first_day AND $last_day
GROUP BY call_date, interval_start, direction
ORDER BY date, interval_start, direction;
