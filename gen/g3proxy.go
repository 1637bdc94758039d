package gen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// G3proxyTask is the subject the g3proxy generator publishes to.
const G3proxyTask = "logs.g3proxy.task"

// g3mix is one task type a server runs and its share of the server's tasks.
type g3mix struct {
	taskType string
	share    float64
}

type g3server struct {
	name, typ, listen string
	mix               []g3mix
	errRate           float64
}

// g3servers is a small g3proxy estate: a forward HTTP proxy (plain requests,
// CONNECT tunnels, FTP over HTTP), a SOCKS proxy (TCP, UDP associate, UDP
// connect), an SNI proxy, a transparent TCP proxy and a reverse HTTP proxy.
var g3servers = []g3server{
	{name: "http", typ: "HttpProxy", listen: "10.0.0.5:8080", errRate: 0.04,
		mix: []g3mix{{"HttpForward", 0.70}, {"TcpConnect", 0.26}, {"FtpOverHttp", 0.04}}},
	{name: "socks", typ: "SocksProxy", listen: "10.0.0.5:1080", errRate: 0.03,
		mix: []g3mix{{"TcpConnect", 0.85}, {"UdpAssociate", 0.10}, {"UdpConnect", 0.05}}},
	{name: "sni", typ: "SniProxy", listen: "10.0.0.6:443", errRate: 0.02, mix: []g3mix{{"TcpConnect", 1}}},
	{name: "tproxy", typ: "TcpTProxy", errRate: 0.02, mix: []g3mix{{"TcpConnect", 1}}},
	{name: "rproxy", typ: "HttpRProxy", listen: "10.0.0.7:80", errRate: 0.05, mix: []g3mix{{"HttpForward", 1}}},
}

var (
	g3hosts   = []string{"www.example.com", "api.example.com", "cdn.example.net", "static.example.org", "login.example.com", "files.example.org"}
	g3methods = []string{"GET", "GET", "GET", "GET", "POST", "POST", "PUT", "HEAD", "DELETE"}
	g3agents  = []string{"curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/126.0", "python-requests/2.31.0", "Go-http-client/1.1"}
	g3users   = []string{"", "", "alice", "bob", "svc-backup"}
)

// g3failure is a way a task ends badly: the reason (ServerTaskError::brief),
// its Display text for msg, the stage it ends in, the HTTP status g3proxy
// answers with (0: none), and whether the upstream was connected first.
type g3failure struct {
	reason, msg, stage string
	status             int
	connected          bool
}

var g3failures = map[string][]g3failure{
	"HttpForward": {
		{"UpstreamNotResolved", "upstream not resolved: server error: server claims domain name not found", "Connecting", 530, false},
		{"UpstreamNotConnected", "upstream not connected: connection refused", "Connecting", 521, false},
		{"UpstreamNotConnected", "upstream not connected: timed out", "Connecting", 522, false},
		{"UpstreamAppTimeout", "upstream app timeout: timeout to receive response header", "Relaying", 504, true},
		{"ClosedByUpstream", "closed by upstream", "Relaying", 502, true},
		{"ForbiddenByRule", "forbidden by rule: target dest denied", "Preparing", 403, false},
	},
	"FtpOverHttp": {
		{"UpstreamNotNegotiated", "upstream not negotiated: ftp connect failed: service not available", "Connecting", 502, false},
		{"UpstreamAppTimeout", "upstream app timeout: timeout to wait transfer end", "Relaying", 504, true},
	},
	"TcpConnect": {
		{"UpstreamNotConnected", "upstream not connected: connection refused", "Connecting", 0, false},
		{"UpstreamNotResolved", "upstream not resolved: server error: server claims domain name not found", "Connecting", 0, false},
		{"ForbiddenByRule", "forbidden by rule: target dest denied", "Preparing", 0, false},
		{"ClientTcpReadFailed", "tcp read from client: Connection reset by peer (os error 104)", "Relaying", 0, true},
		{"UpstreamReadFailed", "read from upstream: Connection reset by peer (os error 104)", "Relaying", 0, true},
	},
	"UdpAssociate": {
		{"ClientUdpRecvFailed", "udp recv from client: Connection refused (os error 111)", "Relaying", 0, true},
		{"ForbiddenByRule", "forbidden by rule: target ip blocked", "Relaying", 0, true},
	},
	"UdpConnect": {
		{"UpstreamNotResolved", "upstream not resolved: server error: server returned general failure", "Connecting", 0, false},
		{"ForbiddenByRule", "forbidden by rule: target dest denied", "Preparing", 0, false},
	},
}

