package gen

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// DjangoSubject is the subject the django generator publishes to
// (tapline's default for django-structlog JSON lines).
const DjangoSubject = "logs.django.structlog"

type djRoute struct {
	method, path string // a "%d" in path becomes an id from 1 to 5
	medianMs     float64
	errRate      float64 // share of requests that end in 5xx or request_failed
	code         int     // status of a successful request
	task         string  // task enqueued by half of the requests, or ""
	stream       bool    // answered with a StreamingHttpResponse
	query        bool    // GETs sometimes carry ?page=N
}

// djRoutes is a small shop: a few popular pages and API endpoints, an
// export that streams, and writes that enqueue Celery tasks.
var djRoutes = []djRoute{
	{method: "GET", path: "/", medianMs: 12, errRate: 0.002, code: 200},
	{method: "GET", path: "/api/orders/", medianMs: 25, errRate: 0.01, code: 200, query: true},
	{method: "GET", path: "/api/orders/%d/", medianMs: 9, errRate: 0.005, code: 200},
	{method: "POST", path: "/api/checkout/", medianMs: 80, errRate: 0.04, code: 201, task: "shop.tasks.send_receipt"},
	{method: "POST", path: "/admin/shop/product/%d/change/", medianMs: 60, errRate: 0.01, code: 302, task: "shop.tasks.rebuild_index"},
	{method: "GET", path: "/export/orders.csv", medianMs: 15, errRate: 0.01, code: 200, stream: true},
	{method: "GET", path: "/health/", medianMs: 1.5, errRate: 0, code: 200},
}

type djTask struct {
	medianMs float64
	failRate float64
	queue    string
	child    string // task it enqueues from inside, or ""
}

var djTasks = map[string]djTask{
	"shop.tasks.send_receipt":  {medianMs: 120, failRate: 0.04, queue: "mail", child: "shop.tasks.render_pdf"},
	"shop.tasks.render_pdf":    {medianMs: 400, failRate: 0.02, queue: "pdf"},
	"shop.tasks.rebuild_index": {medianMs: 900, failRate: 0.03, queue: "celery"},
}

var djAgents = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	"python-requests/2.31.0",
	"curl/8.5.0",
}

// django generates the JSON lines of a Django + Celery shop logging through
// django-structlog and structlog's JSONRenderer (", " and ": " separators):
// requests (request_started, app and SQL debug lines, request_finished,
// request_failed or request_cancelled; streaming events for the export),
// and Celery task chains enqueued by requests (task_enqueued, task_started,
// task_retrying, task_succeeded / task_failed / task_revoked, a child task
// with parent_task_id). Bound metadata is repeated on every line; key order
// follows the upstream README for most requests and the event-first order
// of a ProcessorFormatter setup for the others. Lines of concurrent
// requests and tasks interleave in time order, as one log stream.
//
// Truth: a request's end line is a sample (kind "request", operation the
// path) whose latency is the end minus the start timestamp as written; a
// task_succeeded / task_failed line is a sample (kind "task", operation the
// task name) of its duration_ms. Malformed lines never hide a sample's
// start: a broken request_started clears the sample of its end, and
// task_started lines are never broken.
type django struct {
	opts      Options
	r         *rand.Rand
	clk       clock
	rpick     zipf
	pending   djHeap
	free      []*djLine
	seq       uint64
	nextStart time.Time
}

// NewDjango returns the django-structlog generator.
func NewDjango(o Options) Generator {
	g := &django{opts: o, r: rand.New(rand.NewPCG(o.Seed, 0xD1A6)), clk: clock{t: o.start(), step: o.step()}, rpick: newZipf(len(djRoutes), 1.1)}
	g.nextStart = g.clk.next(g.r)
	return g
}

func (g *django) Format() string { return "django" }

func (g *django) Next(rec *Record) {
	for len(g.pending) == 0 || g.pending[0].at > g.nextStart.UnixMicro() {
		g.request(g.nextStart.UnixMicro())
		g.nextStart = g.clk.next(g.r)
	}
	l := heap.Pop(&g.pending).(*djLine)
	data := append(rec.Data[:0], l.data...)
	*rec = Record{Subject: DjangoSubject, Data: data, Valid: l.valid, Sample: l.sample, Kind: l.kind,
		Service: "django", Operation: l.op, LatencyMs: l.latencyMs, Error: l.isErr, Time: time.UnixMicro(l.at).UTC()}
	if !l.sample {
		rec.Kind, rec.Service, rec.Operation, rec.LatencyMs, rec.Error = "", "", "", 0, false
	}
	g.free = append(g.free, l)
}

