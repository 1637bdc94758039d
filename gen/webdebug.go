package gen

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// WebdebugScheme is the subject the webdebug generator publishes to
// (tapline's default).
const WebdebugScheme = "logs.webdebug.scheme"

// wdQuery is a statement a route runs. shape is the truth operation: the
// decoder's query shape of every filling of template, whose "?" are
// replaced by literals (numbers, quoted strings, lists, keys).
type wdQuery struct {
	target, syntax, template string
	shape                    string
	medianMs                 float64
	failRate                 float64
}

// wdRoute is an endpoint of the profiled application. Its path template
// has "{id}" segments, filled with numeric ids, UUIDs or hex object ids;
// the template is the truth operation (the decoder's route shape).
type wdRoute struct {
	method, path string
	medianMs     float64 // application time besides the queries
	errRate      float64 // share of 500 responses
	queries      []int   // indexes into wdQueries, run in order
	template     string  // rendered template, "" for JSON APIs
}

var wdQueries = []wdQuery{
	{target: "mysql", syntax: "sql", template: "SELECT * FROM `users` WHERE `id` = ? LIMIT ?", shape: "SELECT * FROM `users` WHERE `id` = ? LIMIT ?", medianMs: 1.5, failRate: 0.002},
	{target: "mysql", syntax: "sql", template: "SELECT id, title, price FROM products WHERE category_id = ? AND price < ? ORDER BY price", shape: "SELECT id, title, price FROM products WHERE category_id = ? AND price < ? ORDER BY price", medianMs: 6, failRate: 0.002},
	{target: "mysql", syntax: "sql", template: "SELECT * FROM order_items WHERE order_id IN (?)", shape: "SELECT * FROM order_items WHERE order_id IN (?)", medianMs: 3, failRate: 0.002},
	{target: "mysql", syntax: "text", template: "UPDATE users SET last_login = ? WHERE id = ?", shape: "UPDATE users SET last_login = ? WHERE id = ?", medianMs: 4, failRate: 0.01},
	{target: "mysql", syntax: "sql", template: "INSERT INTO orders (user_id, total, status) VALUES (?)", shape: "INSERT INTO orders (user_id, total, status) VALUES (?)", medianMs: 8, failRate: 0.01},
	{target: "postgres", syntax: "sql", template: `SELECT "sessions".* FROM "sessions" WHERE "token" = ?`, shape: `SELECT "sessions".* FROM "sessions" WHERE "token" = ?`, medianMs: 1, failRate: 0.001},
	{target: "redis", syntax: "text", template: "GET session:?", shape: "GET", medianMs: 0.3, failRate: 0.001},
	{target: "redis", syntax: "text", template: "HGETALL cart:?", shape: "HGETALL", medianMs: 0.4, failRate: 0.001},
	{target: "mongodb", syntax: "json", template: `{"status": ?, "qty": {"$lt": ?}}`, shape: `{"status": ?, "qty": {"$lt": ?}}`, medianMs: 5, failRate: 0.005},
	{target: "elasticsearch", syntax: "json", template: `{"query": {"match": {"title": ?}}, "size": ?}`, shape: `{"query": {"match": {"title": ?}}, "size": ?}`, medianMs: 12, failRate: 0.01},
}

var wdRoutes = []wdRoute{
	{method: "GET", path: "/", medianMs: 25, errRate: 0.002, queries: []int{6, 1}, template: "/resources/views/home.twig"},
	{method: "GET", path: "/api/products", medianMs: 12, errRate: 0.005, queries: []int{6, 1, 9}},
	{method: "GET", path: "/api/users/{id}", medianMs: 6, errRate: 0.003, queries: []int{6, 0}},
	{method: "GET", path: "/api/orders/{id}/items", medianMs: 9, errRate: 0.01, queries: []int{5, 2}},
	{method: "POST", path: "/api/orders", medianMs: 30, errRate: 0.03, queries: []int{5, 7, 4, 2, 3}},
	{method: "POST", path: "/login", medianMs: 45, errRate: 0.02, queries: []int{0, 3, 6}, template: "/resources/views/login.twig"},
	{method: "GET", path: "/api/search", medianMs: 15, errRate: 0.02, queries: []int{8, 9}},
	{method: "DELETE", path: "/api/carts/{id}/items/{id}", medianMs: 4, errRate: 0.01, queries: []int{7, 2}},
}

