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
CREATE TABLE IF NOT EXISTS webdebug_events
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
ENGINE = MergeTree
-- Monthly: debug documents are few next to access logs, and replays of old
-- documents must not scatter into many small partitions.
PARTITION BY toYYYYMM(time)
-- Queries filter on an endpoint, an event type (slow queries, errors) and time.
ORDER BY (doc_host, doc_route, type, time)
SETTINGS non_replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728
