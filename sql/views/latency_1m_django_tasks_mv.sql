-- Celery tasks into the cross-source latency_1m: kind 'task', service as in
-- django_events (or 'django' when the logs do not say), operation the task
-- name. One request per task_succeeded / task_failed, a latency sample when
-- it carries duration_ms (else counted in no_latency); latency and error as
-- defined in tables/django_events.sql (task_failed is an error,
-- task_succeeded is not).
--
-- Those lines carry the task_id but not the task's name, which is on its
-- task_started ("task") and on the line that enqueued it
-- (child_task_name). The name is taken from the line itself when a
-- signal receiver bound one (task_name), else from those lines in this
-- batch, else from django_tasks for the batch's task ids (an earlier
-- batch). Every reference to django_events below is the inserted batch only
-- (that is how ClickHouse runs a materialized view).
--
-- Limitations, by design:
--   - task outcomes of tasks that never ran or were stopped add nothing
--     here: task_not_found, task_rejected and task_revoked; django_tasks
--     and queries/django_tasks_by_name.sql count every outcome. A
--     task_failed logged by the worker's parent process after the child
--     died (WorkerLostError: its timer is lost, upstream PR #1043) is a
--     request and an error without a latency (no_latency).
--   - a task whose name was never logged before its outcome reached
--     ClickHouse (task_started in a later batch) has an empty operation.
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_django_tasks_mv TO latency_1m AS
SELECT
    toStartOfMinute(f.end_ts) AS minute,
    'django' AS source,
    'task' AS kind,
    if(f.svc = '', 'django', f.svc) AS service,
    if(f.own_name != '', f.own_name, n.found_name) AS operation,
    count() AS requests,
    countIf(f.end_error) AS errors,
    countIf(f.ms IS NULL) AS no_latency,
    sumIf(assumeNotNull(f.ms), f.ms IS NOT NULL) AS latency_sum_ms,
    maxIf(assumeNotNull(f.ms), f.ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(assumeNotNull(f.ms), f.ms IS NOT NULL) AS latency_quantiles
FROM
(
    SELECT task_id AS tid, timestamp AS end_ts, service AS svc, task_name AS own_name,
           is_error AS end_error, duration_ms AS ms
    FROM django_events
    WHERE event_name IN ('task_succeeded', 'task_failed') AND task_id != ''
) AS f
LEFT JOIN
(
    SELECT tid, max(nm) AS found_name
    FROM
    (
        SELECT task_id AS tid, task_name AS nm FROM django_events
        WHERE event_name = 'task_started' AND task_id != '' AND task_name != ''
        UNION ALL
        SELECT child_task_id AS tid, child_task_name AS nm FROM django_events
        WHERE event_name = 'task_enqueued' AND child_task_id != '' AND child_task_name != ''
        UNION ALL
        SELECT task_id AS tid, name AS nm FROM django_tasks
        WHERE task_id IN (
            SELECT task_id FROM django_events
            WHERE event_name IN ('task_succeeded', 'task_failed') AND task_id != ''
        ) AND name != ''
    )
    GROUP BY tid
) AS n
ON f.tid = n.tid
GROUP BY minute, service, operation
