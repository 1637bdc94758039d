package dashboards

func djangoDashboard() Dashboard {
	lat := func(kind string) string {
		return "source = 'django' AND kind = '" + kind + "' AND $__timeFilter(minute)\n  AND " + conditional("service", "service")
	}
	events := "$__timeFilter(timestamp)\n  AND " + conditionalNamed("service", "service", "django")
	return Dashboard{
		UID:   "tapline-django",
		Title: "tapline / Django",
		Description: "Django requests and Celery tasks logged through django-structlog: request rate, status classes, latency per path, " +
			"task durations, failures, retries and revocations. Request latency is request_started to the request's end event; task " +
			"latency is the worker's duration_ms (sql/tables/django_events.sql).",
		Variables: []Variable{
			{Name: "service", Label: "Service", Multi: true, IncludeAll: true,
				Query: "SELECT DISTINCT service FROM latency_1m WHERE source = 'django' AND $__timeFilter(minute) ORDER BY service"},
		},
		Rows: []Row{
			{Title: "Requests", Panels: []Panel{
				{
					Title: "Request rate", Description: "Requests whose start and end were both seen, per second (latency_1m).",
					Type: "timeseries", Format: TimeSeries, Unit: "reqps", Legend: "${__field.labels.service}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, service, sum(requests) / step AS requests_per_second
FROM latency_1m
WHERE ` + lat("request") + `
GROUP BY t, service
ORDER BY t, service`,
				},
				{
					Title: "Responses by status class", Description: "request_finished and request_failed lines per second by HTTP status class.",
					Type: "timeseries", Format: TimeSeries, Unit: "reqps", Stacked: true, Bars: true, Legend: "${__field.labels.status}",
					SQL: `SELECT $__timeInterval(timestamp) AS t, concat(toString(intDiv(assumeNotNull(code), 100)), 'xx') AS status, count() / $__interval_s AS responses_per_second
FROM django_events
WHERE ` + events + `
  AND event_name IN ('request_finished', 'request_failed') AND code IS NOT NULL
GROUP BY t, status
ORDER BY t, status`,
				},
				{
					Title: "Request latency (p50 / p90 / p99)", Description: "Time from request_started to the request's end (latency_1m).",
					Type: "timeseries", Format: TimeSeries, Unit: "ms",
					SQL: `WITH greatest($__interval_s, 60) AS step, quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t,
       q[1] AS p50, q[2] AS p90, q[4] AS p99
FROM latency_1m
WHERE ` + lat("request") + `
GROUP BY t
ORDER BY t`,
				},
				{
					Title: "Latency per path", Description: "Over the time range, the busiest paths: requests, error rate (failed or 5xx) and latency percentiles.",
					Type: "table", Format: Table, Units: latencyUnits,
					SQL: `WITH quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles) AS q
SELECT operation AS path, sum(requests) AS requests, sum(errors) / requests AS "error rate",
       round(q[1], 1) AS "p50 ms", round(q[2], 1) AS "p90 ms", round(q[4], 1) AS "p99 ms", round(max(latency_max_ms), 1) AS "max ms"
FROM latency_1m
WHERE ` + lat("request") + `
GROUP BY path
ORDER BY requests DESC
LIMIT 50`,
				},
			}},
			{Title: "Celery tasks", Panels: []Panel{
				{
					Title: "Task duration p99 by task", Description: "duration_ms of task_succeeded and task_failed: one execution, without the queue wait (latency_1m).",
					Type: "timeseries", Format: TimeSeries, Unit: "ms", Legend: "${__field.labels.task}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(minute, toIntervalSecond(step)) AS t, operation AS task,
       quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4] AS p99_ms
FROM latency_1m
WHERE ` + lat("task") + `
GROUP BY t, task
ORDER BY t, task`,
				},
				{
					Title: "Failures, retries and revocations", Description: "Task lines per minute by outcome: task_failed, task_retrying, task_revoked, task_not_found, task_rejected.",
					Type: "timeseries", Format: TimeSeries, Unit: "short", Stacked: true, Bars: true, Legend: "${__field.labels.outcome}",
					SQL: `WITH greatest($__interval_s, 60) AS step
SELECT toStartOfInterval(timestamp, toIntervalSecond(step)) AS t, event_name AS outcome, count() AS lines
FROM django_events
WHERE ` + events + `
  AND event_name IN ('task_failed', 'task_retrying', 'task_revoked', 'task_not_found', 'task_rejected')
GROUP BY t, outcome
ORDER BY t, outcome`,
				},
				{
					Title: "Tasks by name", Description: "Celery tasks enqueued, started or ended in the time range (django_tasks): outcomes, retries, revocations, execution time and queue wait.",
					Type: "table", Format: Table, Width: 24, Height: 8,
					Units: map[string]string{"p50 ms": "ms", "p99 ms": "ms", "p99 queue ms": "ms"},
					SQL: `SELECT name AS task, count() AS tasks, countIf(has_succeeded) AS succeeded, countIf(is_error) AS failed,
       sum(retried) AS retries, countIf(was_revoked) AS revoked, countIf(was_expired) AS expired, countIf(ended IS NULL) AS unfinished,
       round(quantileIf(0.5)(duration, duration IS NOT NULL), 1) AS "p50 ms",
       round(quantileIf(0.99)(duration, duration IS NOT NULL), 1) AS "p99 ms",
       round(quantileIf(0.99)(queue_ms, queue_ms IS NOT NULL), 1) AS "p99 queue ms"
FROM
(
    SELECT d.task_id, max(d.name) AS name, max(d.succeeded) = 1 AS has_succeeded,
           max(d.failed) = 1 OR max(d.not_found) = 1 OR max(d.rejected) = 1 OR max(d.expired) = 1 AS is_error,
           max(d.revoked) = 1 AS was_revoked, max(d.expired) = 1 AS was_expired, max(d.ended_at) AS ended, sum(d.retries) AS retried,
           max(d.duration_ms) AS duration, dateDiff('microsecond', min(d.enqueued_at), min(d.started_at)) / 1000 AS queue_ms,
           coalesce(min(d.enqueued_at), min(d.started_at), max(d.ended_at)) AS seen
    FROM django_tasks AS d
    WHERE d.day >= toDate($__fromTime) - 1
    GROUP BY d.task_id
    HAVING seen >= $__fromTime AND seen <= $__toTime AND ` + conditional("if(max(d.service) = '', 'django', max(d.service))", "service") + `
)
GROUP BY task
ORDER BY tasks DESC`,
				},
			}},
			{Title: "Errors", Panels: []Panel{
				{
					Title: "Recent errors", Description: "The latest error lines: failed requests and 5xx, failed, lost or rejected tasks, expired revocations, other loggers' errors.",
					Type: "table", Format: Table, Width: 24, Height: 10,
					SQL: `SELECT timestamp AS time, service, level, if(event_name = '', logger, event_name) AS "event name",
       request, code AS status, task_name AS task, if(error != '', error, if(reason != '', reason, event)) AS message, request_id, task_id
FROM django_events
WHERE ` + events + ` AND is_error
ORDER BY timestamp DESC
LIMIT 100`,
				},
			}},
		},
	}
}
