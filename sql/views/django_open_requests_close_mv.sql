-- Closes the starts django_request_ends_mv took from django_open_requests:
-- a row with sign -1 per such end, which merges collapse with the start's
-- row (tables/django_open_requests.sql). It is fed by django_request_ends,
-- so it runs only after the pairing has read the table.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_open_requests_close_mv TO django_open_requests AS
SELECT request_id, assumeNotNull(started_at) AS started_at, '' AS path, toInt8(-1) AS sign
FROM django_request_ends
WHERE start_in_table
