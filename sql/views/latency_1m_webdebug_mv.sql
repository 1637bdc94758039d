-- Web debug events into the cross-source latency_1m. Only rows with a
-- sample_kind count (tables/webdebug_events.sql defines them).
--   kind 'request': one row per document with a request or response event,
--     the response's duration (else the request's): the time the application
--     took to serve the request. A document without either duration is a
--     request without a latency: counted in requests, errors and no_latency,
--     never a 0 ms sample.
--     service = the request's host, 'webdebug' when the document names none
--     (a relative uri without a Host header); operation = the route shape
--     (path, ids as {id}), '' when the document has no request uri.
--   kind 'query': every query with a duration. service = the query target
--     (mysql, redis: the backend called, as the scheme's clients group
--     queries), 'unknown' when missing; operation = the query shape
--     (literals as "?", cut at 120 bytes; a command verb for non-SQL text),
--     so distinct values follow the statements in the code, not the data.
-- errors: is_error ("success": false, or a response status >= 500).
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_webdebug_mv TO latency_1m AS
SELECT
    toStartOfMinute(time) AS minute,
    'webdebug' AS source,
    sample_kind AS kind,
    multiIf(sample_kind = 'query', if(query_target = '', 'unknown', query_target),
            doc_host = '', 'webdebug', doc_host) AS service,
    if(sample_kind = 'query', query_shape, doc_route) AS operation,
    count() AS requests,
    countIf(is_error) AS errors,
    countIf(duration_ms IS NULL) AS no_latency,
    sumIf(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_sum_ms,
    maxIf(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_quantiles
FROM webdebug_events
WHERE sample_kind != ''
GROUP BY minute, kind, service, operation