// g3 event kinds, in the order a task logs them.
const (
	evCreated = iota
	evConnected
	evPeriodic
	evClientShutdown
	evUpstreamShutdown
	evFinished
)

var g3eventNames = [...]string{"Created", "Connected", "Periodic", "ClientShutdown", "UpstreamShutdown", "Finished"}

type g3event struct {
	kind int
	at   uint64 // ns since start_at
}

// g3task is one task in flight: everything its records say, decided when
// it is created, and the records it has left to log.
type g3task struct {
	srv                                        *g3server
	taskType, id, user, client, upstream       string
	method, uri, agent, bound, peer            string
	udpListen, udpClient                       string
	start                                      time.Time
	wait, ready, total, spend, pipeline        uint64 // ns, as printed
	reqHdr, reqAll, rspHdr, rspAll             uint64
	tries, rspStatus, originStatus             int
	reuse, connected, failed                   bool
	reason, msg, finalStage                    string
	cRd, cWr, rRd, rWr, cRdP, cWrP, rRdP, rWrP uint64
	events                                     []g3event
	next                                       int
}

// g3proxy generates g3proxy task logs: life cycles Created -> Connected ->
// Periodic* -> (ClientShutdown|UpstreamShutdown) -> Finished sharing one
// dash-less task_id, several tasks in flight at once so that their records
// interleave. Durations are written as Rust's "{:.3?}" and omitted when
// zero; about 20% of the records arrive as syslog @cee: lines and 5% in
// rsyslog's {"timereported","sd"} form. Only Finished records are samples:
// latency is their total_time, error their reason (see
// sql/tables/g3proxy_task.sql).
type g3proxy struct {
	opts    Options
	r       *rand.Rand
	clk     clock
	spick   zipf
	flight  [8]*g3task
	free    []*g3task
	counter uint64
}

// NewG3proxy returns the g3proxy task log generator.
func NewG3proxy(o Options) Generator {
	return &g3proxy{opts: o, r: rand.New(rand.NewPCG(o.Seed, 0x63E3)), clk: clock{t: o.start(), step: o.step()}, spick: newZipf(len(g3servers), 0.9)}
}

func (g *g3proxy) Format() string { return "g3proxy" }

func (g *g3proxy) Next(rec *Record) {
	slot := g.r.IntN(len(g.flight))
	t := g.flight[slot]
	if t == nil || t.next >= len(t.events) {
		if t != nil {
			g.free = append(g.free, t)
		}
		t = g.newTask()
		g.flight[slot] = t
	}
	ev := t.events[t.next]
	t.next++
	data := g.render(rec.Data[:0], t, ev)
	// The time the row says (event_time): start_at + total_time for the
	// records that carry one (the task's end for Finished), else start_at.
	// event_time has microseconds.
	at := t.start
	if ev.kind != evCreated && ev.kind != evConnected {
		at = at.Add(time.Duration(g3round(ev.at)))
	}
	*rec = Record{Subject: G3proxyTask, Data: data, Valid: true, Time: at.Truncate(time.Microsecond)}
	if ev.kind == evFinished {
		op := t.taskType
		if t.method != "" {
			op += " " + t.method
		}
		rec.Sample, rec.Kind, rec.Service, rec.Operation = true, "task", t.srv.name, op
		rec.LatencyMs = float64(t.total) / 1e6
		rec.Error = t.failed && (t.reason != "ClosedByUpstream" || t.taskType == "HttpForward" || t.taskType == "FtpOverHttp")
	}
	if g.opts.Malformed > 0 && g.r.Float64() < g.opts.Malformed {
		g.malform(rec)
	}
}

