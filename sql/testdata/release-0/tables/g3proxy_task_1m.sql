-- Per-minute g3proxy task outcomes by server, task type, reason, stage and
-- HTTP status, filled by views/g3proxy_task_1m_mv.sql from the Finished
-- records of g3proxy_task (one row per task; Created/Connected/Periodic and
-- *Shutdown records carry running totals and are left out). It answers the
-- dashboard questions over long ranges without scanning every record: tasks
-- by server and type, the reason breakdown, failures by stage, time to
-- ready, bytes each way, the HTTP status mix. Latency percentiles per server
-- and operation live in latency_1m (source 'g3proxy').
-- Read with sum() and quantilesTDigestMerge(0.5, 0.9, 0.99)(ready_time_quantiles).
-- Latency and error are as defined in tables/g3proxy_task.sql.
CREATE TABLE IF NOT EXISTS g3proxy_task_1m
(
    minute DateTime('UTC'),
    -- Few distinct values each: dictionary-encoded.
    server_type LowCardinality(String),
    server_name LowCardinality(String),
    task_type LowCardinality(String),
    reason LowCardinality(String),
    -- The stage the task had reached when it ended (failures by stage).
    stage LowCardinality(String),
    -- Status sent to the client; 0 when none was sent or the task is no
    -- HTTP task.
    rsp_status UInt16,
    tasks SimpleAggregateFunction(sum, UInt64),
    -- is_error of tables/g3proxy_task.sql.
    errors SimpleAggregateFunction(sum, UInt64),
    -- Bytes read from / written to the client (c_rd_bytes, c_wr_bytes) and
    -- the upstream side (r_*, plus ftp_c_* and ftp_d_* for FtpOverHttp).
    client_rd_bytes SimpleAggregateFunction(sum, UInt64),
    client_wr_bytes SimpleAggregateFunction(sum, UInt64),
    upstream_rd_bytes SimpleAggregateFunction(sum, UInt64),
    upstream_wr_bytes SimpleAggregateFunction(sum, UInt64),
    -- Time to ready (ready_time: creation to relaying) of the tasks that got
    -- there; tasks that failed earlier have no ready_time and are not counted.
    ready_tasks SimpleAggregateFunction(sum, UInt64),
    ready_time_sum_ms SimpleAggregateFunction(sum, Float64),
    -- t-digest states for p50, p90, p99 of ready_time in milliseconds.
    ready_time_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (server_name, server_type, task_type, reason, stage, rsp_status, minute)
-- The view's insert into this table is deduplicated with the source insert
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS non_replicated_deduplication_window = 10000
