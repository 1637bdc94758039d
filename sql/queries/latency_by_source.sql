-- Requests, error rate and latency percentiles per source, kind and service
-- from the cross-source view table latency_1m (what latency and error mean
-- per source: tables/latency_1m.sql). Percentiles are over the n - no_latency
-- requests that carried a latency.
SELECT
    source,
    kind,
    service,
    sum(requests) AS n,
    round(sum(errors) / n, 4) AS error_rate,
    round(quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[1], 1) AS p50_ms,
    round(quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4], 1) AS p99_ms,
    sum(no_latency) AS no_latency
FROM latency_1m
GROUP BY source, kind, service
ORDER BY source, kind, n DESC
LIMIT 5 BY source, kind
