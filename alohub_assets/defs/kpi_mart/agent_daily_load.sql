-- agent_daily_load: one row per (date, agent_id) for every non-empty agent id of the day.
-- Parameters: $call_logs (the days' Parquet), $first_day..$last_day (the partitions built).
--   handled_calls     = answered calls with that agent
--                     = inbound_handled + outbound_handled + unknown_handled (calls of another
--                       call type than 0 or 1: seen only in the unfiltered read)
--   outbound_attempts = outbound calls with that agent, answered or not
--   load_share        = handled_calls / all handled calls of the day (null if none)

-- name: select
WITH per_agent AS (
    SELECT
        call_date AS date,
        agent_id,
        count(*) FILTER (WHERE answered) AS handled_calls,
        count(*) FILTER (WHERE answered AND direction = 'inbound') AS inbound_handled,
        count(*) FILTER (WHERE answered AND direction = 'outbound') AS outbound_handled,
        count(*) FILTER (WHERE answered AND direction = 'unknown') AS unknown_handled,
        count(*) FILTER (WHERE direction = 'outbound') AS outbound_attempts,
        COALESCE(sum(talk_seconds) FILTER (WHERE answered), 0) AS talk_seconds,
        avg(talk_seconds) FILTER (WHERE answered) AS avg_talk_seconds
    FROM read_parquet($call_logs, hive_partitioning = false)
    WHERE call_date BETWEEN $first_day AND $last_day AND agent_id IS NOT NULL AND agent_id <> ''
    GROUP BY call_date, agent_id
)
SELECT
    date,
    agent_id,
    handled_calls,
    inbound_handled,
    outbound_handled,
    unknown_handled,
    outbound_attempts,
    CAST(talk_seconds AS BIGINT) AS talk_seconds,
    avg_talk_seconds,
    handled_calls / NULLIF(sum(handled_calls) OVER (PARTITION BY date), 0) AS load_share
FROM per_agent
ORDER BY date, agent_id;
