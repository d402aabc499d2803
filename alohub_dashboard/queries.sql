-- What the dashboard reads from the mart. Each statement runs over the Parquet partition files
-- of the days it needs ($files: one file per day, from the warehouse layout), in an in-memory
-- DuckDB opened for the query and closed after it (alohub_dashboard/mart.py). Columns: see
-- docs/data-contract.md. union_by_name: a partition written before a column existed reads null.

-- name: hotline_day
-- Today page, the tiles: one row per hotline of the day.
SELECT hotline, hotline_name, offered_calls, answered_calls, service_level,
       service_level_seconds, abandon_rate, asa_seconds, wait_p90_seconds
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date = $day
ORDER BY hotline_name, hotline;

-- name: intervals_all
-- Today page, the interval chart for every hotline: the inbound rows of interval_call_metrics.
SELECT interval_start, offered_calls, answered_calls, service_level
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date = $day AND direction = 'inbound'
ORDER BY interval_start;

-- name: intervals_hotline
SELECT interval_start, offered_calls, answered_calls, service_level
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date = $day AND hotline = $hotline
ORDER BY interval_start;

-- name: staffing
SELECT interval_start, required_agents, agents_active
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date = $day
ORDER BY interval_start;

-- name: forecast
-- The forecast of the day from one partition of call_volume_forecast (made on an earlier day).
SELECT interval_start, offered_calls_forecast, offered_calls_p10, offered_calls_p90
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE forecast_date = $day AND hotline = $hotline
ORDER BY interval_start;

-- name: plan
SELECT interval_start, scheduled_agents
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE forecast_date = $day AND hotline = $hotline
ORDER BY interval_start;

-- name: worklist
SELECT customer_number, hotline_name, last_abandon_time, abandons, longest_wait_seconds,
       last_call_id
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date = $day
ORDER BY longest_wait_seconds DESC NULLS LAST, last_abandon_time, customer_number;

-- name: hotline_days
-- Trends page: per hotline and day.
SELECT date, hotline, hotline_name, offered_calls, service_level, abandon_rate
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date BETWEEN $first_day AND $last_day
ORDER BY date, hotline_name;

-- name: hotline_period
-- Trends page: per hotline over the range, the rates recomputed from the counts.
SELECT
    hotline,
    any_value(hotline_name ORDER BY date DESC) AS hotline_name,
    sum(offered_calls) AS offered_calls,
    sum(answered_calls) AS answered_calls,
    sum(answered_within_sl) / nullif(sum(offered_calls - short_abandoned_calls), 0)
        AS service_level,
    sum(abandoned_calls) / nullif(sum(offered_calls - short_abandoned_calls), 0) AS abandon_rate
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date BETWEEN $first_day AND $last_day
GROUP BY hotline
ORDER BY hotline_name, hotline;

-- name: wait_buckets
-- Trends page: the wait buckets summed over the range, for one hotline or ($hotline null) all.
SELECT bucket_start_seconds, any_value(bucket_end_seconds) AS bucket_end_seconds,
       sum(answered_calls) AS answered_calls, sum(abandoned_calls) AS abandoned_calls
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date BETWEEN $first_day AND $last_day AND ($hotline IS NULL OR hotline = $hotline)
GROUP BY bucket_start_seconds
ORDER BY bucket_start_seconds;

-- name: repeat_callers
SELECT date, inbound_calls, repeat_calls_24h, repeat_rate_24h, repeat_rate_7d
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date BETWEEN $first_day AND $last_day
ORDER BY date;

-- name: abandon_callbacks
SELECT date, abandoned_calls, recovered_24h, recovered_by_callback_24h,
       recovered_by_customer_24h, recovery_rate_24h, complete
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date BETWEEN $first_day AND $last_day
ORDER BY date;

-- name: agent_days
-- Agents page: per agent and day.
SELECT date, agent_id, handled_calls, inbound_handled, outbound_handled, outbound_attempts,
       talk_seconds, avg_talk_seconds, load_share
FROM read_parquet($files, union_by_name = true, hive_partitioning = false)
WHERE date BETWEEN $first_day AND $last_day
ORDER BY date DESC, handled_calls DESC, agent_id;
