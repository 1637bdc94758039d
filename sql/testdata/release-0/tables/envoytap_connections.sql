-- One row per Envoy tap record that describes a connection: every
-- socket_buffered_trace (mode 'buffered'), and every
-- socket_streamed_trace_segment that carries only the connection (mode
-- 'streamed', the first segment Envoy emits for a connection). A streamed
-- connection segment has no timestamp, which is why it is a row here and not
-- an event row. Written by ingest/decode/envoytap; columns mirror
-- schema.EnvoytapConnections.
--
-- duration_ms, the latency the views use: the connection's duration as the
-- tap saw it, last event time minus first event time, in milliseconds. Only a
-- buffered trace knows both ends in one record, so only buffered rows have it
-- (NULL for streamed rows). Limits:
--   * Envoy writes no close event into a buffered trace (it submits the trace
--     when the connection closes), so the duration ends at the last read or
--     write, not at the close; it starts at the first read or write, not at
--     accept/connect. An idle tail before the close is not measured.
--   * Once a direction is truncated Envoy stops recording its events, so a
--     truncated trace can end early.
--   * With SocketTapConfig.min_buffered_bytes Envoy submits several buffered
--     traces per connection; each is measured on its own and tapline cannot
--     tell them apart from whole connections.
--   * Streamed traces: the segment with the close cannot know the first event
--     time without state across messages, which decoders do not keep. Their
--     durations are only in envoytap_connection_summary (max(last_event) -
--     min(first_event) at query time, see queries/envoytap_connection_duration.sql).
--
-- is_error, the error the views count: the connection carried data in one
-- direction only (bytes read, nothing written, or the reverse). A
-- request/response protocol (HTTP/1.1, what taps usually capture) answers
-- every request, so a one-sided connection is a request that got no reply
-- (upstream unreachable, timeout, reset) or a reply to nothing. A connection
-- with no data at all (health-check connect, TLS handshake failure: the tap
-- sees plaintext only) is not an error: there is no evidence. Truncation is
-- not an error: it is the tap's own buffer limit, and a truncated direction
-- still counts as having carried data. NULL for streamed rows (no events).
-- One-way protocols (log shipping) make every connection an "error": read
-- their error rate accordingly.
CREATE TABLE IF NOT EXISTS envoytap_connections
(
    -- The originating Envoy (subject suffix); see envoytap_events.
    envoy LowCardinality(String),
    trace_id UInt64,
    -- buffered | streamed.
    mode LowCardinality(String),
    -- Address as Envoy wrote it: "ip:port", "[v6]:port", a pipe path, or
    -- "envoy://listener/endpoint"; empty when Envoy sent none (an upstream
    -- connection's local address before it connects).
    local_address String CODEC(ZSTD(1)),
    -- Hosts repeat across connections (listener IPs, clients, upstreams).
    local_host LowCardinality(String),
    local_port UInt16,
    remote_address String CODEC(ZSTD(1)),
    remote_host LowCardinality(String),
    remote_port UInt16,
    -- TraceWrapper.configured_sample_rate as a fraction (0..1); NULL when
    -- sampling is not configured (Envoy sets it on buffered traces and on the
    -- first streamed segment only).
    sample_rate Nullable(Float64),
    -- Events in this record; 0 for a streamed connection segment.
    events UInt32,
    first_event Nullable(DateTime64(9, 'UTC')),
    last_event Nullable(DateTime64(9, 'UTC')),
    duration_ms Nullable(Float64),
    -- Body bytes captured each way (after truncation): a lower bound of the
    -- traffic when the matching *_truncated flag is set.
    bytes_read UInt64,
    bytes_written UInt64,
    -- SocketBufferedTrace.read_truncated/write_truncated, or any body of that
    -- direction marked truncated.
    read_truncated Bool,
    write_truncated Bool,
    is_error Nullable(Bool),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = MergeTree
-- Streamed connection rows have no event time: partition by arrival month.
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (envoy, trace_id)
SETTINGS non_replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728
