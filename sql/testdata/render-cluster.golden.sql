-- tables/django_events.sql
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
CREATE TABLE IF NOT EXISTS django_events_local ON CLUSTER `logs`
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
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tapline/django_events_local', '{replica}')
PARTITION BY toYYYYMMDD(timestamp)
-- Queries filter on service, an event (or all other lines) and a time range.
ORDER BY (service, event_name, timestamp)
-- A replayed batch carries the same insert_deduplication_token; ClickHouse
-- drops it if the token is among the last N inserted blocks of this table.
SETTINGS replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728;

CREATE TABLE IF NOT EXISTS django_events ON CLUSTER `logs` AS django_events_local
ENGINE = Distributed('logs', 'tapline', 'django_events_local', cityHash64(service, event_name, timestamp));

-- tables/django_open_requests.sql
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
CREATE TABLE IF NOT EXISTS django_open_requests_local ON CLUSTER `logs`
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
ENGINE = ReplicatedCollapsingMergeTree('/clickhouse/tables/{shard}/tapline/django_open_requests_local', '{replica}', sign)
ORDER BY request_id
-- The views' inserts are deduplicated with their source inserts
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS django_open_requests ON CLUSTER `logs` AS django_open_requests_local
ENGINE = Distributed('logs', 'tapline', 'django_open_requests_local', cityHash64(request_id));

