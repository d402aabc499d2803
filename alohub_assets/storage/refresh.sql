-- A refresh of the day in progress (storage/refresh.py): what the previous landing of the day
-- holds, and the rows of it the new landing keeps. Parameters: $files (page files), $day_start /
-- $day_end (the local day), $from / $to (a part of the day), $window_starts / $window_ends (the
-- windows just read, both ends inclusive), $first_page (page numbers of kept rows start here,
-- after any page read fresh).

-- name: rows
-- Every row of some page files ({{table}}: previous or fresh) with what the refresh needs of it,
-- parsed once.
CREATE OR REPLACE TEMP TABLE {{table}} AS
SELECT
    source,
    page,
    position,
    r AS raw,
    NULLIF(trim(json_extract_string(r, '$.callId')), '') AS call_id,
    try_strptime(
        NULLIF(trim(json_extract_string(r, '$.startTime')), '') || ' +0700',
        '%d/%m/%Y %H:%M:%S %z'
    ) AS start_time,
    -- no end time: the server listed the call while it was still going on
    NULLIF(trim(json_extract_string(r, '$.endTime')), '') IS NULL AS in_progress
FROM (
    SELECT source, page, unnest(data) AS r, unnest(generate_series(1, len(data))) AS position
    FROM read_json($files, format = 'newline_delimited',
                   columns = {'source': 'VARCHAR', 'page': 'INTEGER', 'data': 'JSON[]'})
);

-- name: newest_start
-- The newest call start of the day that {{table}} holds: where "since then" begins.
SELECT max(start_time) FROM {{table}} WHERE start_time BETWEEN $day_start AND $day_end;

-- name: rows_by_second
-- The rows an unfiltered list of [$from, $to) would give, as the previous landing holds them:
-- typed rows, plus rows of the unfiltered read whose call no typed read had (another type).
SELECT CAST(epoch(start_time) AS BIGINT) AS second, count(*) AS rows
FROM previous
WHERE start_time >= $from AND start_time < $to
  AND (source <> 'all' OR call_id IS NULL OR call_id NOT IN (
      SELECT call_id FROM previous WHERE source <> 'all' AND call_id IS NOT NULL))
GROUP BY ALL;

-- name: in_progress_starts
-- Calls listed before they ended: their rows will change, whatever the counts say.
SELECT DISTINCT CAST(epoch(start_time) AS BIGINT)
FROM previous
WHERE in_progress AND start_time >= $from AND start_time < $to;

-- name: keep
-- The previous rows the new landing keeps: the day's calls starting outside every window just
-- read, and rows whose start cannot be read (they cannot be placed in a window) unless the
-- fresh read has the same row again. Calls of other days are left out (their own partition
-- has them), and so are rows of the unfiltered read whose call a typed read has (the typed row
-- gives the call its direction; the other is a repeat).
CREATE OR REPLACE TEMP TABLE kept AS
WITH windows AS (
    SELECT unnest(CAST($window_starts AS TIMESTAMPTZ[])) AS w_start,
           unnest(CAST($window_ends AS TIMESTAMPTZ[])) AS w_end
)
SELECT p.*
FROM previous AS p
WHERE (source <> 'all' OR call_id IS NULL OR call_id NOT IN (
        SELECT call_id FROM previous WHERE source <> 'all' AND call_id IS NOT NULL))
  AND CASE
    WHEN start_time IS NULL
        THEN CAST(raw AS VARCHAR) NOT IN (SELECT CAST(raw AS VARCHAR) FROM fresh)
    ELSE start_time BETWEEN $day_start AND $day_end
         AND NOT EXISTS (
             SELECT 1 FROM windows AS w WHERE p.start_time BETWEEN w.w_start AND w.w_end)
END;

-- name: write_kept
-- The kept rows as page lines of 1,000 rows, in their previous order. Page numbers continue
-- after $first_page, so that a row read fresh comes first when a callId is in both.
COPY (
    SELECT source, CAST($first_page + n // 1000 AS INTEGER) AS page,
           list(raw ORDER BY n) AS data
    FROM (SELECT *, row_number() OVER (ORDER BY source, page, position) - 1 AS n FROM kept)
    GROUP BY source, n // 1000
    ORDER BY page
) TO {{target}} (FORMAT json);

-- name: kept_summary
SELECT count(*), max(start_time) FILTER (WHERE start_time BETWEEN $day_start AND $day_end)
FROM kept;
