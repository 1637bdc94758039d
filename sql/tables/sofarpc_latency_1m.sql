-- Per-minute SOFARPC call aggregates per side, app pair, service and method,
-- filled by views/sofarpc_latency_1m_mv.sql from sofarpc_digest.
-- Read with the -Merge combinators, e.g.
--   SELECT service, method, sum(calls), quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)
--   FROM sofarpc_latency_1m GROUP BY service, method
-- Latency and error are as defined in tables/sofarpc_digest.sql.
CREATE TABLE IF NOT EXISTS sofarpc_latency_1m
(
    minute DateTime('UTC'),
    side LowCardinality(String),
    local_app LowCardinality(String),
    remote_app LowCardinality(String),
    service LowCardinality(String),
    method LowCardinality(String),
    calls SimpleAggregateFunction(sum, UInt64),
    -- result.code != '00' (see sofarpc_digest)
    errors SimpleAggregateFunction(sum, UInt64),
    -- Calls without a latency sample (latency_ms NULL, see sofarpc_digest):
    -- the latency columns cover calls - no_latency samples.
    no_latency SimpleAggregateFunction(sum, UInt64),
    -- by result code: 01 business exception, 02 RPC logic error, 03 timeout, 04 routing failure
    code_01 SimpleAggregateFunction(sum, UInt64),
    code_02 SimpleAggregateFunction(sum, UInt64),
    code_03 SimpleAggregateFunction(sum, UInt64),
    code_04 SimpleAggregateFunction(sum, UInt64),
    latency_sum_ms SimpleAggregateFunction(sum, UInt64),
    latency_max_ms SimpleAggregateFunction(max, UInt32),
    -- t-digest states for p50, p90, p95, p99, p99.9 (in that order).
    latency_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99, 0.999), UInt32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (service, method, side, local_app, remote_app, minute)
-- The view's insert into this table is deduplicated with the source insert
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS non_replicated_deduplication_window = 10000
