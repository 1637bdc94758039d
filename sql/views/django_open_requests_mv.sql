-- Starts of requests that do not end in the inserted batch, for
-- views/django_request_ends_mv.sql to find when their end comes in a later
-- batch (tables/django_open_requests.sql). Every django_events below is the
-- inserted batch only. A start whose end is in the same batch is paired
-- within the batch and never stored.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_open_requests_mv TO django_open_requests AS
SELECT request_id, timestamp AS started_at, path, toInt8(1) AS sign
FROM django_events
WHERE event_name = 'request_started' AND request_id != ''
    AND request_id NOT IN (
        SELECT request_id FROM django_events
        WHERE event_name IN ('request_finished', 'request_failed', 'request_cancelled') AND request_id != ''
    )
