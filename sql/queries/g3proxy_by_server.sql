-- Tasks, error rate, time to ready, bytes and the most frequent ending
-- reasons per g3proxy server and task type, from g3proxy_task_1m (one row
-- per finished task; see tables/g3proxy_task.sql for what an error is).
SELECT
    server_name,
    task_type,
    sum(tasks) AS finished_tasks,
    round(sum(errors) / sum(tasks), 4) AS error_rate,
    round(sum(ready_time_sum_ms) / nullIf(sum(ready_tasks), 0), 3) AS avg_ready_ms,
    round(quantilesTDigestMerge(0.5, 0.9, 0.99)(ready_time_quantiles)[3], 3) AS p99_ready_ms,
    sum(client_wr_bytes) AS bytes_to_clients,
    sum(upstream_wr_bytes) AS bytes_to_upstreams,
    arrayStringConcat(topKWeighted(3)(reason, tasks), ',') AS top_reasons
FROM g3proxy_task_1m
GROUP BY server_name, task_type
ORDER BY server_name, task_type
