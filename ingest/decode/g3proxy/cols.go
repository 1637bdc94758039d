package g3proxy

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/tapline/tapline/schema"
)

// strCols names the string columns in the order of the s* constants.
var strCols = [nStr]string{
	sDaemonName: "daemon_name", sLogType: "log_type", sServerType: "server_type",
	sServerName: "server_name", sTaskType: "task_type", sTaskID: "task_id",
	sTaskEvent: "task_event", sStage: "stage", sReason: "reason", sMsg: "msg",
	sUser: "user", sEscaper: "escaper", sServerAddr: "server_addr",
	sClientAddr: "client_addr", sUpstream: "upstream", sNextBindIP: "next_bind_ip",
	sNextBoundAddr: "next_bound_addr", sNextPeerAddr: "next_peer_addr",
	sMethod: "method", sURI: "uri", sUserAgent: "user_agent",
	sFtpCBoundAddr: "ftp_c_bound_addr", sFtpCPeerAddr: "ftp_c_peer_addr",
	sFtpDBoundAddr: "ftp_d_bound_addr", sFtpDPeerAddr: "ftp_d_peer_addr",
	sTCPServerAddr: "tcp_server_addr", sTCPClientAddr: "tcp_client_addr",
	sUDPListenAddr: "udp_listen_addr", sUDPClientAddr: "udp_client_addr",
	sInitialPeer: "initial_peer",
}

var countCols = [nCount]string{
	cCRdBytes: "c_rd_bytes", cCWrBytes: "c_wr_bytes", cRRdBytes: "r_rd_bytes", cRWrBytes: "r_wr_bytes",
	cFtpCRdBytes: "ftp_c_rd_bytes", cFtpCWrBytes: "ftp_c_wr_bytes",
	cFtpDRdBytes: "ftp_d_rd_bytes", cFtpDWrBytes: "ftp_d_wr_bytes",
	cCRdPackets: "c_rd_packets", cCWrPackets: "c_wr_packets",
	cRRdPackets: "r_rd_packets", cRWrPackets: "r_wr_packets",
}

var triesCols = [nTries]string{tTCP: "tcp_connect_tries", tFtpC: "ftp_c_connect_tries", tFtpD: "ftp_d_connect_tries"}

var durCols = [nDur]string{
	dWait: "wait_time_ns", dReady: "ready_time_ns", dTotal: "total_time_ns",
	dTCPConnectSpend: "tcp_connect_spend_ns", dPipelineWait: "pipeline_wait_ns",
	dReqSendHdr: "dur_req_send_hdr_ns", dReqSendAll: "dur_req_send_all_ns",
	dRspRecvHdr: "dur_rsp_recv_hdr_ns", dRspRecvAll: "dur_rsp_recv_all_ns",
	dFtpCConnectSpend: "ftp_c_connect_spend_ns", dFtpDConnectSpend: "ftp_d_connect_spend_ns",
}

var statusCols = [nStatus]string{hRsp: "rsp_status", hOrigin: "origin_status"}

// cols holds the typed builders of g3proxy_task, bound once per record
// builder so that appending is free of type assertions.
type cols struct {
	eventTime, startAt, nextExpire, reportTS, rsyslogTime *array.TimestampBuilder

	str        [nStr]*schema.StringColumn
	count      [nCount]*array.Uint64Builder
	tries      [nTries]*array.Uint32Builder
	dur        [nDur]*array.Uint64Builder
	status     [nStatus]*array.Uint16Builder
	pid        *array.Uint32Builder
	isError    *array.BooleanBuilder
	reuse      *array.BooleanBuilder
	syslogHost *schema.StringColumn
	extra      *array.MapBuilder
	extraK     *array.StringBuilder
	extraV     *array.StringBuilder
}

