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
    avg_talk_seconds DOUBLE
);
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
