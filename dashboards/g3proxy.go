package dashboards

// g3proxyFilter filters g3proxy_task_1m (and g3proxy_task: same columns).
func g3proxyFilter(timeColumn string) string {
	return "$__timeFilter(" + timeColumn + ")\n  AND " + conditional("server_name", "server") + "\n  AND " + conditional("task_type", "task_type")
}

func g3proxyDashboard() Dashboard {
	agg := g3proxyFilter("minute")
	return Dashboard{
		UID:   "tapline-g3proxy",
		Title: "tapline / g3proxy",
		Description: "g3proxy task logs: tasks by server and type, how they ended (reason, stage), time to ready, bytes each way and the HTTP status mix, " +
			"from g3proxy_task_1m (one row per Finished task record; what an error is: sql/tables/g3proxy_task.sql).",
		Variables: []Variable{
			{Name: "server", Label: "Server", Multi: true, IncludeAll: true,
				Query: "SELECT DISTINCT server_name FROM g3proxy_task_1m WHERE $__timeFilter(minute) ORDER BY server_name"},
			{Name: "task_type", Label: "Task type", Multi: true, IncludeAll: true,
				Query: "SELECT DISTINCT task_type FROM g3proxy_task_1m WHERE $__timeFilter(minute) AND " + conditional("server_name", "server") + " ORDER BY task_type"},
		},
		Rows: []Row{
			{Title: "Tasks", Panels: []Panel{
				{
					Title: "Tasks per second by server and type", Description: "Finished tasks per second.",
					Type: "timeseries", Format: TimeSeries, Unit: "reqps", Stacked: true, Legend: "${__field.labels.server_name} ${__field.labels.task_type}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, server_name, task_type, sum(tasks) / step AS tasks_per_second
FROM g3proxy_task_1m
WHERE ` + agg + `
GROUP BY t, server_name, task_type
ORDER BY t, server_name, task_type`,
				},
				{
					Title: "Error rate by server", Description: "Tasks that ended abnormally / finished tasks (reasons other than Finished, ClosedByClient, Idle, ClosedByUpstream of a tunnel).",
					Type: "timeseries", Format: TimeSeries, Unit: "percentunit", Legend: "${__field.labels.server_name}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, server_name, sum(errors) / sum(tasks) AS error_rate
FROM g3proxy_task_1m
WHERE ` + agg + `
GROUP BY t, server_name
ORDER BY t, server_name`,
				},
				{
					Title: "Ending reasons", Description: "How tasks ended (ServerTaskError::brief), over the time range.",
					Type: "barchart", Format: Table, Horizontal: true, XField: "reason", Unit: "short",
					SQL: `SELECT reason, sumIf(tasks, errors = 0) AS normal, sum(errors) AS failed
FROM g3proxy_task_1m
WHERE ` + agg + `
GROUP BY reason
ORDER BY normal + failed DESC
LIMIT 20`,
				},
				{
					Title: "Failures by stage", Description: "Failed tasks by the stage they had reached (Preparing, Connecting, Relaying, ...) and reason.",
					Type: "barchart", Format: Table, Horizontal: true, XField: "stage", Unit: "short",
					SQL: `SELECT stage, sumIf(errors, reason LIKE 'Client%') AS client, sumIf(errors, reason LIKE 'Upstream%') AS upstream,
       sumIf(errors, reason NOT LIKE 'Client%' AND reason NOT LIKE 'Upstream%') AS other
FROM g3proxy_task_1m
WHERE ` + agg + `
GROUP BY stage
HAVING client + upstream + other > 0
ORDER BY client + upstream + other DESC`,
				},
			}},
			{Title: "Time and bytes", Panels: []Panel{
				{
					Title: "Time to ready (p50 / p90 / p99)", Description: "From task creation to relaying, for the tasks that got there.",
					Type: "timeseries", Format: TimeSeries, Unit: "ms",
					SQL: `WITH greatest($__interval_s, 60) AS step, quantilesTDigestMerge(0.5, 0.9, 0.99)(ready_time_quantiles) AS q
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t,
       q[1] AS p50, q[2] AS p90, q[3] AS p99
FROM g3proxy_task_1m
WHERE ` + agg + ` AND ready_tasks > 0
GROUP BY t
ORDER BY t`,
				},
				{
					Title: "Task duration p99 by server and operation", Description: "total_time of finished tasks (latency_1m, source g3proxy): the whole exchange for HTTP, the session length for tunnels.",
					Type: "timeseries", Format: TimeSeries, Unit: "ms", Legend: "${__field.labels.service} ${__field.labels.operation}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, service, operation,
       quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4] AS p99_ms
FROM latency_1m
WHERE source = 'g3proxy' AND $__timeFilter(minute) AND ` + conditional("service", "server") + `
  AND ` + conditional("splitByChar(' ', operation)[1]", "task_type") + `
GROUP BY t, service, operation
ORDER BY t, service, operation`,
				},
				{
					Title: "Bytes per second each way", Description: "Client side (read from / written to clients) and upstream side (read from / written to upstreams, FTP control and data connections included).",
					Type: "timeseries", Format: TimeSeries, Unit: "Bps",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t,
       sum(client_rd_bytes) / step AS "client read", sum(client_wr_bytes) / step AS "client written",
       sum(upstream_rd_bytes) / step AS "upstream read", sum(upstream_wr_bytes) / step AS "upstream written"
FROM g3proxy_task_1m
WHERE ` + agg + `
GROUP BY t
ORDER BY t`,
				},
				{
					Title: "HTTP status mix", Description: "Statuses g3proxy sent to clients of HttpForward and FtpOverHttp tasks, per second, by class.",
					Type: "timeseries", Format: TimeSeries, Unit: "reqps", Stacked: true, Bars: true, Legend: "${__field.labels.status}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, concat(toString(intDiv(rsp_status, 100)), 'xx') AS status, sum(tasks) / step AS tasks_per_second
FROM g3proxy_task_1m
WHERE ` + agg + ` AND rsp_status > 0
GROUP BY t, status
ORDER BY t, status`,
				},
			}},
			{Title: "Servers and failures", Panels: []Panel{
				{
					Title: "Servers and task types", Description: "Over the time range: finished tasks, error rate, time to ready, bytes and the most frequent ending reasons.",
					Type: "table", Format: Table, Width: 24, Height: 9,
					Units: map[string]string{"error rate": "percentunit", "avg ready ms": "ms", "p99 ready ms": "ms", "bytes to clients": "decbytes", "bytes to upstreams": "decbytes"},
					SQL: `SELECT server_name AS server, task_type AS "task type", sum(tasks) AS finished, sum(errors) / finished AS "error rate",
       round(sum(ready_time_sum_ms) / nullIf(sum(ready_tasks), 0), 3) AS "avg ready ms",
       round(quantilesTDigestMerge(0.5, 0.9, 0.99)(ready_time_quantiles)[3], 3) AS "p99 ready ms",
       sum(client_wr_bytes) AS "bytes to clients", sum(upstream_wr_bytes) AS "bytes to upstreams",
       arrayStringConcat(topKWeighted(3)(reason, tasks), ', ') AS "top reasons"
FROM g3proxy_task_1m
WHERE ` + agg + `
GROUP BY server_name, task_type
ORDER BY server_name, task_type`,
				},
				{
					Title: "Recent failed tasks", Description: "The latest tasks that ended abnormally, with g3proxy's error text (raw g3proxy_task rows, Finished records).",
					Type: "table", Format: Table, Width: 24, Height: 10,
					SQL: `SELECT event_time AS time, server_name AS server, task_type AS "task type", stage, reason, msg AS error,
       upstream, client_addr AS client, rsp_status AS status, task_id
FROM g3proxy_task
WHERE ` + g3proxyFilter("event_time") + `
  AND task_event = 'Finished' AND is_error
ORDER BY event_time DESC
LIMIT 100`,
				},
			}},
		},
	}
}
