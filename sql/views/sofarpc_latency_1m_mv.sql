-- Feeds sofarpc_latency_1m from every insert into sofarpc_digest.
CREATE MATERIALIZED VIEW IF NOT EXISTS sofarpc_latency_1m_mv TO sofarpc_latency_1m AS
SELECT
    toStartOfMinute(timestamp) AS minute,
    side,
    local_app,
    remote_app,
    service,
    method,
    count() AS calls,
    countIf(is_error) AS errors,
    countIf(result_code = '01') AS code_01,
    countIf(result_code = '02') AS code_02,
    countIf(result_code = '03') AS code_03,
    countIf(result_code = '04') AS code_04,
    countIf(latency_ms IS NULL) AS no_latency,
    -- A record without a latency (NULL) is a call but no sample: the -If
    -- keeps it out of the digest, whose state type is a plain one's.
    sumIf(toUInt64(assumeNotNull(latency_ms)), latency_ms IS NOT NULL) AS latency_sum_ms,
    maxIf(assumeNotNull(latency_ms), latency_ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(assumeNotNull(latency_ms), latency_ms IS NOT NULL) AS latency_quantiles
FROM sofarpc_digest
GROUP BY minute, side, local_app, remote_app, service, method
