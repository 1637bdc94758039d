-- One row per SOFARPC / SOFATracer stat record: the calls of one stat key in
-- one reporting period, split by outcome. Written by ingest/decode/sofarpc;
-- columns mirror schema.SofarpcStat. The nested stat.key object is flattened
-- into local_app, remote_app, service, method (+ stat_key_extra).
CREATE TABLE IF NOT EXISTS sofarpc_stat
(
    -- Flush time of the period (JVM-local time read in the configured zone).
    time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    -- client | server, taken from the subject (stat lines do not say).
    side LowCardinality(String),
    local_app LowCardinality(String),
    remote_app LowCardinality(String),
    service LowCardinality(String),
    method LowCardinality(String),
    count UInt64,
    total_cost_ms UInt64,
    -- "Y"/"true" (result.code 00) or "N"/"false".
    success Bool,
    -- "T"/"F" in non-RPC SOFATracer stat logs; NULL when absent (RPC).
    load_test Nullable(Bool),
    stat_key_extra Map(String, String),
    extra Map(String, String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (service, method, side, time)
SETTINGS non_replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728
