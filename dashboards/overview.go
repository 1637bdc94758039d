package dashboards

import "strings"

// latencyFilter is the Overview's filter on latency_1m.
var latencyFilter = "$__timeFilter(minute)\n  AND " + conditional("source", "source") + "\n  AND " + conditional("service", "service")

// sourceTables are the raw tables of each source and the time column of
// their sort key: what "records" and "rows written" count.
var sourceTables = []struct{ source, table, timeColumn string }{
	{"sofarpc", "sofarpc_digest", "timestamp"},
	{"sofarpc", "sofarpc_stat", "time"},
	{"g3proxy", "g3proxy_task", "event_time"},
	{"webdebug", "webdebug_documents", "time"},
	{"webdebug", "webdebug_events", "time"},
	{"django", "django_events", "timestamp"},
	{"envoytap", "envoytap_events", "timestamp"},
	{"envoytap", "envoytap_connections", ""}, // partitioned by ingested_at; no event time on every row
}

// recordTables are the tables whose rows are one source record each (for
// Envoy tap: one socket event; a tap record holds many).
var recordTables = map[string]bool{
	"sofarpc_digest": true, "sofarpc_stat": true, "g3proxy_task": true, "webdebug_documents": true,
	"django_events": true, "envoytap_events": true,
}

// recordsUnion counts rows per source and interval by event time.
func recordsUnion() string {
	var parts []string
	for _, st := range sourceTables {
		if !recordTables[st.table] {
			continue
		}
		parts = append(parts, "  SELECT $__timeInterval("+st.timeColumn+") AS t, '"+st.source+"' AS source, count() AS n FROM "+st.table+
			" WHERE $__timeFilter("+st.timeColumn+") GROUP BY t")
	}
	return strings.Join(parts, "\n  UNION ALL\n")
}

// ingestUnion selects rows committed in the time range (by ingested_at)
// per table. ingested_at is in no sort key; the event-time bound (a day
// before the range) keeps the scan to the partitions that can hold them.
func ingestUnion(columns string) string {
	var parts []string
	for _, st := range sourceTables {
		where := "$__timeFilter(ingested_at)"
		if st.timeColumn != "" {
			where += " AND " + st.timeColumn + " >= $__fromTime - INTERVAL 1 DAY"
		}
		parts = append(parts, "  SELECT "+strings.ReplaceAll(columns, "{table}", "'"+st.table+"'")+", '"+st.source+"' AS source FROM "+st.table+" WHERE "+where+" GROUP BY t")
	}
	return strings.Join(parts, "\n  UNION ALL\n")
}