-- tables/django_open_tasks.sql
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
CREATE TABLE IF NOT EXISTS django_open_tasks_local ON CLUSTER `logs`
(
    task_id String CODEC(ZSTD(1)),
    name LowCardinality(String),
    sign Int8,
    -- When the row was committed; filled by ClickHouse. Retention expires
    -- tasks that never ended by it.
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = ReplicatedCollapsingMergeTree('/clickhouse/tables/{shard}/tapline/django_open_tasks_local', '{replica}', sign)
ORDER BY task_id
-- The views' inserts are deduplicated with their source inserts
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS django_open_tasks ON CLUSTER `logs` AS django_open_tasks_local
ENGINE = Distributed('logs', 'tapline', 'django_open_tasks_local', cityHash64(task_id));

-- tables/django_request_ends.sql
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
CREATE TABLE IF NOT EXISTS django_request_ends_local ON CLUSTER `logs`
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
ENGINE = Null;

-- tables/django_requests.sql
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
CREATE TABLE IF NOT EXISTS django_requests_local ON CLUSTER `logs`
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
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tapline/django_requests_local', '{replica}')
PARTITION BY toYYYYMM(day)
-- The view looks requests up by id; so do people following a request.
ORDER BY request_id
-- The view's insert is deduplicated with the source insert
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS django_requests ON CLUSTER `logs` AS django_requests_local
ENGINE = Distributed('logs', 'tapline', 'django_requests_local', cityHash64(request_id));

-- tables/django_task_ends.sql
-- One row per task outcome (task_succeeded, task_failed, task_revoked,
-- task_rejected, task_not_found) of an inserted batch, named by
-- views/django_task_ends_mv.sql. Null engine: it stores
-- nothing; the views on it receive each batch's rows:
--   - views/latency_1m_django_tasks_mv.sql aggregates them into latency_1m;
--   - views/django_open_tasks_close_mv.sql closes the tasks they found in
--     django_open_tasks.
-- Both run after the naming has read django_open_tasks, because they are
-- fed by it.
CREATE TABLE IF NOT EXISTS django_task_ends_local ON CLUSTER `logs`
(
    task_id String,
    ended_at DateTime64(6, 'UTC'),
    -- django_events.service of the outcome ('' when the logs do not say).
    svc LowCardinality(String),
    -- The outcome line's own task_name, else the name found: latency_1m's operation.
    operation LowCardinality(String),
    is_error Bool,
    -- duration_ms of the outcome line; NULL: no sample.
    ms Nullable(Float64),
    -- The task is open in django_open_tasks (named in an earlier batch).
    open_in_table Bool,
    -- task_succeeded or task_failed: latency_1m counts it. The others only
    -- close the task (the task never ran, or was stopped).
    counted Bool
)
ENGINE = Null;

-- tables/django_tasks.sql
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
CREATE TABLE IF NOT EXISTS django_tasks_local ON CLUSTER `logs`
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
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tapline/django_tasks_local', '{replica}')
PARTITION BY toYYYYMM(day)
-- The view looks tasks up by id; so do people following a task.
ORDER BY task_id
-- The view's insert is deduplicated with the source insert
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS django_tasks ON CLUSTER `logs` AS django_tasks_local
ENGINE = Distributed('logs', 'tapline', 'django_tasks_local', cityHash64(task_id));

-- tables/envoytap_connection_summary.sql
-- One row per tapped connection (after merges; read with GROUP BY, merges are
-- eventual): local/remote address, first/last event time, events, bytes each
-- way, closed, truncation. Fed by views/envoytap_connection_summary_events_mv.sql
-- (times, bytes, closed, truncated bodies, per-event addresses) and
-- views/envoytap_connection_summary_connections_mv.sql (addresses of the
-- connection segment or buffered trace, trace-level truncation, and closed for
-- buffered traces: Envoy submits a buffered trace when the connection closes).
-- A streamed trace's rows come from many messages; this table is where they meet.
--
-- Key: (envoy, trace_id). Envoy's trace id is its connection id, unique only
-- within one Envoy process: it restarts from 0 when Envoy (hot-)restarts and
-- every Envoy has its own counter. "envoy" is the subject suffix the publisher
-- chose (logs.envoytap.<encoding>.<envoy>); publish with a suffix unique per
-- Envoy process (host/pod name plus start time or hot-restart epoch), or
-- repeated trace ids of different connections merge into one row. Nothing in
-- the trace itself can tell them apart: streamed event segments carry neither
-- addresses nor anything else per connection except the trace id.
--
-- Latency: duration = last_event - first_event of a closed connection (works
-- for streamed traces too, unlike the latency_1m feed); error: data in one
-- direction only. Both as defined in tables/envoytap_connections.sql.
--
--   SELECT envoy, trace_id, max(remote_address) AS remote, min(first_event) AS first,
--          max(last_event) AS last, sum(bytes_read), sum(bytes_written), max(closed)
--   FROM envoytap_connection_summary GROUP BY envoy, trace_id
CREATE TABLE IF NOT EXISTS envoytap_connection_summary_local ON CLUSTER `logs`
(
    envoy LowCardinality(String),
    trace_id UInt64,
    -- max() keeps the non-empty value: rows from event segments without a
    -- connection carry ''.
    local_address SimpleAggregateFunction(max, String),
    remote_address SimpleAggregateFunction(max, String),
    remote_host SimpleAggregateFunction(max, LowCardinality(String)),
    -- NULL on rows that carry no events (connection rows), ignored by min/max.
    first_event SimpleAggregateFunction(min, Nullable(DateTime64(9, 'UTC'))),
    last_event SimpleAggregateFunction(max, Nullable(DateTime64(9, 'UTC'))),
    events SimpleAggregateFunction(sum, UInt64),
    bytes_read SimpleAggregateFunction(sum, UInt64),
    bytes_written SimpleAggregateFunction(sum, UInt64),
    -- A closed event was seen (streamed), or a buffered trace arrived.
    closed SimpleAggregateFunction(max, Bool),
    read_truncated SimpleAggregateFunction(max, Bool),
    write_truncated SimpleAggregateFunction(max, Bool)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tapline/envoytap_connection_summary_local', '{replica}')
-- No time column is known for every row (connection segments have none), so
-- the table is not partitioned: a connection's rows must be able to merge.
ORDER BY (envoy, trace_id)
-- The views' inserts are deduplicated with their source inserts: that needs a window here too.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS envoytap_connection_summary ON CLUSTER `logs` AS envoytap_connection_summary_local
ENGINE = Distributed('logs', 'tapline', 'envoytap_connection_summary_local', cityHash64(envoy, trace_id));

-- tables/envoytap_connections.sql
-- One row per Envoy tap record that describes a connection: every
-- socket_buffered_trace (mode 'buffered'), and every
-- socket_streamed_trace_segment that carries only the connection (mode
-- 'streamed', the first segment Envoy emits for a connection). A streamed
-- connection segment has no timestamp, which is why it is a row here and not
-- an event row. Written by ingest/decode/envoytap; columns mirror
-- schema.EnvoytapConnections.
--
-- duration_ms, the latency the views use: the connection's duration as the
-- tap saw it, last event time minus first event time, in milliseconds. Only a
-- buffered trace knows both ends in one record, so only buffered rows have it
-- (NULL for streamed rows). Limits:
--   * Envoy writes no close event into a buffered trace (it submits the trace
--     when the connection closes), so the duration ends at the last read or
--     write, not at the close; it starts at the first read or write, not at
--     accept/connect. An idle tail before the close is not measured.
--   * Once a direction is truncated Envoy stops recording its events, so a
--     truncated trace can end early.
--   * With SocketTapConfig.min_buffered_bytes Envoy submits several buffered
--     traces per connection; each is measured on its own and tapline cannot
--     tell them apart from whole connections.
--   * Streamed traces: the segment with the close cannot know the first event
--     time without state across messages, which decoders do not keep. Their
--     durations are only in envoytap_connection_summary (max(last_event) -
--     min(first_event) at query time, see queries/envoytap_connection_duration.sql).
--
-- is_error, the error the views count: the connection carried data in one
-- direction only (bytes read, nothing written, or the reverse). A
-- request/response protocol (HTTP/1.1, what taps usually capture) answers
-- every request, so a one-sided connection is a request that got no reply
-- (upstream unreachable, timeout, reset) or a reply to nothing. A connection
-- with no data at all (health-check connect, TLS handshake failure: the tap
-- sees plaintext only) is not an error: there is no evidence. Truncation is
-- not an error: it is the tap's own buffer limit, and a truncated direction
-- still counts as having carried data. NULL for streamed rows (no events).
-- One-way protocols (log shipping) make every connection an "error": read
-- their error rate accordingly.
CREATE TABLE IF NOT EXISTS envoytap_connections_local ON CLUSTER `logs`
(
    -- The originating Envoy (subject suffix); see envoytap_events.
    envoy LowCardinality(String),
    trace_id UInt64,
    -- buffered | streamed.
    mode LowCardinality(String),
    -- Address as Envoy wrote it: "ip:port", "[v6]:port", a pipe path, or
    -- "envoy://listener/endpoint"; empty when Envoy sent none (an upstream
    -- connection's local address before it connects).
    local_address String CODEC(ZSTD(1)),
    -- Hosts repeat across connections (listener IPs, clients, upstreams).
    local_host LowCardinality(String),
    local_port UInt16,
    remote_address String CODEC(ZSTD(1)),
    remote_host LowCardinality(String),
    remote_port UInt16,
    -- TraceWrapper.configured_sample_rate as a fraction (0..1); NULL when
    -- sampling is not configured (Envoy sets it on buffered traces and on the
    -- first streamed segment only).
    sample_rate Nullable(Float64),
    -- Events in this record; 0 for a streamed connection segment.
    events UInt32,
    first_event Nullable(DateTime64(9, 'UTC')),
    last_event Nullable(DateTime64(9, 'UTC')),
    duration_ms Nullable(Float64),
    -- Body bytes captured each way (after truncation): a lower bound of the
    -- traffic when the matching *_truncated flag is set.
    bytes_read UInt64,
    bytes_written UInt64,
    -- SocketBufferedTrace.read_truncated/write_truncated, or any body of that
    -- direction marked truncated.
    read_truncated Bool,
    write_truncated Bool,
    is_error Nullable(Bool),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tapline/envoytap_connections_local', '{replica}')
-- Streamed connection rows have no event time: partition by arrival month.
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (envoy, trace_id)
SETTINGS replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728;

CREATE TABLE IF NOT EXISTS envoytap_connections ON CLUSTER `logs` AS envoytap_connections_local
ENGINE = Distributed('logs', 'tapline', 'envoytap_connections_local', cityHash64(envoy, trace_id));

-- tables/envoytap_events.sql
-- One row per socket event of an Envoy tap transport-socket trace (a read,
-- a write or a close), from socket_buffered_trace documents and from
-- socket_streamed_trace_segment messages (event or events.events[]), JSON or
-- length-delimited protobuf, v3 or v2alpha. Written by
-- ingest/decode/envoytap; columns mirror schema.EnvoytapEvents.
-- Connection-level facts (addresses of streamed traces, trace-level
-- truncation, sampling) are in envoytap_connections; the per-connection view
-- is envoytap_connection_summary.
--
-- Latency for this source is connection duration, and error is a one-sided
-- connection; both are per connection, not per event, and are defined in
-- tables/envoytap_connections.sql. Events carry no latency of their own.
CREATE TABLE IF NOT EXISTS envoytap_events_local ON CLUSTER `logs`
(
    -- Event time as Envoy's system clock wrote it (nanoseconds).
    -- Delta+ZSTD: a trace's events are sorted by time inside a part.
    timestamp DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    -- The originating Envoy, from the subject suffix (logs.envoytap.<encoding>.<envoy>):
    -- trace ids are only unique per Envoy process. Few values: LowCardinality.
    envoy LowCardinality(String),
    -- Envoy's connection id; repeats across Envoys and restarts.
    trace_id UInt64 CODEC(Delta, ZSTD(1)),
    -- buffered | streamed: two values.
    mode LowCardinality(String),
    -- Position of the event in the record that carried it (events[] of a
    -- buffered trace, events.events[] of a streamed batch; 0 for a single event).
    event_index UInt32 CODEC(T64, ZSTD(1)),
    -- Envoy's data sequence number (Envoy >= 1.34); 0 when not written.
    seq_num UInt64 CODEC(Delta, ZSTD(1)),
    -- read | write | closed: three values.
    kind LowCardinality(String),
    -- Body bytes as captured (after truncation); 0 for closed.
    bytes UInt32 CODEC(T64, ZSTD(1)),
    -- A write that half-closed the connection.
    end_stream Bool,
    -- The body was cut to max_buffered_rx_bytes / max_buffered_tx_bytes.
    truncated Bool,
    -- A bounded prefix of the body (decode.Options.BodyPrefix, default 256
    -- bytes), raw bytes: plaintext protocols compress well with ZSTD.
    body String CODEC(ZSTD(3)),
    -- host:port as Envoy wrote them, when the record named the connection;
    -- ephemeral ports make them high-cardinality, so plain String + ZSTD.
    local_address String CODEC(ZSTD(1)),
    remote_address String CODEC(ZSTD(1)),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tapline/envoytap_events_local', '{replica}')
PARTITION BY toYYYYMMDD(timestamp)
-- Reading a connection's events is the common query: trace first.
ORDER BY (envoy, trace_id, timestamp, event_index)
SETTINGS replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728;

CREATE TABLE IF NOT EXISTS envoytap_events ON CLUSTER `logs` AS envoytap_events_local
ENGINE = Distributed('logs', 'tapline', 'envoytap_events_local', cityHash64(envoy, trace_id, timestamp, event_index));

-- tables/g3proxy_task.sql
-- One row per g3proxy task log record. Written by ingest/decode/g3proxy;
-- columns mirror schema.G3proxyTask. A task writes several records sharing
-- one task_id, one per task_event (Created, Connected, Periodic...,
-- ClientShutdown/UpstreamShutdown, Finished); each is a row and nothing is
-- deduplicated on task_id. All five task types (TcpConnect, HttpForward,
-- FtpOverHttp, UdpAssociate, UdpConnect) share the table: keys a type does
-- not log are '' or NULL.
--
-- Latency, as every view uses it: total_time of the Finished record, the time
-- from the task's creation (after the request was accepted and validated) to
-- its end. One sample per task: Created, Connected, Periodic and *Shutdown
-- records carry partial or no totals and add no sample. For an HTTP request
-- that is the whole exchange as the proxy saw it; for a tunnel (CONNECT,
-- SOCKS, SNI, UDP) it is the tunnel's lifetime, so tunnel percentiles
-- describe session lengths, not responsiveness (ready_time_ns, creation to
-- relaying, is the "time to ready" of a tunnel).
-- is_error, the error every view counts: a Finished record whose reason
-- (ServerTaskError::brief, g3proxy/src/serve/error.rs) is not a normal end.
-- Normal ends: Finished; ClosedByClient and ClosedEarlyByClient (the client
-- hung up, nothing failed); ClosedByUpstream for tunnels (how a relay ends),
-- but NOT for HttpForward/FtpOverHttp, where g3proxy answers it with 502 Bad
-- Gateway; Idle (both directions quiet with nothing pending: how UDP
-- associations, which have no close, and quiet tunnels end; stalled
-- transfers end as Client/UpstreamAppTimeout instead); no reason at all.
-- Every other reason (internal errors, ForbiddenByRule, ClientAuthFailed,
-- resolution and connect failures, I/O failures, timeouts, cancellations,
-- reasons newer than tapline) is an error.
CREATE TABLE IF NOT EXISTS g3proxy_task_local ON CLUSTER `logs`
(
    -- start_at + total_time: the task's end for Finished records, the log
    -- time of Periodic/*Shutdown ones, start_at when there is no total_time.
    -- Delta+ZSTD: times arrive nearly sorted.
    event_time DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    -- Task creation, RFC 3339 with microseconds as g3proxy writes it.
    start_at DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    -- Names, enums and listening addresses have few distinct values:
    -- LowCardinality keeps them as small dictionary indexes.
    daemon_name LowCardinality(String),
    log_type LowCardinality(String),
    pid UInt32,
    server_type LowCardinality(String),
    server_name LowCardinality(String),
    task_type LowCardinality(String),
    -- 32 hex digits (a dash-less UUID): unique per task, plain String.
    task_id String CODEC(ZSTD(1)),
    -- Created | Connected | Periodic | ClientShutdown | UpstreamShutdown |
    -- Finished (an absent task_event, as older versions wrote, is Finished).
    task_event LowCardinality(String),
    stage LowCardinality(String),
    -- ServerTaskError::brief(), Finished records only.
    reason LowCardinality(String),
    is_error Bool,
    -- The error's text ("upstream not connected: connection refused") on
    -- Finished records, '' otherwise.
    msg String CODEC(ZSTD(1)),
    user LowCardinality(String),
    escaper LowCardinality(String),
    -- Durations in nanoseconds: g3proxy prints Rust's "{:.3?}" ("12.345µs",
    -- "2.500ms", "441.887s"), which only nanoseconds hold exactly. NULL when
    -- the record has no such key; g3proxy omits zero durations, so for keys
    -- a record type always carries (total_time on Finished) NULL means 0.
    -- T64 packs the small values, ZSTD the rest.
    wait_time_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    ready_time_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    total_time_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    -- TcpConnect, HttpForward, FtpOverHttp, UdpConnect. Client and peer
    -- addresses carry ephemeral ports: plain String with ZSTD.
    server_addr String CODEC(ZSTD(1)),
    client_addr String CODEC(ZSTD(1)),
    upstream String CODEC(ZSTD(1)),
    next_bind_ip LowCardinality(String),
    next_bound_addr String CODEC(ZSTD(1)),
    next_peer_addr String CODEC(ZSTD(1)),
    next_expire Nullable(DateTime64(6, 'UTC')),
    tcp_connect_tries Nullable(UInt32),
    tcp_connect_spend_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    -- HttpForward, FtpOverHttp.
    method LowCardinality(String),
    uri String CODEC(ZSTD(1)),
    user_agent String CODEC(ZSTD(1)),
    -- Status sent to the client / received from the origin; g3proxy writes
    -- 0 for "none", stored as NULL.
    rsp_status Nullable(UInt16),
    origin_status Nullable(UInt16),
    reuse_connection Nullable(Bool),
    pipeline_wait_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    -- Task creation -> request header sent / whole request sent / response
    -- header received / whole response received.
    dur_req_send_hdr_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    dur_req_send_all_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    dur_rsp_recv_hdr_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    dur_rsp_recv_all_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    -- FtpOverHttp: c = FTP control connection, d = FTP data connection.
    ftp_c_bound_addr String CODEC(ZSTD(1)),
    ftp_c_peer_addr String CODEC(ZSTD(1)),
    ftp_c_connect_tries Nullable(UInt32),
    ftp_c_connect_spend_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    ftp_d_bound_addr String CODEC(ZSTD(1)),
    ftp_d_peer_addr String CODEC(ZSTD(1)),
    ftp_d_connect_tries Nullable(UInt32),
    ftp_d_connect_spend_ns Nullable(UInt64) CODEC(T64, ZSTD(1)),
    -- UdpAssociate, UdpConnect. udp_listen_addr is what the code writes; the
    -- docs' name udp_server_addr lands here too.
    tcp_server_addr LowCardinality(String),
    tcp_client_addr String CODEC(ZSTD(1)),
    udp_listen_addr String CODEC(ZSTD(1)),
    udp_client_addr String CODEC(ZSTD(1)),
    initial_peer String CODEC(ZSTD(1)),
    -- Bytes and packets; c = client side, r = remote side. Periodic and
    -- *Shutdown records carry running totals: sum only Finished records.
    c_rd_bytes Nullable(UInt64) CODEC(T64, ZSTD(1)),
    c_wr_bytes Nullable(UInt64) CODEC(T64, ZSTD(1)),
    r_rd_bytes Nullable(UInt64) CODEC(T64, ZSTD(1)),
    r_wr_bytes Nullable(UInt64) CODEC(T64, ZSTD(1)),
    ftp_c_rd_bytes Nullable(UInt64) CODEC(T64, ZSTD(1)),
    ftp_c_wr_bytes Nullable(UInt64) CODEC(T64, ZSTD(1)),
    ftp_d_rd_bytes Nullable(UInt64) CODEC(T64, ZSTD(1)),
    ftp_d_wr_bytes Nullable(UInt64) CODEC(T64, ZSTD(1)),
    c_rd_packets Nullable(UInt64) CODEC(T64, ZSTD(1)),
    c_wr_packets Nullable(UInt64) CODEC(T64, ZSTD(1)),
    r_rd_packets Nullable(UInt64) CODEC(T64, ZSTD(1)),
    r_wr_packets Nullable(UInt64) CODEC(T64, ZSTD(1)),
    -- Envelope: g3proxy's report_ts (append_report_ts), rsyslog's
    -- timereported, and the syslog header's hostname ('' when none).
    report_ts Nullable(DateTime64(3, 'UTC')),
    rsyslog_time Nullable(DateTime64(6, 'UTC')),
    syslog_host LowCardinality(String),
    -- Every key tapline does not know, and known keys whose value did not
    -- parse, as written (strings unescaped, other JSON as text).
    extra Map(String, String) CODEC(ZSTD(1)),
    -- When the row was committed; filled by ClickHouse, never sent.
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    -- Finding a task's records (or joining escape logs) by id without a
    -- full scan.
    INDEX task_id_bf task_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tapline/g3proxy_task_local', '{replica}')
PARTITION BY toYYYYMMDD(event_time)
-- Dashboards filter on server and task type over a time range.
ORDER BY (server_name, task_type, event_time)
-- A replayed batch carries the same insert_deduplication_token; ClickHouse
-- drops it if the token is among the last N inserted blocks of this table.
SETTINGS replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728;

CREATE TABLE IF NOT EXISTS g3proxy_task ON CLUSTER `logs` AS g3proxy_task_local
ENGINE = Distributed('logs', 'tapline', 'g3proxy_task_local', cityHash64(server_name, task_type, event_time));

-- tables/g3proxy_task_1m.sql
-- Per-minute g3proxy task outcomes by server, task type, reason, stage and
-- HTTP status, filled by views/g3proxy_task_1m_mv.sql from the Finished
-- records of g3proxy_task (one row per task; Created/Connected/Periodic and
-- *Shutdown records carry running totals and are left out). It answers the
-- dashboard questions over long ranges without scanning every record: tasks
-- by server and type, the reason breakdown, failures by stage, time to
-- ready, bytes each way, the HTTP status mix. Latency percentiles per server
-- and operation live in latency_1m (source 'g3proxy').
-- Read with sum() and quantilesTDigestMerge(0.5, 0.9, 0.99)(ready_time_quantiles).
-- Latency and error are as defined in tables/g3proxy_task.sql.
CREATE TABLE IF NOT EXISTS g3proxy_task_1m_local ON CLUSTER `logs`
(
    minute DateTime('UTC'),
    -- Few distinct values each: dictionary-encoded.
    server_type LowCardinality(String),
    server_name LowCardinality(String),
    task_type LowCardinality(String),
    reason LowCardinality(String),
    -- The stage the task had reached when it ended (failures by stage).
    stage LowCardinality(String),
    -- Status sent to the client; 0 when none was sent or the task is no
    -- HTTP task.
    rsp_status UInt16,
    tasks SimpleAggregateFunction(sum, UInt64),
    -- is_error of tables/g3proxy_task.sql.
    errors SimpleAggregateFunction(sum, UInt64),
    -- Bytes read from / written to the client (c_rd_bytes, c_wr_bytes) and
    -- the upstream side (r_*, plus ftp_c_* and ftp_d_* for FtpOverHttp).
    client_rd_bytes SimpleAggregateFunction(sum, UInt64),
    client_wr_bytes SimpleAggregateFunction(sum, UInt64),
    upstream_rd_bytes SimpleAggregateFunction(sum, UInt64),
    upstream_wr_bytes SimpleAggregateFunction(sum, UInt64),
    -- Time to ready (ready_time: creation to relaying) of the tasks that got
    -- there; tasks that failed earlier have no ready_time and are not counted.
    ready_tasks SimpleAggregateFunction(sum, UInt64),
    ready_time_sum_ms SimpleAggregateFunction(sum, Float64),
    -- t-digest states for p50, p90, p99 of ready_time in milliseconds.
    ready_time_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), Float64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tapline/g3proxy_task_1m_local', '{replica}')
PARTITION BY toYYYYMM(minute)
ORDER BY (server_name, server_type, task_type, reason, stage, rsp_status, minute)
-- The view's insert into this table is deduplicated with the source insert
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS g3proxy_task_1m ON CLUSTER `logs` AS g3proxy_task_1m_local
ENGINE = Distributed('logs', 'tapline', 'g3proxy_task_1m_local', cityHash64(server_name, server_type, task_type, reason, stage, rsp_status, minute));

-- tables/latency_1m.sql
-- Cross-source per-minute latency and error aggregates: one table that
-- answers "p99 latency and error rate per source and service" for every
-- format. Each source has a view in views/latency_1m_<source>_mv.sql that
-- says what latency and error mean for it:
--   sofarpc   kind client|server, service, operation = method
--             (latency and error as in tables/sofarpc_digest.sql)
--   g3proxy   kind task, service = server_name, operation = task_type (+ " " + method
--             for HttpForward/FtpOverHttp); one sample per task from its Finished
--             record: latency = total_time, error = abnormal reason (tables/g3proxy_task.sql)
--   webdebug  kind request: service = host (else 'webdebug'), operation = route shape,
--             one sample per document (response duration, else request duration);
--             kind query: service = target, operation = query shape; error =
--             success false or status >= 500 (tables/webdebug_events.sql)
--   django    kind request (operation = path) | task (operation = task name);
--             samples with a known latency only (views/latency_1m_django_*_mv.sql)
--   envoytap  kind connection, service = remote host, operation = local listener
--             (latency = buffered trace duration, error = one-sided connection,
--             as in tables/envoytap_connections.sql)
-- Latency is always milliseconds (Float64, so sub-millisecond sources keep
-- their precision). Read with -Merge combinators:
--   SELECT source, service, sum(requests), sum(errors) / sum(requests) AS error_rate,
--          sum(latency_sum_ms) / (sum(requests) - sum(no_latency)) AS avg_ms,
--          quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)[4] AS p99
--   FROM latency_1m WHERE minute >= now() - INTERVAL 1 HOUR GROUP BY source, service
CREATE TABLE IF NOT EXISTS latency_1m_local ON CLUSTER `logs`
(
    minute DateTime('UTC'),
    source LowCardinality(String),
    -- What was measured: a call side, a task, a request, a query, a connection.
    kind LowCardinality(String),
    service LowCardinality(String),
    operation LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    errors SimpleAggregateFunction(sum, UInt64),
    -- Requests without a latency sample (a SOFARPC digest without a usable
    -- timing, a g3proxy task without total_time, a web debug sample or a
    -- Celery task without a duration): latency_sum_ms and latency_quantiles
    -- cover requests - no_latency samples; average with that, not requests.
    no_latency SimpleAggregateFunction(sum, UInt64),
    latency_sum_ms SimpleAggregateFunction(sum, Float64),
    latency_max_ms SimpleAggregateFunction(max, Float64),
    -- t-digest states for p50, p90, p95, p99, p99.9 (in that order).
    latency_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99, 0.999), Float64)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tapline/latency_1m_local', '{replica}')
PARTITION BY toYYYYMM(minute)
ORDER BY (source, service, operation, kind, minute)
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS latency_1m ON CLUSTER `logs` AS latency_1m_local
ENGINE = Distributed('logs', 'tapline', 'latency_1m_local', cityHash64(source, service, operation, kind, minute));

-- tables/pipeline_batches.sql
-- One row per batch the pipeline committed, written by the pipeline right
-- after the batch's own inserts and before its messages are acknowledged,
-- with the batch's deduplication token (suffix ":pipeline_batches"), so a
-- replayed batch is counted once here as in the data tables. Columns mirror
-- schema.PipelineBatches. records are input records decoded into rows;
-- dead_letters are records of the batch's messages published to the
-- dead-letter stream; rows counts rows over all of the source's tables;
-- insert_ms is the time the batch's inserts took; replayed marks a batch
-- re-inserted from the journal after a restart; instance names the tapline
-- process that committed the batch, and adopted marks a batch it committed
-- for another process that had journaled it (and stopped before committing).
-- instance and adopted came with alters/0001_pipeline_batches_instance.sql:
-- rows committed before it have '' and false. Kept for --retention-batches
-- (TTL on committed_at, set by tapline, not in this file).
CREATE TABLE IF NOT EXISTS pipeline_batches_local ON CLUSTER `logs`
(
    -- Commit time, filled by ClickHouse.
    committed_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    -- A handful of sources, streams and consumers: dictionary-encoded.
    source LowCardinality(String),
    stream LowCardinality(String),
    consumer LowCardinality(String),
    first_seq UInt64,
    last_seq UInt64,
    messages UInt32,
    records UInt64,
    dead_letters UInt64,
    rows UInt64,
    replayed Bool,
    insert_ms Float64,
    -- Last, in the order alters/0001 adds them, so fresh and upgraded tables
    -- have the same column order. Few processes: dictionary-encoded.
    instance LowCardinality(String),
    adopted Bool
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tapline/pipeline_batches_local', '{replica}')
PARTITION BY toYYYYMM(committed_at)
-- Dashboards read one source's batches over a time range.
ORDER BY (source, committed_at)
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS pipeline_batches ON CLUSTER `logs` AS pipeline_batches_local
ENGINE = Distributed('logs', 'tapline', 'pipeline_batches_local', cityHash64(source, committed_at));

-- tables/sofarpc_digest.sql
-- One row per SOFARPC / SOFATracer digest record (client and server side).
-- Written by ingest/decode/sofarpc; columns mirror schema.SofarpcDigest.
--
-- latency_ms, the latency every view uses, from the first timing a record has:
--   RPC client side: client.elapse.time, the whole call as the caller saw it;
--   other SOFATracer digests: time.cost.milliseconds (205 or "205ms"), else
--                the datasource's total.time ("228ms");
--   RPC server side: server.pool.wait.time + req.deserialize.time + biz.impl.time
--                + resp.serialize.time, the time the request spent in the server.
--   NULL when the record has none of them or the one it has is no usable
--   number of milliseconds (negative, overflowing, another unit: kept in
--   extra): the views count such a record as a request (and error) without a
--   latency sample (no_latency), never as a 0 ms sample.
-- is_error, the error every view counts: result.code other than "00"
--   (01 business exception, 02 RPC logic error, 03 timeout, 04 routing failure;
--   for non-RPC digests an HTTP status >= 500), or a non-empty "error" key.
CREATE TABLE IF NOT EXISTS sofarpc_digest_local ON CLUSTER `logs`
(
    -- Span end time; SOFATracer writes JVM-local time without a zone, read in
    -- the configured zone (default UTC). Delta+ZSTD: timestamps arrive nearly sorted.
    timestamp DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    -- client | server: two values, dictionary-encoded.
    side LowCardinality(String),
    -- Trace ids are unique per call: plain String, ZSTD for the hex text.
    trace_id String CODEC(ZSTD(1)),
    span_id String CODEC(ZSTD(1)),
    -- Apps, services, methods, protocols and enums have few distinct values:
    -- LowCardinality keeps them as small dictionary indexes.
    local_app LowCardinality(String),
    remote_app LowCardinality(String),
    protocol LowCardinality(String),
    service LowCardinality(String),
    method LowCardinality(String),
    invoke_type LowCardinality(String),
    router_record LowCardinality(String),
    thread_name LowCardinality(String),
    result_code LowCardinality(String),
    is_error Bool,
    latency_ms Nullable(UInt32) CODEC(T64, ZSTD(1)),
    remote_ip String CODEC(ZSTD(1)),
    remote_host LowCardinality(String),
    remote_port UInt16,
    local_ip LowCardinality(String),
    local_port UInt16,
    -- request.url of the HTTP digests (spring-mvc, httpclient, okhttp,
    -- resttemplate, openfeign); '' for others. URLs with ids are many: plain String.
    request_url String CODEC(ZSTD(1)),
    -- The datasource digests' statement (commas written as %2C by SOFATracer,
    -- kept as written) and database: few databases, dictionary-encoded.
    sql String CODEC(ZSTD(1)),
    database_name LowCardinality(String),
    database_type LowCardinality(String),
    database_endpoint LowCardinality(String),
    -- NULL where a side does not log the field (server records have no
    -- client.elapse.time, gRPC server records have no sizes).
    req_size Nullable(UInt64),
    resp_size Nullable(UInt64),
    req_serialize_ms Nullable(UInt32),
    resp_deserialize_ms Nullable(UInt32),
    client_conn_ms Nullable(UInt32),
    client_elapse_ms Nullable(UInt32),
    server_pool_wait_ms Nullable(UInt32),
    biz_impl_ms Nullable(UInt32),
    resp_serialize_ms Nullable(UInt32),
    req_deserialize_ms Nullable(UInt32),
    -- Durations of the other SOFATracer digests (Dubbo's serialization times
    -- are in the req_/resp_ columns above): time.cost.milliseconds, and the
    -- datasource's total.time, connection.establish.span, db.execute.cost.
    time_cost_ms Nullable(UInt32),
    total_time_ms Nullable(UInt32),
    connection_establish_ms Nullable(UInt32),
    db_execute_ms Nullable(UInt32),
    -- Transparently transmitted baggage, "k=v&k2=v2" split into a map.
    baggage Map(String, String),
    sys_baggage Map(String, String),
    -- Every key tapline does not know, value as written (strings unescaped,
    -- other JSON values as their text): nothing a record carried is dropped.
    extra Map(String, String) CODEC(ZSTD(1)),
    -- When the row was committed; filled by ClickHouse, never sent.
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tapline/sofarpc_digest_local', '{replica}')
PARTITION BY toYYYYMMDD(timestamp)
-- Per-service queries filter on service (and method) and a time range.
ORDER BY (service, method, side, timestamp)
-- A replayed batch carries the same insert_deduplication_token; ClickHouse
-- drops it if the token is among the last N inserted blocks of this table.
SETTINGS replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728;

CREATE TABLE IF NOT EXISTS sofarpc_digest ON CLUSTER `logs` AS sofarpc_digest_local
ENGINE = Distributed('logs', 'tapline', 'sofarpc_digest_local', cityHash64(service, method, side, timestamp));

-- tables/sofarpc_latency_1m.sql
-- Per-minute SOFARPC call aggregates per side, app pair, service and method,
-- filled by views/sofarpc_latency_1m_mv.sql from sofarpc_digest.
-- Read with the -Merge combinators, e.g.
--   SELECT service, method, sum(calls), quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99, 0.999)(latency_quantiles)
--   FROM sofarpc_latency_1m GROUP BY service, method
-- Latency and error are as defined in tables/sofarpc_digest.sql.
CREATE TABLE IF NOT EXISTS sofarpc_latency_1m_local ON CLUSTER `logs`
(
    minute DateTime('UTC'),
    side LowCardinality(String),
    local_app LowCardinality(String),
    remote_app LowCardinality(String),
    service LowCardinality(String),
    method LowCardinality(String),
    calls SimpleAggregateFunction(sum, UInt64),
    -- result.code != '00' (see sofarpc_digest)
    errors SimpleAggregateFunction(sum, UInt64),
    -- Calls without a latency sample (latency_ms NULL, see sofarpc_digest):
    -- the latency columns cover calls - no_latency samples.
    no_latency SimpleAggregateFunction(sum, UInt64),
    -- by result code: 01 business exception, 02 RPC logic error, 03 timeout, 04 routing failure
    code_01 SimpleAggregateFunction(sum, UInt64),
    code_02 SimpleAggregateFunction(sum, UInt64),
    code_03 SimpleAggregateFunction(sum, UInt64),
    code_04 SimpleAggregateFunction(sum, UInt64),
    latency_sum_ms SimpleAggregateFunction(sum, UInt64),
    latency_max_ms SimpleAggregateFunction(max, UInt32),
    -- t-digest states for p50, p90, p95, p99, p99.9 (in that order).
    latency_quantiles AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99, 0.999), UInt32)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/tapline/sofarpc_latency_1m_local', '{replica}')
PARTITION BY toYYYYMM(minute)
ORDER BY (service, method, side, local_app, remote_app, minute)
-- The view's insert into this table is deduplicated with the source insert
-- (deduplicate_blocks_in_dependent_materialized_views): that needs a window here too.
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS sofarpc_latency_1m ON CLUSTER `logs` AS sofarpc_latency_1m_local
ENGINE = Distributed('logs', 'tapline', 'sofarpc_latency_1m_local', cityHash64(service, method, side, local_app, remote_app, minute));

-- tables/sofarpc_stat.sql
-- One row per SOFARPC / SOFATracer stat record: the calls of one stat key in
-- one reporting period, split by outcome. Written by ingest/decode/sofarpc;
-- columns mirror schema.SofarpcStat. The nested stat.key object is flattened
-- into local_app, remote_app, service, method (+ stat_key_extra).
CREATE TABLE IF NOT EXISTS sofarpc_stat_local ON CLUSTER `logs`
(
    -- Flush time of the period (JVM-local time read in the configured zone).
    time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    -- client | server, taken from the subject (stat lines do not say).
    side LowCardinality(String),
    local_app LowCardinality(String),
    remote_app LowCardinality(String),
    service LowCardinality(String),
    method LowCardinality(String),
    count UInt64,
    total_cost_ms UInt64,
    -- "Y"/"true" (result.code 00) or "N"/"false".
    success Bool,
    -- "T"/"F" in non-RPC SOFATracer stat logs; NULL when absent (RPC).
    load_test Nullable(Bool),
    stat_key_extra Map(String, String),
    extra Map(String, String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tapline/sofarpc_stat_local', '{replica}')
PARTITION BY toYYYYMM(time)
ORDER BY (service, method, side, time)
SETTINGS replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728;

CREATE TABLE IF NOT EXISTS sofarpc_stat ON CLUSTER `logs` AS sofarpc_stat_local
ENGINE = Distributed('logs', 'tapline', 'sofarpc_stat_local', cityHash64(service, method, side, time));

-- tables/webdebug_documents.sql
-- One row per web debug scheme document (one profiled request), including
-- documents without events (the PHP emitter stores id and version only when
-- nothing was profiled), which add no row to webdebug_events. Written by
-- ingest/decode/webdebug; columns mirror schema.WebdebugDocuments.
-- duration_ms and is_error are the document's request-level latency and
-- error exactly as defined in tables/webdebug_events.sql (the event with
-- sample_kind 'request'); duration_ms is NULL when no request or response
-- event had a duration (the document is then a request without a latency).
CREATE TABLE IF NOT EXISTS webdebug_documents_local ON CLUSTER `logs`
(
    -- Earliest event time; 1970-01-01 when no event has a time.
    time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    doc_id String CODEC(ZSTD(1)),
    version UInt16,
    -- Events at any depth, and the deepest depth (0 = top level only).
    events UInt32,
    max_depth UInt8,
    -- Whether the events came oldest to newest, as the scheme promises.
    sorted Bool,
    -- Events with is_error.
    errors UInt32,
    -- The document's request (see webdebug_events); bounded by the routes.
    doc_method LowCardinality(String),
    doc_host LowCardinality(String),
    doc_route LowCardinality(String),
    doc_uri String CODEC(ZSTD(1)),
    duration_ms Nullable(Float64),
    -- The request-level error: of the sample event, else of the response,
    -- else of the request event; false without either.
    is_error Bool,
    -- Top-level keys tapline does not know; "uuid" when "id" was also given.
    extra Map(String, String) CODEC(ZSTD(1)),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    INDEX doc_id_bloom doc_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tapline/webdebug_documents_local', '{replica}')
PARTITION BY toYYYYMM(time)
ORDER BY (doc_host, doc_route, time)
SETTINGS replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728;

CREATE TABLE IF NOT EXISTS webdebug_documents ON CLUSTER `logs` AS webdebug_documents_local
ENGINE = Distributed('logs', 'tapline', 'webdebug_documents_local', cityHash64(doc_host, doc_route, time));

-- tables/webdebug_events.sql
-- One row per event of a web debug scheme document (fe3dback/web-debug-proto
-- "debug/profile scheme" v1), at any nesting depth: the event tree flattened.
-- Written by ingest/decode/webdebug; its stored columns mirror
-- schema.WebdebugEvents (the ALIAS columns are read from payload).
-- A document is one profiled HTTP request of a web application; its events
-- are what happened while serving it (request, middleware, queries, logs,
-- templates, emails, access checks, response, custom types).
--
-- Tree: position "0.2.1" is events[0].nested[2].nested[1]; parent_position is
-- '' for top-level events; depth 0 is top level. Rows keep document order
-- (doc_order, pre-order). The scheme says events are "sorted from oldest to
-- newest", but real documents break that (upstream's own draft example), so
-- time_order ranks every event of a document by time at any depth, oldest 0;
-- equal times keep document order. An event without a time takes the time of
-- the event before it in document order (time_inherited). Read a document as
-- it happened with: WHERE doc_id = ... ORDER BY time_order.
--
-- latency, what the cross-source view latency_1m measures (duration_ms of the
-- rows with a sample_kind; a row whose duration_ms is NULL is counted in
-- requests and no_latency, and adds no sample):
--   sample_kind 'request': the request as a whole, one per document that has
--     a request or response event: the document's response event when it
--     has a duration (the scheme's server rule: "use duration field for total
--     request time"), else its request event when it has one, else the
--     response, else the request, without a duration. Request and response
--     describe the same request, so only one counts. Grouped by the
--     request's host and route.
--   sample_kind 'query': every query event with a duration (a database, cache
--     or service call; legacy drafts wrote these as "request" events with the
--     duration in the payload). Grouped by target and query shape: the
--     scheme's clients sum "duration/count for all queries by each target".
-- error, what the views count (is_error): "success": false (legacy "state":
--   false), the scheme's "error / alarm" flag; or a response status >= 500,
--   a server failure even when the emitter did not set success. An absent
--   success is not an error; a 4xx is the client's mistake, not an error.
CREATE TABLE IF NOT EXISTS webdebug_events_local ON CLUSTER `logs`
(
    -- Event time (Unix ms in the document, UTC), or inherited; see above.
    -- 1970-01-01 when no event of the document has a time.
    time DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    -- Document (request) uuid: unique per document, ZSTD for the text.
    doc_id String CODEC(ZSTD(1)),
    version UInt16,
    -- Tree positions repeat across documents ("0", "0.1", ...): few distinct values.
    position LowCardinality(String),
    parent_position LowCardinality(String),
    depth UInt8,
    doc_order UInt32,
    time_order UInt32,
    children UInt32,
    time_inherited Bool,
    -- Event types are a short list plus the application's custom ones.
    type LowCardinality(String),
    -- Milliseconds as written (fractions kept); NULL when absent.
    duration_ms Nullable(Float64),
    -- NULL when the event does not say.
    success Nullable(Bool),
    is_error Bool,
    -- '' (no sample), 'request' or 'query': see latency above.
    sample_kind LowCardinality(String),
    -- 1 debug .. 8 emergency (RFC 5424 levels); NULL when absent.
    importance Nullable(UInt8),
    -- "name:value" filters and flags: a small vocabulary.
    tags Array(LowCardinality(String)),
    -- Code locations: source files are a bounded set; lines NULL when absent.
    called_from_file LowCardinality(String),
    called_from_line Nullable(UInt32),
    called_from_position_start Nullable(UInt32),
    called_from_position_end Nullable(UInt32),
    defined_in_file LowCardinality(String),
    defined_in_line Nullable(UInt32),
    defined_in_position_start Nullable(UInt32),
    defined_in_position_end Nullable(UInt32),
    -- The whole payload as compact JSON text ("{}" for PHP's empty []; '' when
    -- absent): every field of every type, read with JSONExtract*(payload, ...).
    payload String CODEC(ZSTD(3)),
    -- Well-known payload fields of the documented types, read from payload
    -- when queried (ALIAS: each event is stored once, in payload; this
    -- table's merges and inserts cost about a quarter less than with the
    -- fields stored twice; docs/performance.md, "Kept: each web debug
    -- event stored once").
    -- '' / NULL / [] for other types. A field's text is the string
    -- unescaped ('' for null or absent), any other JSON value as its JSON
    -- text; of a key written twice, the first. Only query_target and
    -- query_shape, which the views group by, are stored.
    message String ALIAS if(type = 'log', JSONExtract(payload, 'message', 'String'), ''), -- log: message
    -- log: context, the JSON text (PHP writes it as a string: unescaped once)
    context String ALIAS if(type = 'log', JSONExtract(payload, 'context', 'String'), ''),
    query_target LowCardinality(String),   -- query: target (mysql, redis, ...); legacy: payload.type
    -- query: query; legacy (a request event whose query is a string): that string
    query String ALIAS multiIf(type = 'query', JSONExtract(payload, 'query', 'String'),
        type = 'request' AND JSONType(payload, 'query') = 'String', JSONExtractString(payload, 'query'), ''),
    -- query: syntax (sql, json, xml, text)
    query_syntax LowCardinality(String) ALIAS if(type = 'query', JSONExtract(payload, 'syntax', 'String'), ''),
    -- query: literals and placeholders replaced by "?", lists collapsed,
    -- cut at 120 bytes; for non-SQL/JSON text the command verb ("GET").
    query_shape LowCardinality(String),
    -- request: HTTP method and uri as written
    method LowCardinality(String) ALIAS if(type = 'request', JSONExtract(payload, 'method', 'String'), ''),
    uri String ALIAS if(type = 'request', JSONExtract(payload, 'uri', 'String'), ''),
    -- response: status, else statusCode (not in the docs' table), a whole
    -- number 0..999 or such a number as a string; NULL otherwise
    response_status Nullable(UInt16) ALIAS if(type = 'response', arrayFirstOrNull(x -> x <= 999,
        [toUInt32OrNull(JSONExtract(payload, 'status', 'String')), toUInt32OrNull(JSONExtract(payload, 'statusCode', 'String'))]), NULL),
    -- response: memoryPeak, bytes (a whole number, or one written as a string)
    memory_peak Nullable(UInt64) ALIAS if(type = 'response', toUInt64OrNull(JSONExtract(payload, 'memoryPeak', 'String')), NULL),
    -- middleware, template, event: name
    name LowCardinality(String) ALIAS if(type IN ('middleware', 'template', 'event'), JSONExtract(payload, 'name', 'String'), ''),
    -- event: group; legacy log: group
    group_name LowCardinality(String) ALIAS if(type IN ('log', 'event'), JSONExtract(payload, 'group', 'String'), ''),
    -- email: subject, from, to (to: a string or an array upstream; null items left out)
    email_subject String ALIAS if(type = 'email', JSONExtract(payload, 'subject', 'String'), ''),
    email_from LowCardinality(String) ALIAS if(type = 'email', JSONExtract(payload, 'from', 'String'), ''),
    email_to Array(String) ALIAS multiIf(type != 'email' OR JSONType(payload, 'to') = 'Null', [],
        JSONType(payload, 'to') = 'Array', arrayMap(x -> assumeNotNull(x), arrayFilter(x -> x IS NOT NULL, JSONExtract(payload, 'to', 'Array(Nullable(String))'))),
        [JSONExtract(payload, 'to', 'String')]),
    -- accessCheck: access (GRANT | DENIED), control, object, action
    access LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'access', 'String'), ''),
    access_control LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'control', 'String'), ''),
    access_object LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'object', 'String'), ''),
    access_action LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'action', 'String'), ''),
    -- The document's request, on every row (its first request event with a
    -- uri or method): method, host (absolute uri, else Host header; lower
    -- case, no port) and route (path with id-like segments as {id}, at most 8
    -- segments). Bounded by the application's routes: LowCardinality.
    doc_method LowCardinality(String),
    doc_host LowCardinality(String),
    doc_route LowCardinality(String),
    -- Event keys tapline does not know, and values of known keys it could not
    -- read (a negative duration, a success that is not a bool), as written.
    extra Map(String, String) CODEC(ZSTD(1)),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    -- A document's rows are found by id without a full scan.
    INDEX doc_id_bloom doc_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/tapline/webdebug_events_local', '{replica}')
-- Monthly: debug documents are few next to access logs, and replays of old
-- documents must not scatter into many small partitions.
PARTITION BY toYYYYMM(time)
-- Queries filter on an endpoint, an event type (slow queries, errors) and time.
ORDER BY (doc_host, doc_route, type, time)
SETTINGS replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728;

CREATE TABLE IF NOT EXISTS webdebug_events ON CLUSTER `logs` AS webdebug_events_local
ENGINE = Distributed('logs', 'tapline', 'webdebug_events_local', cityHash64(doc_host, doc_route, type, time));

-- alters/0001_pipeline_batches_instance.sql
ALTER TABLE pipeline_batches_local ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS instance LowCardinality(String),
    ADD COLUMN IF NOT EXISTS adopted Bool;

ALTER TABLE pipeline_batches ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS instance LowCardinality(String),
    ADD COLUMN IF NOT EXISTS adopted Bool;

-- alters/0002_updated_at.sql
ALTER TABLE django_requests_local ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();

ALTER TABLE django_requests ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();

ALTER TABLE django_tasks_local ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();

ALTER TABLE django_tasks ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();

ALTER TABLE envoytap_connection_summary_local ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();

ALTER TABLE envoytap_connection_summary ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS updated_at SimpleAggregateFunction(max, DateTime('UTC')) DEFAULT now();

-- alters/0003_ttl_only_drop_parts.sql
ALTER TABLE django_events_local ON CLUSTER `logs` MODIFY SETTING ttl_only_drop_parts = 1;

ALTER TABLE envoytap_events_local ON CLUSTER `logs` MODIFY SETTING ttl_only_drop_parts = 1;

ALTER TABLE g3proxy_task_local ON CLUSTER `logs` MODIFY SETTING ttl_only_drop_parts = 1;

ALTER TABLE sofarpc_digest_local ON CLUSTER `logs` MODIFY SETTING ttl_only_drop_parts = 1;

-- alters/0004_latency_optional.sql
ALTER TABLE sofarpc_digest_local ON CLUSTER `logs` MODIFY COLUMN latency_ms Nullable(UInt32) CODEC(T64, ZSTD(1)),
    ADD COLUMN IF NOT EXISTS request_url String CODEC(ZSTD(1)) AFTER local_port,
    ADD COLUMN IF NOT EXISTS sql String CODEC(ZSTD(1)) AFTER request_url,
    ADD COLUMN IF NOT EXISTS database_name LowCardinality(String) AFTER sql,
    ADD COLUMN IF NOT EXISTS database_type LowCardinality(String) AFTER database_name,
    ADD COLUMN IF NOT EXISTS database_endpoint LowCardinality(String) AFTER database_type,
    ADD COLUMN IF NOT EXISTS time_cost_ms Nullable(UInt32) AFTER req_deserialize_ms,
    ADD COLUMN IF NOT EXISTS total_time_ms Nullable(UInt32) AFTER time_cost_ms,
    ADD COLUMN IF NOT EXISTS connection_establish_ms Nullable(UInt32) AFTER total_time_ms,
    ADD COLUMN IF NOT EXISTS db_execute_ms Nullable(UInt32) AFTER connection_establish_ms;

ALTER TABLE sofarpc_digest ON CLUSTER `logs` MODIFY COLUMN latency_ms Nullable(UInt32) CODEC(T64, ZSTD(1)),
    ADD COLUMN IF NOT EXISTS request_url String CODEC(ZSTD(1)) AFTER local_port,
    ADD COLUMN IF NOT EXISTS sql String CODEC(ZSTD(1)) AFTER request_url,
    ADD COLUMN IF NOT EXISTS database_name LowCardinality(String) AFTER sql,
    ADD COLUMN IF NOT EXISTS database_type LowCardinality(String) AFTER database_name,
    ADD COLUMN IF NOT EXISTS database_endpoint LowCardinality(String) AFTER database_type,
    ADD COLUMN IF NOT EXISTS time_cost_ms Nullable(UInt32) AFTER req_deserialize_ms,
    ADD COLUMN IF NOT EXISTS total_time_ms Nullable(UInt32) AFTER time_cost_ms,
    ADD COLUMN IF NOT EXISTS connection_establish_ms Nullable(UInt32) AFTER total_time_ms,
    ADD COLUMN IF NOT EXISTS db_execute_ms Nullable(UInt32) AFTER connection_establish_ms;

ALTER TABLE latency_1m_local ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS no_latency SimpleAggregateFunction(sum, UInt64) AFTER errors;

ALTER TABLE latency_1m ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS no_latency SimpleAggregateFunction(sum, UInt64) AFTER errors;

ALTER TABLE sofarpc_latency_1m_local ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS no_latency SimpleAggregateFunction(sum, UInt64) AFTER errors;

ALTER TABLE sofarpc_latency_1m ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS no_latency SimpleAggregateFunction(sum, UInt64) AFTER errors;

-- alters/0005_webdebug_payload_aliases.sql
ALTER TABLE webdebug_events_local ON CLUSTER `logs` DROP COLUMN IF EXISTS message,
    DROP COLUMN IF EXISTS context,
    DROP COLUMN IF EXISTS query,
    DROP COLUMN IF EXISTS query_syntax,
    DROP COLUMN IF EXISTS method,
    DROP COLUMN IF EXISTS uri,
    DROP COLUMN IF EXISTS response_status,
    DROP COLUMN IF EXISTS memory_peak,
    DROP COLUMN IF EXISTS name,
    DROP COLUMN IF EXISTS group_name,
    DROP COLUMN IF EXISTS email_subject,
    DROP COLUMN IF EXISTS email_from,
    DROP COLUMN IF EXISTS email_to,
    DROP COLUMN IF EXISTS access,
    DROP COLUMN IF EXISTS access_control,
    DROP COLUMN IF EXISTS access_object,
    DROP COLUMN IF EXISTS access_action;

ALTER TABLE webdebug_events ON CLUSTER `logs` DROP COLUMN IF EXISTS message,
    DROP COLUMN IF EXISTS context,
    DROP COLUMN IF EXISTS query,
    DROP COLUMN IF EXISTS query_syntax,
    DROP COLUMN IF EXISTS method,
    DROP COLUMN IF EXISTS uri,
    DROP COLUMN IF EXISTS response_status,
    DROP COLUMN IF EXISTS memory_peak,
    DROP COLUMN IF EXISTS name,
    DROP COLUMN IF EXISTS group_name,
    DROP COLUMN IF EXISTS email_subject,
    DROP COLUMN IF EXISTS email_from,
    DROP COLUMN IF EXISTS email_to,
    DROP COLUMN IF EXISTS access,
    DROP COLUMN IF EXISTS access_control,
    DROP COLUMN IF EXISTS access_object,
    DROP COLUMN IF EXISTS access_action;

ALTER TABLE webdebug_events_local ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS message String ALIAS if(type = 'log', JSONExtract(payload, 'message', 'String'), '') AFTER payload,
    ADD COLUMN IF NOT EXISTS context String ALIAS if(type = 'log', JSONExtract(payload, 'context', 'String'), '') AFTER message,
    ADD COLUMN IF NOT EXISTS query String ALIAS multiIf(type = 'query', JSONExtract(payload, 'query', 'String'), type = 'request' AND JSONType(payload, 'query') = 'String', JSONExtractString(payload, 'query'), '') AFTER query_target,
    ADD COLUMN IF NOT EXISTS query_syntax LowCardinality(String) ALIAS if(type = 'query', JSONExtract(payload, 'syntax', 'String'), '') AFTER query,
    ADD COLUMN IF NOT EXISTS method LowCardinality(String) ALIAS if(type = 'request', JSONExtract(payload, 'method', 'String'), '') AFTER query_shape,
    ADD COLUMN IF NOT EXISTS uri String ALIAS if(type = 'request', JSONExtract(payload, 'uri', 'String'), '') AFTER method,
    ADD COLUMN IF NOT EXISTS response_status Nullable(UInt16) ALIAS if(type = 'response', arrayFirstOrNull(x -> x <= 999, [toUInt32OrNull(JSONExtract(payload, 'status', 'String')), toUInt32OrNull(JSONExtract(payload, 'statusCode', 'String'))]), NULL) AFTER uri,
    ADD COLUMN IF NOT EXISTS memory_peak Nullable(UInt64) ALIAS if(type = 'response', toUInt64OrNull(JSONExtract(payload, 'memoryPeak', 'String')), NULL) AFTER response_status,
    ADD COLUMN IF NOT EXISTS name LowCardinality(String) ALIAS if(type IN ('middleware', 'template', 'event'), JSONExtract(payload, 'name', 'String'), '') AFTER memory_peak,
    ADD COLUMN IF NOT EXISTS group_name LowCardinality(String) ALIAS if(type IN ('log', 'event'), JSONExtract(payload, 'group', 'String'), '') AFTER name,
    ADD COLUMN IF NOT EXISTS email_subject String ALIAS if(type = 'email', JSONExtract(payload, 'subject', 'String'), '') AFTER group_name,
    ADD COLUMN IF NOT EXISTS email_from LowCardinality(String) ALIAS if(type = 'email', JSONExtract(payload, 'from', 'String'), '') AFTER email_subject,
    ADD COLUMN IF NOT EXISTS email_to Array(String) ALIAS multiIf(type != 'email' OR JSONType(payload, 'to') = 'Null', [], JSONType(payload, 'to') = 'Array', arrayMap(x -> assumeNotNull(x), arrayFilter(x -> x IS NOT NULL, JSONExtract(payload, 'to', 'Array(Nullable(String))'))), [JSONExtract(payload, 'to', 'String')]) AFTER email_from,
    ADD COLUMN IF NOT EXISTS access LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'access', 'String'), '') AFTER email_to,
    ADD COLUMN IF NOT EXISTS access_control LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'control', 'String'), '') AFTER access,
    ADD COLUMN IF NOT EXISTS access_object LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'object', 'String'), '') AFTER access_control,
    ADD COLUMN IF NOT EXISTS access_action LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'action', 'String'), '') AFTER access_object;

ALTER TABLE webdebug_events ON CLUSTER `logs` ADD COLUMN IF NOT EXISTS message String ALIAS if(type = 'log', JSONExtract(payload, 'message', 'String'), '') AFTER payload,
    ADD COLUMN IF NOT EXISTS context String ALIAS if(type = 'log', JSONExtract(payload, 'context', 'String'), '') AFTER message,
    ADD COLUMN IF NOT EXISTS query String ALIAS multiIf(type = 'query', JSONExtract(payload, 'query', 'String'), type = 'request' AND JSONType(payload, 'query') = 'String', JSONExtractString(payload, 'query'), '') AFTER query_target,
    ADD COLUMN IF NOT EXISTS query_syntax LowCardinality(String) ALIAS if(type = 'query', JSONExtract(payload, 'syntax', 'String'), '') AFTER query,
    ADD COLUMN IF NOT EXISTS method LowCardinality(String) ALIAS if(type = 'request', JSONExtract(payload, 'method', 'String'), '') AFTER query_shape,
    ADD COLUMN IF NOT EXISTS uri String ALIAS if(type = 'request', JSONExtract(payload, 'uri', 'String'), '') AFTER method,
    ADD COLUMN IF NOT EXISTS response_status Nullable(UInt16) ALIAS if(type = 'response', arrayFirstOrNull(x -> x <= 999, [toUInt32OrNull(JSONExtract(payload, 'status', 'String')), toUInt32OrNull(JSONExtract(payload, 'statusCode', 'String'))]), NULL) AFTER uri,
    ADD COLUMN IF NOT EXISTS memory_peak Nullable(UInt64) ALIAS if(type = 'response', toUInt64OrNull(JSONExtract(payload, 'memoryPeak', 'String')), NULL) AFTER response_status,
    ADD COLUMN IF NOT EXISTS name LowCardinality(String) ALIAS if(type IN ('middleware', 'template', 'event'), JSONExtract(payload, 'name', 'String'), '') AFTER memory_peak,
    ADD COLUMN IF NOT EXISTS group_name LowCardinality(String) ALIAS if(type IN ('log', 'event'), JSONExtract(payload, 'group', 'String'), '') AFTER name,
    ADD COLUMN IF NOT EXISTS email_subject String ALIAS if(type = 'email', JSONExtract(payload, 'subject', 'String'), '') AFTER group_name,
    ADD COLUMN IF NOT EXISTS email_from LowCardinality(String) ALIAS if(type = 'email', JSONExtract(payload, 'from', 'String'), '') AFTER email_subject,
    ADD COLUMN IF NOT EXISTS email_to Array(String) ALIAS multiIf(type != 'email' OR JSONType(payload, 'to') = 'Null', [], JSONType(payload, 'to') = 'Array', arrayMap(x -> assumeNotNull(x), arrayFilter(x -> x IS NOT NULL, JSONExtract(payload, 'to', 'Array(Nullable(String))'))), [JSONExtract(payload, 'to', 'String')]) AFTER email_from,
    ADD COLUMN IF NOT EXISTS access LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'access', 'String'), '') AFTER email_to,
    ADD COLUMN IF NOT EXISTS access_control LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'control', 'String'), '') AFTER access,
    ADD COLUMN IF NOT EXISTS access_object LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'object', 'String'), '') AFTER access_control,
    ADD COLUMN IF NOT EXISTS access_action LowCardinality(String) ALIAS if(type = 'accessCheck', JSONExtract(payload, 'action', 'String'), '') AFTER access_object;

-- views/django_open_requests_close_mv.sql
-- Closes the starts django_request_ends_mv took from django_open_requests:
-- a row with sign -1 per such end, which merges collapse with the start's
-- row (tables/django_open_requests.sql). It is fed by django_request_ends,
-- so it runs only after the pairing has read the table.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_open_requests_close_mv ON CLUSTER `logs` TO django_open_requests_local AS
SELECT request_id, assumeNotNull(started_at) AS started_at, '' AS path, toInt8(-1) AS sign
FROM django_request_ends_local
WHERE start_in_table;

-- views/django_open_requests_mv.sql
-- Starts of requests that do not end in the inserted batch, for
-- views/django_request_ends_mv.sql to find when their end comes in a later
-- batch (tables/django_open_requests.sql). Every django_events below is the
-- inserted batch only. A start whose end is in the same batch is paired
-- within the batch and never stored.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_open_requests_mv ON CLUSTER `logs` TO django_open_requests_local AS
SELECT request_id, timestamp AS started_at, path, toInt8(1) AS sign
FROM django_events_local
WHERE event_name = 'request_started' AND request_id != ''
    AND request_id NOT IN (
        SELECT request_id FROM django_events_local
        WHERE event_name IN ('request_finished', 'request_failed', 'request_cancelled') AND request_id != ''
    );

-- views/django_open_tasks_close_mv.sql
-- Closes the tasks django_task_ends_mv found open in django_open_tasks: a
-- row with sign -1 per such outcome, which merges collapse with the task's
-- row (tables/django_open_tasks.sql). It is fed by django_task_ends, so it
-- runs only after the naming has read the table.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_open_tasks_close_mv ON CLUSTER `logs` TO django_open_tasks_local AS
SELECT task_id, '' AS name, toInt8(-1) AS sign
FROM django_task_ends_local
WHERE open_in_table;

-- views/django_open_tasks_mv.sql
-- Tasks named in the inserted batch whose outcome (any, including
-- task_revoked, task_rejected, task_not_found) is not in it, for
-- views/django_task_ends_mv.sql to name the outcome when it comes in a
-- later batch (tables/django_open_tasks.sql). Every django_events below is
-- the inserted batch only; django_open_tasks is small. A task already open
-- there (enqueued in one batch, started in the next) is not added again, so
-- one row with sign -1 closes it.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_open_tasks_mv ON CLUSTER `logs` TO django_open_tasks_local AS
SELECT tid AS task_id, max(nm) AS name, toInt8(1) AS sign
FROM
(
    SELECT task_id AS tid, task_name AS nm FROM django_events_local
    WHERE event_name = 'task_started' AND task_id != '' AND task_name != ''
    UNION ALL
    SELECT child_task_id AS tid, child_task_name AS nm FROM django_events_local
    WHERE event_name = 'task_enqueued' AND child_task_id != '' AND child_task_name != ''
)
WHERE tid NOT IN (
        SELECT task_id FROM django_events_local
        WHERE event_name IN ('task_succeeded', 'task_failed', 'task_revoked', 'task_rejected', 'task_not_found') AND task_id != ''
    )
    AND tid NOT IN (SELECT task_id FROM django_open_tasks WHERE sign = 1)
GROUP BY tid;

-- views/django_request_ends_mv.sql
-- Pairs each request end of the inserted batch with its start, into the
-- Null table django_request_ends (whose views aggregate latency_1m and
-- close the starts taken from django_open_requests).
--
-- How the start is found, incrementally: each end is paired with the latest
-- request_started of the same request_id at or before it (ASOF JOIN), taken
-- from this batch or, when the request started in an earlier batch, from
-- django_open_requests, which holds only the starts still waiting for their
-- end. Every reference to django_events below is the inserted batch only
-- (that is how ClickHouse runs a materialized view). A start that is both in
-- the batch and in the table pairs the same way.
--
-- Limitations, by design:
--   - an end whose request_started never reached ClickHouse before it (the
--     app does not log request_started at its level, or the start arrived
--     in a later batch than the end, which JetStream's in-order delivery
--     makes rare) is a request (and an error when it is one) without a
--     latency: no_latency, no sample; its operation is the end's path.
--     queries/django_request_latency.sql reads pairs whatever their
--     arrival order.
--   - an end whose start was stored before django_open_requests existed
--     (requests in flight while tapline was upgraded to it) has no latency.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_request_ends_mv ON CLUSTER `logs` TO django_request_ends_local AS
SELECT
    f.rid AS request_id,
    f.end_ts AS ended_at,
    f.svc AS svc,
    if(f.end_path != '', f.end_path, s.start_path) AS operation,
    f.end_error AS is_error,
    -- Unmatched ends get the right side's defaults (matched 0), or NULLs
    -- under join_use_nulls.
    if(ifNull(s.matched, 0) = 1, toNullable(s.start_ts), NULL) AS started_at,
    ifNull(s.in_table, 0) = 1 AS start_in_table
FROM
(
    SELECT request_id AS rid, timestamp AS end_ts, service AS svc, path AS end_path, is_error AS end_error
    FROM django_events_local
    WHERE event_name IN ('request_finished', 'request_failed', 'request_cancelled') AND request_id != ''
) AS f
ASOF LEFT JOIN
(
    SELECT request_id AS rid, timestamp AS start_ts, path AS start_path, toUInt8(1) AS matched, toUInt8(0) AS in_table
    FROM django_events_local
    WHERE event_name = 'request_started' AND request_id != ''
    UNION ALL
    SELECT request_id AS rid, started_at AS start_ts, path AS start_path, toUInt8(1) AS matched, toUInt8(1) AS in_table
    FROM django_open_requests
    WHERE sign = 1 AND request_id IN (
        SELECT request_id FROM django_events_local
        WHERE event_name IN ('request_finished', 'request_failed', 'request_cancelled') AND request_id != ''
    )
) AS s
ON f.rid = s.rid AND f.end_ts >= s.start_ts;

-- views/django_requests_mv.sql
-- Feeds django_requests from every insert into django_events: one row per
-- request_id of the batch, folded with earlier rows of the same request by
-- the AggregatingMergeTree (see tables/django_requests.sql). Lines of the
-- request's Celery tasks carry its request_id too and count in lines.
-- Columns are qualified (e.*): an aggregate's alias may not shadow the
-- column it aggregates.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_requests_mv ON CLUSTER `logs` TO django_requests_local AS
SELECT
    e.request_id AS request_id,
    min(toDate(e.timestamp)) AS day,
    max(e.service) AS service,
    maxIf(e.method, e.event_name IN ('request_started', 'request_finished', 'request_failed')) AS method,
    maxIf(e.path, e.event_name IN ('request_started', 'request_finished', 'request_failed')) AS path,
    maxIf(e.request, e.event_name IN ('request_started', 'request_finished', 'request_failed')) AS request,
    max(e.user_id) AS user_id,
    max(e.ip) AS ip,
    max(e.correlation_id) AS correlation_id,
    maxIf(e.user_agent, e.event_name = 'request_started') AS user_agent,
    maxIf(toNullable(e.timestamp), e.event_name = 'request_started') AS started_at,
    maxIf(toNullable(e.timestamp), e.event_name IN ('request_finished', 'request_failed', 'request_cancelled')) AS ended_at,
    maxIf(ifNull(e.code, 0), e.event_name IN ('request_finished', 'request_failed')) AS code,
    max(e.event_name = 'request_failed') AS failed,
    max(e.event_name = 'request_cancelled') AS cancelled,
    maxIf(toNullable(e.timestamp), e.event_name IN ('streaming_finished', 'streaming_failed', 'streaming_cancelled')) AS streaming_ended_at,
    max(e.event_name = 'streaming_failed') AS streaming_failed,
    max(e.event_name = 'streaming_cancelled') AS streaming_cancelled,
    count() AS lines,
    countIf(e.is_error) AS error_lines,
    countIf(e.event_name = 'task_enqueued') AS tasks_enqueued
FROM django_events_local AS e
WHERE e.request_id != ''
GROUP BY e.request_id;

-- views/django_task_ends_mv.sql
-- Names each task outcome (task_succeeded, task_failed; and task_revoked,
-- task_rejected, task_not_found, which only close the task) of the inserted
-- batch, into the Null table django_task_ends (whose views aggregate
-- latency_1m and close the tasks found in django_open_tasks).
--
-- Those lines carry the task_id but not the task's name, which is on its
-- task_started ("task") and on the line that enqueued it
-- (child_task_name). The name is taken from the line itself when a
-- signal receiver bound one (task_name), else from those lines in this
-- batch, else from django_open_tasks for the batch's task ids (named in an
-- earlier batch and not ended yet). Every reference to django_events below
-- is the inserted batch only (that is how ClickHouse runs a materialized
-- view).
--
-- Limitations, by design:
--   - a task whose name was never logged before its outcome reached
--     ClickHouse (task_started in a later batch) has an empty operation.
--   - a task named before django_open_tasks existed (running while tapline
--     was upgraded to it) has an empty operation unless its outcome line
--     names it.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_task_ends_mv ON CLUSTER `logs` TO django_task_ends_local AS
SELECT
    f.tid AS task_id,
    f.end_ts AS ended_at,
    f.svc AS svc,
    if(f.own_name != '', f.own_name, n.found_name) AS operation,
    f.end_error AS is_error,
    f.ms AS ms,
    ifNull(n.in_table, 0) = 1 AS open_in_table,
    f.event_name IN ('task_succeeded', 'task_failed') AS counted
FROM
(
    SELECT task_id AS tid, timestamp AS end_ts, service AS svc, task_name AS own_name,
           is_error AS end_error, duration_ms AS ms, event_name
    FROM django_events_local
    WHERE event_name IN ('task_succeeded', 'task_failed', 'task_revoked', 'task_rejected', 'task_not_found') AND task_id != ''
) AS f
LEFT JOIN
(
    SELECT tid, max(nm) AS found_name, max(from_table) AS in_table
    FROM
    (
        SELECT task_id AS tid, task_name AS nm, toUInt8(0) AS from_table FROM django_events_local
        WHERE event_name = 'task_started' AND task_id != '' AND task_name != ''
        UNION ALL
        SELECT child_task_id AS tid, child_task_name AS nm, toUInt8(0) AS from_table FROM django_events_local
        WHERE event_name = 'task_enqueued' AND child_task_id != '' AND child_task_name != ''
        UNION ALL
        SELECT task_id AS tid, name AS nm, toUInt8(1) AS from_table FROM django_open_tasks
        WHERE sign = 1 AND task_id IN (
            SELECT task_id FROM django_events_local
            WHERE event_name IN ('task_succeeded', 'task_failed', 'task_revoked', 'task_rejected', 'task_not_found') AND task_id != ''
        )
    )
    GROUP BY tid
) AS n
ON f.tid = n.tid;

-- views/django_tasks_mv.sql
-- Feeds django_tasks from every insert into django_events: one row per task
-- of the batch, folded with earlier rows of the same task by the
-- AggregatingMergeTree (see tables/django_tasks.sql). A task_enqueued line
-- belongs to the task it enqueues (child_task_id); its own task_id, when
-- set, is that task's parent. Columns are qualified (e.*): an aggregate's
-- alias may not shadow the column it aggregates.
CREATE MATERIALIZED VIEW IF NOT EXISTS django_tasks_mv ON CLUSTER `logs` TO django_tasks_local AS
SELECT
    if(e.event_name = 'task_enqueued', e.child_task_id, e.task_id) AS task_id,
    min(toDate(e.timestamp)) AS day,
    max(e.service) AS service,
    max(multiIf(e.event_name = 'task_enqueued', e.child_task_name,
                e.event_name IN ('task_started', 'task_revoked', 'task_not_found'), e.task_name, '')) AS name,
    max(if(e.event_name = 'task_enqueued', e.task_id, e.parent_task_id)) AS parent_task_id,
    max(e.request_id) AS request_id,
    max(e.user_id) AS user_id,
    maxIf(e.routing_key, e.event_name = 'task_enqueued') AS routing_key,
    minIf(toNullable(e.timestamp), e.event_name = 'task_enqueued') AS enqueued_at,
    minIf(toNullable(e.timestamp), e.event_name = 'task_started') AS started_at,
    maxIf(toNullable(e.timestamp), e.event_name IN ('task_succeeded', 'task_failed', 'task_revoked', 'task_not_found', 'task_rejected')) AS ended_at,
    maxIf(e.duration_ms, e.event_name IN ('task_succeeded', 'task_failed')) AS duration_ms,
    countIf(e.event_name = 'task_started') AS attempts,
    countIf(e.event_name = 'task_retrying') AS retries,
    max(e.event_name = 'task_succeeded') AS succeeded,
    max(e.event_name = 'task_failed') AS failed,
    max(e.event_name = 'task_revoked') AS revoked,
    max(e.event_name = 'task_revoked' AND ifNull(e.expired, false)) AS expired,
    max(e.event_name = 'task_not_found') AS not_found,
    max(e.event_name = 'task_rejected') AS rejected,
    maxIf(e.error, e.event_name = 'task_failed') AS error,
    countIf(e.event_name != 'task_enqueued') AS lines,
    countIf(e.is_error AND e.event_name != 'task_enqueued') AS error_lines
FROM django_events_local AS e
WHERE if(e.event_name = 'task_enqueued', e.child_task_id, e.task_id) != ''
GROUP BY if(e.event_name = 'task_enqueued', e.child_task_id, e.task_id);

-- views/envoytap_connection_summary_connections_mv.sql
-- Feeds envoytap_connection_summary from every insert into
-- envoytap_connections: the addresses (the only place a streamed trace names
-- them, unless set_connection_per_event is on), trace-level truncation, and
-- closed for buffered traces (Envoy submits one when the connection closes).
-- Event counts, times and bytes come from the events view only, so a buffered
-- trace is not counted twice.
CREATE MATERIALIZED VIEW IF NOT EXISTS envoytap_connection_summary_connections_mv ON CLUSTER `logs` TO envoytap_connection_summary_local AS
SELECT
    envoy,
    trace_id,
    local_address,
    remote_address,
    remote_host,
    mode = 'buffered' AS closed,
    read_truncated,
    write_truncated
FROM envoytap_connections_local;

-- views/envoytap_connection_summary_events_mv.sql
-- Feeds envoytap_connection_summary from every insert into envoytap_events:
-- per connection in the block, its first and last event time, event count,
-- bytes each way, whether it closed, truncated bodies, and the addresses when
-- the events carried them (buffered traces, set_connection_per_event).
CREATE MATERIALIZED VIEW IF NOT EXISTS envoytap_connection_summary_events_mv ON CLUSTER `logs` TO envoytap_connection_summary_local AS
SELECT
    envoy,
    trace_id,
    max(local_address) AS local_address,
    max(remote_address) AS remote_address,
    min(timestamp) AS first_event,
    max(timestamp) AS last_event,
    count() AS events,
    sumIf(toUInt64(bytes), kind = 'read') AS bytes_read,
    sumIf(toUInt64(bytes), kind = 'write') AS bytes_written,
    max(kind = 'closed') AS closed,
    max(truncated AND kind = 'read') AS read_truncated,
    max(truncated AND kind = 'write') AS write_truncated
FROM envoytap_events_local
GROUP BY envoy, trace_id;

-- views/g3proxy_task_1m_mv.sql
-- Feeds g3proxy_task_1m from the Finished records of every insert into
-- g3proxy_task: one row per task (see tables/g3proxy_task_1m.sql).
CREATE MATERIALIZED VIEW IF NOT EXISTS g3proxy_task_1m_mv ON CLUSTER `logs` TO g3proxy_task_1m_local AS
SELECT
    toStartOfMinute(event_time) AS minute,
    server_type,
    server_name,
    task_type,
    reason,
    stage,
    ifNull(g3proxy_task_local.rsp_status, 0) AS rsp_status,
    count() AS tasks,
    countIf(is_error) AS errors,
    sum(ifNull(c_rd_bytes, 0)) AS client_rd_bytes,
    sum(ifNull(c_wr_bytes, 0)) AS client_wr_bytes,
    sum(ifNull(r_rd_bytes, 0) + ifNull(ftp_c_rd_bytes, 0) + ifNull(ftp_d_rd_bytes, 0)) AS upstream_rd_bytes,
    sum(ifNull(r_wr_bytes, 0) + ifNull(ftp_c_wr_bytes, 0) + ifNull(ftp_d_wr_bytes, 0)) AS upstream_wr_bytes,
    countIf(ready_time_ns IS NOT NULL) AS ready_tasks,
    sum(ifNull(ready_time_ns, 0) / 1e6) AS ready_time_sum_ms,
    -- The -If keeps tasks without ready_time out of the digest; the state
    -- type equals a plain quantilesTDigest state over Float64.
    quantilesTDigestStateIf(0.5, 0.9, 0.99)(ifNull(ready_time_ns, 0) / 1e6, ready_time_ns IS NOT NULL) AS ready_time_quantiles
FROM g3proxy_task_local
WHERE task_event = 'Finished'
GROUP BY minute, server_type, server_name, task_type, reason, stage, rsp_status;

-- views/latency_1m_django_requests_mv.sql
-- Django requests into the cross-source latency_1m: kind 'request', service
-- as in django_events (or 'django' when the logs do not say), operation the
-- request path (without the query string). One request per request end
-- (request_finished, request_failed, request_cancelled), a latency sample
-- when its start is known (else counted in no_latency); latency and error as
-- defined in tables/django_events.sql. A
-- cancelled request is a sample but not an error: the time until the client
-- gave up is the wait it saw, and leaving it out would hide slow endpoints.
--
-- Each end comes paired with its start (or none) from
-- views/django_request_ends_mv.sql, through the Null table
-- django_request_ends; see there how the start is found and when it is not.
--
-- Limitation, by design: paths with ids (/orders/1812/) are distinct
-- operations: Django's log lines do not name the URL pattern. The end of the
-- response stream (StreamingHttpResponse) is not the latency; see
-- django_requests.streaming_ended_at.
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_django_requests_mv ON CLUSTER `logs` TO latency_1m_local AS
SELECT
    toStartOfMinute(ended_at) AS minute,
    'django' AS source,
    'request' AS kind,
    if(svc = '', 'django', svc) AS service,
    operation,
    count() AS requests,
    countIf(is_error) AS errors,
    countIf(started_at IS NULL) AS no_latency,
    sumIf(dateDiff('microsecond', assumeNotNull(started_at), ended_at) / 1000, started_at IS NOT NULL) AS latency_sum_ms,
    maxIf(dateDiff('microsecond', assumeNotNull(started_at), ended_at) / 1000, started_at IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(dateDiff('microsecond', assumeNotNull(started_at), ended_at) / 1000, started_at IS NOT NULL) AS latency_quantiles
FROM django_request_ends_local
GROUP BY minute, service, operation;

-- views/latency_1m_django_tasks_mv.sql
-- Celery tasks into the cross-source latency_1m: kind 'task', service as in
-- django_events (or 'django' when the logs do not say), operation the task
-- name. One request per task_succeeded / task_failed, a latency sample when
-- it carries duration_ms (else counted in no_latency); latency and error as
-- defined in tables/django_events.sql (task_failed is an error,
-- task_succeeded is not).
--
-- Each outcome comes named from views/django_task_ends_mv.sql, through the
-- Null table django_task_ends; see there how the name is found.
--
-- Limitations, by design:
--   - task outcomes of tasks that never ran or were stopped add nothing
--     here: task_not_found, task_rejected and task_revoked; django_tasks
--     and queries/django_tasks_by_name.sql count every outcome. A
--     task_failed logged by the worker's parent process after the child
--     died (WorkerLostError: its timer is lost, upstream PR #1043) is a
--     request and an error without a latency (no_latency).
--   - a task whose name was never logged before its outcome reached
--     ClickHouse has an empty operation (views/django_task_ends_mv.sql).
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_django_tasks_mv ON CLUSTER `logs` TO latency_1m_local AS
SELECT
    toStartOfMinute(ended_at) AS minute,
    'django' AS source,
    'task' AS kind,
    if(svc = '', 'django', svc) AS service,
    operation,
    count() AS requests,
    countIf(is_error) AS errors,
    countIf(ms IS NULL) AS no_latency,
    sumIf(assumeNotNull(ms), ms IS NOT NULL) AS latency_sum_ms,
    maxIf(assumeNotNull(ms), ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(assumeNotNull(ms), ms IS NOT NULL) AS latency_quantiles
FROM django_task_ends_local
WHERE counted
GROUP BY minute, service, operation;

-- views/latency_1m_envoytap_mv.sql
-- Envoy tap connections into the cross-source latency_1m: one sample per
-- buffered trace, in the minute of its last event. kind is 'connection';
-- service is the remote host without port (clients for a listener tap,
-- upstream hosts for a cluster tap); operation is the local listener address
-- "host:port", or the local host alone when the local port is 32768 or above
-- (Linux's default ephemeral range: the source port of a cluster tap's
-- outgoing connection, unique per connection, would make the column unbounded),
-- or 'socket' when Envoy sent no local address.
-- Latency is duration_ms (first to last event of the buffered trace) and error
-- is is_error (data one way only), both defined with their limits in
-- tables/envoytap_connections.sql. A buffered trace with a time but no
-- duration would count in requests and no_latency, never as a 0 ms sample
-- (the decoder gives every timed trace a duration); one without any event
-- time has no minute and adds nothing. Streamed traces feed nothing: no single
-- message knows a streamed connection's duration (see envoytap_connection_summary).
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_envoytap_mv ON CLUSTER `logs` TO latency_1m_local AS
SELECT
    toStartOfMinute(assumeNotNull(last_event)) AS minute,
    'envoytap' AS source,
    'connection' AS kind,
    if(remote_host = '', 'unknown', toString(remote_host)) AS service,
    multiIf(local_address = '', 'socket', local_port >= 32768, toString(local_host), local_address) AS operation,
    count() AS requests,
    countIf(assumeNotNull(is_error)) AS errors,
    countIf(duration_ms IS NULL) AS no_latency,
    sumIf(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_sum_ms,
    maxIf(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_quantiles
FROM envoytap_connections_local
WHERE mode = 'buffered' AND last_event IS NOT NULL
GROUP BY minute, service, operation;

-- views/latency_1m_g3proxy_mv.sql
-- g3proxy tasks into the cross-source latency_1m: one sample per task, from
-- its Finished record (Created, Connected, Periodic and *Shutdown records
-- add none). kind is 'task', service the server_name, operation the
-- task_type, with the HTTP method appended for HttpForward and FtpOverHttp
-- ("HttpForward GET"). Latency is total_time (task creation to end; for
-- tunnels the session length), error is is_error; both are defined, with
-- the reasons why, in tables/g3proxy_task.sql. A Finished record without
-- total_time ended within g3proxy's clock resolution (g3proxy omits zero
-- durations) and is a 0 ms sample. A Finished record whose total_time is
-- there but unreadable (the decoder keeps it in extra, total_time_ns NULL)
-- is a request without a latency: counted in no_latency, no sample.
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_g3proxy_mv ON CLUSTER `logs` TO latency_1m_local AS
SELECT
    toStartOfMinute(event_time) AS minute,
    'g3proxy' AS source,
    'task' AS kind,
    server_name AS service,
    if(task_type IN ('HttpForward', 'FtpOverHttp') AND method != '', concat(task_type, ' ', method), task_type) AS operation,
    count() AS requests,
    countIf(is_error) AS errors,
    countIf(total_time_ns IS NULL AND mapContains(extra, 'total_time')) AS no_latency,
    sumIf(ifNull(total_time_ns, 0) / 1e6, total_time_ns IS NOT NULL OR NOT mapContains(extra, 'total_time')) AS latency_sum_ms,
    maxIf(ifNull(total_time_ns, 0) / 1e6, total_time_ns IS NOT NULL OR NOT mapContains(extra, 'total_time')) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(ifNull(total_time_ns, 0) / 1e6, total_time_ns IS NOT NULL OR NOT mapContains(extra, 'total_time')) AS latency_quantiles
FROM g3proxy_task_local
WHERE task_event = 'Finished'
GROUP BY minute, kind, service, operation;

-- views/latency_1m_sofarpc_mv.sql
-- SOFARPC digests into the cross-source latency_1m: kind is the side
-- (client latency includes the network, server latency is time in the
-- server), service is the RPC interface, operation the method. A digest
-- without a latency (latency_ms NULL: no usable timing) counts as a request
-- (and an error when it is one) and in no_latency, but is no latency sample.
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_sofarpc_mv ON CLUSTER `logs` TO latency_1m_local AS
SELECT
    toStartOfMinute(timestamp) AS minute,
    'sofarpc' AS source,
    side AS kind,
    service,
    method AS operation,
    count() AS requests,
    countIf(is_error) AS errors,
    countIf(latency_ms IS NULL) AS no_latency,
    -- The -If keeps NULL latencies out; the digest's state type equals a
    -- plain quantilesTDigest state over Float64.
    sumIf(toFloat64(assumeNotNull(latency_ms)), latency_ms IS NOT NULL) AS latency_sum_ms,
    maxIf(toFloat64(assumeNotNull(latency_ms)), latency_ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(toFloat64(assumeNotNull(latency_ms)), latency_ms IS NOT NULL) AS latency_quantiles
FROM sofarpc_digest_local
GROUP BY minute, kind, service, operation;

-- views/latency_1m_webdebug_mv.sql
-- Web debug events into the cross-source latency_1m. Only rows with a
-- sample_kind count (tables/webdebug_events.sql defines them).
--   kind 'request': one row per document with a request or response event,
--     the response's duration (else the request's): the time the application
--     took to serve the request. A document without either duration is a
--     request without a latency: counted in requests, errors and no_latency,
--     never a 0 ms sample.
--     service = the request's host, 'webdebug' when the document names none
--     (a relative uri without a Host header); operation = the route shape
--     (path, ids as {id}), '' when the document has no request uri.
--   kind 'query': every query with a duration. service = the query target
--     (mysql, redis: the backend called, as the scheme's clients group
--     queries), 'unknown' when missing; operation = the query shape
--     (literals as "?", cut at 120 bytes; a command verb for non-SQL text),
--     so distinct values follow the statements in the code, not the data.
-- errors: is_error ("success": false, or a response status >= 500).
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_webdebug_mv ON CLUSTER `logs` TO latency_1m_local AS
SELECT
    toStartOfMinute(time) AS minute,
    'webdebug' AS source,
    sample_kind AS kind,
    multiIf(sample_kind = 'query', if(query_target = '', 'unknown', query_target),
            doc_host = '', 'webdebug', doc_host) AS service,
    if(sample_kind = 'query', query_shape, doc_route) AS operation,
    count() AS requests,
    countIf(is_error) AS errors,
    countIf(duration_ms IS NULL) AS no_latency,
    sumIf(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_sum_ms,
    maxIf(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(assumeNotNull(duration_ms), duration_ms IS NOT NULL) AS latency_quantiles
FROM webdebug_events_local
WHERE sample_kind != ''
GROUP BY minute, kind, service, operation;

-- views/sofarpc_latency_1m_mv.sql
-- Feeds sofarpc_latency_1m from every insert into sofarpc_digest.
CREATE MATERIALIZED VIEW IF NOT EXISTS sofarpc_latency_1m_mv ON CLUSTER `logs` TO sofarpc_latency_1m_local AS
SELECT
    toStartOfMinute(timestamp) AS minute,
    side,
    local_app,
    remote_app,
    service,
    method,
    count() AS calls,
    countIf(is_error) AS errors,
    countIf(result_code = '01') AS code_01,
    countIf(result_code = '02') AS code_02,
    countIf(result_code = '03') AS code_03,
    countIf(result_code = '04') AS code_04,
    countIf(latency_ms IS NULL) AS no_latency,
    -- A record without a latency (NULL) is a call but no sample: the -If
    -- keeps it out of the digest, whose state type is a plain one's.
    sumIf(toUInt64(assumeNotNull(latency_ms)), latency_ms IS NOT NULL) AS latency_sum_ms,
    maxIf(assumeNotNull(latency_ms), latency_ms IS NOT NULL) AS latency_max_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.95, 0.99, 0.999)(assumeNotNull(latency_ms), latency_ms IS NOT NULL) AS latency_quantiles
FROM sofarpc_digest_local
GROUP BY minute, side, local_app, remote_app, service, method;

