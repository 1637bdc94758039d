-- Feeds django_tasks from every insert into django_events: one row per task
-- of the batch, folded with earlier rows of the same task by the
-- AggregatingMergeTree (see tables/django_tasks.sql). A task_enqueued line
-- belongs to the task it enqueues (child_task_id); its own task_id, when
-- set, is that task's parent. Columns are qualified (e.*): an aggregate's
-- alias may not shadow the column it aggregates.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_tasks_mv TO django_tasks AS
SELECT
    if(e.event_name = 'task_enqueued', e.child_task_id, e.task_id) AS task_id,
    min(toDate(e.timestamp)) AS day,
    max(e.service) AS service,
    max(multiIf(e.event_name = 'task_enqueued', e.child_task_name,
                e.event_name IN ('task_started', 'task_revoked', 'task_not_found'), e.task_name, '')) AS name,
    max(if(e.event_name = 'task_enqueued', e.task_id, e.parent_task_id)) AS parent_task_id,
    max(e.request_id) AS request_id,
    max(e.user_id) AS user_id,
    maxIf(e.routing_key, e.event_name = 'task_enqueued') AS routing_key,
    minIf(toNullable(e.timestamp), e.event_name = 'task_enqueued') AS enqueued_at,
    minIf(toNullable(e.timestamp), e.event_name = 'task_started') AS started_at,
    maxIf(toNullable(e.timestamp), e.event_name IN ('task_succeeded', 'task_failed', 'task_revoked', 'task_not_found', 'task_rejected')) AS ended_at,
    maxIf(e.duration_ms, e.event_name IN ('task_succeeded', 'task_failed')) AS duration_ms,
    countIf(e.event_name = 'task_started') AS attempts,
    countIf(e.event_name = 'task_retrying') AS retries,
    max(e.event_name = 'task_succeeded') AS succeeded,
    max(e.event_name = 'task_failed') AS failed,
    max(e.event_name = 'task_revoked') AS revoked,
    max(e.event_name = 'task_revoked' AND ifNull(e.expired, false)) AS expired,
    max(e.event_name = 'task_not_found') AS not_found,
    max(e.event_name = 'task_rejected') AS rejected,
    maxIf(e.error, e.event_name = 'task_failed') AS error,
    countIf(e.event_name != 'task_enqueued') AS lines,
    countIf(e.is_error AND e.event_name != 'task_enqueued') AS error_lines
FROM django_events AS e
WHERE if(e.event_name = 'task_enqueued', e.child_task_id, e.task_id) != ''
GROUP BY if(e.event_name = 'task_enqueued', e.child_task_id, e.task_id)