func overviewDashboard() Dashboard {
	return Dashboard{
		UID:   "tapline-overview",
		Title: "tapline / Overview",
		Description: "Every source at a glance: throughput, latency percentiles and error rates from the cross-source view latency_1m " +
			"(what latency and error mean per source: sql/tables/latency_1m.sql), the slowest operations, and the pipeline's writes.",
		Variables: []Variable{
			{Name: "source", Label: "Source", Multi: true, IncludeAll: true,
				Query: "SELECT DISTINCT source FROM latency_1m WHERE $__timeFilter(minute) ORDER BY source"},
			{Name: "service", Label: "Service", Multi: true, IncludeAll: true,
				Query: "SELECT DISTINCT service FROM latency_1m WHERE $__timeFilter(minute) AND " + conditional("source", "source") + " ORDER BY service"},
		},
		Rows: []Row{
			{Title: "Throughput and errors", Panels: []Panel{
				{
					Title:       "Records per second by source",
					Description: "Rows of each source's record tables per second, by event time: log lines (SOFARPC digest and stat, g3proxy, Django), web debug documents, Envoy tap socket events.",
					Type:        "timeseries", Format: TimeSeries, Unit: "short", Stacked: true, Legend: "${__field.labels.source}",
					SQL: "SELECT t, source, sum(n) / $__interval_s AS records_per_second\nFROM (\n" + recordsUnion() + "\n)\nWHERE " + conditional("source", "source") +
						"\nGROUP BY t, source\nORDER BY t, source",
				},
				{
					Title:       "Requests per second by source",
					Description: "Requests per second in latency_1m (with or without a latency sample): SOFARPC calls, g3proxy tasks, web debug requests and queries, Django requests and Celery tasks, Envoy tap connections.",
					Type:        "timeseries", Format: TimeSeries, Unit: "reqps", Stacked: true, Legend: "${__field.labels.source}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, source, sum(requests) / step AS requests_per_second
FROM latency_1m
WHERE ` + latencyFilter + `
GROUP BY t, source
ORDER BY t, source`,
				},
				{
					Title:       "Error rate by source",
					Description: "Errors / requests in latency_1m, per source.",
					Type:        "timeseries", Format: TimeSeries, Unit: "percentunit", Legend: "${__field.labels.source}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, source, sum(errors) / sum(requests) AS error_rate
FROM latency_1m
WHERE ` + latencyFilter + `
GROUP BY t, source
ORDER BY t, source`,
				},
				{
					Title:       "p99 latency by source",
					Description: "99th percentile latency per source, merged from the t-digests of latency_1m.",
					Type:        "timeseries", Format: TimeSeries, Unit: "ms", Legend: "${__field.labels.source}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, source,
       quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4] AS p99_ms
FROM latency_1m
WHERE ` + latencyFilter + `
GROUP BY t, source
ORDER BY t, source`,
				},
			}},
			{Title: "Latency and errors per service", Panels: []Panel{
				{
					Title:       "Latency and error rate by source and service",
					Description: "p50 / p95 / p99 latency and error rate over the time range, per source, kind and service (latency_1m). Percentiles are over the requests with a latency; \"no latency\" counts the others (a digest without a usable timing, a task without a duration, a request whose start was not logged).",
					Type:        "table", Format: Table, Width: 24, Height: 10, Units: latencyUnits,
					SQL: `WITH quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
SELECT source, kind, service, sum(requests) AS requests, sum(no_latency) AS "no latency", sum(errors) / requests AS "error rate",
       round(q[1], 2) AS "p50 ms", round(q[3], 2) AS "p95 ms", round(q[4], 2) AS "p99 ms", round(max(latency_max_ms), 2) AS "max ms"
FROM latency_1m
WHERE ` + latencyFilter + `
GROUP BY source, kind, service
ORDER BY source, kind, requests DESC
LIMIT 200`,
				},
				{
					Title:       "Slowest operations",
					Description: "The operations with the highest p99 latency over the time range (operation: RPC method, g3proxy task type, route or query shape, path or task name, listener).",
					Type:        "table", Format: Table, Width: 24, Height: 10, Units: latencyUnits,
					SQL: `WITH quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
SELECT source, kind, service, operation, sum(requests) AS requests, sum(errors) / requests AS "error rate",
       round(q[1], 2) AS "p50 ms", round(q[4], 2) AS "p99 ms", round(max(latency_max_ms), 2) AS "max ms"
FROM latency_1m
WHERE ` + latencyFilter + `
GROUP BY source, kind, service, operation
ORDER BY "p99 ms" DESC
LIMIT 25`,
				},
			}},
			{Title: "Pipeline health", Panels: []Panel{
				{
					Title: "Rows written per second by table",
					Description: "Rows committed per second (ClickHouse's ingested_at of each row) in every raw table: the pipeline's write rate, including replays. " +
						"Rows whose event time is more than a day before the time range are not counted.",
					Type: "timeseries", Format: TimeSeries, Unit: "short", Stacked: true, Legend: "${__field.labels.table_name}",
					SQL: "SELECT t, table_name, sum(n) / $__interval_s AS rows_per_second\nFROM (\n" +
						ingestUnion("$__timeInterval(ingested_at) AS t, {table} AS table_name, count() AS n") +
						"\n)\nWHERE " + conditional("source", "source") + "\nGROUP BY t, table_name\nORDER BY t, table_name",
				},
				{
					Title:       "Records and dead letters per second by source",
					Description: "From pipeline_batches, one row per committed batch written by the pipeline itself: records decoded into rows, and records sent to the dead-letter stream (list them with `tapline dlq list`, replay them with `tapline dlq replay`).",
					Type:        "timeseries", Format: TimeSeries, Unit: "short",
					SQL: `SELECT $__timeInterval(committed_at) AS t, source,
       sum(records) / $__interval_s AS records_per_second,
       sum(dead_letters) / $__interval_s AS dead_letters_per_second
FROM pipeline_batches
WHERE $__timeFilter(committed_at) AND ` + conditional("source", "source") + `
GROUP BY t, source
ORDER BY t, source`,
				},
				{
					Title:       "Batches by source",
					Description: "Committed batches in the time range: records, dead letters, rows over all tables, batches replayed from the journal after a restart, and insert time per batch.",
					Type:        "table", Format: Table, Units: map[string]string{"p99 insert ms": "ms", "avg insert ms": "ms"},
					SQL: `SELECT source, count() AS batches, sum(records) AS records, sum(dead_letters) AS "dead letters", sum(rows) AS rows,
       countIf(replayed) AS replayed, round(avg(insert_ms), 1) AS "avg insert ms", round(quantile(0.99)(insert_ms), 1) AS "p99 insert ms",
       max(committed_at) AS "last commit"
FROM pipeline_batches
WHERE $__timeFilter(committed_at) AND ` + conditional("source", "source") + `
GROUP BY source
ORDER BY source`,
				},
				{
					Title:       "Last write per table",
					Description: "Rows committed in the time range and the last commit per table; a source whose table stops getting rows while its producers run points at the pipeline (see `tapline run`'s log and `tapline dlq list`).",
					Type:        "table", Format: Table, Units: map[string]string{"seconds since": "s"},
					SQL: "SELECT table_name AS \"table\", source, sum(n) AS rows, max(last) AS \"last write\", dateDiff('second', max(last), now()) AS \"seconds since\"\nFROM (\n" +
						ingestUnion("toStartOfHour(ingested_at) AS t, {table} AS table_name, count() AS n, max(ingested_at) AS last") +
						"\n)\nWHERE " + conditional("source", "source") + "\nGROUP BY table_name, source\nORDER BY source, table_name",
				},
			}},
		},
	}
}
