-- One request per request_id, assembled from its django_events lines by
-- views/django_requests_mv.sql: where it went, who sent it, when it started
-- and ended, how it ended, and how much it logged. Rows of one request merge
-- in the background; always read with GROUP BY request_id and the column's
-- function (max, min, sum), e.g. queries/django_request_latency.sql.
--
-- Why this table exists: django-structlog writes request_started and
-- request_finished as two lines and no duration. Decoders are stateless per
-- message (JetStream redelivers, batches replay), so the pair is joined
-- here, keyed by request_id, and a request's latency (tables/
-- django_events.sql) is ended_at - started_at. latency_1m finds the start
-- of a request that ends in a later batch in django_open_requests instead,
-- which holds only the starts still waiting for their end (this table
-- holds every request, and a lookup of a batch's random ids reads all of it).
--
-- request_id is the X-Request-ID header when the client sent one, so it can
-- repeat (a proxy retrying with the same id). started_at and ended_at are
-- therefore the latest start and end: a repeated id shows its last request
-- here, while latency_1m pairs each end with the latest start before it.
CREATE TABLE IF NOT EXISTS django_requests
(
    request_id String CODEC(ZSTD(1)),
    -- First day the request logged on; partitions by its month.
    day SimpleAggregateFunction(min, Date),
    -- Values logged on several lines of the request agree (or are empty on
    -- some of them): max picks the non-empty one.
    service SimpleAggregateFunction(max, LowCardinality(String)),
    method SimpleAggregateFunction(max, LowCardinality(String)),
    path SimpleAggregateFunction(max, String),
    request SimpleAggregateFunction(max, String),
    -- With DRF authentication user_id is only known at the end.
    user_id SimpleAggregateFunction(max, String),
    ip SimpleAggregateFunction(max, String),
    correlation_id SimpleAggregateFunction(max, String),
    user_agent SimpleAggregateFunction(max, String),
    -- request_started; NULL until it is seen (or when the app does not log it).
    started_at SimpleAggregateFunction(max, Nullable(DateTime64(6, 'UTC'))),
    -- request_finished, request_failed or request_cancelled; NULL while running.
    ended_at SimpleAggregateFunction(max, Nullable(DateTime64(6, 'UTC'))),
    -- HTTP status of request_finished / request_failed (500); 0 before the end
    -- and for cancelled requests.
    code SimpleAggregateFunction(max, UInt16),
    failed SimpleAggregateFunction(max, UInt8),
    cancelled SimpleAggregateFunction(max, UInt8),
    -- StreamingHttpResponse: when streaming ended and how.
    streaming_ended_at SimpleAggregateFunction(max, Nullable(DateTime64(6, 'UTC'))),
    streaming_failed SimpleAggregateFunction(max, UInt8),
    streaming_cancelled SimpleAggregateFunction(max, UInt8),
    -- Lines logged with this request_id, including the Celery tasks it
    -- enqueued (django-structlog binds the request_id into them), and how
    -- many of them are errors (is_error of django_events).
    lines SimpleAggregateFunction(sum, UInt64),
    error_lines SimpleAggregateFunction(sum, UInt64),
    tasks_enqueued SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
-- The view looks requests up by id; so do people following a request.
ORDER BY request_id
-- The view's insert is deduplicated with the source insert
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS non_replicated_deduplication_window = 10000
