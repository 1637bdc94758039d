-- SOFARPC digests into the cross-source latency_1m: kind is the side
-- (client latency includes the network, server latency is time in the
-- server), service is the RPC interface, operation the method.
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_sofarpc_mv TO latency_1m AS
SELECT
    toStartOfMinute(timestamp) AS minute,
    'sofarpc' AS source,
    side AS kind,
    service,
    method AS operation,
    count() AS requests,
    countIf(is_error) AS errors,
    sum(toFloat64(latency_ms)) AS latency_sum_ms,
    max(toFloat64(latency_ms)) AS latency_max_ms,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99, 0.999)(toFloat64(latency_ms)) AS latency_quantiles
FROM sofarpc_digest
GROUP BY minute, kind, service, operation
