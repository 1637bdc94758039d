-- Django requests into the cross-source latency_1m: kind 'request', service
-- as in django_events (or 'django' when the logs do not say), operation the
-- request path (without the query string). One request per request end
-- (request_finished, request_failed, request_cancelled), a latency sample
-- when its start is known (else counted in no_latency); latency and error as
-- defined in tables/django_events.sql. A
-- cancelled request is a sample but not an error: the time until the client
-- gave up is the wait it saw, and leaving it out would hide slow endpoints.
--
-- Each end comes paired with its start (or none) from
-- views/django_request_ends_mv.sql, through the Null table
-- django_request_ends; see there how the start is found and when it is not.
--
-- Limitation, by design: paths with ids (/orders/1812/) are distinct
-- operations: Django's log lines do not name the URL pattern. The end of the
-- response stream (StreamingHttpResponse) is not the latency; see
-- django_requests.streaming_ended_at.
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_django_requests_mv TO latency_1m AS
SELECT
    toStartOfMinute(ended_at) AS minute,
    'django' AS source,
    'request' AS kind,
    if(svc = '', 'django', svc) AS service,
    operation,
    count() AS requests,
    countIf(is_error) AS errors,
    countIf(started_at IS NULL) AS no_latency,
    sumIf(dateDiff('microsecond', assumeNotNull(started_at), ended_at) / 1000, started_at IS NOT NULL) AS latency_sum_ms,
    maxIf(dateDiff('microsecond', assumeNotNull(started_at), ended_at) / 1000, started_at IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(dateDiff('microsecond', assumeNotNull(started_at), ended_at) / 1000, started_at IS NOT NULL) AS latency_quantiles
FROM django_request_ends
GROUP BY minute, service, operation
