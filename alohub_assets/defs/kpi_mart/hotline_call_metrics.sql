-- hotline_call_metrics: one row per (date, hotline) with at least one inbound call. The hotline of
-- an inbound call is its `called` number (outbound and unknown calls have none). Parameters:
-- $call_logs (the days' Parquet), $first_day..$last_day (the partitions built), the hotlines of
-- the settings file ($hotline_numbers, as stored: tokens under the PII option; $hotline_names;
-- $hotline_service_level_seconds / $hotline_short_abandon_seconds, null = the default) and the
-- defaults $service_level_seconds, $short_abandon_seconds. Formulas exactly as in
-- daily_call_metrics, with the hotline's own thresholds:
--   answer_rate   = answered / offered
--   abandon_rate  = abandoned / (offered - short abandoned)
--   service_level = answered with waiting_seconds <= T_sl / (offered - short abandoned)
--   asa_seconds   = mean wait of answered calls (known waits); wait_p90_seconds: continuous
--                   0.90 percentile of those waits; avg_talk_seconds over answered calls

-- name: hotline_calls
-- The inbound calls with their hotline's name and thresholds (a call without a called number has
-- no hotline: the default thresholds). Shared, as the fragment {{hotline_calls}}, by the hotline
-- tables and the callback worklist.
SELECT
    c.*,
    c.called AS hotline,
    COALESCE(s.hotline_name, c.called) AS hotline_name,
    CAST(COALESCE(s.service_level_seconds, $service_level_seconds) AS INTEGER)
        AS hotline_service_level_seconds,
    CAST(COALESCE(s.short_abandon_seconds, $short_abandon_seconds) AS INTEGER)
        AS hotline_short_abandon_seconds
FROM read_parquet($call_logs, hive_partitioning = false, union_by_name = true) AS c
LEFT JOIN (
    SELECT
        unnest(CAST($hotline_numbers AS VARCHAR[])) AS hotline,
        unnest(CAST($hotline_names AS VARCHAR[])) AS hotline_name,
        unnest(CAST($hotline_service_level_seconds AS INTEGER[])) AS service_level_seconds,
        unnest(CAST($hotline_short_abandon_seconds AS INTEGER[])) AS short_abandon_seconds
) AS s ON s.hotline = c.called
WHERE c.direction = 'inbound'

-- name: select
WITH calls AS ({{hotline_calls}}),
counts AS (
    SELECT
        call_date AS date,
        hotline,
        any_value(hotline_name) AS hotline_name,
        any_value(hotline_service_level_seconds) AS service_level_seconds,
        any_value(hotline_short_abandon_seconds) AS short_abandon_seconds,
        count(*) AS offered_calls,
        count(*) FILTER (WHERE answered) AS answered_calls,
        count(*) FILTER (
            WHERE is_abandoned(answered, waiting_seconds, end_time, hotline_short_abandon_seconds)
        ) AS abandoned_calls,
        count(*) FILTER (
            WHERE is_short_abandoned(
                answered, waiting_seconds, end_time, hotline_short_abandon_seconds)
        ) AS short_abandoned_calls,
        count(*) FILTER (
            WHERE answered AND waiting_seconds <= hotline_service_level_seconds
        ) AS answered_within_sl,
        avg(waiting_seconds) FILTER (WHERE answered) AS asa_seconds,
        quantile_cont(waiting_seconds, 0.9) FILTER (WHERE answered) AS wait_p90_seconds,
        avg(talk_seconds) FILTER (WHERE answered) AS avg_talk_seconds
    FROM calls
    WHERE call_date BETWEEN $first_day AND $last_day AND hotline IS NOT NULL
    GROUP BY call_date, hotline
)
SELECT
    date,
    hotline,
    hotline_name,
    offered_calls,
    answered_calls,
    abandoned_calls,
    short_abandoned_calls,
    answered_within_sl,
    answered_calls / NULLIF(offered_calls, 0) AS answer_rate,
    abandoned_calls / NULLIF(offered_calls - short_abandoned_calls, 0) AS abandon_rate,
    answered_within_sl / NULLIF(offered_calls - short_abandoned_calls, 0) AS service_level,
    service_level_seconds,
    short_abandon_seconds,
    asa_seconds,
    wait_p90_seconds,
    avg_talk_seconds
FROM counts
ORDER BY date, hotline;

-- name: left_out
-- Inbound calls of the days with no called number: no hotline (reported in metadata).
SELECT count(*)
FROM read_parquet($call_logs, hive_partitioning = false, union_by_name = true)
WHERE call_date BETWEEN $first_day AND $last_day AND direction = 'inbound' AND called IS NULL;

-- name: preview
SELECT hotline_name, offered_calls, answered_calls, service_level, service_level_seconds,
       abandon_rate, asa_seconds
FROM read_parquet($partition) ORDER BY offered_calls DESC, hotline;
