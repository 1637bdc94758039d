-- The engine's own JSON ingestion of g3proxy task lines (FORMAT JSONEachRow)
-- into g3proxy_task. Only bare JSON objects parse: the syslog lines (an RFC
-- 3164 header and "@cee:" before the object) are parse errors the engine
-- skips (input_format_allow_errors_*), and rsyslog's {"timereported", "sd"}
-- wrapper has no top-level task_id, so WHERE drops it; tapline reads all
-- three shapes. A start_at that is no time (a malformed record) drops the
-- row too, where tapline dead-letters the record. Mapped: every column the generated objects feed, with
-- tapline's definitions: event_time = start_at + total_time, durations
-- written as Rust's Debug ("12.345ms") converted to nanoseconds, is_error
-- (a Finished record with an abnormal reason, see
-- sql/tables/g3proxy_task.sql). Left to defaults: next_bind_ip, next_expire,
-- report_ts, rsyslog_time, syslog_host, extra (unknown keys), ingested_at.
CREATE MATERIALIZED VIEW IF NOT EXISTS raw_g3proxy_task_mv TO g3proxy_task AS SELECT
    addNanoseconds(start_at, ifNull(total_time_ns, 0)) AS event_time,
    parseDateTime64BestEffortOrNull(start_at, 6, 'UTC') AS start_at,
    pid AS pid,
    task_event = 'Finished'
        AND reason NOT IN ('', 'Finished', 'ClosedByClient', 'ClosedEarlyByClient', 'Idle')
        AND NOT (reason = 'ClosedByUpstream' AND task_type NOT IN ('HttpForward', 'FtpOverHttp')) AS is_error,
    `daemon_name` AS daemon_name,
    `log_type` AS log_type,
    `server_type` AS server_type,
    `server_name` AS server_name,
    `task_type` AS task_type,
    `task_id` AS task_id,
    `task_event` AS task_event,
    `stage` AS stage,
    `reason` AS reason,
    `msg` AS msg,
    `user` AS user,
    `escaper` AS escaper,
    `server_addr` AS server_addr,
    `client_addr` AS client_addr,
    `upstream` AS upstream,
    `next_bound_addr` AS next_bound_addr,
    `next_peer_addr` AS next_peer_addr,
    `method` AS method,
    `uri` AS uri,
    `user_agent` AS user_agent,
    `ftp_c_bound_addr` AS ftp_c_bound_addr,
    `ftp_c_peer_addr` AS ftp_c_peer_addr,
    `ftp_d_bound_addr` AS ftp_d_bound_addr,
    `ftp_d_peer_addr` AS ftp_d_peer_addr,
    `tcp_server_addr` AS tcp_server_addr,
    `tcp_client_addr` AS tcp_client_addr,
    `udp_listen_addr` AS udp_listen_addr,
    `udp_client_addr` AS udp_client_addr,
    `initial_peer` AS initial_peer,
    `tcp_connect_tries` AS tcp_connect_tries,
    `ftp_c_connect_tries` AS ftp_c_connect_tries,
    `ftp_d_connect_tries` AS ftp_d_connect_tries,
    `rsp_status` AS rsp_status,
    `origin_status` AS origin_status,
    `reuse_connection` AS reuse_connection,
    `c_rd_bytes` AS c_rd_bytes,
    `c_wr_bytes` AS c_wr_bytes,
    `r_rd_bytes` AS r_rd_bytes,
    `r_wr_bytes` AS r_wr_bytes,
    `ftp_c_rd_bytes` AS ftp_c_rd_bytes,
    `ftp_c_wr_bytes` AS ftp_c_wr_bytes,
    `ftp_d_rd_bytes` AS ftp_d_rd_bytes,
    `ftp_d_wr_bytes` AS ftp_d_wr_bytes,
    `c_rd_packets` AS c_rd_packets,
    `c_wr_packets` AS c_wr_packets,
    `r_rd_packets` AS r_rd_packets,
    `r_wr_packets` AS r_wr_packets,
    if(empty(ifNull(`wait_time`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`wait_time`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`wait_time`), 'ns'), 1, endsWith(assumeNotNull(`wait_time`), 'µs'), 1e3, endsWith(assumeNotNull(`wait_time`), 'ms'), 1e6, endsWith(assumeNotNull(`wait_time`), 's'), 1e9, 0)))) AS wait_time_ns,
    if(empty(ifNull(`ready_time`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`ready_time`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`ready_time`), 'ns'), 1, endsWith(assumeNotNull(`ready_time`), 'µs'), 1e3, endsWith(assumeNotNull(`ready_time`), 'ms'), 1e6, endsWith(assumeNotNull(`ready_time`), 's'), 1e9, 0)))) AS ready_time_ns,
    if(empty(ifNull(`total_time`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`total_time`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`total_time`), 'ns'), 1, endsWith(assumeNotNull(`total_time`), 'µs'), 1e3, endsWith(assumeNotNull(`total_time`), 'ms'), 1e6, endsWith(assumeNotNull(`total_time`), 's'), 1e9, 0)))) AS total_time_ns,
    if(empty(ifNull(`tcp_connect_spend`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`tcp_connect_spend`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`tcp_connect_spend`), 'ns'), 1, endsWith(assumeNotNull(`tcp_connect_spend`), 'µs'), 1e3, endsWith(assumeNotNull(`tcp_connect_spend`), 'ms'), 1e6, endsWith(assumeNotNull(`tcp_connect_spend`), 's'), 1e9, 0)))) AS tcp_connect_spend_ns,
    if(empty(ifNull(`pipeline_wait`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`pipeline_wait`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`pipeline_wait`), 'ns'), 1, endsWith(assumeNotNull(`pipeline_wait`), 'µs'), 1e3, endsWith(assumeNotNull(`pipeline_wait`), 'ms'), 1e6, endsWith(assumeNotNull(`pipeline_wait`), 's'), 1e9, 0)))) AS pipeline_wait_ns,
    if(empty(ifNull(`dur_req_send_hdr`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`dur_req_send_hdr`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`dur_req_send_hdr`), 'ns'), 1, endsWith(assumeNotNull(`dur_req_send_hdr`), 'µs'), 1e3, endsWith(assumeNotNull(`dur_req_send_hdr`), 'ms'), 1e6, endsWith(assumeNotNull(`dur_req_send_hdr`), 's'), 1e9, 0)))) AS dur_req_send_hdr_ns,
    if(empty(ifNull(`dur_req_send_all`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`dur_req_send_all`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`dur_req_send_all`), 'ns'), 1, endsWith(assumeNotNull(`dur_req_send_all`), 'µs'), 1e3, endsWith(assumeNotNull(`dur_req_send_all`), 'ms'), 1e6, endsWith(assumeNotNull(`dur_req_send_all`), 's'), 1e9, 0)))) AS dur_req_send_all_ns,
    if(empty(ifNull(`dur_rsp_recv_hdr`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`dur_rsp_recv_hdr`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`dur_rsp_recv_hdr`), 'ns'), 1, endsWith(assumeNotNull(`dur_rsp_recv_hdr`), 'µs'), 1e3, endsWith(assumeNotNull(`dur_rsp_recv_hdr`), 'ms'), 1e6, endsWith(assumeNotNull(`dur_rsp_recv_hdr`), 's'), 1e9, 0)))) AS dur_rsp_recv_hdr_ns,
    if(empty(ifNull(`dur_rsp_recv_all`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`dur_rsp_recv_all`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`dur_rsp_recv_all`), 'ns'), 1, endsWith(assumeNotNull(`dur_rsp_recv_all`), 'µs'), 1e3, endsWith(assumeNotNull(`dur_rsp_recv_all`), 'ms'), 1e6, endsWith(assumeNotNull(`dur_rsp_recv_all`), 's'), 1e9, 0)))) AS dur_rsp_recv_all_ns,
    if(empty(ifNull(`ftp_c_connect_spend`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`ftp_c_connect_spend`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`ftp_c_connect_spend`), 'ns'), 1, endsWith(assumeNotNull(`ftp_c_connect_spend`), 'µs'), 1e3, endsWith(assumeNotNull(`ftp_c_connect_spend`), 'ms'), 1e6, endsWith(assumeNotNull(`ftp_c_connect_spend`), 's'), 1e9, 0)))) AS ftp_c_connect_spend_ns,
    if(empty(ifNull(`ftp_d_connect_spend`, '')), NULL, toUInt64(round(toFloat64OrZero(trimRight(assumeNotNull(`ftp_d_connect_spend`), 'nsµm'))
        * multiIf(endsWith(assumeNotNull(`ftp_d_connect_spend`), 'ns'), 1, endsWith(assumeNotNull(`ftp_d_connect_spend`), 'µs'), 1e3, endsWith(assumeNotNull(`ftp_d_connect_spend`), 'ms'), 1e6, endsWith(assumeNotNull(`ftp_d_connect_spend`), 's'), 1e9, 0)))) AS ftp_d_connect_spend_ns
FROM raw_g3proxy_task
WHERE task_id != '' AND start_at IS NOT NULL

