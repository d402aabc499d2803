-- The raw landing of one day -> one row per call (call_logs) and the rows that cannot be read
-- (rejected_call_logs). Parameters: $files (the page files, typed sources first), $day (DATE).
-- Rules: times are dd/MM/yyyy HH:mm:ss in UTC+7; "" is null; seconds are strings of digits.

-- name: customer_number_macro
-- The customer's number of a call in one national form, so that 0912345678, 84912345678,
-- +84 912 345 678 and 84-912-345-678 are one customer: the caller of an inbound call, the
-- called of an outbound one; digits only; a leading 84 of an 11- or 12-digit number becomes 0;
-- only 10 or 11 digits starting with 0 are a customer (not extensions such as 1003 or hotline
-- names such as alohub2). Null otherwise, and for calls of unknown direction.
CREATE OR REPLACE TEMP MACRO national_customer_number(digits) AS
    CASE
        WHEN regexp_full_match(digits, '0[0-9]{9,10}') THEN digits
        WHEN regexp_full_match(digits, '84[0-9]{9,10}') THEN '0' || digits[3:]
    END;
CREATE OR REPLACE TEMP MACRO customer_number(direction, caller, called) AS
    national_customer_number(regexp_replace(
        CASE direction WHEN 'inbound' THEN caller WHEN 'outbound' THEN called END,
        '[^0-9]', '', 'g'
    ));

-- name: landed
-- Every landed row kept as JSON, its thirteen fields extracted in one parse. Reads anything:
-- a row that is not an object, a number where a string was expected, unknown fields.
SELECT
    source, page, position, r AS raw,
    v[1] AS call_id, v[2] AS caller, v[3] AS called, v[4] AS agent_id, v[5] AS start_time,
    v[6] AS ring_time, v[7] AS connect_time, v[8] AS end_time, v[9] AS waiting_time,
    v[10] AS acd_time, v[11] AS description, v[12] AS customer_name, v[13] AS url
FROM (
    SELECT
        source, page, position, r,
        json_extract_string(r, [
            '$.callId', '$.caller', '$.called', '$.agentId', '$.startTime', '$.firstRingTime',
            '$.firstConnectTime', '$.endTime', '$.waitingTime', '$.acdTime', '$.description',
            '$.customerName', '$.url'
        ]) AS v
    FROM (
        SELECT source, page, unnest(data) AS r, unnest(generate_series(1, len(data))) AS position
        FROM read_json($files, format = 'newline_delimited',
                       columns = {'source': 'VARCHAR', 'page': 'INTEGER', 'data': 'JSON[]'})
    )
);

-- name: raw_rows
-- Every landed row, parsed once (the inner query is the `landed` statement, composed in). The
-- row's JSON is kept only when the row is rejected, which keeps a million-row day small in memory.
CREATE OR REPLACE TEMP TABLE raw_rows AS
WITH texts AS (
    SELECT
        CASE source WHEN 'inbound' THEN 0 WHEN 'outbound' THEN 1 ELSE 2 END AS source_rank,
        page,
        position,
        raw AS r,
        NULLIF(trim(call_id), '') AS call_id,
        NULLIF(caller, '') AS caller,
        NULLIF(called, '') AS called,
        NULLIF(trim(agent_id), '') AS agent_id,
        NULLIF(trim(start_time), '') AS start_text,
        NULLIF(trim(ring_time), '') AS ring_text,
        NULLIF(trim(connect_time), '') AS connect_text,
        NULLIF(trim(end_time), '') AS end_text,
        NULLIF(trim(waiting_time), '') AS waiting_text,
        NULLIF(trim(acd_time), '') AS acd_text,
        NULLIF(description, '') AS description,
        NULLIF(customer_name, '') AS customer_name,
        NULLIF(trim(url), '') AS recording_url
    FROM ({{landed}})
),
parsed AS (
    SELECT
        * EXCLUDE (r),
        r,
        source_rank::BIGINT * 1000000000000 + page::BIGINT * 1000000 + position AS arrival,
        try_strptime(start_text, '%d/%m/%Y %H:%M:%S') AS start_local,
        try_strptime(start_text || ' +0700', '%d/%m/%Y %H:%M:%S %z') AS start_time,
        try_strptime(ring_text || ' +0700', '%d/%m/%Y %H:%M:%S %z') AS first_ring_time,
        try_strptime(connect_text || ' +0700', '%d/%m/%Y %H:%M:%S %z') AS first_connect_time,
        try_strptime(end_text || ' +0700', '%d/%m/%Y %H:%M:%S %z') AS end_time,
        CASE WHEN regexp_full_match(waiting_text, '[0-9]{1,9}') THEN CAST(waiting_text AS INTEGER) END
            AS waiting_seconds,
        CASE WHEN regexp_full_match(acd_text, '[0-9]{1,9}') THEN CAST(acd_text AS INTEGER) END
            AS acd_seconds
    FROM texts
)
SELECT
    * EXCLUDE (r, reject_reason),
    reject_reason,
    CASE WHEN reject_reason <> '' THEN CAST(r AS VARCHAR) END AS raw_row
