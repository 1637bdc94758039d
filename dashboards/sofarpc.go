package dashboards

// sofarpcFilter filters sofarpc_latency_1m and sofarpc_stat (same columns)
// on the dashboard's service, method and side.
func sofarpcFilter(timeColumn string) string {
	return bothSides(timeColumn) + "\n  AND " + conditional("side", "side")
}

// bothSides filters on service and method only, for panels that compare or
// pick the sides themselves.
func bothSides(timeColumn string) string {
	return "$__timeFilter(" + timeColumn + ")\n  AND " + conditional("service", "service") + "\n  AND " + conditional("method", "method")
}

func sofarpcDashboard() Dashboard {
	agg := sofarpcFilter("minute")
	return Dashboard{
		UID:   "tapline-sofarpc",
		Title: "tapline / SOFARPC",
		Description: "SOFARPC / SOFATracer digest and stat logs: latency and result codes per service and method, client against server, " +
			"the app-to-app call matrix and stat-log throughput. Client latency is client.elapse.time; server latency is pool wait + " +
			"deserialization + business + serialization; an error is a result.code other than 00 (sql/tables/sofarpc_digest.sql).",
		Variables: []Variable{
			{Name: "service", Label: "Service", Multi: true, IncludeAll: true,
				Query: "SELECT DISTINCT service FROM sofarpc_latency_1m WHERE $__timeFilter(minute) ORDER BY service"},
			{Name: "method", Label: "Method", Multi: true, IncludeAll: true,
				Query: "SELECT DISTINCT method FROM sofarpc_latency_1m WHERE $__timeFilter(minute) AND " + conditional("service", "service") + " ORDER BY method"},
			{Name: "side", Label: "Side", Multi: true, IncludeAll: true, Values: []string{"client", "server"},
				Description: "client: as the caller measured it; server: time spent in the provider."},
		},
		Rows: []Row{
			{Title: "Calls, latency and errors", Panels: []Panel{
				{
					Title: "Calls per second by service", Description: "Digest records per second, client and server side.",
					Type: "timeseries", Format: TimeSeries, Unit: "reqps", Legend: "${__field.labels.side} ${__field.labels.service}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, side, service, sum(calls) / step AS calls_per_second
FROM sofarpc_latency_1m
WHERE ` + agg + `
GROUP BY t, side, service
ORDER BY t, side, service`,
				},
				{
					Title: "p99 latency by method, client and server", Description: "The gap between a method's client and server lines is network, queueing and client-side serialization.",
					Type: "timeseries", Format: TimeSeries, Unit: "ms", Legend: "${__field.labels.side} ${__field.labels.method}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, side, method,
       quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4] AS p99_ms
FROM sofarpc_latency_1m
WHERE ` + agg + `
GROUP BY t, side, method
ORDER BY t, side, method`,
				},
				{
					Title: "Error rate by service", Description: "Calls with result.code other than 00 / calls.",
					Type: "timeseries", Format: TimeSeries, Unit: "percentunit", Legend: "${__field.labels.side} ${__field.labels.service}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, side, service, sum(errors) / sum(calls) AS error_rate
FROM sofarpc_latency_1m
WHERE ` + agg + `
GROUP BY t, side, service
ORDER BY t, side, service`,
				},
				{
					Title: "Result codes per second", Description: "Failed calls by result.code: 01 business exception, 02 RPC logic error, 03 timeout, 04 routing failure (timeouts and routing failures show on the client side only).",
					Type: "timeseries", Format: TimeSeries, Unit: "reqps", Stacked: true, Bars: true,
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t,
       sum(code_01) / step AS "01 business exception", sum(code_02) / step AS "02 RPC logic error",
       sum(code_03) / step AS "03 timeout", sum(code_04) / step AS "04 routing failure"
FROM sofarpc_latency_1m
WHERE ` + agg + `
GROUP BY t
ORDER BY t`,
				},
			}},
			{Title: "Services, methods and apps", Panels: []Panel{
				{
					Title: "Services and methods", Description: "Over the time range, per side: calls, error rate, latency percentiles and failed calls by result code.",
					Type: "table", Format: Table, Width: 24, Height: 10, Units: latencyUnits,
					SQL: `WITH quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
SELECT service, method, side, sum(calls) AS calls, sum(errors) / calls AS "error rate",
       round(q[1], 1) AS "p50 ms", round(q[2], 1) AS "p90 ms", round(q[4], 1) AS "p99 ms", max(latency_max_ms) AS "max ms",
       sum(code_01) AS "01", sum(code_02) AS "02", sum(code_03) AS "03", sum(code_04) AS "04"
FROM sofarpc_latency_1m
WHERE ` + agg + `
GROUP BY service, method, side
ORDER BY service, method, side`,
				},
				{
					Title: "App-to-app calls", Description: "Who calls whom, as the callers saw it (client side, whatever the Side filter): calls, error rate, timeouts and latency per caller and callee app.",
					Type: "table", Format: Table, Units: latencyUnits,
					SQL: `SELECT local_app AS caller, remote_app AS callee, sum(calls) AS calls, sum(errors) / calls AS "error rate", sum(code_03) AS timeouts,
       round(quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4], 1) AS "p99 ms"
FROM sofarpc_latency_1m
WHERE ` + bothSides("minute") + ` AND side = 'client'
GROUP BY caller, callee
ORDER BY calls DESC`,
				},
				{
					Title: "Client against server latency", Description: "Per method, the p99 each side measured (both sides, whatever the Side filter); overhead = client p99 - server p99 (network, queueing, serialization).",
					Type: "table", Format: Table, Units: map[string]string{"client p99 ms": "ms", "server p99 ms": "ms", "overhead ms": "ms"},
					SQL: `SELECT service, method,
       round(quantilesTDigestMergeIf(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles, side = 'client')[4], 1) AS "client p99 ms",
       round(quantilesTDigestMergeIf(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles, side = 'server')[4], 1) AS "server p99 ms",
       "client p99 ms" - "server p99 ms" AS "overhead ms"
FROM sofarpc_latency_1m
WHERE ` + bothSides("minute") + `
GROUP BY service, method
HAVING sumIf(calls, side = 'client') > 0 AND sumIf(calls, side = 'server') > 0
ORDER BY "overhead ms" DESC`,
				},
			}},
			{Title: "Stat logs", Panels: []Panel{
				{
					Title: "Stat-log throughput by outcome", Description: "Calls per second reported by the periodic stat logs (sofarpc_stat), successful and failed.",
					Type: "timeseries", Format: TimeSeries, Unit: "reqps", Stacked: true, Legend: "${__field.labels.side} ${__field.labels.outcome}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(time, toIntervalSecond(step)) AS t, side, if(success, 'success', 'failure') AS outcome, sum(count) / step AS calls_per_second
FROM sofarpc_stat
WHERE ` + sofarpcFilter("time") + `
GROUP BY t, side, outcome
ORDER BY t, side, outcome`,
				},
				{
					Title: "Stat-log average cost per call", Description: "total.cost.milli / count of the stat logs, per service.",
					Type: "timeseries", Format: TimeSeries, Unit: "ms", Legend: "${__field.labels.side} ${__field.labels.service}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(time, toIntervalSecond(step)) AS t, side, service, sum(total_cost_ms) / sum(count) AS avg_ms
FROM sofarpc_stat
WHERE ` + sofarpcFilter("time") + ` AND count > 0
GROUP BY t, side, service
ORDER BY t, side, service`,
				},
			}},
		},
	}
}
