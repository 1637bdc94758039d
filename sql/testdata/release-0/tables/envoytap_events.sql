-- One row per socket event of an Envoy tap transport-socket trace (a read,
-- a write or a close), from socket_buffered_trace documents and from
-- socket_streamed_trace_segment messages (event or events.events[]), JSON or
-- length-delimited protobuf, v3 or v2alpha. Written by
-- ingest/decode/envoytap; columns mirror schema.EnvoytapEvents.
-- Connection-level facts (addresses of streamed traces, trace-level
-- truncation, sampling) are in envoytap_connections; the per-connection view
-- is envoytap_connection_summary.
--
-- Latency for this source is connection duration, and error is a one-sided
-- connection; both are per connection, not per event, and are defined in
-- tables/envoytap_connections.sql. Events carry no latency of their own.
CREATE TABLE IF NOT EXISTS envoytap_events
(
    -- Event time as Envoy's system clock wrote it (nanoseconds).
    -- Delta+ZSTD: a trace's events are sorted by time inside a part.
    timestamp DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    -- The originating Envoy, from the subject suffix (logs.envoytap.<encoding>.<envoy>):
    -- trace ids are only unique per Envoy process. Few values: LowCardinality.
    envoy LowCardinality(String),
    -- Envoy's connection id; repeats across Envoys and restarts.
    trace_id UInt64 CODEC(Delta, ZSTD(1)),
    -- buffered | streamed: two values.
    mode LowCardinality(String),
    -- Position of the event in the record that carried it (events[] of a
    -- buffered trace, events.events[] of a streamed batch; 0 for a single event).
    event_index UInt32 CODEC(T64, ZSTD(1)),
    -- Envoy's data sequence number (Envoy >= 1.34); 0 when not written.
    seq_num UInt64 CODEC(Delta, ZSTD(1)),
    -- read | write | closed: three values.
    kind LowCardinality(String),
    -- Body bytes as captured (after truncation); 0 for closed.
    bytes UInt32 CODEC(T64, ZSTD(1)),
    -- A write that half-closed the connection.
    end_stream Bool,
    -- The body was cut to max_buffered_rx_bytes / max_buffered_tx_bytes.
    truncated Bool,
    -- A bounded prefix of the body (decode.Options.BodyPrefix, default 256
    -- bytes), raw bytes: plaintext protocols compress well with ZSTD.
    body String CODEC(ZSTD(3)),
    -- host:port as Envoy wrote them, when the record named the connection;
    -- ephemeral ports make them high-cardinality, so plain String + ZSTD.
    local_address String CODEC(ZSTD(1)),
    remote_address String CODEC(ZSTD(1)),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(timestamp)
-- Reading a connection's events is the common query: trace first.
ORDER BY (envoy, trace_id, timestamp, event_index)
SETTINGS non_replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728
