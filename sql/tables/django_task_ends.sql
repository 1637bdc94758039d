-- One row per task outcome (task_succeeded, task_failed, task_revoked,
-- task_rejected, task_not_found) of an inserted batch, named by
-- views/django_task_ends_mv.sql. Null engine: it stores
-- nothing; the views on it receive each batch's rows:
--   - views/latency_1m_django_tasks_mv.sql aggregates them into latency_1m;
--   - views/django_open_tasks_close_mv.sql closes the tasks they found in
--     django_open_tasks.
-- Both run after the naming has read django_open_tasks, because they are
-- fed by it.
CREATE TABLE IF NOT EXISTS django_task_ends
(
    task_id String,
    ended_at DateTime64(6, 'UTC'),
    -- django_events.service of the outcome ('' when the logs do not say).
    svc LowCardinality(String),
    -- The outcome line's own task_name, else the name found: latency_1m's operation.
    operation LowCardinality(String),
    is_error Bool,
    -- duration_ms of the outcome line; NULL: no sample.
    ms Nullable(Float64),
    -- The task is open in django_open_tasks (named in an earlier batch).
    open_in_table Bool,
    -- task_succeeded or task_failed: latency_1m counts it. The others only
    -- close the task (the task never ran, or was stopped).
    counted Bool
)
ENGINE = Null
