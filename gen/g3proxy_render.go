package gen

import (
	"strconv"
	"time"
)

// render writes one record of t in the key order of
// g3proxy/src/log/task/<type>.rs, in one of the envelopes.
func (g *g3proxy) render(b []byte, t *g3task, ev g3event) []byte {
	r := g.r
	envelope := r.Float64()
	at := t.start.Add(time.Duration(ev.at))
	switch {
	case envelope < 0.20:
		b = append(b, "<30>"...)
		b = at.UTC().AppendFormat(b, "Jan _2 15:04:05")
		b = append(b, " proxy-0"...)
		b = strconv.AppendInt(b, int64(1+int(t.id[0])%3), 10)
		b = append(b, " g3proxy[2473]: @cee:"...)
	case envelope < 0.25:
		b = append(b, `{ "timereported":"`...)
		b = at.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
		b = append(b, `", "sd": `...)
	}
	ended := ev.kind == evFinished || ev.kind == evPeriodic || ev.kind == evClientShutdown || ev.kind == evUpstreamShutdown
	stage := "Relaying"
	switch {
	case ev.kind == evCreated:
		stage = "Created"
	case ev.kind == evConnected && t.taskType != "UdpAssociate" && t.taskType != "UdpConnect":
		stage = "Connected"
	case ev.kind == evFinished:
		stage = t.finalStage
	}
	b = append(b, `{"daemon_name":"","log_type":"Task","pid":2473,"server_type":"`...)
	b = append(b, t.srv.typ...)
	b = kvStr(b, "server_name", t.srv.name)
	b = kvStr(b, "task_type", t.taskType)
	b = kvStr(b, "task_id", t.id)
	b = kvStr(b, "task_event", g3eventNames[ev.kind])
	b = kvStr(b, "stage", stage)
	b = append(b, `","start_at":"`...)
	b = t.start.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, '"')
	if t.user != "" {
		b = kvQ(b, "user", t.user)
	}
	udp := t.taskType == "UdpAssociate" || t.taskType == "UdpConnect"
	if udp {
		b = kvQ(b, "tcp_server_addr", t.srv.listen)
		b = kvQ(b, "tcp_client_addr", t.client)
	} else {
		listen := t.srv.listen
		if listen == "" { // a transparent proxy's server_addr is the original destination
			listen = t.peer
		}
		b = kvQ(b, "server_addr", listen)
		b = kvQ(b, "client_addr", t.client)
		b = kvQ(b, "upstream", t.upstream)
	}
	if ev.kind == evCreated {
		if t.taskType == "HttpForward" {
			b = kvDur(b, "pipeline_wait", t.pipeline)
		}
		if t.method != "" {
			b = kvQ(b, "method", t.method)
			b = kvQ(b, "uri", t.uri)
			b = kvQ(b, "user_agent", t.agent)
		}
		b = kvDur(b, "wait_time", t.wait)
		return g.close(b, envelope, "")
	}
	if udp {
		b = kvQ(b, "udp_listen_addr", t.udpListen)
		b = kvQ(b, "udp_client_addr", t.udpClient)
		if t.taskType == "UdpAssociate" {
			b = kvQ(b, "initial_peer", t.upstream)
		} else {
			b = kvQ(b, "upstream", t.upstream)
		}
	}
	b = kvQ(b, "escaper", "direct")
	switch t.taskType {
	case "FtpOverHttp":
		if t.connected {
			b = kvQ(b, "ftp_c_bound_addr", t.bound)
			b = kvQ(b, "ftp_c_peer_addr", t.peer)
		}
		b = kvInt(b, "ftp_c_connect_tries", uint64(t.tries))
		b = kvDur(b, "ftp_c_connect_spend", t.spend)
		if t.connected && ended {
			b = kvQ(b, "ftp_d_bound_addr", t.bound[:len(t.bound)-1]+"1")
			b = kvQ(b, "ftp_d_peer_addr", t.peer[:len(t.peer)-2]+"50011")
			b = kvInt(b, "ftp_d_connect_tries", 1)
			b = kvDur(b, "ftp_d_connect_spend", t.spend)
		}
	case "TcpConnect", "HttpForward", "UdpConnect":
		if t.connected {
			b = kvQ(b, "next_bound_addr", t.bound)
			b = kvQ(b, "next_peer_addr", t.peer)
		}
		if t.taskType != "UdpConnect" && ev.kind != evClientShutdown && ev.kind != evUpstreamShutdown {
			b = kvInt(b, "tcp_connect_tries", uint64(t.tries))
			b = kvDur(b, "tcp_connect_spend", t.spend)
		}
	}
	if ev.kind == evFinished {
		b = kvQ(b, "reason", t.reason)
	}
	if t.method != "" {
		if t.taskType == "HttpForward" {
			b = kvDur(b, "pipeline_wait", t.pipeline)
			b = append(b, `,"reuse_connection":`...)
			b = strconv.AppendBool(b, t.reuse)
		}
		b = kvQ(b, "method", t.method)
		b = kvQ(b, "uri", t.uri)
		b = kvQ(b, "user_agent", t.agent)
		if ended || t.taskType == "FtpOverHttp" {
			b = kvInt(b, "rsp_status", uint64(t.rspStatus))
			if t.taskType == "HttpForward" {
				b = kvInt(b, "origin_status", uint64(t.originStatus))
			}
		}
	}
	b = kvDur(b, "wait_time", t.wait)
	b = kvDur(b, "ready_time", t.ready)
	if t.taskType == "HttpForward" && ended {
		b = kvDur(b, "dur_req_send_hdr", happened(t.reqHdr, ev.at))
		b = kvDur(b, "dur_req_send_all", happened(t.reqAll, ev.at))
		b = kvDur(b, "dur_rsp_recv_hdr", happened(t.rspHdr, ev.at))
		if ev.kind == evFinished {
			b = kvDur(b, "dur_rsp_recv_all", t.rspAll)
		}
	}
	if ended {
		b = kvDur(b, "total_time", g3round(ev.at))
	}
	frac := func(v uint64) uint64 { // running totals of Periodic and *Shutdown records
		if ev.kind == evFinished || t.total == 0 {
			return v
		}
		return v * (ev.at / 1e6) / (t.total/1e6 + 1)
	}
	switch {
	case ev.kind == evConnected && udp:
		b = kvInt(b, "c_rd_bytes", 0)
		b = kvInt(b, "c_rd_packets", 0)
	case ev.kind == evConnected:
	case udp:
		b = kvInt(b, "c_rd_bytes", frac(t.cRd))
		b = kvInt(b, "c_rd_packets", frac(t.cRdP))
		b = kvInt(b, "c_wr_bytes", frac(t.cWr))
		b = kvInt(b, "c_wr_packets", frac(t.cWrP))
		b = kvInt(b, "r_rd_bytes", frac(t.rRd))
		b = kvInt(b, "r_rd_packets", frac(t.rRdP))
		b = kvInt(b, "r_wr_bytes", frac(t.rWr))
		b = kvInt(b, "r_wr_packets", frac(t.rWrP))
	case t.taskType == "FtpOverHttp":
		b = kvInt(b, "c_rd_bytes", frac(t.cRd))
		b = kvInt(b, "c_wr_bytes", frac(t.cWr))
		b = kvInt(b, "ftp_c_rd_bytes", frac(t.rWr/4))
		b = kvInt(b, "ftp_c_wr_bytes", frac(t.rWr/8))
		b = kvInt(b, "ftp_d_rd_bytes", frac(t.rRd))
		b = kvInt(b, "ftp_d_wr_bytes", 0)
	default:
		b = kvInt(b, "c_rd_bytes", frac(t.cRd))
		b = kvInt(b, "c_wr_bytes", frac(t.cWr))
		b = kvInt(b, "r_rd_bytes", frac(t.rRd))
		b = kvInt(b, "r_wr_bytes", frac(t.rWr))
	}
	msg := ""
	if ev.kind == evFinished {
		msg = t.msg
	}
	return g.close(b, envelope, msg)
}

// happened returns d if it is no later than at, else 0 (not yet: omitted).
func happened(d, at uint64) uint64 {
	if d > at {
		return 0
	}
	return d
}

// close writes msg (always last) and ends the object and its envelope.
func (g *g3proxy) close(b []byte, envelope float64, msg string) []byte {
	b = kvQ(b, "msg", msg)
	b = append(b, '}')
	if envelope >= 0.20 && envelope < 0.25 {
		b = append(b, " }"...)
	}
	return b
}

// malform breaks a record the way transports do: a syslog datagram cut
// short, a record without its task_id, or an impossible start_at.
func (g *g3proxy) malform(rec *Record) {
	switch g.r.IntN(3) {
	case 0:
		rec.Data = rec.Data[:len(rec.Data)/2]
	case 1:
		i := indexOf(rec.Data, `"task_id":"`)
		copy(rec.Data[i:], `"task_ix":"`)
	default:
		i := indexOf(rec.Data, `"start_at":"`) + len(`"start_at":"`) + 5
		copy(rec.Data[i:], "13")
	}
	rec.Valid, rec.Sample = false, false
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	panic("BUG: gen: g3proxy record without " + s)
}
