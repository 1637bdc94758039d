-- Request latency and error rate per path, derived at query time from
-- django_requests: a request counts once its start and its end are both
-- known, in whatever order and batch they arrived (unlike latency_1m, which
-- is fed incrementally; see views/latency_1m_django_requests_mv.sql).
-- Latency is ended_at - started_at in milliseconds and an error is a failed
-- request or a status of 500 or more (tables/django_events.sql).
-- {since:DateTime64(6)} bounds the requests' start.
SELECT
    path,
    method,
    count() AS requests,
    round(quantiles(0.5, 0.9, 0.99)(latency_ms)[1], 3) AS p50_ms,
    round(quantiles(0.5, 0.9, 0.99)(latency_ms)[2], 3) AS p90_ms,
    round(quantiles(0.5, 0.9, 0.99)(latency_ms)[3], 3) AS p99_ms,
    round(countIf(is_error) / count(), 4) AS error_rate,
    countIf(was_cancelled) AS cancelled
FROM
(
    SELECT
        request_id,
        max(r.path) AS path,
        max(r.method) AS method,
        dateDiff('microsecond', max(r.started_at), max(r.ended_at)) / 1000 AS latency_ms,
        max(r.failed) = 1 OR max(r.code) >= 500 AS is_error,
        max(r.cancelled) = 1 AS was_cancelled
    FROM django_requests AS r
    GROUP BY r.request_id
    HAVING max(r.started_at) IS NOT NULL AND max(r.ended_at) >= max(r.started_at) AND max(r.started_at) >= {since:DateTime64(6)}
)
GROUP BY path, method
ORDER BY requests DESC, path, method