var wdHosts = []string{"shop.example.com", "api.example.com", "admin.example.com"}

var wdMiddleware = []string{`\App\Http\Middleware\Authenticate`, `\Illuminate\Routing\Middleware\ThrottleRequests`, `\App\Http\Middleware\VerifyCsrfToken`}

// webdebug generates web debug scheme documents (fe3dback/web-debug-proto
// v1), one per record, pretty-printed as upstream writes them (2-, 3- or
// 4-space indents; PHP's "\/" escapes and always-present "nested": []):
// a request event whose nested events are middleware (with an access check
// inside, and on some routes the queries inside the middleware: depth 3),
// the route's queries (a failed one carries a nested error log), a
// rendered template, a log with double-encoded context, sometimes an
// event, an email or a custom "cache" event; then the response. 5% use the
// pre-2019-03 draft: legacy "request" events for queries (target in
// payload.type, duration in the payload) and "state" for "success".
//
// Truth: the record's own sample is the request-level one (kind request,
// service = the host the document names, else "webdebug", operation = the
// route template, latency = the response's duration, or the request's
// when the response has none; error = status 500 / success false); 3% of
// documents carry no duration: Sample is false (no latency sample), though
// latency_1m counts each as a request without a latency (no_latency).
// Record.More holds
// one Sample per query with a duration (kind query, service = target,
// operation = query shape): a test counts query samples as the sum of
// len(More) over valid records.
type webdebug struct {
	opts  Options
	r     *rand.Rand
	clk   clock
	rpick zipf
	w     wdJSON
	seq   int
}

// NewWebdebug returns the web debug scheme generator.
func NewWebdebug(o Options) Generator {
	return &webdebug{opts: o, r: rand.New(rand.NewPCG(o.Seed, 0x3EBDE6)), clk: clock{t: o.start(), step: o.step()}, rpick: newZipf(len(wdRoutes), 1.0)}
}

func (g *webdebug) Format() string { return "webdebug" }

// wdEvent is one event being written: its fields in PHP's export order.
type wdEvent struct {
	typ        string
	payload    func(w *wdJSON)
	tags       []string
	importance int
	time       time.Time
	durationMs int
	hasDur     bool
	success    wdBool
	state      wdBool // the legacy name of success
	calledFrom string
	definedIn  string
	nested     []wdEvent
}