FROM (
    SELECT
        *,
        concat_ws('; ',
            CASE WHEN call_id IS NULL THEN 'missing callId' END,
            CASE WHEN call_id IS NOT NULL
                  AND NOT regexp_full_match(call_id, $call_id_pattern)
                 THEN 'callId not of the documented shape' END,
            CASE WHEN start_text IS NULL THEN 'missing startTime' END,
            CASE WHEN start_text IS NOT NULL AND start_time IS NULL THEN 'unparsable startTime' END,
            CASE WHEN ring_text IS NOT NULL AND first_ring_time IS NULL
                 THEN 'unparsable firstRingTime' END,
            CASE WHEN connect_text IS NOT NULL AND first_connect_time IS NULL
                 THEN 'unparsable firstConnectTime' END,
            CASE WHEN end_text IS NOT NULL AND end_time IS NULL THEN 'unparsable endTime' END,
            CASE WHEN waiting_text IS NOT NULL AND waiting_seconds IS NULL
                 THEN 'non-numeric waitingTime' END,
            CASE WHEN acd_text IS NOT NULL AND acd_seconds IS NULL THEN 'non-numeric acdTime' END
        ) AS reject_reason
    FROM parsed
);

-- name: call_logs
-- One row per call of $day: the first row received (typed sources first, then page order)
-- gives the call's fields; customer_names collects the distinct names in order of first
-- appearance.
WITH valid AS (
    SELECT * FROM raw_rows WHERE reject_reason = '' AND CAST(start_local AS DATE) = $day
),
firsts AS (
    SELECT * EXCLUDE (rn)
    FROM (
        SELECT *, row_number() OVER (PARTITION BY call_id ORDER BY arrival) AS rn FROM valid
    )
    WHERE rn = 1
),
names AS (
    SELECT call_id, list(customer_name ORDER BY first_arrival) AS customer_names
    FROM (
        SELECT call_id, customer_name, min(arrival) AS first_arrival
        FROM valid
        WHERE customer_name IS NOT NULL
        GROUP BY call_id, customer_name
    )
    GROUP BY call_id
)
SELECT
    f.call_id,
    CAST(f.start_local AS DATE) AS call_date,
    CASE f.source_rank WHEN 0 THEN 'inbound' WHEN 1 THEN 'outbound' ELSE 'unknown' END
        AS direction,
    f.caller,
    f.called,
    f.agent_id,
    f.start_time,
    f.first_ring_time,
    f.first_connect_time,
    f.end_time,
    f.waiting_seconds,
    f.acd_seconds,
    CASE WHEN f.first_connect_time IS NOT NULL AND f.end_time IS NOT NULL
         THEN CAST(date_diff('second', f.first_connect_time, f.end_time) AS INTEGER) END
        AS talk_seconds,
    f.description,
    COALESCE(n.customer_names, CAST([] AS VARCHAR[])) AS customer_names,
    f.recording_url,
    f.first_connect_time IS NOT NULL AS answered,
    customer_number(
        CASE f.source_rank WHEN 0 THEN 'inbound' WHEN 1 THEN 'outbound' END, f.caller, f.called
    ) AS customer_number
