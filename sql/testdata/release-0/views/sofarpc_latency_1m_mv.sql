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
    sum(toUInt64(latency_ms)) AS latency_sum_ms,
    max(latency_ms) AS latency_max_ms,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99, 0.999)(latency_ms) AS latency_quantiles
FROM sofarpc_digest
GROUP BY minute, side, local_app, remote_app, service, method
