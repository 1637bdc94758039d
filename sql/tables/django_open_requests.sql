-- Requests that started in one inserted batch and had not ended in it: the
-- starts views/django_request_ends_mv.sql looks up when their end arrives
-- in a later batch. Kept small on purpose: latency_1m used to find such a
-- start in django_requests, which holds every request ever seen, sorted by
-- request_id; a batch's ids are random, so every django insert read the
-- whole table (473k rows, 23 MB, per insert after six minutes of `tapline
-- loadtest --rate 23000`; django's inserts took 118 ms in the first minute
-- and 267 ms in the sixth, and the cost grows with the table for as long as
-- tapline runs).
--
-- A row with sign 1 is written by views/django_open_requests_mv.sql for a
-- request_started whose request does not end in the same batch; a row with
-- sign -1 by views/django_open_requests_close_mv.sql when the end came and
-- found that start here. Merges collapse the two (CollapsingMergeTree), so
-- the table holds the requests in flight at batch boundaries, the pairs not
-- merged yet, and starts that never got an end (their app died, or the end
-- line was malformed), which expire with the raw retention (ingested_at).
-- Reading it without FINAL may return a start whose -1 is in another part:
-- only an end of the same request_id could pair with it, as it would have
-- with django_requests.
CREATE TABLE IF NOT EXISTS django_open_requests
(
    request_id String CODEC(ZSTD(1)),
    -- request_started's timestamp and path (without the query string).
    started_at DateTime64(6, 'UTC'),
    path String CODEC(ZSTD(1)),
    sign Int8,
    -- When the row was committed; filled by ClickHouse. Retention expires
    -- starts that never ended by it.
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = CollapsingMergeTree(sign)
ORDER BY request_id
-- The views' inserts are deduplicated with their source inserts
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS non_replicated_deduplication_window = 10000
