package g3proxy

// kind says how a known key's value is read and which column it fills.
type kind uint8

const (
	kStr         kind = iota // string column
	kCount                   // UInt64 counter (bytes, packets)
	kTries                   // UInt32 connect attempts
	kDur                     // duration string -> UInt64 nanoseconds
	kStatus                  // HTTP status, 0 = none -> NULL
	kReuse                   // bool
	kPid                     // process id
	kStart                   // start_at, required
	kExpire                  // next_expire
	kReportTS                // report_ts, Unix seconds
	kRsyslogTime             // rsyslog's timereported
	kSD                      // rsyslog's "sd": the g3proxy object nested one level
)

// String columns, in the order of schema.G3proxyTask.
const (
	sDaemonName = iota
	sLogType
	sServerType
	sServerName
	sTaskType
	sTaskID
	sTaskEvent
	sStage
	sReason
	sMsg
	sUser
	sEscaper
	sServerAddr
	sClientAddr
	sUpstream
	sNextBindIP
	sNextBoundAddr
	sNextPeerAddr
	sMethod
	sURI
	sUserAgent
	sFtpCBoundAddr
	sFtpCPeerAddr
	sFtpDBoundAddr
	sFtpDPeerAddr
	sTCPServerAddr
	sTCPClientAddr
	sUDPListenAddr
	sUDPClientAddr
	sInitialPeer
	nStr
)

// Counters (UInt64).
const (
	cCRdBytes = iota
	cCWrBytes
	cRRdBytes
	cRWrBytes
	cFtpCRdBytes
	cFtpCWrBytes
	cFtpDRdBytes
	cFtpDWrBytes
	cCRdPackets
	cCWrPackets
	cRRdPackets
	cRWrPackets
	nCount
)

// Connect attempts (UInt32).
const (
	tTCP = iota
	tFtpC
	tFtpD
	nTries
)

// Durations (UInt64 nanoseconds).
const (
	dWait = iota
	dReady
	dTotal
	dTCPConnectSpend
	dPipelineWait
	dReqSendHdr
	dReqSendAll
	dRspRecvHdr
	dRspRecvAll
	dFtpCConnectSpend
	dFtpDConnectSpend
	nDur
)

// HTTP statuses (UInt16, 0 = none).
const (
	hRsp = iota
	hOrigin
	nStatus
)

// field is where a known key goes.
type field struct {
	kind kind
	idx  uint8
}