func (g *g3proxy) newTask() *g3task {
	r := g.r
	var t *g3task
	if n := len(g.free); n > 0 {
		t, g.free = g.free[n-1], g.free[:n-1]
		ev := t.events[:0]
		*t = g3task{events: ev}
	} else {
		t = &g3task{}
	}
	srv := &g3servers[g.spick.pick(r)]
	t.srv = srv
	u := r.Float64()
	for _, m := range srv.mix {
		t.taskType = m.taskType
		if u < m.share {
			break
		}
		u -= m.share
	}
	g.counter++
	t.id = g3id(r, g.counter)
	t.start = g.clk.next(r).Truncate(time.Microsecond) // start_at has microseconds
	t.user = g3users[r.IntN(len(g3users))]
	t.client = "192.168." + strconv.Itoa(10+r.IntN(4)) + "." + strconv.Itoa(2+r.IntN(200)) + ":" + strconv.Itoa(40000+r.IntN(25000))
	host := g3hosts[r.IntN(len(g3hosts))]
	if r.Float64() < 0.3 {
		t.wait = 0 // g3proxy omits zero durations: no wait_time key
	} else {
		t.wait = g3dur(logNormalMs(r, 0.4, 0.8))
	}
	t.spend = g3dur(logNormalMs(r, 12, 0.7))
	t.tries = 1
	if r.Float64() < 0.02 {
		t.tries = 2 + r.IntN(2)
	}
	t.peer = "93.184." + strconv.Itoa(215+r.IntN(4)) + "." + strconv.Itoa(1+r.IntN(250)) + ":443"
	t.bound = "10.0.0.5:" + strconv.Itoa(30000+r.IntN(30000))
	switch t.taskType {
	case "HttpForward", "FtpOverHttp":
		t.method = g3methods[r.IntN(len(g3methods))]
		t.agent = g3agents[r.IntN(len(g3agents))]
		t.upstream = host + ":80"
		t.uri = "http://" + host + "/v1/items/" + strconv.Itoa(r.IntN(10000))
		t.peer = t.peer[:len(t.peer)-3] + "80"
		if t.taskType == "FtpOverHttp" {
			t.method = "GET"
			t.upstream, t.uri = "ftp."+host+":21", "ftp://ftp."+host+"/pub/file-"+strconv.Itoa(r.IntN(100))+".tar.gz"
			t.peer = t.peer[:len(t.peer)-2] + "21"
		}
		t.reuse = r.Float64() < 0.3
		t.pipeline = g3dur(logNormalMs(r, 0.2, 0.6))
	case "UdpAssociate", "UdpConnect":
		t.udpListen = "10.0.0.5:" + strconv.Itoa(40000+r.IntN(20000))
		t.udpClient = t.client[:len(t.client)-5] + strconv.Itoa(40000+r.IntN(25000))
		t.upstream = "dns.example.net:53"
		t.peer = "192.0.2." + strconv.Itoa(1+r.IntN(250)) + ":53"
	default:
		t.upstream = host + ":443"
	}
	g.outcome(t)
	g.schedule(t)
	return t
}

