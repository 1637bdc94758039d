package gen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Subjects the envoytap generator publishes to, by encoding (tapline's
// defaults; no ".<envoy>" suffix, so every trace has envoy ”).
const (
	EnvoytapJSON  = "logs.envoytap.json"
	EnvoytapProto = "logs.envoytap.proto"
)

// Envoy's default buffered-tap limits (OutputConfig.max_buffered_rx_bytes and
// max_buffered_tx_bytes): 1 KiB each way per buffered trace, and per event in
// streaming mode.
const tapBufferLimit = 1024

// envoytapListeners are the listener addresses of the tapped Envoy
// (downstream tap: local address = listener).
var envoytapListeners = []string{"10.0.0.10:8080", "10.0.0.10:8443", "10.0.0.11:80"}

type envoyRoute struct {
	method, path string
	medianMs     float64
	bodyBytes    int // about the response body size
	contentType  string
}

var envoyRoutes = []envoyRoute{
	{"GET", "/api/v1/orders/", 12, 180, "application/json"},
	{"GET", "/api/v1/users/", 4, 120, "application/json"},
	{"POST", "/api/v1/orders", 35, 90, "application/json"},
	{"GET", "/healthz", 0.5, 0, "text/plain"},
	{"GET", "/static/app.js", 3, 6200, "application/javascript"},
	{"GET", "/api/v1/search?q=", 60, 900, "application/json"},
}

var envoyAgents = []string{"curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "okhttp/4.12.0", "python-requests/2.32.3"}

// tapEvent is one socket event as the tap records it (after truncation).
type tapEvent struct {
	ns        int64
	kind      uint8 // 1 read, 2 write, 3 closed
	data      []byte
	truncated bool
	endStream bool
	seq       uint64
}

// tapConn is one tapped connection, rendered into one buffered trace or into
// several streamed segments.
type tapConn struct {
	id                    uint64
	local, remote         string // host:port
	localHost, remoteHost string
	localPort, remotePort int
	proto                 bool // PROTO_BINARY_LENGTH_DELIMITED, else JSON
	asString              bool // JSON_BODY_AS_STRING
	streamed              bool
	batched               bool // streamed with min_streamed_sent_bytes: events.events[]
	perEventConn          bool // set_connection_per_event
	seqNums               bool // newer Envoy: seq_num is printed (numbered in streamed traces)
	events                []tapEvent
	readTrunc, writeTrunc bool
}

// envoytap generates Envoy tap transport-socket traces of a downstream tap on
// an HTTP/1.1 plaintext listener: keep-alive connections with one to four
// request/response exchanges, 3% of them a request that never gets a reply
// (the upstream timed out: one-sided, the error the views count). Large
// responses (static files) exceed the 1 KiB buffer and are truncated as Envoy
// does. Each connection is, at random, JSON (bodies as_bytes or as_string) or
// length-delimited protobuf, buffered (one record) or streamed (a connection
// segment, then one segment per event or per events.events[] batch).
//
// Truth: a buffered trace is one latency_1m sample: kind "connection",
// service the client IP, operation the listener address, latency the first to
// last recorded event (Envoy records no close in buffered traces), error when
// data flowed one way only. Streamed segments are not samples.
type envoytap struct {
	opts    Options
	r       *rand.Rand
	clk     clock
	rpick   zipf
	cpick   zipf
	nextID  uint64
	pending []Record
	conn    tapConn
	scratch []byte
	body    []byte
}

// NewEnvoytap returns the Envoy tap generator.
func NewEnvoytap(o Options) Generator {
	return &envoytap{
		opts:   o,
		r:      rand.New(rand.NewPCG(o.Seed, 0xE7A9)),
		clk:    clock{t: o.start(), step: o.step()},
		rpick:  newZipf(len(envoyRoutes), 1.1),
		cpick:  newZipf(40, 1.05),
		nextID: 1000 + o.Seed%1000,
	}
}

func (g *envoytap) Format() string { return "envoytap" }

func (g *envoytap) Next(rec *Record) {
	if len(g.pending) == 0 {
		g.connection()
	}
	next := g.pending[0]
	data := append(rec.Data[:0], next.Data...)
	*rec = next
	rec.Data = data
	g.pending = g.pending[1:]
	if g.opts.Malformed > 0 && g.r.Float64() < g.opts.Malformed {
		g.malform(rec)
	}
}

// connection generates the next connection and queues its records.
func (g *envoytap) connection() {
	r := g.r
	c := &g.conn
	*c = tapConn{events: c.events[:0]}
	c.id = g.nextID
	g.nextID += uint64(1 + r.IntN(3)) // other connections were not tapped
	c.local = envoytapListeners[r.IntN(len(envoytapListeners))]
	c.localHost, c.localPort = splitAddr(c.local)
	c.remoteHost = "198.51.100." + strconv.Itoa(10+g.cpick.pick(r))
	c.remotePort = 32768 + r.IntN(28232)
	c.remote = c.remoteHost + ":" + strconv.Itoa(c.remotePort)
	c.proto = r.Float64() < 0.3
	c.asString = !c.proto && r.Float64() < 0.3
	c.streamed = r.Float64() < 0.4
	c.batched = c.streamed && r.Float64() < 0.3
	c.perEventConn = c.streamed && r.Float64() < 0.2
	c.seqNums = r.Float64() < 0.5 // newer Envoy: buffered events print "seq_num": "0"

	t := g.clk.next(r).Truncate(time.Microsecond)
	start := t
	exchanges := 1 + r.IntN(4)
	failed := r.Float64() < 0.03
	for i := 0; i < exchanges; i++ {
		route := &envoyRoutes[g.rpick.pick(r)]
		g.record(t, 1, g.request(route), false)
		if failed {
			t = t.Add(15 * time.Second) // the upstream timeout; Envoy closes without a reply
			break
		}
		t = t.Add(ms(logNormalMs(r, route.medianMs, 0.5)))
		g.record(t, 2, g.response(route, t), false)
		t = t.Add(ms(5 + 200*r.Float64()))
	}
	if c.streamed {
		g.record(t, 3, nil, false)
	}
	g.queue(start)
}

// record adds an event the way Envoy's tapper records it: in buffered mode a
// direction stops being recorded once it was truncated, and its data is cut
// to what is left of the 1 KiB budget; in streaming mode every event is cut
// to 1 KiB on its own.
func (g *envoytap) record(t time.Time, kind uint8, data []byte, endStream bool) {
	c := &g.conn
	// Envoy's timestamps carry microseconds (system clock in practice).
	e := tapEvent{ns: t.Truncate(time.Microsecond).UnixNano(), kind: kind, endStream: endStream}
	limit := tapBufferLimit
	if !c.streamed && kind != 3 {
		used := 0
		for _, p := range c.events {
			if p.kind == kind {
				used += len(p.data)
			}
		}
		if (kind == 1 && c.readTrunc) || (kind == 2 && c.writeTrunc) {
			return
		}
		limit -= used
	}
	if len(data) > limit {
		data, e.truncated = data[:limit], true
		if !c.streamed {
			if kind == 1 {
				c.readTrunc = true
			} else {
				c.writeTrunc = true
			}
		}
	}
	e.data = append([]byte(nil), data...)
	c.events = append(c.events, e)
}

func (g *envoytap) request(route *envoyRoute) []byte {
	r := g.r
	b := g.scratch[:0]
	b = append(b, route.method...)
	b = append(b, ' ')
	b = append(b, route.path...)
	switch route.path[len(route.path)-1] {
	case '/':
		b = strconv.AppendInt(b, int64(1000+r.IntN(90000)), 10)
	case '=':
		b = append(b, "blue+shoes"...)
	}
	b = append(b, " HTTP/1.1\r\nhost: shop.example.com\r\nuser-agent: "...)
	b = append(b, envoyAgents[r.IntN(len(envoyAgents))]...)
	b = append(b, "\r\naccept: */*\r\n"...)
	if route.method == "POST" {
		body := `{"sku":"A-` + strconv.Itoa(r.IntN(9999)) + `","qty":` + strconv.Itoa(1+r.IntN(5)) + `}`
		b = append(b, "content-type: application/json\r\ncontent-length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n\r\n"...)
		b = append(b, body...)
	} else {
		b = append(b, "\r\n"...)
	}
	g.scratch = b
	return b
}

func (g *envoytap) response(route *envoyRoute, t time.Time) []byte {
	r := g.r
	status := "200 OK"
	if u := r.Float64(); u < 0.04 {
		status = "404 Not Found"
	} else if u < 0.05 {
		status = "503 Service Unavailable"
	}
	body := g.body[:0]
	switch route.contentType {
	case "application/json":
		body = append(body, `{"id":`...)
		body = strconv.AppendInt(body, int64(r.IntN(100000)), 10)
		body = append(body, `,"status":"ok","items":[`...)
		for i := 0; len(body) < route.bodyBytes; i++ {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, `{"sku":"A-`...)
			body = strconv.AppendInt(body, int64(r.IntN(10000)), 10)
			body = append(body, `","qty":`...)
			body = strconv.AppendInt(body, int64(1+r.IntN(5)), 10)
			body = append(body, '}')
		}
		body = append(body, "]}"...)
	case "application/javascript":
		for len(body) < route.bodyBytes {
			body = append(body, `!function(e){"use strict";var t=e.document,n=t.querySelector("#cart");n&&n.addEventListener("click",function(){e.fetch("/api/v1/orders")})}(window);`...)
			body = append(body, '\n')
		}
	default:
		body = append(body, "ok"...)
	}
	g.body = body
	b := g.scratch[:0]
	b = append(b, "HTTP/1.1 "...)
	b = append(b, status...)
	b = append(b, "\r\ncontent-type: "...)
	b = append(b, route.contentType...)
	b = append(b, "\r\ncontent-length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\ndate: "...)
	b = t.AppendFormat(b, http1Date)
	b = append(b, "\r\nserver: envoy\r\nx-envoy-upstream-service-time: "...)
	b = strconv.AppendInt(b, int64(route.medianMs), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	g.scratch = b
	return b
}

// http1Date is the HTTP date format (RFC 9110 IMF-fixdate).
const http1Date = "Mon, 02 Jan 2006 15:04:05 GMT"

// queue renders the connection into records.
func (g *envoytap) queue(start time.Time) {
	c := &g.conn
	subject := EnvoytapJSON
	if c.proto {
		subject = EnvoytapProto
	}
	if !c.streamed {
		first, last := c.events[0].ns, c.events[0].ns
		read, written := false, false
		for _, e := range c.events {
			first, last = min(first, e.ns), max(last, e.ns)
			read = read || (e.kind == 1 && (len(e.data) > 0 || e.truncated))
			written = written || (e.kind == 2 && (len(e.data) > 0 || e.truncated))
		}
		g.pending = append(g.pending, Record{
			Subject: subject, Data: g.encodeBuffered(nil), Valid: true,
			Sample: true, Kind: "connection", Service: c.remoteHost, Operation: c.local,
			LatencyMs: float64(last-first) / 1e6, Error: read != written, Time: time.Unix(0, last).UTC(),
		})
		return
	}
	if c.seqNums {
		seq := uint64(1)
		for i := range c.events {
			e := &c.events[i]
			if e.kind == 3 {
				seq++
			}
			e.seq = seq
			seq += uint64(len(e.data))
		}
	}
	g.pending = append(g.pending, Record{Subject: subject, Data: g.encodeSegment(nil, nil), Valid: true, Time: start})
	for i := 0; i < len(c.events); {
		n := 1
		if c.batched {
			n = min(1+g.r.IntN(3), len(c.events)-i)
		}
		evs := c.events[i : i+n]
		g.pending = append(g.pending, Record{Subject: subject, Data: g.encodeSegment(nil, evs), Valid: true, Time: time.Unix(0, evs[0].ns).UTC()})
		i += n
	}
}

// malform breaks a record the ways a transport can: a JSON document or a
// protobuf message cut short (one reject: nothing after the cut starts a
// document or carries a length), or a trace id that is no number.
func (g *envoytap) malform(rec *Record) {
	if rec.Subject == EnvoytapJSON && g.r.IntN(2) == 0 {
		b := append(rec.Data[:0:0], `{"socket_streamed_trace_segment":{"trace_id":"x`...)
		b = strconv.AppendUint(b, g.nextID, 10)
		rec.Data = append(b, `","connection":{}}}`...)
	} else {
		rec.Data = rec.Data[:len(rec.Data)/2]
	}
	rec.Valid, rec.Sample = false, false
}

func splitAddr(hostPort string) (string, int) {
	for i := len(hostPort) - 1; i >= 0; i-- {
		if hostPort[i] == ':' {
			p, _ := strconv.Atoi(hostPort[i+1:])
			return hostPort[:i], p
		}
	}
	return hostPort, 0
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