// fieldOf returns the column of every key g3proxy writes in task logs
// (g3proxy/src/log/task/*.rs, the shared logger values of
// g3proxy/src/log/task/mod.rs, msg and report_ts from
// lib/g3-syslog/src/format/cee.rs) and of rsyslog's envelope keys. A switch
// on the key: about 2.5 times faster than a map lookup for these keys.
func fieldOf(k []byte) (field, bool) {
	switch string(k) {
	// Shared by all logs.
	case "daemon_name":
		return field{kStr, sDaemonName}, true
	case "log_type":
		return field{kStr, sLogType}, true
	case "pid":
		return field{kPid, 0}, true
	case "report_ts":
		return field{kReportTS, 0}, true
	case "msg":
		return field{kStr, sMsg}, true
	// Shared by task logs.
	case "server_type":
		return field{kStr, sServerType}, true
	case "server_name":
		return field{kStr, sServerName}, true
	case "task_type":
		return field{kStr, sTaskType}, true
	case "task_id":
		return field{kStr, sTaskID}, true
	case "task_event":
		return field{kStr, sTaskEvent}, true
	case "stage":
		return field{kStr, sStage}, true
	case "start_at":
		return field{kStart, 0}, true
	case "user":
		return field{kStr, sUser}, true
	case "escaper":
		return field{kStr, sEscaper}, true
	case "reason":
		return field{kStr, sReason}, true
	case "wait_time":
		return field{kDur, dWait}, true
	case "ready_time":
		return field{kDur, dReady}, true
	case "total_time":
		return field{kDur, dTotal}, true
	// TcpConnect (and the keys HttpForward, FtpOverHttp, UdpConnect share).
	case "server_addr":
		return field{kStr, sServerAddr}, true
	case "client_addr":
		return field{kStr, sClientAddr}, true
	case "upstream":
		return field{kStr, sUpstream}, true
	case "next_bind_ip":
		return field{kStr, sNextBindIP}, true
	case "next_bound_addr":
		return field{kStr, sNextBoundAddr}, true
	case "next_peer_addr":
		return field{kStr, sNextPeerAddr}, true
	case "next_expire":
		return field{kExpire, 0}, true
	case "tcp_connect_tries":
		return field{kTries, tTCP}, true
	case "tcp_connect_spend":
		return field{kDur, dTCPConnectSpend}, true
	case "c_rd_bytes":
		return field{kCount, cCRdBytes}, true
	case "c_wr_bytes":
		return field{kCount, cCWrBytes}, true
	case "r_rd_bytes":
		return field{kCount, cRRdBytes}, true
	case "r_wr_bytes":
		return field{kCount, cRWrBytes}, true
	// HttpForward.
	case "pipeline_wait":
		return field{kDur, dPipelineWait}, true
	case "reuse_connection":
		return field{kReuse, 0}, true
	case "method":
		return field{kStr, sMethod}, true
	case "uri":
		return field{kStr, sURI}, true
	case "user_agent":
		return field{kStr, sUserAgent}, true
	case "rsp_status":
		return field{kStatus, hRsp}, true
	case "origin_status":
		return field{kStatus, hOrigin}, true
	case "dur_req_send_hdr":
		return field{kDur, dReqSendHdr}, true
	case "dur_req_send_all":
		return field{kDur, dReqSendAll}, true
	case "dur_rsp_recv_hdr":
		return field{kDur, dRspRecvHdr}, true
	case "dur_rsp_recv_all":
		return field{kDur, dRspRecvAll}, true
	// FtpOverHttp.
	case "ftp_c_bound_addr":
		return field{kStr, sFtpCBoundAddr}, true
	case "ftp_c_peer_addr":
		return field{kStr, sFtpCPeerAddr}, true
	case "ftp_c_connect_tries":
		return field{kTries, tFtpC}, true
	case "ftp_c_connect_spend":
		return field{kDur, dFtpCConnectSpend}, true
	case "ftp_d_bound_addr":
		return field{kStr, sFtpDBoundAddr}, true
	case "ftp_d_peer_addr":
		return field{kStr, sFtpDPeerAddr}, true
	case "ftp_d_connect_tries":
		return field{kTries, tFtpD}, true
	case "ftp_d_connect_spend":
		return field{kDur, dFtpDConnectSpend}, true
	case "ftp_c_rd_bytes":
		return field{kCount, cFtpCRdBytes}, true
	case "ftp_c_wr_bytes":
		return field{kCount, cFtpCWrBytes}, true
	case "ftp_d_rd_bytes":
		return field{kCount, cFtpDRdBytes}, true
	case "ftp_d_wr_bytes":
		return field{kCount, cFtpDWrBytes}, true
	// UdpAssociate, UdpConnect. The docs name the server side UDP address
	// udp_server_addr; the code (udp_associate.rs, udp_connect.rs) writes
	// udp_listen_addr. Both fill udp_listen_addr.
	case "tcp_server_addr":
		return field{kStr, sTCPServerAddr}, true
	case "tcp_client_addr":
		return field{kStr, sTCPClientAddr}, true
	case "udp_listen_addr":
		return field{kStr, sUDPListenAddr}, true
	case "udp_server_addr":
		return field{kStr, sUDPListenAddr}, true
	case "udp_client_addr":
		return field{kStr, sUDPClientAddr}, true
	case "initial_peer":
		return field{kStr, sInitialPeer}, true
	case "c_rd_packets":
		return field{kCount, cCRdPackets}, true
	case "c_wr_packets":
		return field{kCount, cCWrPackets}, true
	case "r_rd_packets":
		return field{kCount, cRRdPackets}, true
	case "r_wr_packets":
		return field{kCount, cRWrPackets}, true
	// rsyslog's LocalJsonDump template (ansible/roles/g3proxy/templates/rsyslog.d).
	case "timereported":
		return field{kRsyslogTime, 0}, true
	case "sd":
		return field{kSD, 0}, true
	}
	return field{}, false
}

// kv is one key/value pair kept for the extra map.
type kv struct{ k, v []byte }

// task holds one record between parsing and appending, so that a record
// that fails half way appends nothing. Byte slices point into the payload
// or into the decoder's arena; both outlive the record. A set bit in a
// *Set mask means the value at that index was present and valid.
type task struct {
	str       [nStr][]byte
	count     [nCount]uint64
	tries     [nTries]uint32
	dur       [nDur]uint64
	status    [nStatus]uint16
	countSet  uint16
	triesSet  uint8
	durSet    uint16
	statusSet uint8 // present and non-zero

	startNs, expireNs, rsyslogNs int64
	reportS                      int64
	pid                          uint32
	reuse                        int8 // -1 absent, 0 false, 1 true
	hasStart, hasExpire          bool
	hasReport, hasRsyslog        bool
	syslogHost                   []byte
	extra                        []kv
}

