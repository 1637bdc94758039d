-- Requests, latency percentiles and error rate per service and method, from
-- the sofarpc_latency_1m view (both sides; see tables/sofarpc_digest.sql for
-- what latency and error mean on each side).
SELECT
    service,
    method,
    side,
    sum(calls) AS requests,
    round(quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[1], 1) AS p50_ms,
    round(quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[2], 1) AS p90_ms,
    round(quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4], 1) AS p99_ms,
    round(sum(errors) / sum(calls), 4) AS error_rate,
    -- Calls without a latency (no usable timing): not in the percentiles.
    sum(no_latency) AS no_latency
FROM sofarpc_latency_1m
GROUP BY service, method, side
ORDER BY service, method, side
