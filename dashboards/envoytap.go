package dashboards

func envoytapDashboard() Dashboard {
	lat := "source = 'envoytap' AND $__timeFilter(minute)\n  AND " + conditional("service", "remote")
	// Connections rows carry an event time only for buffered traces;
	// ingested_at (the partition key) is never before the event, so it bounds
	// the scan without losing rows.
	conns := "ingested_at >= $__fromTime - INTERVAL 1 HOUR\n  AND coalesce(last_event, ingested_at) >= $__fromTime AND coalesce(last_event, ingested_at) <= $__toTime\n  AND " +
		conditional("if(remote_host = '', 'unknown', toString(remote_host))", "remote")
	return Dashboard{
		UID:   "tapline-envoytap",
		Title: "tapline / Envoy tap",
		Description: "Envoy transport-socket taps: connections, bytes each way, durations, truncation and the busiest remote addresses. " +
			"Duration is first to last event of a buffered trace; an error is a connection with data one way only (sql/tables/envoytap_connections.sql). " +
			"Socket-event panels cover buffered and streamed traces; duration panels buffered traces.",
		Variables: []Variable{
			{Name: "remote", Label: "Remote host", Multi: true, IncludeAll: true,
				Query:       "SELECT DISTINCT service FROM latency_1m WHERE source = 'envoytap' AND $__timeFilter(minute) ORDER BY service",
				Description: "Filters the duration and connection panels; socket events of streamed traces carry no address, so event panels show every host."},
		},
		Rows: []Row{
			{Title: "Connections and bytes", Panels: []Panel{
				{
					Title: "Connections with traffic", Description: "Distinct connections (Envoy, trace id) with at least one socket event in each interval, by tap mode.",
					Type: "timeseries", Format: TimeSeries, Unit: "short", Stacked: true, Legend: "${__field.labels.mode}",
					SQL: `SELECT $__timeInterval(timestamp) AS t, mode, uniqExact(envoy, trace_id) AS connections
FROM envoytap_events
WHERE $__timeFilter(timestamp)
GROUP BY t, mode
ORDER BY t, mode`,
				},
				{
					Title: "Closed connections per second by remote host", Description: "Buffered traces (one per closed connection) per second (latency_1m).",
					Type: "timeseries", Format: TimeSeries, Unit: "reqps", Stacked: true, Legend: "${__field.labels.remote}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, service AS remote, sum(requests) / step AS connections_per_second
FROM latency_1m
WHERE ` + lat + `
GROUP BY t, remote
ORDER BY t, remote`,
				},
				{
					Title: "Bytes per second each way", Description: "Body bytes the tap captured, read from and written to the peer (after truncation: a lower bound when truncated).",
					Type: "timeseries", Format: TimeSeries, Unit: "Bps", Legend: "${__field.labels.kind}",
					SQL: `SELECT $__timeInterval(timestamp) AS t, kind, sum(bytes) / $__interval_s AS bytes_per_second
FROM envoytap_events
WHERE $__timeFilter(timestamp) AND kind IN ('read', 'write')
GROUP BY t, kind
ORDER BY t, kind`,
				},
				{
					Title: "Truncated bodies per second", Description: "Socket events whose body was cut at the tap's buffer limit (max_buffered_rx_bytes / max_buffered_tx_bytes), by direction.",
					Type: "timeseries", Format: TimeSeries, Unit: "short", Stacked: true, Bars: true, Legend: "${__field.labels.kind}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(timestamp, toIntervalSecond(step)) AS t, kind, countIf(truncated) / step AS truncated_per_second
FROM envoytap_events
WHERE $__timeFilter(timestamp) AND kind IN ('read', 'write')
GROUP BY t, kind
ORDER BY t, kind`,
				},
			}},
			{Title: "Durations and peers", Panels: []Panel{
				{
					Title: "Connection duration (p50 / p90 / p99)", Description: "First to last event of buffered traces (latency_1m).",
					Type: "timeseries", Format: TimeSeries, Unit: "ms",
					SQL: `WITH greatest($__interval_s, 60) AS step, quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t,
       q[1] AS p50, q[2] AS p90, q[4] AS p99
FROM latency_1m
WHERE ` + lat + `
GROUP BY t
ORDER BY t`,
				},
				{
					Title: "One-sided connections by remote host", Description: "Share of connections that carried data in one direction only (a request without a reply, or the reverse).",
					Type: "timeseries", Format: TimeSeries, Unit: "percentunit", Legend: "${__field.labels.remote}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, service AS remote, sum(errors) / sum(requests) AS one_sided
FROM latency_1m
WHERE ` + lat + `
GROUP BY t, remote
ORDER BY t, remote`,
				},
				{
					Title: "Top remote addresses", Description: "Remote hosts with the most tapped connections in the time range: bytes each way, one-sided and truncated shares, duration.",
					Type: "table", Format: Table, Width: 24, Height: 9,
					Units: map[string]string{"bytes read": "decbytes", "bytes written": "decbytes", "one-sided": "percentunit", "truncated": "percentunit", "p99 ms": "ms"},
					SQL: `SELECT if(remote_host = '', 'unknown', toString(remote_host)) AS remote, count() AS connections,
       sum(bytes_read) AS "bytes read", sum(bytes_written) AS "bytes written",
       countIf(assumeNotNull(is_error)) / countIf(is_error IS NOT NULL) AS "one-sided",
       countIf(read_truncated OR write_truncated) / connections AS truncated,
       round(quantileIf(0.99)(duration_ms, duration_ms IS NOT NULL), 1) AS "p99 ms"
FROM envoytap_connections
WHERE ` + conns + `
GROUP BY remote
ORDER BY connections DESC
LIMIT 25`,
				},
				{
					Title: "Longest connections", Description: "Buffered traces with the longest durations, with their addresses, bytes and truncation.",
					Type: "table", Format: Table, Width: 24, Height: 9,
					Units: map[string]string{"duration ms": "ms", "bytes read": "decbytes", "bytes written": "decbytes"},
					SQL: `SELECT first_event AS start, envoy, trace_id, local_address AS local, remote_address AS remote, round(duration_ms, 1) AS "duration ms",
       bytes_read AS "bytes read", bytes_written AS "bytes written", read_truncated, write_truncated, is_error AS "one-sided"
FROM envoytap_connections
WHERE ` + conns + ` AND mode = 'buffered'
ORDER BY duration_ms DESC
LIMIT 25`,
				},
			}},
		},
	}
}
