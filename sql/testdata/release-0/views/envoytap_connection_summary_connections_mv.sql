-- Feeds envoytap_connection_summary from every insert into
-- envoytap_connections: the addresses (the only place a streamed trace names
-- them, unless set_connection_per_event is on), trace-level truncation, and
-- closed for buffered traces (Envoy submits one when the connection closes).
-- Event counts, times and bytes come from the events view only, so a buffered
-- trace is not counted twice.
CREATE MATERIALIZED VIEW IF NOT EXISTS envoytap_connection_summary_connections_mv TO envoytap_connection_summary AS
SELECT
    envoy,
    trace_id,
    local_address,
    remote_address,
    remote_host,
    mode = 'buffered' AS closed,
    read_truncated,
    write_truncated
FROM envoytap_connections