// outcome decides how the task ends and how long each phase took.
func (g *g3proxy) outcome(t *g3task) {
	r := g.r
	t.connected = true
	if r.Float64() < t.srv.errRate {
		fs := g3failures[t.taskType]
		f := fs[r.IntN(len(fs))]
		t.failed, t.reason, t.msg, t.finalStage, t.rspStatus, t.connected = true, f.reason, f.msg, f.stage, f.status, f.connected
	}
	isHTTP := t.taskType == "HttpForward" || t.taskType == "FtpOverHttp"
	if t.connected {
		t.ready = t.spend + g3dur(logNormalMs(r, 0.5, 0.5))
	}
	var body uint64
	switch t.taskType {
	case "HttpForward":
		t.reqHdr = t.ready + g3dur(logNormalMs(r, 0.3, 0.5))
		t.reqAll = t.reqHdr
		if t.method == "POST" || t.method == "PUT" {
			t.reqAll += g3dur(logNormalMs(r, 2, 0.8))
		}
		t.rspHdr = t.reqAll + g3dur(logNormalMs(r, 45, 0.9))
		t.rspAll = t.rspHdr + g3dur(logNormalMs(r, 20, 1.2))
		t.total = t.rspAll + g3dur(logNormalMs(r, 0.1, 0.4))
		body = uint64(500 + r.IntN(200000))
	case "FtpOverHttp":
		t.total = t.ready + g3dur(logNormalMs(r, 900, 0.8))
		body = uint64(10000 + r.IntN(5000000))
	case "UdpAssociate", "UdpConnect":
		t.total = t.ready + g3dur(logNormalMs(r, 30000, 1.0))
		body = uint64(100 + r.IntN(20000))
	default:
		t.total = t.ready + g3dur(logNormalMs(r, 4000, 1.3))
		body = uint64(2000 + r.IntN(2000000))
	}
	if !t.connected {
		t.ready, t.reqHdr, t.reqAll, t.rspHdr, t.rspAll = 0, 0, 0, 0, 0
		t.total = t.spend*uint64(t.tries) + g3dur(logNormalMs(r, 0.2, 0.5))
		if t.reason == "ForbiddenByRule" {
			t.total, t.spend, t.tries = g3dur(logNormalMs(r, 0.1, 0.5)), 0, 0
		}
		body = 0
	} else if t.failed {
		// Connected, then cut short: a partial transfer, no response body.
		t.total = t.ready + (t.total-t.ready)/3
		t.rspAll, body = 0, body/4
		if t.reason == "UpstreamAppTimeout" {
			t.rspHdr = 0
		}
	}
	t.total = g3round(t.total)
	if isHTTP && !t.failed {
		t.reason, t.msg, t.finalStage, t.rspStatus = "Finished", "finished", "Finished", 200
		if r.Float64() < 0.05 {
			t.rspStatus = 404
		}
	}
	if isHTTP && t.connected {
		t.originStatus = t.rspStatus
		if t.reason == "ClosedByUpstream" || t.reason == "UpstreamAppTimeout" {
			t.originStatus = 0
		}
	}
	if !t.failed && !isHTTP {
		t.finalStage = "Relaying"
		switch u := r.Float64(); {
		case t.taskType == "UdpAssociate" && u < 0.9, t.taskType == "UdpConnect" && u < 0.6, u < 0.03:
			t.reason, t.msg = "Idle", "idle after 60s x 5"
		case u < 0.6:
			t.reason, t.msg = "ClosedByClient", "closed by client"
		default:
			t.reason, t.msg = "ClosedByUpstream", "closed by upstream"
		}
	}
	req := uint64(200 + r.IntN(800))
	t.cRd, t.rWr = req, req
	t.rRd, t.cWr = body, body
	if t.taskType == "UdpAssociate" || t.taskType == "UdpConnect" {
		t.cRdP, t.rWrP = req/64+1, req/64+1
		t.rRdP, t.cWrP = body/512+1, body/512+1
		if !t.connected {
			t.cRdP, t.rWrP, t.rRdP, t.cWrP = 0, 0, 0, 0
		}
	}
	if !t.connected {
		t.cRd, t.rWr = 0, 0
	}
}