FROM firsts AS f
LEFT JOIN names AS n USING (call_id)
ORDER BY f.start_time, f.call_id;

-- name: newest_start
-- The newest call start of $day among the readable rows (a call_logs file's newest_call_start).
SELECT max(start_time) FROM raw_rows WHERE reject_reason = '' AND CAST(start_local AS DATE) = $day;

-- name: rejected_call_logs
-- Rows that cannot be read, kept with the reason. A rejected row whose start date is
-- unreadable is kept in the partition it was fetched for.
SELECT
    call_id,
    CASE source_rank WHEN 0 THEN 'inbound' WHEN 1 THEN 'outbound' ELSE 'all' END AS source,
    page,
    position,
    reject_reason,
    raw_row
FROM raw_rows
WHERE reject_reason <> ''
  AND (start_local IS NULL OR CAST(start_local AS DATE) = $day)
ORDER BY arrival;

-- name: landing_summary
-- What the landing holds for $day, counted independently of the statements above.
SELECT
    count(DISTINCT call_id) FILTER (
        WHERE CAST(try_strptime(start_text, '%d/%m/%Y %H:%M:%S') AS DATE) = $day
    ) AS calls_on_day,
    count(DISTINCT call_id) FILTER (
        WHERE CAST(try_strptime(start_text, '%d/%m/%Y %H:%M:%S') AS DATE) <> $day
    ) AS calls_outside_day,
    count(*) AS raw_rows
FROM raw_rows;

-- name: written_summary
-- What the two written files hold, read back once: calls, duplicate and null callIds, rejected
-- rows, callIds only quarantined, and callIds landed for $day found in neither (must be 0).
WITH calls AS (SELECT call_id FROM read_parquet($calls, hive_partitioning = false)),
rejected AS (SELECT call_id FROM read_parquet($rejected, hive_partitioning = false))
SELECT
    (SELECT count(*) FROM calls) AS calls,
    (SELECT count(*) - count(DISTINCT call_id) FROM calls) AS duplicate_call_ids,
    (SELECT count(*) - count(call_id) FROM calls) AS null_call_ids,
    (SELECT count(*) FROM rejected) AS rejected_rows,
    (SELECT count(DISTINCT call_id) FROM rejected
     WHERE call_id NOT IN (SELECT call_id FROM calls WHERE call_id IS NOT NULL))
        AS calls_rejected_whole,
    (SELECT count(DISTINCT call_id) FROM raw_rows
     WHERE CAST(start_local AS DATE) = $day
       AND call_id IS NOT NULL
       AND call_id NOT IN (SELECT call_id FROM calls WHERE call_id IS NOT NULL)
       AND call_id NOT IN (SELECT call_id FROM rejected WHERE call_id IS NOT NULL)) AS calls_lost;

-- name: pseudonymize
-- With ALOHUB_PII_HMAC_KEY set: caller, called, customer_number and every customer name stored
-- as the hex HMAC-SHA256 of the value (sha256(opad || sha256(ipad || value)); $ipad/$opad come
-- from the key), so the same number always maps to the same token and the KPIs do not change.
-- customer_number is normalized before it is hashed: one customer, one token.
SELECT * REPLACE (
    sha256($opad || unhex(sha256($ipad || encode(caller)))) AS caller,
    sha256($opad || unhex(sha256($ipad || encode(called)))) AS called,
    sha256($opad || unhex(sha256($ipad || encode(customer_number)))) AS customer_number,
    list_transform(
        customer_names, lambda name: sha256($opad || unhex(sha256($ipad || encode(name))))
    ) AS customer_names
)
FROM ({{call_logs}})
ORDER BY start_time, call_id;

-- name: withhold_raw_rows
-- With ALOHUB_PII_HMAC_KEY set, a rejected row's JSON is not copied into the warehouse; its
-- source, page and position point at it in the raw landing.
SELECT * REPLACE (
    CASE WHEN raw_row IS NOT NULL THEN 'withheld (PII option): see the raw landing' END AS raw_row
)
FROM ({{rejected}});
