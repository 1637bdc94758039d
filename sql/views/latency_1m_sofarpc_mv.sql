-- SOFARPC digests into the cross-source latency_1m: kind is the side
-- (client latency includes the network, server latency is time in the
-- server), service is the RPC interface, operation the method. A digest
-- without a latency (latency_ms NULL: no usable timing) counts as a request
-- (and an error when it is one) and in no_latency, but is no latency sample.
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_sofarpc_mv TO latency_1m AS
SELECT
    toStartOfMinute(timestamp) AS minute,
    'sofarpc' AS source,
    side AS kind,
    service,
    method AS operation,
    count() AS requests,
    countIf(is_error) AS errors,
    countIf(latency_ms IS NULL) AS no_latency,
    -- The -If keeps NULL latencies out; the digest's state type equals a
    -- plain quantilesTDigest state over Float64.
    sumIf(toFloat64(assumeNotNull(latency_ms)), latency_ms IS NOT NULL) AS latency_sum_ms,
    maxIf(toFloat64(assumeNotNull(latency_ms)), latency_ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(toFloat64(assumeNotNull(latency_ms)), latency_ms IS NOT NULL) AS latency_quantiles
FROM sofarpc_digest
GROUP BY minute, kind, service, operation
