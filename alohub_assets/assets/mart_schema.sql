-- The KPI mart's tables and views in DATA/alohub.duckdb. Idempotent; run before every write.
-- Parameter: $call_logs_glob (DATA/warehouse/call_logs/date=*/call_logs.parquet).

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
SELECT * FROM read_parquet($call_logs_glob, hive_partitioning = false, union_by_name = true);
