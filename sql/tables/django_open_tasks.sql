-- Celery tasks named in one inserted batch (task_started, or the
-- task_enqueued line of the task that enqueued it) that had not ended in
-- it: the names views/django_task_ends_mv.sql looks up when the task's
-- outcome arrives in a later batch. Kept small for the same reason as
-- tables/django_open_requests.sql: django_tasks holds every task, sorted by
-- task_id, and a lookup of a batch's random ids read all of it on every
-- django insert.
--
-- A row with sign 1 is written by views/django_open_tasks_mv.sql the first
-- time a task is named without its outcome in the same batch (a task named
-- again while open adds nothing); a row with sign -1 by
-- views/django_open_tasks_close_mv.sql when its outcome came (succeeded,
-- failed, revoked, rejected, not found). Merges collapse the two
-- (CollapsingMergeTree), so the table holds the tasks running at batch
-- boundaries, the pairs not merged yet, and tasks whose outcome never came
-- (a lost worker, a malformed line), which expire with the raw retention
-- (ingested_at).
CREATE TABLE IF NOT EXISTS django_open_tasks
(
    task_id String CODEC(ZSTD(1)),
    name LowCardinality(String),
    sign Int8,
    -- When the row was committed; filled by ClickHouse. Retention expires
    -- tasks that never ended by it.
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = CollapsingMergeTree(sign)
ORDER BY task_id
-- The views' inserts are deduplicated with their source inserts
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS non_replicated_deduplication_window = 10000
