-- Feeds g3proxy_task_1m from the Finished records of every insert into
-- g3proxy_task: one row per task (see tables/g3proxy_task_1m.sql).
CREATE MATERIALIZED VIEW IF NOT EXISTS g3proxy_task_1m_mv TO g3proxy_task_1m AS
SELECT
    toStartOfMinute(event_time) AS minute,
    server_type,
    server_name,
    task_type,
    reason,
    stage,
    ifNull(g3proxy_task.rsp_status, 0) AS rsp_status,
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
FROM g3proxy_task
WHERE task_event = 'Finished'
GROUP BY minute, server_type, server_name, task_type, reason, stage, rsp_status
