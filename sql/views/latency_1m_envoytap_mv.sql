-- Envoy tap connections into the cross-source latency_1m: one sample per
-- buffered trace, in the minute of its last event. kind is 'connection';
-- service is the remote host without port (clients for a listener tap,
-- upstream hosts for a cluster tap); operation is the local listener address
-- "host:port", or the local host alone when the local port is 32768 or above
-- (Linux's default ephemeral range: the source port of a cluster tap's
-- outgoing connection, unique per connection, would make the column unbounded),
-- or 'socket' when Envoy sent no local address.
-- Latency is duration_ms (first to last event of the buffered trace) and error
-- is is_error (data one way only), both defined with their limits in
-- tables/envoytap_connections.sql. A buffered trace with a time but no
-- duration would count in requests and no_latency, never as a 0 ms sample
-- (the decoder gives every timed trace a duration); one without any event
-- time has no minute and adds nothing. Streamed traces feed nothing: no single
-- message knows a streamed connection's duration (see envoytap_connection_summary).
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_envoytap_mv TO latency_1m AS
SELECT
    toStartOfMinute(assumeNotNull(last_event)) AS minute,
    'envoytap' AS source,
    'connection' AS kind,
    if(remote_host = '', 'unknown', toString(remote_host)) AS service,
    multiIf(local_address = '', 'socket', local_port >= 32768, toString(local_host), local_address) AS operation,
    count() AS requests,
    countIf(assumeNotNull(is_error)) AS errors,
    countIf(duration_ms IS NULL) AS no_latency,
    sumIf(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_sum_ms,
    maxIf(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_quantiles
FROM envoytap_connections
WHERE mode = 'buffered' AND last_event IS NOT NULL
GROUP BY minute, service, operation