func (g *webdebug) Next(rec *Record) {
	r := g.r
	g.seq++
	t0 := g.clk.next(r)
	route := &wdRoutes[g.rpick.pick(r)]
	legacy := r.Float64() < 0.05
	more := rec.More[:0]

	// Host: an absolute uri, a Host header, or nothing the decoder can use.
	host := wdHosts[r.IntN(len(wdHosts))]
	uri := g.fillPath(route.path)
	hostMode := r.IntN(10)
	service := host
	var headers [][2]string
	switch {
	case hostMode < 5:
		uri = "https://" + host + uri
	case hostMode < 9:
		h := host
		if r.IntN(2) == 0 {
			h = strings.ToUpper(host[:1]) + host[1:] + ":8080"
		}
		headers = append(headers, [2]string{"Host", h})
	default:
		service = "webdebug"
	}
	headers = append(headers, [2]string{"accept", "application/json"}, [2]string{"user-agent", "Mozilla/5.0"})

	at := t0
	step := func(ms float64) time.Time { at = at.Add(time.Duration(ms * float64(time.Millisecond))); return at }
	var children []wdEvent

	// Middleware with an access check inside; some routes run their first
	// queries inside the middleware (authentication reads the session).
	mwStart := step(0.2)
	mw := wdEvent{typ: "middleware", time: mwStart, importance: 1,
		payload: func(w *wdJSON) { w.kv("name", wdMiddleware[g.seq%len(wdMiddleware)]) }}
	deny := r.Float64() < 0.02
	mw.nested = append(mw.nested, wdEvent{typ: "accessCheck", time: step(0.1), importance: 2,
		payload: func(w *wdJSON) {
			if deny {
				w.kv("access", "DENIED")
			} else {
				w.kv("access", "GRANT")
			}
			w.kv("control", "route:"+route.path)
			w.kv("object", "user:"+strconv.Itoa(1+r.IntN(5000)))
			w.kv("action", strings.ToLower(route.method))
		}})

	queriesInMW := r.IntN(3) == 0
	totalQ := 0.0
	for i, qi := range route.queries {
		q := &wdQueries[qi]
		ms := float64(int(logNormalMs(r, q.medianMs, 0.5)))
		failed := r.Float64() < q.failRate
		qt := step(0.1)
		text := g.fillQuery(q.template)
		ev := wdEvent{typ: "query", time: qt, importance: 1, durationMs: int(ms), hasDur: true, success: wdTrue, calledFrom: "/src/Repository/Repo.php",
			tags: []string{"db:" + q.target}, payload: func(w *wdJSON) {
				w.kv("target", q.target)
				w.kv("query", text)
				w.kv("syntax", q.syntax)
			}}
		if legacy {
			ev = wdEvent{typ: "request", time: qt, importance: 4, payload: func(w *wdJSON) {
				w.kv("type", q.target)
				w.kv("query", text)
				w.kv("parsed", text)
				w.key("duration")
				w.num(int(ms))
				w.key("bindings")
				w.beginArray()
				w.elem()
				w.beginObject()
				w.kv("key", "id")
				w.key("value")
				w.num(1000 + g.seq%9000) // param values: numbers or strings
				w.endObject()
				w.endArray()
			}}
		}
		if failed {
			if legacy {
				ev.state = wdFalse
			} else {
				ev.success = wdFalse
			}
			ev.importance = 5
			ev.nested = append(ev.nested, wdEvent{typ: "log", time: step(ms), importance: 5,
				payload: func(w *wdJSON) {
					w.kv("message", q.target+" server has gone away")
					w.kv("context", `{"errno":2006,"query_index":`+strconv.Itoa(i)+`}`)
				}})
		} else {
			step(ms)
		}
		totalQ += ms
		more = append(more, Sample{Kind: "query", Service: q.target, Operation: q.shape, LatencyMs: ms, Error: failed, Time: qt.Truncate(time.Millisecond)})
		if queriesInMW && i == 0 {
			mw.nested = append(mw.nested, ev)
		} else {
			children = append(children, ev)
		}
	}
	mw.durationMs, mw.hasDur = int(at.Sub(mwStart)/time.Millisecond), true
	children = append([]wdEvent{mw}, children...)

	if route.template != "" {
		tt := step(0.3)
		ms := int(logNormalMs(r, 3, 0.4))
		step(float64(ms))
		children = append(children, wdEvent{typ: "template", time: tt, importance: 1, durationMs: ms, hasDur: true, definedIn: route.template,
			payload: func(w *wdJSON) { w.kv("name", route.template) }})
	}
	userID := 1 + r.IntN(90000)
	children = append(children, wdEvent{typ: "log", time: step(0.1), importance: 2,
		tags: []string{"channel:app", "is_production"}, payload: func(w *wdJSON) {
			w.kv("message", "Handled "+route.method+" "+route.path)
			w.kv("context", `{"user_id":`+strconv.Itoa(userID)+`,"route":"`+route.path+`"}`)
		}})
	switch u := r.Float64(); {
	case u < 0.1:
		children = append(children, wdEvent{typ: "email", time: step(0.5), importance: 2, durationMs: int(logNormalMs(r, 20, 0.3)), hasDur: true, success: wdTrue,
			payload: func(w *wdJSON) {
				w.kv("subject", "Your order #"+strconv.Itoa(g.seq))
				w.kv("body", "<h1>Thank you</h1><p>Order "+strconv.Itoa(g.seq)+"</p>")
				w.kv("from", "no-reply@example.com")
				w.key("to")
				if g.seq%2 == 0 {
					w.str("user" + strconv.Itoa(userID) + "@example.com")
				} else {
					w.beginArray()
					w.elem()
					w.str("user" + strconv.Itoa(userID) + "@example.com")
					w.elem()
					w.str("orders@example.com")
					w.endArray()
				}
			}})
	case u < 0.3:
		children = append(children, wdEvent{typ: "event", time: step(0.1), importance: 1,
			payload: func(w *wdJSON) { w.kv("name", "kernel.terminate"); w.kv("group", "kernel") }})
	case u < 0.4:
		hit := r.IntN(2) == 0
		children = append(children, wdEvent{typ: "cache", time: step(0.1), importance: 1, durationMs: 0, hasDur: true,
			payload: func(w *wdJSON) {
				w.kv("key", "user:"+strconv.Itoa(userID))
				w.key("hit")
				w.bool(hit)
			}})
	}

	appMs := float64(int(logNormalMs(r, route.medianMs, 0.5)))
	total := int(at.Sub(t0)/time.Millisecond) + int(appMs)
	status := 200
	switch {
	case r.Float64() < route.errRate:
		status = 500
	case r.Float64() < 0.02:
		status = 404
	}
	respTime := t0.Add(time.Duration(total) * time.Millisecond)
	// 87% time the response (the scheme's rule), 10% only the request event,
	// 3% neither: no request-level sample.
	durMode := r.IntN(100)
	respSuccess := wdTrue
	if status >= 500 {
		respSuccess = wdFalse
	}
	method := route.method
	request := wdEvent{typ: "request", time: t0, importance: 2, tags: []string{"app:shop"},
		payload: func(w *wdJSON) {
			w.kv("method", method)
			w.kv("uri", uri)
			w.key("headers")
			w.params(headers)
			w.key("query")
			w.beginArray()
			w.elem()
			w.beginObject()
			w.kv("key", "page")
			w.key("value")
			w.num(1 + g.seq%5) // param values: numbers or strings
			w.endObject()
			w.endArray()
			w.key("cookies")
			w.params([][2]string{{"PHPSESSID", "l6q632qbzua97o3p2p71biefbkrijbil"}})
		}, nested: children}
	response := wdEvent{typ: "response", time: respTime, importance: 2, success: respSuccess,
		payload: func(w *wdJSON) {
			w.key("memoryPeak")
			w.num(2097152 + 4096*r.IntN(512))
			w.key("status")
			w.num(status)
		}}
	switch {
	case durMode < 87:
		response.durationMs, response.hasDur = total, true
	case durMode < 97:
		// The request event is the sample: it carries the outcome.
		request.durationMs, request.hasDur, request.success = total, true, respSuccess
	}
	if legacy {
		response.state, response.success = response.success, wdNone
		request.state, request.success = request.success, wdNone
	}

	// Write the document.
	w := &g.w
	w.reset(rec.Data[:0], 2+r.IntN(3), !legacy && r.IntN(2) == 0)
	w.beginObject()
	if legacy || r.IntN(2) == 0 {
		w.kv("uuid", g.uuid())
	} else {
		w.kv("id", g.uuid())
	}
	w.key("version")
	w.num(1)
	w.key("events")
	w.beginArray()
	malformed := g.opts.Malformed > 0 && r.Float64() < g.opts.Malformed
	kind := -1
	if malformed {
		kind = r.IntN(4)
		switch kind {
		case 1: // an event without "type"
			request.nested = append(request.nested, wdEvent{typ: "", time: step(0.1),
				payload: func(w *wdJSON) { w.kv("message", "who am I?") }})
		case 2: // nesting deeper than the decoder's bound (64 levels)
			deep := wdEvent{typ: "log", time: at, payload: func(w *wdJSON) { w.kv("message", "deep") }}
			for i := 0; i < 70; i++ {
				deep = wdEvent{typ: "event", time: at, payload: func(w *wdJSON) { w.kv("name", "recurse") }, nested: []wdEvent{deep}}
			}
			request.nested = append(request.nested, deep)
		}
	}
	w.elem()
	w.event(&request)
	w.elem()
	w.event(&response)
	w.endArray()
	w.endObject()
	data := w.b
	switch kind {
	case 0: // cut short, as a full buffer or a killed writer leaves it
		data = data[:len(data)/2]
	case 3: // no id at all
		data = wdDropID(data)
	}

	*rec = Record{Subject: WebdebugScheme, Data: data, Valid: !malformed, Sample: durMode < 97 && !malformed, Kind: "request",
		Service: service, Operation: route.path, LatencyMs: float64(total), Error: status >= 500, Time: t0.Truncate(time.Millisecond), More: more}
	if response.hasDur {
		rec.Time = respTime.Truncate(time.Millisecond)
	}
	if malformed {
		rec.More = more[:0]
	}
}

