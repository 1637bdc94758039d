-- The raw JSON keys of django_events lines, as JSONEachRow reads them: the engine's
-- own JSON ingestion inserts the published lines here (FORMAT JSONEachRow,
-- rows it cannot parse skipped) and raw_django_events_mv maps them into django_events.
-- Null engine: nothing is stored; only the view sees the rows.
CREATE TABLE IF NOT EXISTS raw_django_events
(
    `timestamp` String,
    level String,
    logger String,
    event String,
    request_id String,
    user_id Nullable(String),
    ip Nullable(String),
    request String,
    user_agent Nullable(String),
    code Nullable(UInt16),
    task_id String,
    parent_task_id String,
    task String,
    child_task_id String,
    child_task_name String,
    routing_key String,
    priority Nullable(Int32),
    duration_ms Nullable(Float64),
    reason String,
    error String,
    exception String,
    terminated Nullable(Bool),
    signum Nullable(Int32),
    signame Nullable(String),
    expired Nullable(Bool)
)
ENGINE = Null