// djLine is one pending line and its truth.
type djLine struct {
	at        int64 // Unix microseconds
	seq       uint64
	data      []byte
	valid     bool
	sample    bool
	isErr     bool
	kind, op  string
	latencyMs float64
}

type djHeap []*djLine

func (h djHeap) Len() int { return len(h) }
func (h djHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || (h[i].at == h[j].at && h[i].seq < h[j].seq)
}
func (h djHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *djHeap) Push(x any)   { *h = append(*h, x.(*djLine)) }
func (h *djHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	*h = old[:len(old)-1]
	return l
}

// djCtx is the bound metadata of a request or task, values as JSON.
type djCtx struct {
	requestID, userID, ip, taskID, parentTaskID string
	eventFirst                                  bool // ProcessorFormatter key order
}

// djKV is one event key with its value already rendered as JSON.
type djKV struct{ k, v string }

// line renders and queues one line at time at (Unix µs).
func (g *django) line(at int64, c *djCtx, event, logger, level string, kw ...djKV) *djLine {
	var l *djLine
	if n := len(g.free); n > 0 {
		l, g.free = g.free[n-1], g.free[:n-1]
	} else {
		l = &djLine{}
	}
	g.seq++
	*l = djLine{at: at, seq: g.seq, data: l.data[:0], valid: true}
	b := append(l.data, '{')
	sep := func() {
		if len(b) > 1 {
			b = append(b, ", "...)
		}
	}
	field := func(k, v string) {
		sep()
		b = djAppendJSONStr(b, k)
		b = append(b, ": "...)
		b = append(b, v...)
	}
	ctx := func() {
		if c.taskID != "" {
			field("task_id", c.taskID)
		}
		if c.parentTaskID != "" {
			field("parent_task_id", c.parentTaskID)
		}
		if c.requestID != "" {
			field("request_id", c.requestID)
			field("user_id", c.userID)
			field("ip", c.ip)
		}
	}
	ts := time.UnixMicro(at).UTC().AppendFormat(nil, `"2006-01-02T15:04:05.000000Z"`)
	if c.eventFirst {
		for _, p := range kw {
			field(p.k, p.v)
		}
		field("event", string(djAppendJSONStr(nil, event)))
		ctx()
		field("level", `"`+level+`"`)
		field("logger", `"`+logger+`"`)
		field("timestamp", string(ts))
	} else {
		ctx()
		for _, p := range kw {
			field(p.k, p.v)
		}
		field("event", string(djAppendJSONStr(nil, event)))
		field("timestamp", string(ts))
		field("logger", `"`+logger+`"`)
		field("level", `"`+level+`"`)
	}
	l.data = append(b, '}')
	heap.Push(&g.pending, l)
	return l
}

// maybeBreak breaks l the way a log pipeline does (a line cut short, or a
// quote lost) with probability opts.Malformed and reports whether it did.
func (g *django) maybeBreak(l *djLine) bool {
	if g.opts.Malformed <= 0 || g.r.Float64() >= g.opts.Malformed {
		return false
	}
	if g.r.IntN(2) == 0 {
		l.data = l.data[:len(l.data)/2]
	} else {
		l.data = append(l.data[:len(l.data)-1], `, "note": "un"quoted"}`...)
	}
	l.valid, l.sample = false, false
	return true
}

func djStr(s string) string { return string(djAppendJSONStr(nil, s)) }

func (g *django) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 38)
	out = append(out, '"')
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hexd[v>>4], hexd[v&15])
	}
	return string(append(out, '"'))
}

func djMsToUs(ms float64) int64 {
	us := int64(ms * 1000)
	if us < 100 {
		us = 100
	}
	return us
}

// djAppendJSONStr appends s as a JSON string the way Python's json.dumps
// writes it (ensure_ascii: non-ASCII as \uXXXX escapes).
func djAppendJSONStr(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', byte(c))
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20 || (c >= 0x7f && c <= 0xffff):
			b = append(b, '\\', 'u', hexd[c>>12&15], hexd[c>>8&15], hexd[c>>4&15], hexd[c&15])
		case c > 0xffff:
			c -= 0x10000
			hi, lo := 0xd800+(c>>10), 0xdc00+(c&0x3ff)
			b = append(b, '\\', 'u', hexd[hi>>12&15], hexd[hi>>8&15], hexd[hi>>4&15], hexd[hi&15])
			b = append(b, '\\', 'u', hexd[lo>>12&15], hexd[lo>>8&15], hexd[lo>>4&15], hexd[lo&15])
		default:
			b = append(b, byte(c))
		}
	}
	return append(b, '"')
}

func djItoa(v int) string { return strconv.Itoa(v) }

func djRoundMs(us int64) int { return int(math.Round(float64(us) / 1000)) }
