-- One Celery task per task_id, assembled from its django_events lines by
-- views/django_tasks_mv.sql: its name, who enqueued it (request, parent
-- task), when it was enqueued, started and ended, how it ended, and how much
-- it logged. Rows of one task merge in the background; always read with
-- GROUP BY task_id and the column's function (max, min, sum), e.g.
-- queries/django_tasks_by_name.sql.
--
-- Why this table exists: the lines of a task name it only on task_started
-- ("task") and on the enqueuing line (child_task_name); task_succeeded and
-- task_failed carry the task_id and duration_ms but not the name.
-- views/latency_1m_django_tasks_mv.sql looks the name up here when the
-- start was in an earlier batch. Task latency is duration_ms (see
-- tables/django_events.sql); the queue wait is started_at - enqueued_at.
--
-- A task_enqueued line counts for the enqueued task (child_task_id): its
-- task_id, when set, is the parent that enqueued it. Celery keeps the
-- task_id across retries: attempts counts task_started lines.
CREATE TABLE IF NOT EXISTS django_tasks
(
    task_id String CODEC(ZSTD(1)),
    -- First day the task logged on; partitions by its month.
    day SimpleAggregateFunction(min, Date),
    -- Values logged on several lines agree or are empty on some: max picks
    -- the non-empty one.
    service SimpleAggregateFunction(max, LowCardinality(String)),
    name SimpleAggregateFunction(max, LowCardinality(String)),
    parent_task_id SimpleAggregateFunction(max, String),
    request_id SimpleAggregateFunction(max, String),
    user_id SimpleAggregateFunction(max, String),
    routing_key SimpleAggregateFunction(max, LowCardinality(String)),
    enqueued_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    -- The first attempt's task_started.
    started_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    -- The latest outcome: succeeded, failed, revoked, not found or rejected.
    ended_at SimpleAggregateFunction(max, Nullable(DateTime64(6, 'UTC'))),
    -- Of the attempt that ended the task (retried attempts log none).
    duration_ms SimpleAggregateFunction(max, Nullable(Float64)),
    attempts SimpleAggregateFunction(sum, UInt64),
    retries SimpleAggregateFunction(sum, UInt64),
    succeeded SimpleAggregateFunction(max, UInt8),
    failed SimpleAggregateFunction(max, UInt8),
    revoked SimpleAggregateFunction(max, UInt8),
    expired SimpleAggregateFunction(max, UInt8),
    not_found SimpleAggregateFunction(max, UInt8),
    rejected SimpleAggregateFunction(max, UInt8),
    -- str(exception) of task_failed.
    error SimpleAggregateFunction(max, String),
    -- Lines logged inside the task (its task_id bound) and how many of them
    -- are errors (is_error of django_events).
    lines SimpleAggregateFunction(sum, UInt64),
    error_lines SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
-- The view looks tasks up by id; so do people following a task.
ORDER BY task_id
-- The view's insert is deduplicated with the source insert
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS non_replicated_deduplication_window = 10000
