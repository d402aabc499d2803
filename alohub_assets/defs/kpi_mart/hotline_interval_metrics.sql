-- hotline_interval_metrics: one row per (date, interval_start, hotline) with at least one inbound
-- call: the columns of interval_call_metrics (direction is always inbound) plus the hotline, its
-- name and its own thresholds. Parameters as hotline_call_metrics, and $interval_minutes.
-- Formulas as in interval_call_metrics, with the hotline's thresholds.

-- name: select
WITH calls AS ({{hotline_calls}})
SELECT
    call_date AS date,
    time_bucket(to_minutes(CAST($interval_minutes AS BIGINT)), start_time, 'Asia/Ho_Chi_Minh')
        AS interval_start,
    hotline,
    any_value(hotline_name) AS hotline_name,
    'inbound' AS direction,
    count(*) AS offered_calls,
    count(*) FILTER (WHERE answered) AS answered_calls,
    count(*) FILTER (
        WHERE is_abandoned(answered, waiting_seconds, end_time, hotline_short_abandon_seconds)
    ) AS abandoned_calls,
    count(*) FILTER (
        WHERE is_short_abandoned(answered, waiting_seconds, end_time, hotline_short_abandon_seconds)
    ) AS short_abandoned_calls,
    count(*) FILTER (WHERE answered AND waiting_seconds <= hotline_service_level_seconds)
        AS answered_within_sl,
    answered_within_sl / NULLIF(offered_calls - short_abandoned_calls, 0) AS service_level,
    avg(waiting_seconds) AS avg_wait_seconds,
    quantile_cont(waiting_seconds, 0.9) FILTER (WHERE answered) AS wait_p90_seconds,
    avg(talk_seconds) FILTER (WHERE answered) AS avg_talk_seconds,
    any_value(hotline_service_level_seconds) AS service_level_seconds,
    any_value(hotline_short_abandon_seconds) AS short_abandon_seconds
FROM calls
WHERE call_date BETWEEN $first_day AND $last_day AND hotline IS NOT NULL
GROUP BY call_date, interval_start, hotline
ORDER BY date, interval_start, hotline;
