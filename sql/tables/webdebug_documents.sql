-- One row per web debug scheme document (one profiled request), including
-- documents without events (the PHP emitter stores id and version only when
-- nothing was profiled), which add no row to webdebug_events. Written by
-- ingest/decode/webdebug; columns mirror schema.WebdebugDocuments.
-- duration_ms and is_error are the document's request-level latency and
-- error exactly as defined in tables/webdebug_events.sql (the event with
-- sample_kind 'request'); duration_ms is NULL when no request or response
-- event had a duration (the document is then a request without a latency).
CREATE TABLE IF NOT EXISTS webdebug_documents
(
    -- Earliest event time; 1970-01-01 when no event has a time.
    time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    doc_id String CODEC(ZSTD(1)),
    version UInt16,
    -- Events at any depth, and the deepest depth (0 = top level only).
    events UInt32,
    max_depth UInt8,
    -- Whether the events came oldest to newest, as the scheme promises.
    sorted Bool,
    -- Events with is_error.
    errors UInt32,
    -- The document's request (see webdebug_events); bounded by the routes.
    doc_method LowCardinality(String),
    doc_host LowCardinality(String),
    doc_route LowCardinality(String),
    doc_uri String CODEC(ZSTD(1)),
    duration_ms Nullable(Float64),
    -- The request-level error: of the sample event, else of the response,
    -- else of the request event; false without either.
    is_error Bool,
    -- Top-level keys tapline does not know; "uuid" when "id" was also given.
    extra Map(String, String) CODEC(ZSTD(1)),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    INDEX doc_id_bloom doc_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (doc_host, doc_route, time)
SETTINGS non_replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728