// schedule lists the records the task will log, with their times.
func (g *g3proxy) schedule(t *g3task) {
	t.events = append(t.events, g3event{evCreated, 0})
	if t.connected {
		t.events = append(t.events, g3event{evConnected, t.ready})
		for at := uint64(60e9); at < t.total && at <= 180e9; at += 60e9 {
			t.events = append(t.events, g3event{evPeriodic, at})
		}
		if t.taskType == "TcpConnect" && !t.failed && g.r.Float64() < 0.5 {
			kind := evClientShutdown
			if t.reason == "ClosedByUpstream" {
				kind = evUpstreamShutdown
			}
			t.events = append(t.events, g3event{kind, t.total - t.total/50})
		}
	}
	t.events = append(t.events, g3event{evFinished, t.total})
}

// g3id returns a dash-less UUID in Uuid::simple() form (32 lowercase hex
// digits), version 1 like the ids g3proxy logs.
func g3id(r *rand.Rand, n uint64) string {
	const hex = "0123456789abcdef"
	var b [32]byte
	hi, lo := r.Uint64()^n<<32, r.Uint64()
	for i := 0; i < 16; i++ {
		b[i] = hex[(hi>>(60-4*i))&15]
		b[16+i] = hex[(lo>>(60-4*i))&15]
	}
	b[12] = '1'
	b[16] = hex[8+(lo>>62)] // RFC 4122 variant
	return string(b[:])
}

// g3dur turns milliseconds into nanoseconds.
func g3dur(ms float64) uint64 {
	if ms <= 0 {
		return 0
	}
	return uint64(ms * 1e6)
}

// g3round returns the duration Rust's "{:.3?}" prints for ns (3 decimals
// of the unit chosen by magnitude, rounded half up), so that truth and
// record agree exactly.
func g3round(ns uint64) uint64 {
	step := g3step(ns)
	if step <= 1 {
		return ns
	}
	return (ns + step/2) / step * step
}

func g3step(ns uint64) uint64 {
	switch {
	case ns >= 1e9:
		return 1e6
	case ns >= 1e6:
		return 1e3
	}
	return 1
}

// appendRustDuration writes ns as Rust's format!("{:.3?}", Duration) does:
// "100.000ns", "12.345µs", "2.500ms", "441.887s". Rounding may carry into
// the next unit's range ("1000.000ms"), as Rust's does.
func appendRustDuration(b []byte, ns uint64) []byte {
	unit, suffix := uint64(1), "ns"
	switch {
	case ns >= 1e9:
		unit, suffix = 1e9, "s"
	case ns >= 1e6:
		unit, suffix = 1e6, "ms"
	case ns >= 1e3:
		unit, suffix = 1e3, "µs"
	}
	q := ns * 1000
	if step := unit / 1000; step > 0 {
		q = (ns + step/2) / step
	}
	b = strconv.AppendUint(b, q/1000, 10)
	f := q % 1000
	b = append(b, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	return append(b, suffix...)
}

func kvStr(b []byte, k, v string) []byte {
	b = append(b, `","`...)
	b = append(b, k...)
	b = append(b, `":"`...)
	return append(b, v...)
}

func kvQ(b []byte, k, v string) []byte {
	b = append(b, `,"`...)
	b = append(b, k...)
	b = append(b, `":"`...)
	b = append(b, v...)
	return append(b, '"')
}

func kvInt(b []byte, k string, v uint64) []byte {
	b = append(b, `,"`...)
	b = append(b, k...)
	b = append(b, `":`...)
	return strconv.AppendUint(b, v, 10)
}

// kvDur writes a duration key, or nothing for zero: g3proxy omits zero
// durations (LtDuration emits none).
func kvDur(b []byte, k string, ns uint64) []byte {
	if ns == 0 {
		return b
	}
	b = append(b, `,"`...)
	b = append(b, k...)
	b = append(b, `":"`...)
	b = appendRustDuration(b, ns)
	return append(b, '"')
}
