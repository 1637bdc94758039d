-- Django requests into the cross-source latency_1m: kind 'request', service
-- as in django_events (or 'django' when the logs do not say), operation the
-- request path (without the query string). One request per request end
-- (request_finished, request_failed, request_cancelled), a latency sample
-- when its start is known (else counted in no_latency); latency and error as
-- defined in tables/django_events.sql. A
-- cancelled request is a sample but not an error: the time until the client
-- gave up is the wait it saw, and leaving it out would hide slow endpoints.
--
-- How the start is found, incrementally: each end in the inserted batch is
-- paired with the latest request_started of the same request_id at or
-- before it (ASOF JOIN), taken from this batch or, when the request started
-- in an earlier batch, from django_requests. Every reference to
-- django_events below is the inserted batch only (that is how ClickHouse
-- runs a materialized view); django_requests is read for the batch's ids
-- only (its primary key). The result does not depend on whether
-- django_requests_mv has already folded this batch in: a start seen twice
-- pairs the same way.
--
-- Limitations, by design:
--   - an end whose request_started never reached ClickHouse before it (the
--     app does not log request_started at its level, or the start arrived
--     in a later batch than the end, which JetStream's in-order delivery
--     makes rare) is a request (and an error when it is one) without a
--     latency: no_latency, no sample; its operation is the end's path.
--     queries/django_request_latency.sql reads pairs whatever their
--     arrival order.
--   - paths with ids (/orders/1812/) are distinct operations: Django's log
--     lines do not name the URL pattern.
--   - the end of the response stream (StreamingHttpResponse) is not the
--     latency; see django_requests.streaming_ended_at.
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_django_requests_mv TO latency_1m AS
SELECT
    toStartOfMinute(f.end_ts) AS minute,
    'django' AS source,
    'request' AS kind,
    if(f.svc = '', 'django', f.svc) AS service,
    if(f.end_path != '', f.end_path, s.start_path) AS operation,
    count() AS requests,
    countIf(f.end_error) AS errors,
    -- Unmatched ends get the right side's defaults (matched 0), or NULLs
    -- under join_use_nulls.
    countIf(ifNull(s.matched, 0) = 0) AS no_latency,
    sumIf(dateDiff('microsecond', s.start_ts, f.end_ts) / 1000, ifNull(s.matched, 0) = 1) AS latency_sum_ms,
    maxIf(dateDiff('microsecond', s.start_ts, f.end_ts) / 1000, ifNull(s.matched, 0) = 1) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(dateDiff('microsecond', s.start_ts, f.end_ts) / 1000, ifNull(s.matched, 0) = 1) AS latency_quantiles
FROM
(
    SELECT request_id AS rid, timestamp AS end_ts, service AS svc, path AS end_path, is_error AS end_error
    FROM django_events
    WHERE event_name IN ('request_finished', 'request_failed', 'request_cancelled') AND request_id != ''
) AS f
ASOF LEFT JOIN
(
    SELECT request_id AS rid, timestamp AS start_ts, path AS start_path, toUInt8(1) AS matched
    FROM django_events
    WHERE event_name = 'request_started' AND request_id != ''
    UNION ALL
    SELECT request_id AS rid, assumeNotNull(started_at) AS start_ts, path AS start_path, toUInt8(1) AS matched
    FROM django_requests
    WHERE request_id IN (
        SELECT request_id FROM django_events
        WHERE event_name IN ('request_finished', 'request_failed', 'request_cancelled') AND request_id != ''
    ) AND started_at IS NOT NULL
) AS s
ON f.rid = s.rid AND f.end_ts >= s.start_ts
GROUP BY minute, service, operation
