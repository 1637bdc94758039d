-- Feeds envoytap_connection_summary from every insert into envoytap_events:
-- per connection in the block, its first and last event time, event count,
-- bytes each way, whether it closed, truncated bodies, and the addresses when
-- the events carried them (buffered traces, set_connection_per_event).
CREATE MATERIALIZED VIEW IF NOT EXISTS envoytap_connection_summary_events_mv TO envoytap_connection_summary AS
SELECT
    envoy,
    trace_id,
    max(local_address) AS local_address,
    max(remote_address) AS remote_address,
    min(timestamp) AS first_event,
    max(timestamp) AS last_event,
    count() AS events,
    sumIf(toUInt64(bytes), kind = 'read') AS bytes_read,
    sumIf(toUInt64(bytes), kind = 'write') AS bytes_written,
    max(kind = 'closed') AS closed,
    max(truncated AND kind = 'read') AS read_truncated,
    max(truncated AND kind = 'write') AS write_truncated
FROM envoytap_events
GROUP BY envoy, trace_id
