-- Feeds django_requests from every insert into django_events: one row per
-- request_id of the batch, folded with earlier rows of the same request by
-- the AggregatingMergeTree (see tables/django_requests.sql). Lines of the
-- request's Celery tasks carry its request_id too and count in lines.
-- Columns are qualified (e.*): an aggregate's alias may not shadow the
-- column it aggregates.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_requests_mv TO django_requests AS
SELECT
    e.request_id AS request_id,
    min(toDate(e.timestamp)) AS day,
    max(e.service) AS service,
    maxIf(e.method, e.event_name IN ('request_started', 'request_finished', 'request_failed')) AS method,
    maxIf(e.path, e.event_name IN ('request_started', 'request_finished', 'request_failed')) AS path,
    maxIf(e.request, e.event_name IN ('request_started', 'request_finished', 'request_failed')) AS request,
    max(e.user_id) AS user_id,
    max(e.ip) AS ip,
    max(e.correlation_id) AS correlation_id,
    maxIf(e.user_agent, e.event_name = 'request_started') AS user_agent,
    maxIf(toNullable(e.timestamp), e.event_name = 'request_started') AS started_at,
    maxIf(toNullable(e.timestamp), e.event_name IN ('request_finished', 'request_failed', 'request_cancelled')) AS ended_at,
    maxIf(ifNull(e.code, 0), e.event_name IN ('request_finished', 'request_failed')) AS code,
    max(e.event_name = 'request_failed') AS failed,
    max(e.event_name = 'request_cancelled') AS cancelled,
    maxIf(toNullable(e.timestamp), e.event_name IN ('streaming_finished', 'streaming_failed', 'streaming_cancelled')) AS streaming_ended_at,
    max(e.event_name = 'streaming_failed') AS streaming_failed,
    max(e.event_name = 'streaming_cancelled') AS streaming_cancelled,
    count() AS lines,
    countIf(e.is_error) AS error_lines,
    countIf(e.event_name = 'task_enqueued') AS tasks_enqueued
FROM django_events AS e
WHERE e.request_id != ''
GROUP BY e.request_id
