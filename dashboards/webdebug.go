package dashboards

func webdebugDashboard() Dashboard {
	requests := "source = 'webdebug' AND kind = 'request' AND $__timeFilter(minute)\n  AND " + conditional("service", "host")
	queries := "source = 'webdebug' AND kind = 'query' AND $__timeFilter(minute)\n  AND " + conditional("service", "target")
	events := "$__timeFilter(time)\n  AND " + conditionalNamed("doc_host", "host", "webdebug")
	return Dashboard{
		UID:   "tapline-webdebug",
		Title: "tapline / Web debug",
		Description: "Web debug profile documents (one per profiled request): request and query latency, slow queries by target, events by type, " +
			"failed events, and one request's event tree. Request latency is the response's duration (else the request event's); " +
			"an error is success false or a status >= 500 (sql/tables/webdebug_events.sql).",
		Variables: []Variable{
			{Name: "host", Label: "Host", Multi: true, IncludeAll: true,
				Query: "SELECT DISTINCT service FROM latency_1m WHERE source = 'webdebug' AND kind = 'request' AND $__timeFilter(minute) ORDER BY service"},
			{Name: "target", Label: "Query target", Multi: true, IncludeAll: true,
				Query: "SELECT DISTINCT service FROM latency_1m WHERE source = 'webdebug' AND kind = 'query' AND $__timeFilter(minute) ORDER BY service"},
			{Name: "doc", Label: "Request (slowest first)",
				Description: "A profiled request for the event tree panel: the 50 slowest documents of the time range.",
				Query: "SELECT doc_id, concat(toString(round(assumeNotNull(duration_ms))), ' ms ', doc_method, ' ', doc_host, doc_route, ' ', doc_id) AS text\n" +
					"FROM webdebug_documents WHERE $__timeFilter(time) AND duration_ms IS NOT NULL AND " + conditionalNamed("doc_host", "host", "webdebug") + "\nORDER BY duration_ms DESC LIMIT 50"},
		},
		Rows: []Row{
			{Title: "Requests and queries", Panels: []Panel{
				{
					Title: "Request latency (p50 / p99) by host", Description: "One sample per profiled request (latency_1m).",
					Type: "timeseries", Format: TimeSeries, Unit: "ms", Legend: "${__field.name} ${__field.labels.host}",
					SQL: `WITH greatest($__interval_s, 60) AS step, quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, service AS host,
       q[1] AS p50, q[4] AS p99
FROM latency_1m
WHERE ` + requests + `
GROUP BY t, host
ORDER BY t, host`,
				},
				{
					Title: "Query latency p99 by target", Description: "Database, cache and service calls the requests made (query events with a duration).",
					Type: "timeseries", Format: TimeSeries, Unit: "ms", Legend: "${__field.labels.target}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, service AS target,
       quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4] AS p99_ms
FROM latency_1m
WHERE ` + queries + `
GROUP BY t, target
ORDER BY t, target`,
				},
				{
					Title: "Slow queries by target", Description: "Query shapes (literals replaced by ?) with the highest p99 over the time range.",
					Type: "table", Format: Table, Width: 24, Height: 9, Units: latencyUnits,
					SQL: `WITH quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
SELECT service AS target, operation AS "query shape", sum(requests) AS queries, sum(errors) / queries AS "error rate",
       round(q[1], 2) AS "p50 ms", round(q[4], 2) AS "p99 ms", round(max(latency_max_ms), 2) AS "max ms"
FROM latency_1m
WHERE ` + queries + `
GROUP BY target, "query shape"
ORDER BY "p99 ms" DESC
LIMIT 30`,
				},
			}},
			{Title: "Events", Panels: []Panel{
				{
					Title: "Events per second by type", Description: "Profiled events at any depth (request, middleware, query, log, template, email, ...).",
					Type: "timeseries", Format: TimeSeries, Unit: "short", Stacked: true, Legend: "${__field.labels.type}",
					SQL: `SELECT $__timeInterval(time) AS t, type, count() / $__interval_s AS events_per_second
FROM webdebug_events
WHERE ` + events + `
GROUP BY t, type
ORDER BY t, type`,
				},
				{
					Title: "Failed events by type", Description: "Events with success false, or responses with a status of 500 or more.",
					Type: "timeseries", Format: TimeSeries, Unit: "short", Stacked: true, Bars: true, Legend: "${__field.labels.type}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(time, toIntervalSecond(step)) AS t, type, count() AS failed
FROM webdebug_events
WHERE ` + events + ` AND is_error
GROUP BY t, type
ORDER BY t, type`,
				},
				{
					Title: "Failed events", Description: "The latest failed events and the request they belong to (pick the request in the Request variable to see its tree).",
					Type: "table", Format: Table, Width: 24, Height: 9, Units: map[string]string{"duration ms": "ms"},
					SQL: `SELECT time, doc_host AS host, doc_method AS method, doc_route AS route, type,
       multiIf(type = 'query', concat(query_target, ': ', query_shape), type = 'log', message, type = 'response', toString(response_status), name) AS detail,
       duration_ms AS "duration ms", doc_id
FROM webdebug_events
WHERE ` + events + ` AND is_error
ORDER BY time DESC
LIMIT 100`,
				},
			}},
			{Title: "Requests", Panels: []Panel{
				{
					Title: "Slowest requests", Description: "The profiled requests with the longest durations in the time range.",
					Type: "table", Format: Table, Units: map[string]string{"duration ms": "ms"},
					SQL: `SELECT time, doc_host AS host, doc_method AS method, doc_route AS route, duration_ms AS "duration ms", events, errors, doc_id
FROM webdebug_documents
WHERE ` + events + ` AND duration_ms IS NOT NULL
ORDER BY duration_ms DESC
LIMIT 50`,
				},
				{
					Title: "Event tree of the selected request", Description: "Every event of the request chosen in the Request variable, as it happened (time_order), indented by depth.",
					Type: "table", Format: Table, Units: map[string]string{"at ms": "ms", "duration ms": "ms"},
					SQL: `SELECT dateDiff('millisecond', min(time) OVER (), time) AS "at ms", concat(repeat('. ', depth), type) AS event,
       multiIf(type = 'query', concat(query_target, ': ', query), type = 'log', message, type = 'request', concat(method, ' ', uri),
               type = 'response', toString(response_status), name) AS detail,
       duration_ms AS "duration ms", success, position
FROM webdebug_events
WHERE doc_id = ${doc:singlequote} AND time >= $__fromTime - INTERVAL 1 HOUR
ORDER BY time_order`,
				},
			}},
		},
	}
}
