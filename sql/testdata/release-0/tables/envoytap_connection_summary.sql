-- One row per tapped connection (after merges; read with GROUP BY, merges are
-- eventual): local/remote address, first/last event time, events, bytes each
-- way, closed, truncation. Fed by views/envoytap_connection_summary_events_mv.sql
-- (times, bytes, closed, truncated bodies, per-event addresses) and
-- views/envoytap_connection_summary_connections_mv.sql (addresses of the
-- connection segment or buffered trace, trace-level truncation, and closed for
-- buffered traces: Envoy submits a buffered trace when the connection closes).
-- A streamed trace's rows come from many messages; this table is where they meet.
--
-- Key: (envoy, trace_id). Envoy's trace id is its connection id, unique only
-- within one Envoy process: it restarts from 0 when Envoy (hot-)restarts and
-- every Envoy has its own counter. "envoy" is the subject suffix the publisher
-- chose (logs.envoytap.<encoding>.<envoy>); publish with a suffix unique per
-- Envoy process (host/pod name plus start time or hot-restart epoch), or
-- repeated trace ids of different connections merge into one row. Nothing in
-- the trace itself can tell them apart: streamed event segments carry neither
-- addresses nor anything else per connection except the trace id.
--
-- Latency: duration = last_event - first_event of a closed connection (works
-- for streamed traces too, unlike the latency_1m feed); error: data in one
-- direction only. Both as defined in tables/envoytap_connections.sql.
--
--   SELECT envoy, trace_id, max(remote_address) AS remote, min(first_event) AS first,
--          max(last_event) AS last, sum(bytes_read), sum(bytes_written), max(closed)
--   FROM envoytap_connection_summary GROUP BY envoy, trace_id
CREATE TABLE IF NOT EXISTS envoytap_connection_summary
(
    envoy LowCardinality(String),
    trace_id UInt64,
    -- max() keeps the non-empty value: rows from event segments without a
    -- connection carry ''.
    local_address SimpleAggregateFunction(max, String),
    remote_address SimpleAggregateFunction(max, String),
    remote_host SimpleAggregateFunction(max, LowCardinality(String)),
    -- NULL on rows that carry no events (connection rows), ignored by min/max.
    first_event SimpleAggregateFunction(min, Nullable(DateTime64(9, 'UTC'))),
    last_event SimpleAggregateFunction(max, Nullable(DateTime64(9, 'UTC'))),
    events SimpleAggregateFunction(sum, UInt64),
    bytes_read SimpleAggregateFunction(sum, UInt64),
    bytes_written SimpleAggregateFunction(sum, UInt64),
    -- A closed event was seen (streamed), or a buffered trace arrived.
    closed SimpleAggregateFunction(max, Bool),
    read_truncated SimpleAggregateFunction(max, Bool),
    write_truncated SimpleAggregateFunction(max, Bool)
)
ENGINE = AggregatingMergeTree
-- No time column is known for every row (connection segments have none), so
-- the table is not partitioned: a connection's rows must be able to merge.
ORDER BY (envoy, trace_id)
-- The views' inserts are deduplicated with their source inserts: that needs a window here too.
SETTINGS non_replicated_deduplication_window = 10000
