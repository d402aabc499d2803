-- staffing_requirements: one row per (date, interval_start) with inbound calls offered.
-- Parameters: $call_logs (the days' Parquet), $first_day..$last_day (the partitions built),
-- $interval_minutes,
-- $after_call_work_seconds, $service_level_seconds, $service_level_target, $max_occupancy.
-- erlang_c_staffing(A, AHT, T, target, max occupancy) is registered on every KPI connection
-- (alohub_assets/storage/erlang_c.py): the smallest N > A reaching the target within T with
-- A / N <= max occupancy, and the service level, ASA and occupancy at that N.
--   aht_seconds     = mean talk_seconds of the interval's answered inbound calls (the day's
--                     inbound mean when it has none) + after-call work
--   traffic_erlangs = offered_calls x aht_seconds / interval seconds
--   agents_active   = distinct agent_id of answered inbound calls starting in the interval
--   staffing_gap    = required_agents - agents_active

-- name: select
WITH inbound AS (
    SELECT *
    FROM read_parquet($call_logs, hive_partitioning = false)
    WHERE call_date BETWEEN $first_day AND $last_day AND direction = 'inbound'
),
intervals AS (
    SELECT
        call_date AS date,
        time_bucket(to_minutes(CAST($interval_minutes AS BIGINT)), start_time, 'Asia/Ho_Chi_Minh')
            AS interval_start,
        count(*) AS offered_calls,
        avg(talk_seconds) FILTER (WHERE answered) AS avg_talk_seconds,
        count(DISTINCT agent_id) FILTER (WHERE answered AND agent_id <> '') AS agents_active
    FROM inbound
    GROUP BY call_date, interval_start
),
day_talk AS (
    SELECT call_date AS date, avg(talk_seconds) FILTER (WHERE answered) AS day_avg_talk_seconds
    FROM inbound
    GROUP BY call_date
),
sized AS (
    SELECT
        intervals.*,
        COALESCE(avg_talk_seconds, day_avg_talk_seconds) + $after_call_work_seconds
            AS aht_seconds,
        offered_calls * aht_seconds / ($interval_minutes * 60.0) AS traffic_erlangs,
        erlang_c_staffing(
            traffic_erlangs, aht_seconds, $service_level_seconds, $service_level_target,
            $max_occupancy
        ) AS erlang
    FROM intervals JOIN day_talk USING (date)
)
SELECT
    date,
    interval_start,
    offered_calls,
    aht_seconds,
    traffic_erlangs,
    erlang.agents AS required_agents,
    erlang.service_level AS expected_service_level,
    erlang.asa_seconds AS expected_asa_seconds,
    erlang.occupancy AS occupancy,
    agents_active,
    required_agents - agents_active AS staffing_gap
FROM sized
ORDER BY date, interval_start;

-- name: summary
SELECT count(*) FILTER (WHERE staffing_gap > 0), max(required_agents)
FROM read_parquet($partition);
