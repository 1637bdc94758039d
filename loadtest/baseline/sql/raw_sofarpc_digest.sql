-- The raw JSON keys of sofarpc_digest lines, as JSONEachRow reads them: the engine's
-- own JSON ingestion inserts the published lines here (FORMAT JSONEachRow,
-- rows it cannot parse skipped) and raw_sofarpc_digest_mv maps them into sofarpc_digest.
-- Null engine: nothing is stored; only the view sees the rows.
CREATE TABLE IF NOT EXISTS raw_sofarpc_digest
(
    `timestamp` String,
    `tracerId` String,
    `spanId` String,
    `span.kind` String,
    `local.app` String,
    `remote.app` String,
    protocol String,
    service String,
    method String,
    `invoke.type` String,
    `router.record` String,
    `current.thread.name` String,
    `result.code` String,
    `remote.ip` String,
    `local.client.ip` String,
    `local.client.port` String,
    `req.size` String,
    `resp.size` String,
    `req.serialize.time` String,
    `resp.deserialize.time` String,
    `client.conn.time` String,
    `client.elapse.time` String,
    `server.pool.wait.time` String,
    `biz.impl.time` String,
    `resp.serialize.time` String,
    `req.deserialize.time` String,
    baggage String
)
ENGINE = Null
