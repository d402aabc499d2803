-- daily_call_metrics: one row per (date, direction) of a partition.
-- Parameters: $call_logs (the days' Parquet), $first_day..$last_day (the partitions built),
-- $short_abandon_seconds (default 5),
-- $service_level_seconds (default 20). Definitions (vendors' manuals, see docs/data-contract.md):
--   abandoned       = not answered and waited >= short-abandon threshold, or wait unknown (NULL)
--   short abandoned = not answered and waited <  short-abandon threshold (a known wait only)
--   answer_rate     = answered / offered
--   abandon_rate    = abandoned / (offered - short abandoned)
--   service_level   = answered with waiting_seconds <= T / (offered - short abandoned)
--   wait_pNN_seconds = continuous percentile (quantile_cont) of waiting_seconds of answered calls
--   avg_abandon_seconds = mean waiting_seconds of abandoned calls (with a known wait)
--   avg_wait_seconds, asa_seconds, max_wait_seconds: over the calls whose wait is known
-- A rate whose denominator is 0 is null. An answered call with an unknown wait is offered and
-- answered but not "within target". Outbound calls follow the same rules; there the wait is the
-- ringing before the customer picked up (see docs/data-contract.md).

-- name: select
WITH counts AS (
    SELECT
        call_date AS date,
        direction,
        count(*) AS offered_calls,
        count(*) FILTER (WHERE answered) AS answered_calls,
        count(*) FILTER (WHERE is_abandoned(answered, waiting_seconds, end_time, $short_abandon_seconds))
            AS abandoned_calls,
        count(*) FILTER (
            WHERE is_short_abandoned(answered, waiting_seconds, end_time, $short_abandon_seconds)
        ) AS short_abandoned_calls,
        count(*) FILTER (WHERE answered AND waiting_seconds <= $service_level_seconds)
            AS answered_within_target,
        avg(waiting_seconds) AS avg_wait_seconds,
        avg(waiting_seconds) FILTER (WHERE answered) AS asa_seconds,
        max(waiting_seconds) AS max_wait_seconds,
        avg(talk_seconds) FILTER (WHERE answered) AS avg_talk_seconds,
        quantile_cont(waiting_seconds, [0.5, 0.9, 0.95]) FILTER (WHERE answered)
            AS answered_wait_percentiles,
        avg(waiting_seconds) FILTER (  -- an unknown wait counts as abandoned, not in this mean
            WHERE is_abandoned(answered, waiting_seconds, end_time, $short_abandon_seconds)
        ) AS avg_abandon_seconds
    FROM read_parquet($call_logs, hive_partitioning = false)
    WHERE call_date BETWEEN $first_day AND $last_day
    GROUP BY call_date, direction
)
SELECT
    date,
    direction,
    offered_calls,
    answered_calls,
    abandoned_calls,
    short_abandoned_calls,
    answered_calls / NULLIF(offered_calls, 0) AS answer_rate,
    abandoned_calls / NULLIF(offered_calls - short_abandoned_calls, 0) AS abandon_rate,
    answered_within_target / NULLIF(offered_calls - short_abandoned_calls, 0) AS service_level,
    avg_wait_seconds,
    asa_seconds,
    max_wait_seconds,
    avg_talk_seconds,
    answered_wait_percentiles[1] AS wait_p50_seconds,
    answered_wait_percentiles[2] AS wait_p90_seconds,
    answered_wait_percentiles[3] AS wait_p95_seconds,
    avg_abandon_seconds
FROM counts
ORDER BY date, direction;

-- name: preview
SELECT direction, offered_calls, answered_calls, answer_rate, service_level, asa_seconds,
       abandon_rate
FROM read_parquet($partition) ORDER BY date, direction;

-- name: rates_out_of_bounds
SELECT count(*) FROM read_parquet($partition)
WHERE (answer_rate NOT BETWEEN 0 AND 1
       OR abandon_rate NOT BETWEEN 0 AND 1
       OR service_level NOT BETWEEN 0 AND 1);
