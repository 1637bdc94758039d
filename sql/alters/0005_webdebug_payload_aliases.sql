-- webdebug_events keeps each event once: the well-known payload fields
-- (message, query, uri, ...) become ALIAS columns read from payload, which
-- holds every field of every event (tables/webdebug_events.sql). Their
-- stored copies are dropped (a mutation that rewrites the existing parts
-- without them) and the columns come back as ALIAS at the same positions;
-- every row reads the same values as before, because payload always held
-- them. On a table that already has this shape both statements drop and
-- re-add ALIAS columns, which stores nothing: a no-op.
ALTER TABLE webdebug_events
    DROP COLUMN IF EXISTS message,
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
ALTER TABLE webdebug_events
    ADD COLUMN IF NOT EXISTS message String ALIAS if(type = 'log', JSONExtract(payload, 'message', 'String'), '') AFTER payload,
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
