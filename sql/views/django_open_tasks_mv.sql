-- Tasks named in the inserted batch whose outcome (any, including
-- task_revoked, task_rejected, task_not_found) is not in it, for
-- views/django_task_ends_mv.sql to name the outcome when it comes in a
-- later batch (tables/django_open_tasks.sql). Every django_events below is
-- the inserted batch only; django_open_tasks is small. A task already open
-- there (enqueued in one batch, started in the next) is not added again, so
-- one row with sign -1 closes it.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_open_tasks_mv TO django_open_tasks AS
SELECT tid AS task_id, max(nm) AS name, toInt8(1) AS sign
FROM
(
    SELECT task_id AS tid, task_name AS nm FROM django_events
    WHERE event_name = 'task_started' AND task_id != '' AND task_name != ''
    UNION ALL
    SELECT child_task_id AS tid, child_task_name AS nm FROM django_events
    WHERE event_name = 'task_enqueued' AND child_task_id != '' AND child_task_name != ''
)
WHERE tid NOT IN (
        SELECT task_id FROM django_events
        WHERE event_name IN ('task_succeeded', 'task_failed', 'task_revoked', 'task_rejected', 'task_not_found') AND task_id != ''
    )
    AND tid NOT IN (SELECT task_id FROM django_open_tasks WHERE sign = 1)
GROUP BY tid
