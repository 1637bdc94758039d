-- Connection duration and one-sided (error) rate per remote host, from
-- envoytap_connection_summary: covers buffered and streamed traces alike,
-- because the summary has merged each connection's segments. Only closed
-- connections that had at least one event count. Duration is last minus first
-- event (see tables/envoytap_connections.sql for what that does and does not
-- measure); error is "data in one direction only".
SELECT
    remote AS remote_host,
    count() AS connections,
    round(quantiles(0.5, 0.9, 0.99)(duration_ms)[1], 3) AS p50_ms,
    round(quantiles(0.5, 0.9, 0.99)(duration_ms)[2], 3) AS p90_ms,
    round(quantiles(0.5, 0.9, 0.99)(duration_ms)[3], 3) AS p99_ms,
    round(countIf(one_sided) / count(), 4) AS error_rate,
    sum(read_bytes) AS bytes_read,
    sum(written_bytes) AS bytes_written
FROM
(
    SELECT
        envoy,
        trace_id,
        if(max(remote_host) = '', 'unknown', toString(max(remote_host))) AS remote,
        (toUnixTimestamp64Nano(assumeNotNull(max(last_event))) - toUnixTimestamp64Nano(assumeNotNull(min(first_event)))) / 1e6 AS duration_ms,
        sum(bytes_read) AS read_bytes,
        sum(bytes_written) AS written_bytes,
        (read_bytes > 0 OR max(read_truncated)) != (written_bytes > 0 OR max(write_truncated)) AS one_sided
    FROM envoytap_connection_summary
    GROUP BY envoy, trace_id
    HAVING max(closed) AND sum(events) > 0
)
GROUP BY remote
ORDER BY connections DESC, remote
