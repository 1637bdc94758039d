-- The engine's own JSON ingestion of django-structlog lines (FORMAT
-- JSONEachRow) into django_events. Mapped: timestamp, level, logger, event,
-- event_name (the django-structlog events under their current names),
-- is_error (as defined in sql/tables/django_events.sql), the bound metadata
-- (request_id, user_id, ip, task_id, parent_task_id), request with method and
-- path parsed from it (also from the old repr "<WSGIRequest: GET '/p'>"),
-- user_agent, code, the task keys (task, child_task_id, child_task_name,
-- routing_key, priority, duration_ms, reason, error, exception, terminated,
-- signum, signame, expired). user_id may be a number, a string or null:
-- read as text. Left to defaults: service (no "service" key in the
-- generated lines), correlation_id, extra (unknown keys such as filename,
-- lineno: tapline keeps them, JSONEachRow skips them), ingested_at.
CREATE MATERIALIZED VIEW IF NOT EXISTS raw_django_events_mv TO django_events AS SELECT
    parseDateTime64BestEffort(`timestamp`, 6, 'UTC') AS timestamp,
    level AS level,
    logger AS logger,
    event AS event,
    if(event IN ('request_started', 'request_finished', 'request_failed', 'request_cancelled', 'streaming_started',
                 'streaming_finished', 'streaming_failed', 'streaming_cancelled', 'task_enqueued', 'task_started',
                 'task_retrying', 'task_succeeded', 'task_failed', 'task_revoked', 'task_not_found', 'task_rejected'),
       event, '') AS event_name,
    event IN ('request_failed', 'streaming_failed', 'task_failed', 'task_not_found', 'task_rejected')
        OR (event = 'request_finished' AND ifNull(code, 0) >= 500)
        OR (event = 'task_revoked' AND ifNull(expired, false))
        OR (event_name = '' AND level IN ('error', 'critical')) AS is_error,
    request_id AS request_id,
    ifNull(user_id, '') AS user_id,
    ifNull(ip, '') AS ip,
    request AS request,
    extract(request, '^(?:<WSGIRequest: )?([A-Z]+) ') AS method,
    extract(request, '^(?:<WSGIRequest: )?[A-Z]+ \'?([^?\' >]*)') AS path,
    ifNull(user_agent, '') AS user_agent,
    code AS code,
    task_id AS task_id,
    parent_task_id AS parent_task_id,
    task AS task_name,
    child_task_id AS child_task_id,
    child_task_name AS child_task_name,
    routing_key AS routing_key,
    priority AS priority,
    duration_ms AS duration_ms,
    reason AS reason,
    error AS error,
    exception AS exception,
    terminated AS terminated,
    signum AS signum,
    ifNull(signame, '') AS signame,
    expired AS expired
FROM raw_django_events

