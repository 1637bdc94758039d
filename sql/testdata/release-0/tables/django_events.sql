-- One row per JSON line of a Django / Celery process that logs through
-- structlog with django-structlog: the middleware's request and streaming
-- events, the Celery receivers' task events, and every other logger's lines
-- that share the stream (they carry the same bound request_id, user_id,
-- task_id, ...). Written by ingest/decode/django; columns mirror
-- schema.DjangoEvents.
--
-- Latency, as every view measures it:
--   request  the time from request_started to the request's end event
--            (request_finished, request_failed or request_cancelled) with the
--            same request_id: the time Django spent on the request, from
--            django-structlog's middleware seeing it to the response (or the
--            failure). django-structlog logs no duration, and the two lines
--            reach tapline separately (often in different messages), while a
--            decoder is stateless per message; so the pairing happens in
--            ClickHouse (tables/django_requests.sql,
--            views/latency_1m_django_requests_mv.sql). For a
--            StreamingHttpResponse this is the time until the response
--            started; the streaming itself ends at streaming_finished
--            (kept in django_requests).
--   task     duration_ms of task_succeeded / task_failed: the worker's own
--            monotonic measurement of one execution, from task_prerun to
--            the outcome (upstream PR #796). It excludes the queue wait,
--            which django_tasks keeps (started_at - enqueued_at).
-- is_error, the error every view counts:
--   request_failed (unhandled exception; Django answered 500),
--   request_finished with code >= 500, streaming_failed (the response broke
--   while streaming), task_failed (also when logged at INFO for an expected
--   exception of Task.throws: the task still produced no result),
--   task_not_found and task_rejected (the task could not run), task_revoked
--   with expired = true (it waited in the queue past its expiry: nobody asked
--   for that), and other loggers' lines at level error or critical.
--   Not errors: request_cancelled / streaming_cancelled (the client went
--   away), task_retrying (the task runs again; its final outcome counts, so a
--   retried task is not counted twice), task_revoked without expiry (an
--   operator or the application cancelled it on purpose), 4xx responses
--   (the client's mistake).
CREATE TABLE IF NOT EXISTS django_events
(
    -- structlog's TimeStamper: microseconds. Delta+ZSTD: nearly sorted.
    timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    -- The record's "service" key, or the subject's fourth token
    -- (logs.django.structlog.<service>); empty when neither says.
    service LowCardinality(String),
    -- Levels, logger names and event names repeat: dictionary-encoded.
    level LowCardinality(String),
    logger LowCardinality(String),
    -- Free text for other loggers' lines (SQL, Celery messages): ZSTD.
    event String CODEC(ZSTD(1)),
    -- The django-structlog event under its current name (old names such as
    -- "Request finished" or "task_succeed" mapped); empty for other lines.
    event_name LowCardinality(String),
    is_error Bool,
    -- Bound metadata, repeated on every line of a request or task. Request
    -- and task ids are unique per request: plain String, ZSTD for the text.
    request_id String CODEC(ZSTD(1)),
    correlation_id String CODEC(ZSTD(1)),
    -- int, string (UUID primary keys) or null in the log: kept as text,
    -- empty for anonymous users and lines outside a request.
    user_id String CODEC(ZSTD(1)),
    ip String CODEC(ZSTD(1)),
    -- "GET /path?q", or the old repr "<WSGIRequest: GET '/path?q'>", as
    -- written; method and path (without the query string) parsed from it.
    request String CODEC(ZSTD(1)),
    method LowCardinality(String),
    -- Paths may carry ids (/orders/1812/): too many values for LowCardinality.
    path String CODEC(ZSTD(1)),
    -- A few thousand distinct browsers and clients: dictionary-encoded.
    user_agent LowCardinality(String),
    -- NULL on rows without an HTTP status (everything but request_finished
    -- and request_failed).
    code Nullable(UInt16),
    task_id String CODEC(ZSTD(1)),
    parent_task_id String CODEC(ZSTD(1)),
    -- The "task" key (task_started, task_revoked, task_not_found), or a
    -- bound "task_name".
    task_name LowCardinality(String),
    -- task_enqueued: the task being enqueued (old "task_id"/"task_name").
    child_task_id String CODEC(ZSTD(1)),
    child_task_name LowCardinality(String),
    routing_key LowCardinality(String),
    priority Nullable(Int32),
    duration_ms Nullable(Float64),
    reason String CODEC(ZSTD(1)),
    error String CODEC(ZSTD(1)),
    -- Traceback text (format_exc_info) or the JSON of dict_tracebacks' list.
    exception String CODEC(ZSTD(1)),
    terminated Nullable(Bool),
    signum Nullable(Int32),
    signame LowCardinality(String),
    expired Nullable(Bool),
    -- Every key tapline does not know (filename, lineno, func_name, bar,
    -- result, user-bound metadata, ...), value as written (strings
    -- unescaped, other JSON values as their text): nothing is dropped.
    extra Map(String, String) CODEC(ZSTD(1)),
    -- When the row was committed; filled by ClickHouse, never sent.
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    -- "Every line of request X / task Y" reads a few granules, not the day.
    INDEX request_id_bf request_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX task_id_bf task_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(timestamp)
-- Queries filter on service, an event (or all other lines) and a time range.
ORDER BY (service, event_name, timestamp)
-- A replayed batch carries the same insert_deduplication_token; ClickHouse
-- drops it if the token is among the last N inserted blocks of this table.
SETTINGS non_replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728
