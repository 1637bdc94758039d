-- Issue 13. sofarpc_digest: the other SOFATracer digests' documented fields
-- get columns (tables/sofarpc_digest.sql says what each holds), and
-- latency_ms is NULL for a record without a usable timing instead of 0.
-- The latency aggregates count the requests without a latency sample in
-- no_latency (requests - no_latency = samples); rows aggregated before this
-- alter read 0 there. The views that fill them are replaced in place from
-- their new files (views/ files that changed are applied with MODIFY QUERY,
-- see sql/migrate.go). MODIFY COLUMN to Nullable rewrites latency_ms of
-- the existing parts (a mutation): old rows keep their value, 0 included.
ALTER TABLE sofarpc_digest
    MODIFY COLUMN latency_ms Nullable(UInt32) CODEC(T64, ZSTD(1)),
    ADD COLUMN IF NOT EXISTS request_url String CODEC(ZSTD(1)) AFTER local_port,
    ADD COLUMN IF NOT EXISTS sql String CODEC(ZSTD(1)) AFTER request_url,
    ADD COLUMN IF NOT EXISTS database_name LowCardinality(String) AFTER sql,
    ADD COLUMN IF NOT EXISTS database_type LowCardinality(String) AFTER database_name,
    ADD COLUMN IF NOT EXISTS database_endpoint LowCardinality(String) AFTER database_type,
    ADD COLUMN IF NOT EXISTS time_cost_ms Nullable(UInt32) AFTER req_deserialize_ms,
    ADD COLUMN IF NOT EXISTS total_time_ms Nullable(UInt32) AFTER time_cost_ms,
    ADD COLUMN IF NOT EXISTS connection_establish_ms Nullable(UInt32) AFTER total_time_ms,
    ADD COLUMN IF NOT EXISTS db_execute_ms Nullable(UInt32) AFTER connection_establish_ms;
ALTER TABLE latency_1m
    ADD COLUMN IF NOT EXISTS no_latency SimpleAggregateFunction(sum, UInt64) AFTER errors;
ALTER TABLE sofarpc_latency_1m
    ADD COLUMN IF NOT EXISTS no_latency SimpleAggregateFunction(sum, UInt64) AFTER errors;
