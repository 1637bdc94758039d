-- One row per request end (request_finished, request_failed,
-- request_cancelled) of an inserted batch, paired with its start by
-- views/django_request_ends_mv.sql. Null engine: it stores nothing; the
-- views on it receive each batch's rows:
--   - views/latency_1m_django_requests_mv.sql aggregates them into latency_1m;
--   - views/django_open_requests_close_mv.sql closes the starts they took
--     from django_open_requests.
-- Both run after the pairing has read django_open_requests, because they
-- are fed by it: a start cannot be closed (and merged away) before the end
-- that needs it has found it. (The pairing and the storing of new starts
-- are separate views because ClickHouse feeds only the first SELECT of a
-- view's top-level UNION ALL with the inserted batch.)
CREATE TABLE IF NOT EXISTS django_request_ends
(
    request_id String,
    ended_at DateTime64(6, 'UTC'),
    -- django_events.service of the end ('' when the logs do not say).
    svc LowCardinality(String),
    -- The end's path, else the start's: latency_1m's operation.
    operation String,
    is_error Bool,
    -- The start paired with the end; NULL when none was found (no sample).
    started_at Nullable(DateTime64(6, 'UTC')),
    -- The start came from django_open_requests (an earlier batch).
    start_in_table Bool
)
ENGINE = Null
