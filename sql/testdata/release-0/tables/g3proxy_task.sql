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
CREATE TABLE IF NOT EXISTS g3proxy_task
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
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(event_time)
-- Dashboards filter on server and task type over a time range.
ORDER BY (server_name, task_type, event_time)
-- A replayed batch carries the same insert_deduplication_token; ClickHouse
-- drops it if the token is among the last N inserted blocks of this table.
SETTINGS non_replicated_deduplication_window = 10000,
    -- Inserted parts (one per batch) stay compact (one data file instead of
    -- two files per column): measured on sofarpc_digest, 100k-row inserts
    -- took 90 ms instead of 140 ms. Merges past 128 MiB make wide parts,
    -- which read single columns faster.
    min_bytes_for_wide_part = 134217728
