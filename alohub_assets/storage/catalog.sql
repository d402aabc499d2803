-- The catalog in DATA/alohub.duckdb: views only, over the Parquet partitions of the warehouse.
-- A view stores no rows and reads its files at query time. DuckDB takes no bound parameter in
-- a view's body, so {{glob}} is composed in as a quoted literal (an absolute path of ours).

-- name: table_view
-- One view per warehouse table (every KPI table). union_by_name: a column added later reads as
-- null in older partitions; hive_partitioning is off so no extra column appears.
CREATE OR REPLACE VIEW {{table}} AS
SELECT * FROM read_parquet({{glob}}, hive_partitioning = false, union_by_name = true);

-- name: call_logs_view
CREATE OR REPLACE VIEW call_logs AS
SELECT * FROM read_parquet({{glob}}, hive_partitioning = false, union_by_name = true);

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
        SELECT * FROM read_parquet({{glob}}, allow_empty = true, hive_partitioning = false)
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
