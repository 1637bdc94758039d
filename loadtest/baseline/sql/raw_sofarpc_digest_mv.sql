-- The engine's own JSON ingestion of SOFARPC digest lines: the raw lines in
-- FORMAT JSONEachRow, mapped to sofarpc_digest's columns with ClickHouse
-- expressions. Mapped: every column the generated lines feed, with tapline's
-- definitions (latency_ms: client.elapse.time, else pool wait +
-- deserialization + business + serialization; is_error: result.code other
-- than 00; remote.ip split into host and port; baggage "k=v&k2=v2" into a
-- map). Left to defaults: sys_baggage and extra (tapline keeps every unknown
-- key there; JSONEachRow skips unknown keys), ingested_at.
CREATE MATERIALIZED VIEW IF NOT EXISTS raw_sofarpc_digest_mv TO sofarpc_digest AS SELECT
    toDateTime64(`timestamp`, 3, 'UTC') AS timestamp,
    `span.kind` AS side,
    `tracerId` AS trace_id,
    `spanId` AS span_id,
    `local.app` AS local_app,
    `remote.app` AS remote_app,
    protocol AS protocol,
    service AS service,
    method AS method,
    `invoke.type` AS invoke_type,
    `router.record` AS router_record,
    `current.thread.name` AS thread_name,
    `result.code` AS result_code,
    `result.code` NOT IN ('', '00') AS is_error,
    toUInt32(ifNull(toUInt64OrNull(`client.elapse.time`),
        toUInt64OrZero(`server.pool.wait.time`) + toUInt64OrZero(`req.deserialize.time`)
        + toUInt64OrZero(`biz.impl.time`) + toUInt64OrZero(`resp.serialize.time`))) AS latency_ms,
    `remote.ip` AS remote_ip,
    splitByChar(':', `remote.ip`)[1] AS remote_host,
    toUInt16OrZero(arrayElement(splitByChar(':', `remote.ip`), 2)) AS remote_port,
    `local.client.ip` AS local_ip,
    toUInt16OrZero(`local.client.port`) AS local_port,
    toUInt64OrNull(`req.size`) AS req_size,
    toUInt64OrNull(`resp.size`) AS resp_size,
    toUInt32OrNull(`req.serialize.time`) AS req_serialize_ms,
    toUInt32OrNull(`resp.deserialize.time`) AS resp_deserialize_ms,
    toUInt32OrNull(`client.conn.time`) AS client_conn_ms,
    toUInt32OrNull(`client.elapse.time`) AS client_elapse_ms,
    toUInt32OrNull(`server.pool.wait.time`) AS server_pool_wait_ms,
    toUInt32OrNull(`biz.impl.time`) AS biz_impl_ms,
    toUInt32OrNull(`resp.serialize.time`) AS resp_serialize_ms,
    toUInt32OrNull(`req.deserialize.time`) AS req_deserialize_ms,
    extractKeyValuePairs(baggage, '=', '&') AS baggage
FROM raw_sofarpc_digest

