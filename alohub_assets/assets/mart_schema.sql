-- The KPI mart's tables and views in DATA/alohub.duckdb. Idempotent; run before every write.
-- Views: $glob is replaced by the absolute glob of the Parquet files they read.

-- name: tables
CREATE TABLE IF NOT EXISTS daily_call_metrics (
    date DATE NOT NULL,
    direction VARCHAR NOT NULL,
    offered_calls BIGINT NOT NULL,
    answered_calls BIGINT NOT NULL,
    abandoned_calls BIGINT NOT NULL,
    short_abandoned_calls BIGINT NOT NULL,
    answer_rate DOUBLE,
    abandon_rate DOUBLE,
    service_level DOUBLE,
    avg_wait_seconds DOUBLE,
    asa_seconds DOUBLE,
    max_wait_seconds INTEGER,
    avg_talk_seconds DOUBLE,
    wait_p50_seconds DOUBLE,
    wait_p90_seconds DOUBLE,
    wait_p95_seconds DOUBLE,
    avg_abandon_seconds DOUBLE
);
-- A mart made before the wait percentiles existed gets them (null for the days built then).
ALTER TABLE daily_call_metrics ADD COLUMN IF NOT EXISTS wait_p50_seconds DOUBLE;
ALTER TABLE daily_call_metrics ADD COLUMN IF NOT EXISTS wait_p90_seconds DOUBLE;
ALTER TABLE daily_call_metrics ADD COLUMN IF NOT EXISTS wait_p95_seconds DOUBLE;
ALTER TABLE daily_call_metrics ADD COLUMN IF NOT EXISTS avg_abandon_seconds DOUBLE;
CREATE TABLE IF NOT EXISTS agent_daily_load (
    date DATE NOT NULL,
    agent_id VARCHAR NOT NULL,
    handled_calls BIGINT NOT NULL,
    inbound_handled BIGINT NOT NULL,
    outbound_handled BIGINT NOT NULL,
    outbound_attempts BIGINT NOT NULL,
    talk_seconds BIGINT NOT NULL,
    avg_talk_seconds DOUBLE,
    load_share DOUBLE
);
CREATE TABLE IF NOT EXISTS hourly_call_volume (
    date DATE NOT NULL,
    hour INTEGER NOT NULL,
    direction VARCHAR NOT NULL,
    offered_calls BIGINT NOT NULL,
    answered_calls BIGINT NOT NULL,
    avg_wait_seconds DOUBLE
);
CREATE TABLE IF NOT EXISTS interval_call_metrics (
    date DATE NOT NULL,
    interval_start TIMESTAMP WITH TIME ZONE NOT NULL,
    direction VARCHAR NOT NULL,
    offered_calls BIGINT NOT NULL,
    answered_calls BIGINT NOT NULL,
    abandoned_calls BIGINT NOT NULL,
    short_abandoned_calls BIGINT NOT NULL,
    answered_within_sl BIGINT NOT NULL,
    service_level DOUBLE,
    avg_wait_seconds DOUBLE,
    wait_p90_seconds DOUBLE,
    avg_talk_seconds DOUBLE
);
CREATE TABLE IF NOT EXISTS staffing_requirements (
    date DATE NOT NULL,
    interval_start TIMESTAMP WITH TIME ZONE NOT NULL,
    offered_calls BIGINT NOT NULL,
    aht_seconds DOUBLE,
    traffic_erlangs DOUBLE,
    required_agents BIGINT,
    expected_service_level DOUBLE,
    expected_asa_seconds DOUBLE,
    occupancy DOUBLE,
    agents_active BIGINT NOT NULL,
    staffing_gap BIGINT
);
CREATE TABLE IF NOT EXISTS repeat_callers (
    date DATE NOT NULL,
    inbound_calls BIGINT NOT NULL,
    distinct_callers BIGINT NOT NULL,
    repeat_calls_24h BIGINT NOT NULL,
    repeat_calls_7d BIGINT NOT NULL,
    repeat_rate_24h DOUBLE,
    repeat_rate_7d DOUBLE
);
CREATE TABLE IF NOT EXISTS abandon_callbacks (
    date DATE NOT NULL,
    abandoned_calls BIGINT NOT NULL,
    callback_attempted_24h BIGINT NOT NULL,
    recovered_24h BIGINT NOT NULL,
    recovered_by_callback_24h BIGINT NOT NULL,
    recovered_by_customer_24h BIGINT NOT NULL,
    recovery_rate_24h DOUBLE,
    median_minutes_to_recovery DOUBLE,
    complete BOOLEAN NOT NULL
);

-- name: call_logs_view
-- Every partition's Parquet, read at query time (a view stores no rows). The glob's path is
-- absolute, set by the last pipeline write; hive_partitioning is off so no extra column appears.
CREATE OR REPLACE VIEW call_logs AS
SELECT * FROM read_parquet($glob, hive_partitioning = false, union_by_name = true);

-- name: calls_view
-- call_logs with the recording URL filled from call_recordings where the list had none.
-- recording_status: listed (in the list) | found | pending | not_found | gave_up (detail
-- endpoint) | not_checked (answered, not requested yet) | not_answered.
CREATE OR REPLACE VIEW calls AS
WITH recordings AS (
    SELECT call_id, recording_url, status FROM (
        SELECT NULL::VARCHAR AS call_id, NULL::VARCHAR AS recording_url, NULL::VARCHAR AS status
        WHERE false
        UNION ALL BY NAME
        SELECT * FROM read_parquet($glob, allow_empty = true, hive_partitioning = false)
    )
)
SELECT
    c.* REPLACE (COALESCE(c.recording_url, r.recording_url) AS recording_url),
    CASE
        WHEN c.recording_url IS NOT NULL THEN 'listed'
        WHEN r.status IS NOT NULL THEN r.status
        WHEN c.answered THEN 'not_checked'
        ELSE 'not_answered'
    END AS recording_status
FROM call_logs AS c
LEFT JOIN recordings AS r ON r.call_id = c.call_id;
