-- Celery tasks into the cross-source latency_1m: kind 'task', service as in
-- django_events (or 'django' when the logs do not say), operation the task
-- name. One request per task_succeeded / task_failed, a latency sample when
-- it carries duration_ms (else counted in no_latency); latency and error as
-- defined in tables/django_events.sql (task_failed is an error,
-- task_succeeded is not).
--
-- Each outcome comes named from views/django_task_ends_mv.sql, through the
-- Null table django_task_ends; see there how the name is found.
--
-- Limitations, by design:
--   - task outcomes of tasks that never ran or were stopped add nothing
--     here: task_not_found, task_rejected and task_revoked; django_tasks
--     and queries/django_tasks_by_name.sql count every outcome. A
--     task_failed logged by the worker's parent process after the child
--     died (WorkerLostError: its timer is lost, upstream PR #1043) is a
--     request and an error without a latency (no_latency).
--   - a task whose name was never logged before its outcome reached
--     ClickHouse has an empty operation (views/django_task_ends_mv.sql).
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_django_tasks_mv TO latency_1m AS
SELECT
    toStartOfMinute(ended_at) AS minute,
    'django' AS source,
    'task' AS kind,
    if(svc = '', 'django', svc) AS service,
    operation,
    count() AS requests,
    countIf(is_error) AS errors,
    countIf(ms IS NULL) AS no_latency,
    sumIf(assumeNotNull(ms), ms IS NOT NULL) AS latency_sum_ms,
    maxIf(assumeNotNull(ms), ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(assumeNotNull(ms), ms IS NOT NULL) AS latency_quantiles
FROM django_task_ends
WHERE counted
GROUP BY minute, service, operation
