-- One row per batch the pipeline committed, written by the pipeline right
-- after the batch's own inserts and before its messages are acknowledged,
-- with the batch's deduplication token (suffix ":pipeline_batches"), so a
-- replayed batch is counted once here as in the data tables. Columns mirror
-- schema.PipelineBatches. records are input records decoded into rows;
-- dead_letters are records of the batch's messages published to the
-- dead-letter stream; rows counts rows over all of the source's tables;
-- insert_ms is the time the batch's inserts took; replayed marks a batch
-- re-inserted from the journal after a restart; instance names the tapline
-- process that committed the batch, and adopted marks a batch it committed
-- for another process that had journaled it (and stopped before committing).
-- instance and adopted came with alters/0001_pipeline_batches_instance.sql:
-- rows committed before it have '' and false. Kept for --retention-batches
-- (TTL on committed_at, set by tapline, not in this file).
CREATE TABLE IF NOT EXISTS pipeline_batches
(
    -- Commit time, filled by ClickHouse.
    committed_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    -- A handful of sources, streams and consumers: dictionary-encoded.
    source LowCardinality(String),
    stream LowCardinality(String),
    consumer LowCardinality(String),
    first_seq UInt64,
    last_seq UInt64,
    messages UInt32,
    records UInt64,
    dead_letters UInt64,
    rows UInt64,
    replayed Bool,
    insert_ms Float64,
    -- Last, in the order alters/0001 adds them, so fresh and upgraded tables
    -- have the same column order. Few processes: dictionary-encoded.
    instance LowCardinality(String),
    adopted Bool
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(committed_at)
-- Dashboards read one source's batches over a time range.
ORDER BY (source, committed_at)
SETTINGS non_replicated_deduplication_window = 10000
