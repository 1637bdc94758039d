-- Closes the tasks django_task_ends_mv found open in django_open_tasks: a
-- row with sign -1 per such outcome, which merges collapse with the task's
-- row (tables/django_open_tasks.sql). It is fed by django_task_ends, so it
-- runs only after the naming has read the table.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_open_tasks_close_mv TO django_open_tasks AS
SELECT task_id, '' AS name, toInt8(-1) AS sign
FROM django_task_ends
WHERE open_in_table
