-- Celery tasks per name, derived at query time from django_tasks: every
-- outcome (succeeded, failed, revoked, not found, rejected), the duration
-- of the attempts that logged one (task latency, tables/django_events.sql),
-- the time tasks waited in the queue (first task_started - task_enqueued)
-- and retries. Errors are failed, not found, rejected and expired tasks.
-- {since:DateTime64(6)} bounds when tasks were enqueued (or started, or
-- ended, for tasks whose earlier lines were not seen).
SELECT
    name,
    count() AS tasks,
    countIf(has_succeeded) AS succeeded,
    countIf(is_error) AS errors,
    countIf(was_revoked) AS revoked,
    countIf(ended IS NULL) AS unfinished,
    sum(retried) AS retries,
    round(quantilesIf(0.5, 0.99)(duration, duration IS NOT NULL)[1], 3) AS p50_ms,
    round(quantilesIf(0.5, 0.99)(duration, duration IS NOT NULL)[2], 3) AS p99_ms,
    round(quantilesIf(0.5, 0.99)(queue_ms, queue_ms IS NOT NULL)[2], 3) AS p99_queue_ms
FROM
(
    SELECT
        t.task_id,
        max(t.name) AS name,
        max(t.succeeded) = 1 AS has_succeeded,
        max(t.failed) = 1 OR max(t.not_found) = 1 OR max(t.rejected) = 1 OR max(t.expired) = 1 AS is_error,
        max(t.revoked) = 1 AS was_revoked,
        max(t.ended_at) AS ended,
        sum(t.retries) AS retried,
        max(t.duration_ms) AS duration,
        dateDiff('microsecond', min(t.enqueued_at), min(t.started_at)) / 1000 AS queue_ms
    FROM django_tasks AS t
    GROUP BY t.task_id
    HAVING coalesce(min(t.enqueued_at), min(t.started_at), max(t.ended_at)) >= {since:DateTime64(6)}
)
GROUP BY name
ORDER BY tasks DESC, name
