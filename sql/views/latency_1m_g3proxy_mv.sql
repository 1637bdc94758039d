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
CREATE MATERIALIZED VIEW IF NOT EXISTS latency_1m_g3proxy_mv TO latency_1m AS
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
FROM g3proxy_task
WHERE task_event = 'Finished'
GROUP BY minute, kind, service, operation