// fillPath replaces each "{id}" of a route template with an id: numeric,
// a UUID or a 24-hex object id, and sometimes appends a query string.
func (g *webdebug) fillPath(tmpl string) string {
	var b strings.Builder
	rest := tmpl
	for {
		i := strings.Index(rest, "{id}")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		switch g.r.IntN(3) {
		case 0:
			b.WriteString(strconv.Itoa(1 + g.r.IntN(1000000)))
		case 1:
			b.WriteString(g.uuid())
		default:
			for k := 0; k < 12; k++ {
				b.WriteString(strconv.FormatInt(int64(16+g.r.IntN(240)), 16))
			}
		}
		rest = rest[i+4:]
	}
	if g.r.IntN(3) == 0 {
		b.WriteString("?page=" + strconv.Itoa(1+g.r.IntN(9)))
	}
	return b.String()
}

// fillQuery replaces each "?" of a query template with a literal of a kind
// the decoder shapes back to "?": a number, a quoted string, a list, a key.
func (g *webdebug) fillQuery(tmpl string) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '?' {
			b.WriteByte(c)
			continue
		}
		prev := strings.TrimRight(tmpl[:i], " ")
		switch {
		case strings.HasPrefix(tmpl, "{"): // JSON values
			if g.r.IntN(2) == 0 {
				b.WriteString(strconv.Quote([]string{"A", "shoes", "D"}[g.r.IntN(3)]))
			} else {
				b.WriteString(strconv.Itoa(g.r.IntN(100)))
			}
		case strings.HasSuffix(prev, "LIMIT"), strings.HasSuffix(prev, "<"):
			b.WriteString(strconv.Itoa(1 + g.r.IntN(100)))
		case strings.HasSuffix(prev, ":"): // a redis key suffix
			b.WriteString(strconv.FormatInt(g.r.Int64N(1<<40), 36))
		case strings.HasSuffix(prev, "IN ("), strings.HasSuffix(prev, "VALUES ("):
			n := 1 + g.r.IntN(4)
			for k := 0; k < n; k++ {
				if k > 0 {
					b.WriteString(", ")
				}
				if strings.HasSuffix(prev, "VALUES (") && k%2 == 1 {
					b.WriteString("'pending'")
				} else {
					b.WriteString(strconv.Itoa(g.r.IntN(100000)))
				}
			}
		case g.r.IntN(2) == 0:
			b.WriteString("'" + strconv.Itoa(g.r.IntN(1000)) + "-x'")
		default:
			b.WriteString(strconv.Itoa(g.r.IntN(1000000)))
		}
	}
	return b.String()
}

func (g *webdebug) uuid() string {
	const hex = "0123456789abcdef"
	var b [36]byte
	hi, lo := g.r.Uint64(), g.r.Uint64()
	for i, j := 0, 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			continue
		}
		var v uint64
		if j < 16 {
			v = hi >> (4 * j) & 0xf
		} else {
			v = lo >> (4 * (j - 16)) & 0xf
		}
		b[i] = hex[v]
		j++
	}
	b[14] = '4'                 // version 4
	b[19] = hex[8+(lo>>60)&0x3] // variant
	return string(b[:])
}

// wdDropID removes the first "id" or "uuid" member of a document.
func wdDropID(doc []byte) []byte {
	s := string(doc)
	for _, k := range []string{`"id":`, `"uuid":`} {
		if i := strings.Index(s, k); i >= 0 {
			end := strings.IndexByte(s[i:], ',')
			return []byte(s[:i] + s[i+end+1:])
		}
	}
	return doc
}