func (t *task) reset() {
	*t = task{reuse: -1, extra: t.extra[:0]}
}

// event returns task_event, reading an absent one as Finished: the docs say
// it "can be omitted if the value is finished", and versions before it
// existed wrote only the final record.
func (t *task) event() []byte {
	if len(t.str[sTaskEvent]) == 0 {
		return eventFinished
	}
	return t.str[sTaskEvent]
}

var eventFinished = []byte("Finished")

// isError says whether a record counts as a failed task in the views. Only
// the final record (task_event Finished) can; its reason is
// ServerTaskError::brief() (g3proxy/src/serve/error.rs). Normal ends:
//   - Finished: the task completed ("this isn't an error, for log only");
//   - ClosedByClient, ClosedEarlyByClient: the client hung up; neither the
//     proxy nor the upstream failed;
//   - ClosedByUpstream: how a tunnel (TcpConnect, UdpAssociate, UdpConnect)
//     normally ends, except for HttpForward and FtpOverHttp, where it means
//     the upstream closed before the response and g3proxy answers 502 Bad
//     Gateway (module/http_forward/response/client.rs), so it is an error;
//   - Idle: both directions idle with nothing pending for max_idle_count
//     checks: the normal end of a UDP association (UDP has no close) and of
//     quiet tunnels; stalled transfers end as ClientAppTimeout or
//     UpstreamAppTimeout instead, which are errors;
//   - no reason at all: nothing says the task failed.
//
// Every other reason, including ones tapline does not know yet, is an error:
// internal failures, rule denials, failed resolution or connection, I/O
// failures, timeouts, cancellations.
func (t *task) isError() bool {
	if string(t.event()) != "Finished" {
		return false
	}
	switch string(t.str[sReason]) {
	case "", "Finished", "ClosedByClient", "ClosedEarlyByClient", "Idle":
		return false
	case "ClosedByUpstream":
		tt := string(t.str[sTaskType])
		return tt == "HttpForward" || tt == "FtpOverHttp"
	}
	return true
}

// eventTimeUs is when the record's event happened, in Unix microseconds:
// start_at + total_time (the task's end for a Finished record), or start_at
// when the record carries no total_time (Created, Connected).
func (t *task) eventTimeUs() int64 {
	ns := t.startNs
	if t.durSet&(1<<dTotal) != 0 && t.dur[dTotal] <= uint64(maxNs-ns) {
		ns += int64(t.dur[dTotal])
	}
	return floorDiv(ns, 1000)
}

const maxNs = 1<<63 - 1

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// ParseDuration reads a duration as g3proxy writes it: Rust's
// format!("{:.3?}", std::time::Duration) (lib/g3-slog-types/src/duration.rs),
// a decimal number with an adaptive unit suffix: "100.000ns", "12.345µs",
// "2.500ms", "441.887s" (large values stay in seconds: "3600.000s"). It
// returns nanoseconds, exactly for every value Rust prints. The micro sign
// may be U+00B5 (what Rust writes), U+03BC or "us"; any number of decimals
// is accepted, digits finer than a nanosecond are dropped. ok is false for
// anything else, including values beyond 2^64-1 ns.
func ParseDuration(b []byte) (ns uint64, ok bool) {
	i := 0
	var whole uint64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if whole > (1<<64-1)/10 {
			return 0, false
		}
		whole = whole*10 + uint64(b[i]-'0')
		i++
	}
	if i == 0 {
		return 0, false
	}
	var frac, fracScale uint64 = 0, 1
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if i-j < 9 {
				frac = frac*10 + uint64(b[i]-'0')
				fracScale *= 10
			}
			i++
		}
		if i == j {
			return 0, false
		}
	}
	var unit uint64
	switch string(b[i:]) {
	case "s":
		unit = 1e9
	case "ms":
		unit = 1e6
	case "µs", "μs", "us":
		unit = 1e3
	case "ns":
		unit = 1
	default:
		return 0, false
	}
	fracNs := frac * unit / fracScale // frac < 1e9 and unit <= 1e9: no overflow
	if whole > (1<<64-1-fracNs)/unit {
		return 0, false
	}
	return whole*unit + fracNs, true
}
