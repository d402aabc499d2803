-- wait_time_distribution: one row per (date, hotline, bucket_start_seconds) for each hotline with
-- at least one inbound call that day, every bucket included (zeros too). Parameters as
-- hotline_call_metrics, and $bucket_starts (the settings file's wait_buckets, increasing, 0
-- first). A bucket is [start, end) with end the next start; the last is open (end null).
--   answered_calls  = answered inbound calls with waiting_seconds in the bucket
--   abandoned_calls = not answered (short abandons included) with waiting_seconds in the bucket
-- Calls with an unknown wait, and calls still in progress, are left out (counted in metadata).

-- name: select
WITH calls AS ({{hotline_calls}}),
days AS (
    SELECT call_date AS date, hotline, any_value(hotline_name) AS hotline_name
    FROM calls
    WHERE call_date BETWEEN $first_day AND $last_day AND hotline IS NOT NULL
    GROUP BY ALL
),
buckets AS (
    SELECT
        bucket_start_seconds,
        lead(bucket_start_seconds) OVER (ORDER BY bucket_start_seconds) AS bucket_end_seconds
    FROM (SELECT unnest(CAST($bucket_starts AS INTEGER[])) AS bucket_start_seconds)
),
placed AS (
    SELECT c.call_date AS date, c.hotline, b.bucket_start_seconds, c.answered
    FROM calls AS c
    JOIN buckets AS b
      ON c.waiting_seconds >= b.bucket_start_seconds
     AND (b.bucket_end_seconds IS NULL OR c.waiting_seconds < b.bucket_end_seconds)
    WHERE c.call_date BETWEEN $first_day AND $last_day AND c.end_time IS NOT NULL
      AND c.hotline IS NOT NULL
),
counted AS (
    SELECT
        date,
        hotline,
        bucket_start_seconds,
        count(*) FILTER (WHERE answered) AS answered_calls,
        count(*) FILTER (WHERE NOT answered) AS abandoned_calls
    FROM placed
    GROUP BY ALL
)
SELECT
    d.date,
    d.hotline,
    d.hotline_name,
    b.bucket_start_seconds,
    b.bucket_end_seconds,
    COALESCE(c.answered_calls, 0) AS answered_calls,
    COALESCE(c.abandoned_calls, 0) AS abandoned_calls
FROM days AS d
CROSS JOIN buckets AS b
LEFT JOIN counted AS c USING (date, hotline, bucket_start_seconds)
ORDER BY d.date, d.hotline, b.bucket_start_seconds;

-- name: left_out
-- Inbound calls with a hotline that no bucket holds: wait unknown, or still in progress.
WITH calls AS ({{hotline_calls}})
SELECT
    count(*) FILTER (WHERE waiting_seconds IS NULL AND end_time IS NOT NULL) AS unknown_wait,
    count(*) FILTER (WHERE end_time IS NULL) AS in_progress
FROM calls
WHERE call_date BETWEEN $first_day AND $last_day AND hotline IS NOT NULL;
