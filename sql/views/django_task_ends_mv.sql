-- Names each task outcome (task_succeeded, task_failed; and task_revoked,
-- task_rejected, task_not_found, which only close the task) of the inserted
-- batch, into the Null table django_task_ends (whose views aggregate
-- latency_1m and close the tasks found in django_open_tasks).
--
-- Those lines carry the task_id but not the task's name, which is on its
-- task_started ("task") and on the line that enqueued it
-- (child_task_name). The name is taken from the line itself when a
-- signal receiver bound one (task_name), else from those lines in this
-- batch, else from django_open_tasks for the batch's task ids (named in an
-- earlier batch and not ended yet). Every reference to django_events below
-- is the inserted batch only (that is how ClickHouse runs a materialized
-- view).
--
-- Limitations, by design:
--   - a task whose name was never logged before its outcome reached
--     ClickHouse (task_started in a later batch) has an empty operation.
--   - a task named before django_open_tasks existed (running while tapline
--     was upgraded to it) has an empty operation unless its outcome line
--     names it.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_task_ends_mv TO django_task_ends AS
SELECT
    f.tid AS task_id,
    f.end_ts AS ended_at,
    f.svc AS svc,
    if(f.own_name != '', f.own_name, n.found_name) AS operation,
    f.end_error AS is_error,
    f.ms AS ms,
    ifNull(n.in_table, 0) = 1 AS open_in_table,
    f.event_name IN ('task_succeeded', 'task_failed') AS counted
FROM
(
    SELECT task_id AS tid, timestamp AS end_ts, service AS svc, task_name AS own_name,
           is_error AS end_error, duration_ms AS ms, event_name
    FROM django_events
    WHERE event_name IN ('task_succeeded', 'task_failed', 'task_revoked', 'task_rejected', 'task_not_found') AND task_id != ''
) AS f
LEFT JOIN
(
    SELECT tid, max(nm) AS found_name, max(from_table) AS in_table
    FROM
    (
        SELECT task_id AS tid, task_name AS nm, toUInt8(0) AS from_table FROM django_events
        WHERE event_name = 'task_started' AND task_id != '' AND task_name != ''
        UNION ALL
        SELECT child_task_id AS tid, child_task_name AS nm, toUInt8(0) AS from_table FROM django_events
        WHERE event_name = 'task_enqueued' AND child_task_id != '' AND child_task_name != ''
        UNION ALL
        SELECT task_id AS tid, name AS nm, toUInt8(1) AS from_table FROM django_open_tasks
        WHERE sign = 1 AND task_id IN (
            SELECT task_id FROM django_events
            WHERE event_name IN ('task_succeeded', 'task_failed', 'task_revoked', 'task_rejected', 'task_not_found') AND task_id != ''
        )
    )
    GROUP BY tid
) AS n
ON f.tid = n.tid