func (c *cols) bind(rb *schema.Builder) {
	t := schema.G3proxyTask
	f := func(name string) array.Builder { return rb.Field(t.Index(name)) }
	ts := func(name string) *array.TimestampBuilder { return f(name).(*array.TimestampBuilder) }
	c.eventTime, c.startAt, c.nextExpire = ts("event_time"), ts("start_at"), ts("next_expire")
	c.reportTS, c.rsyslogTime = ts("report_ts"), ts("rsyslog_time")
	for i, n := range strCols {
		c.str[i] = rb.Strings(t.Index(n))
	}
	for i, n := range countCols {
		c.count[i] = f(n).(*array.Uint64Builder)
	}
	for i, n := range triesCols {
		c.tries[i] = f(n).(*array.Uint32Builder)
	}
	for i, n := range durCols {
		c.dur[i] = f(n).(*array.Uint64Builder)
	}
	for i, n := range statusCols {
		c.status[i] = f(n).(*array.Uint16Builder)
	}
	c.pid = f("pid").(*array.Uint32Builder)
	c.isError = f("is_error").(*array.BooleanBuilder)
	c.reuse = f("reuse_connection").(*array.BooleanBuilder)
	c.syslogHost = rb.Strings(t.Index("syslog_host"))
	c.extra = f("extra").(*array.MapBuilder)
	c.extraK = c.extra.KeyBuilder().(*array.StringBuilder)
	c.extraV = c.extra.ItemBuilder().(*array.StringBuilder)
}

// append appends rows, one column at a time.
func (c *cols) append(rows []task) {
	n := len(rows)
	if n == 0 {
		return
	}
	c.eventTime.Reserve(n)
	c.startAt.Reserve(n)
	c.pid.Reserve(n)
	c.isError.Reserve(n)
	for i := range rows {
		t := &rows[i]
		c.eventTime.UnsafeAppend(arrow.Timestamp(t.eventTimeUs()))
		c.startAt.UnsafeAppend(arrow.Timestamp(floorDiv(t.startNs, 1000)))
		c.pid.UnsafeAppend(t.pid)
		c.isError.UnsafeAppend(t.isError())
	}
	for j, b := range c.str {
		size := 0
		for i := range rows {
			size += len(rows[i].str[j])
		}
		if j == sTaskEvent {
			size += n * len(eventFinished)
		}
		b.Reserve(n, size)
		for i := range rows {
			v := rows[i].str[j]
			if j == sTaskEvent {
				v = rows[i].event()
			}
			b.Append(v)
		}
	}
	for j, b := range c.count {
		b.Reserve(n)
		for i := range rows {
			if rows[i].countSet&(1<<j) != 0 {
				b.UnsafeAppend(rows[i].count[j])
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
	}
	for j, b := range c.tries {
		b.Reserve(n)
		for i := range rows {
			if rows[i].triesSet&(1<<j) != 0 {
				b.UnsafeAppend(rows[i].tries[j])
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
	}
	for j, b := range c.dur {
		b.Reserve(n)
		for i := range rows {
			if rows[i].durSet&(1<<j) != 0 {
				b.UnsafeAppend(rows[i].dur[j])
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
	}
	for j, b := range c.status {
		b.Reserve(n)
		for i := range rows {
			if rows[i].statusSet&(1<<j) != 0 {
				b.UnsafeAppend(rows[i].status[j])
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
	}
	c.reuse.Reserve(n)
	c.nextExpire.Reserve(n)
	c.reportTS.Reserve(n)
	c.rsyslogTime.Reserve(n)
	for i := range rows {
		t := &rows[i]
		switch t.reuse {
		case 1:
			c.reuse.UnsafeAppend(true)
		case 0:
			c.reuse.UnsafeAppend(false)
		default:
			c.reuse.UnsafeAppendBoolToBitmap(false)
		}
		appendTime(c.nextExpire, t.hasExpire, floorDiv(t.expireNs, 1000))
		appendTime(c.reportTS, t.hasReport, t.reportS*1000)
		appendTime(c.rsyslogTime, t.hasRsyslog, floorDiv(t.rsyslogNs, 1000))
		c.syslogHost.Append(t.syslogHost)
		c.extra.Append(true)
		for _, p := range t.extra {
			c.extraK.BinaryBuilder.Append(p.k)
			c.extraV.BinaryBuilder.Append(p.v)
		}
	}
}

// appendTime appends v, or NULL when !ok, to a builder with room reserved.
func appendTime(b *array.TimestampBuilder, ok bool, v int64) {
	if ok {
		b.UnsafeAppend(arrow.Timestamp(v))
	} else {
		b.UnsafeAppendBoolToBitmap(false)
	}
}
