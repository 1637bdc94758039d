-- Pairs each request end of the inserted batch with its start, into the
-- Null table django_request_ends (whose views aggregate latency_1m and
-- close the starts taken from django_open_requests).
--
-- How the start is found, incrementally: each end is paired with the latest
-- request_started of the same request_id at or before it (ASOF JOIN), taken
-- from this batch or, when the request started in an earlier batch, from
-- django_open_requests, which holds only the starts still waiting for their
-- end. Every reference to django_events below is the inserted batch only
-- (that is how ClickHouse runs a materialized view). A start that is both in
-- the batch and in the table pairs the same way.
--
-- Limitations, by design:
--   - an end whose request_started never reached ClickHouse before it (the
--     app does not log request_started at its level, or the start arrived
--     in a later batch than the end, which JetStream's in-order delivery
--     makes rare) is a request (and an error when it is one) without a
--     latency: no_latency, no sample; its operation is the end's path.
--     queries/django_request_latency.sql reads pairs whatever their
--     arrival order.
--   - an end whose start was stored before django_open_requests existed
--     (requests in flight while tapline was upgraded to it) has no latency.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_request_ends_mv TO django_request_ends AS
SELECT
    f.rid AS request_id,
    f.end_ts AS ended_at,
    f.svc AS svc,
    if(f.end_path != '', f.end_path, s.start_path) AS operation,
    f.end_error AS is_error,
    -- Unmatched ends get the right side's defaults (matched 0), or NULLs
    -- under join_use_nulls.
    if(ifNull(s.matched, 0) = 1, toNullable(s.start_ts), NULL) AS started_at,
    ifNull(s.in_table, 0) = 1 AS start_in_table
FROM
(
    SELECT request_id AS rid, timestamp AS end_ts, service AS svc, path AS end_path, is_error AS end_error
    FROM django_events
    WHERE event_name IN ('request_finished', 'request_failed', 'request_cancelled') AND request_id != ''
) AS f
ASOF LEFT JOIN
(
    SELECT request_id AS rid, timestamp AS start_ts, path AS start_path, toUInt8(1) AS matched, toUInt8(0) AS in_table
    FROM django_events
    WHERE event_name = 'request_started' AND request_id != ''
    UNION ALL
    SELECT request_id AS rid, started_at AS start_ts, path AS start_path, toUInt8(1) AS matched, toUInt8(1) AS in_table
    FROM django_open_requests
    WHERE sign = 1 AND request_id IN (
        SELECT request_id FROM django_events
        WHERE event_name IN ('request_finished', 'request_failed', 'request_cancelled') AND request_id != ''
    )
) AS s
ON f.rid = s.rid AND f.end_ts >= s.start_ts
