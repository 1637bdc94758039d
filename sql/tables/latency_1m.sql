-- Cross-source per-minute latency and error aggregates: one table that
-- answers "p99 latency and error rate per source and service" for every
-- format. Each source has a view in views/latency_1m_<source>_mv.sql that
-- says what latency and error mean for it:
--   sofarpc   kind client|server, service, operation = method
--             (latency and error as in tables/sofarpc_digest.sql)
--   g3proxy   kind task, service = server_name, operation = task_type (+ " " + method
--             for HttpForward/FtpOverHttp); one sample per task from its Finished
--             record: latency = total_time, error = abnormal reason (tables/g3proxy_task.sql)
--   webdebug  kind request: service = host (else 'webdebug'), operation = route shape,
--             one sample per document (response duration, else request duration);
--             kind query: service = target, operation = query shape; error =
--             success false or status >= 500 (tables/webdebug_events.sql)
--   django    kind request (operation = path) | task (operation = task name);
--             samples with a known latency only (views/latency_1m_django_*_mv.sql)
--   envoytap  kind connection, service = remote host, operation = local listener
--             (latency = buffered trace duration, error = one-sided connection,
--             as in tables/envoytap_connections.sql)
-- Latency is always milliseconds (Float64, so sub-millisecond sources keep
-- their precision). Read with -Merge combinators:
--   SELECT source, service, sum(requests), sum(errors) / sum(requests) AS error_rate,
--          sum(latency_sum_ms) / (sum(requests) - sum(no_latency)) AS avg_ms,
--          quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4] AS p99
--   FROM latency_1m WHERE minute >= now() - INTERVAL 1 HOUR GROUP BY source, service
CREATE TABLE IF NOT EXISTS latency_1m
(
    minute DateTime('UTC'),
    source LowCardinality(String),
    -- What was measured: a call side, a task, a request, a query, a connection.
    kind LowCardinality(String),
    service LowCardinality(String),
    operation LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    -- Requests without a latency sample (a SOFARPC digest without a usable
    -- timing, a g3proxy task without total_time, a web debug sample or a
    -- Celery task without a duration): latency_sum_ms and latency_quantiles
    -- cover requests - no_latency samples; average with that, not requests.
    no_latency SimpleAggregateFunction(sum, UInt64),
    latency_sum_ms SimpleAggregateFunction(sum, Float64),
    latency_max_ms SimpleAggregateFunction(max, Float64),
    -- t-digest states for p50, p90, p95, p99, p99.9 (in that order).
    latency_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99, 0.999), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (source, service, operation, kind, minute)
SETTINGS non_replicated_deduplication_window = 10000
