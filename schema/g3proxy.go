package schema

// G3proxyTask is one row per g3proxy task log record (sql/tables/g3proxy_task.sql):
// every record a task emits (Created, Connected, Periodic, ClientShutdown,
// UpstreamShutdown, Finished) is its own row sharing the task_id; nothing is
// paired or deduplicated across records.
//
// One wide table holds all five task types (TcpConnect, HttpForward,
// FtpOverHttp, UdpAssociate, UdpConnect): a key a task type does not log is
// "" (strings) or NULL (numbers, durations, times). Durations are UInt64
// nanoseconds (the only unit that holds every value g3proxy prints, from
// "100.000ns" to "441.887s", exactly); a NULL duration means the record did
// not carry it, which for g3proxy includes "zero" (it omits zero durations).
// rsp_status and origin_status are NULL where g3proxy wrote 0 ("no status").
// Keys tapline does not know land in extra.
var G3proxyTask = NewTable("g3proxy_task",
	Time("event_time", 6),
	Time("start_at", 6),
	LowCardString("daemon_name"),
	LowCardString("log_type"),
	Int("pid", "UInt32"),
	LowCardString("server_type"),
	LowCardString("server_name"),
	LowCardString("task_type"),
	String("task_id"),
	LowCardString("task_event"),
	LowCardString("stage"),
	LowCardString("reason"),
	Bool("is_error"),
	String("msg"),
	LowCardString("user"),
	LowCardString("escaper"),
	NullableInt("wait_time_ns", "UInt64"),
	NullableInt("ready_time_ns", "UInt64"),
	NullableInt("total_time_ns", "UInt64"),
	// TcpConnect, HttpForward, FtpOverHttp, UdpConnect.
	String("server_addr"),
	String("client_addr"),
	String("upstream"),
	LowCardString("next_bind_ip"),
	String("next_bound_addr"),
	String("next_peer_addr"),
	NullableTime("next_expire", 6),
	NullableInt("tcp_connect_tries", "UInt32"),
	NullableInt("tcp_connect_spend_ns", "UInt64"),
	// HttpForward, FtpOverHttp.
	LowCardString("method"),
	String("uri"),
	String("user_agent"),
	NullableInt("rsp_status", "UInt16"),
	NullableInt("origin_status", "UInt16"),
	NullableBool("reuse_connection"),
	NullableInt("pipeline_wait_ns", "UInt64"),
	NullableInt("dur_req_send_hdr_ns", "UInt64"),
	NullableInt("dur_req_send_all_ns", "UInt64"),
	NullableInt("dur_rsp_recv_hdr_ns", "UInt64"),
	NullableInt("dur_rsp_recv_all_ns", "UInt64"),
	// FtpOverHttp: c = FTP control connection, d = FTP data connection.
	String("ftp_c_bound_addr"),
	String("ftp_c_peer_addr"),
	NullableInt("ftp_c_connect_tries", "UInt32"),
	NullableInt("ftp_c_connect_spend_ns", "UInt64"),
	String("ftp_d_bound_addr"),
	String("ftp_d_peer_addr"),
	NullableInt("ftp_d_connect_tries", "UInt32"),
	NullableInt("ftp_d_connect_spend_ns", "UInt64"),
	// UdpAssociate, UdpConnect.
	LowCardString("tcp_server_addr"),
	String("tcp_client_addr"),
	String("udp_listen_addr"),
	String("udp_client_addr"),
	String("initial_peer"),
	// Byte and packet counters (c = client side, r = remote side).
	NullableInt("c_rd_bytes", "UInt64"),
	NullableInt("c_wr_bytes", "UInt64"),
	NullableInt("r_rd_bytes", "UInt64"),
	NullableInt("r_wr_bytes", "UInt64"),
	NullableInt("ftp_c_rd_bytes", "UInt64"),
	NullableInt("ftp_c_wr_bytes", "UInt64"),
	NullableInt("ftp_d_rd_bytes", "UInt64"),
	NullableInt("ftp_d_wr_bytes", "UInt64"),
	NullableInt("c_rd_packets", "UInt64"),
	NullableInt("c_wr_packets", "UInt64"),
	NullableInt("r_rd_packets", "UInt64"),
	NullableInt("r_wr_packets", "UInt64"),
	// Envelope: g3proxy's report_ts, rsyslog's timereported, the syslog host.
	NullableTime("report_ts", 3),
	NullableTime("rsyslog_time", 6),
	LowCardString("syslog_host"),
	StringMap("extra"),
)
