package gen

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Subjects the sofarpc generator publishes to (tapline's defaults).
const (
	SofarpcClientDigest = "logs.sofarpc.client.digest"
	SofarpcServerDigest = "logs.sofarpc.server.digest"
	SofarpcClientStat   = "logs.sofarpc.client.stat"
	SofarpcServerStat   = "logs.sofarpc.server.stat"
)

type sofaService struct {
	app      string // the app serving it
	name     string
	methods  []string
	medianMs []float64 // per method
	errRate  float64   // share of calls that fail (all codes)
}

// sofaServices is a small estate: a gateway and web app calling order,
// payment, user and inventory services, each with skewed method popularity
// and its own latency and error profile.
var sofaServices = []sofaService{
	{app: "order-app", name: "com.acme.order.OrderService:1.0", methods: []string{"createOrder", "getOrder", "listOrders", "cancelOrder"}, medianMs: []float64{18, 4, 9, 12}, errRate: 0.02},
	{app: "payment-app", name: "com.acme.pay.PaymentFacade:1.0", methods: []string{"pay", "refund", "queryStatus"}, medianMs: []float64{45, 60, 6}, errRate: 0.05},
	{app: "user-app", name: "com.acme.user.UserService:2.1", methods: []string{"getUser", "login", "updateProfile"}, medianMs: []float64{2, 25, 8}, errRate: 0.01},
	{app: "inventory-app", name: "com.acme.stock.InventoryService:1.0", methods: []string{"reserve", "release", "check"}, medianMs: []float64{10, 7, 3}, errRate: 0.03},
}

var sofaCallers = []string{"gateway-app", "web-app", "order-app"}

// sofarpc generates SOFARPC client and server digest lines (and a few stat
// lines) for calls between the apps above. Each call yields a client record
// and, unless routing failed, the matching server record with the same
// tracerId. Result codes: 00 success; failures split 40% 01 business
// exception, 20% 02 RPC error, 30% 03 timeout (client sees 3000 ms), 10% 04
// routing failure (no server record).
type sofarpc struct {
	opts    Options
	r       *rand.Rand
	clk     clock
	spick   zipf
	mpick   []zipf // per service
	seq     int
	pending Record // the server half of the last call, if any
	hasPend bool
	calls   int
}

// NewSofarpc returns the SOFARPC generator.
func NewSofarpc(o Options) Generator {
	g := &sofarpc{opts: o, r: rand.New(rand.NewPCG(o.Seed, 0x50FA)), clk: clock{t: o.start(), step: o.step()}, spick: newZipf(len(sofaServices), 1.1)}
	for _, s := range sofaServices {
		g.mpick = append(g.mpick, newZipf(len(s.methods), 1.2))
	}
	return g
}

func (g *sofarpc) Format() string { return "sofarpc" }

func (g *sofarpc) Next(rec *Record) {
	if g.hasPend {
		g.hasPend = false
		data := append(rec.Data[:0], g.pending.Data...)
		*rec = g.pending
		rec.Data = data
		return
	}
	g.calls++
	if g.calls%100 == 0 {
		g.stat(rec)
		return
	}
	g.call(rec)
}

func (g *sofarpc) call(rec *Record) {
	r := g.r
	si := g.spick.pick(r)
	svc := &sofaServices[si]
	mi := g.mpick[si].pick(r)
	caller := sofaCallers[r.IntN(len(sofaCallers))]
	if caller == svc.app {
		caller = "gateway-app"
	}
	t := g.clk.next(r)
	g.seq++
	trace := g.traceID(t)

	code := "00"
	if r.Float64() < svc.errRate {
		switch u := r.Float64(); {
		case u < 0.4:
			code = "01"
		case u < 0.6:
			code = "02"
		case u < 0.9:
			code = "03"
		default:
			code = "04"
		}
	}
	biz := logNormalMs(r, svc.medianMs[mi], 0.6)
	poolWait := float64(r.IntN(3))
	reqDeser := float64(r.IntN(2))
	respSer := float64(r.IntN(2))
	serverMs := float64(int(biz)) + poolWait + reqDeser + respSer
	reqSer, respDeser, conn := r.IntN(3), r.IntN(3), 0
	if r.Float64() < 0.02 {
		conn = 1 + r.IntN(20)
	}
	clientMs := serverMs + float64(reqSer+respDeser+conn) + float64(1+r.IntN(3))
	if code == "03" {
		clientMs = 3000
	}
	if code == "04" {
		clientMs = float64(1 + r.IntN(3))
	}
	reqSize, respSize := 200+r.IntN(2000), 100+r.IntN(8000)
	threadNo := 1 + r.IntN(200)
	port := 12200

	// Client record.
	b := rec.Data[:0]
	b = append(b, `{"timestamp":"`...)
	b = t.Add(time.Duration(clientMs*float64(time.Millisecond))).AppendFormat(b, "2006-01-02 15:04:05.000")
	b = append(b, `","tracerId":"`...)
	b = append(b, trace...)
	b = append(b, `","spanId":"0.1","span.kind":"client","local.app":"`...)
	b = append(b, caller...)
	b = append(b, `","protocol":"bolt","service":"`...)
	b = append(b, svc.name...)
	b = append(b, `","method":"`...)
	b = append(b, svc.methods[mi]...)
	b = append(b, `","current.thread.name":"http-nio-8080-exec-`...)
	b = strconv.AppendInt(b, int64(threadNo), 10)
	b = append(b, `","invoke.type":"sync","router.record":"REGISTRY","remote.app":"`...)
	b = append(b, svc.app...)
	b = append(b, `","remote.ip":"10.0.`...)
	b = strconv.AppendInt(b, int64(g.seq%8), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(10+len(svc.app)), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, `","local.client.ip":"10.0.1.`...)
	b = strconv.AppendInt(b, int64(20+len(caller)), 10)
	b = append(b, `","result.code":"`...)
	b = append(b, code...)
	b = appendStrNum(b, "req.serialize.time", reqSer)
	b = appendStrNum(b, "resp.deserialize.time", respDeser)
	b = appendStrNum(b, "resp.size", respSize)
	b = appendStrNum(b, "req.size", reqSize)
	b = appendStrNum(b, "client.conn.time", conn)
	b = appendStrNum(b, "client.elapse.time", int(clientMs))
	b = appendStrNum(b, "local.client.port", 40000+r.IntN(20000))
	if r.Float64() < 0.1 {
		b = append(b, `","baggage":"tenant=acme&user=`...)
		b = strconv.AppendInt(b, int64(r.IntN(1000)), 10)
		b = append(b, `"}`...)
	} else {
		b = append(b, `","baggage":""}`...)
	}
	*rec = Record{Subject: SofarpcClientDigest, Data: b, Valid: true, Sample: true, Kind: "client",
		Service: svc.name, Operation: svc.methods[mi], LatencyMs: float64(int(clientMs)), Error: code != "00", Time: t}

	if g.opts.Malformed > 0 && r.Float64() < g.opts.Malformed {
		g.malform(rec)
	}
	if code == "04" {
		return
	}
	// Server record: the same call as the callee logged it.
	serverCode := code
	if code == "03" {
		serverCode = "00" // the server finished; the client gave up waiting
	}
	p := &g.pending
	s := p.Data[:0]
	s = append(s, `{"timestamp":"`...)
	s = t.Add(time.Duration(serverMs*float64(time.Millisecond))).AppendFormat(s, "2006-01-02 15:04:05.000")
	s = append(s, `","tracerId":"`...)
	s = append(s, trace...)
	s = append(s, `","spanId":"0.1","span.kind":"server","service":"`...)
	s = append(s, svc.name...)
	s = append(s, `","method":"`...)
	s = append(s, svc.methods[mi]...)
	s = append(s, `","remote.ip":"10.0.1.`...)
	s = strconv.AppendInt(s, int64(20+len(caller)), 10)
	s = append(s, `","remote.app":"`...)
	s = append(s, caller...)
	s = append(s, `","protocol":"bolt","local.app":"`...)
	s = append(s, svc.app...)
	s = append(s, `","current.thread.name":"SOFA-BOLT-BIZ-12200-5-T`...)
	s = strconv.AppendInt(s, int64(threadNo), 10)
	s = append(s, `","result.code":"`...)
	s = append(s, serverCode...)
	s = appendStrNum(s, "server.pool.wait.time", int(poolWait))
	s = appendStrNum(s, "biz.impl.time", int(biz))
	s = appendStrNum(s, "resp.serialize.time", int(respSer))
	s = appendStrNum(s, "req.deserialize.time", int(reqDeser))
	s = appendStrNum(s, "resp.size", respSize)
	s = appendStrNum(s, "req.size", reqSize)
	s = append(s, `","baggage":""}`...)
	*p = Record{Subject: SofarpcServerDigest, Data: s, Valid: true, Sample: true, Kind: "server",
		Service: svc.name, Operation: svc.methods[mi], LatencyMs: serverMs, Error: serverCode != "00", Time: t}
	g.hasPend = true
}

// stat emits one stat line: a period's count and total cost for one key.
func (g *sofarpc) stat(rec *Record) {
	r := g.r
	si := g.spick.pick(r)
	svc := &sofaServices[si]
	mi := g.mpick[si].pick(r)
	t := g.clk.next(r)
	subject, local := SofarpcServerStat, svc.app
	if r.IntN(2) == 0 {
		subject, local = SofarpcClientStat, sofaCallers[r.IntN(len(sofaCallers))]
	}
	count := 1 + r.IntN(500)
	b := rec.Data[:0]
	b = append(b, `{"time":"`...)
	b = t.AppendFormat(b, "2006-01-02 15:04:05.000")
	b = append(b, `","stat.key":{"method":"`...)
	b = append(b, svc.methods[mi]...)
	b = append(b, `","local.app":"`...)
	b = append(b, local...)
	b = append(b, `","service":"`...)
	b = append(b, svc.name...)
	b = append(b, `"},"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"total.cost.milliseconds":`...)
	b = strconv.AppendInt(b, int64(float64(count)*svc.medianMs[mi]), 10)
	b = append(b, `,"success":"`...)
	if r.Float64() < svc.errRate {
		b = append(b, 'N')
	} else {
		b = append(b, 'Y')
	}
	b = append(b, `"}`...)
	*rec = Record{Subject: subject, Data: b, Valid: true, Time: t}
}

// malform breaks a record the way SOFATracer itself can: a value with an
// unescaped quote (it does not escape values), or a line cut short.
func (g *sofarpc) malform(rec *Record) {
	if g.r.IntN(2) == 0 {
		rec.Data = append(rec.Data[:len(rec.Data)-2], `x"y"}`...)
	} else {
		rec.Data = rec.Data[:len(rec.Data)/2]
	}
	rec.Valid, rec.Sample = false, false
}

func (g *sofarpc) traceID(t time.Time) []byte {
	b := make([]byte, 0, 32)
	b = append(b, "0a0fe9"...)
	b = strconv.AppendInt(b, int64(10+g.seq%80), 16)
	b = strconv.AppendInt(b, t.UnixMilli(), 10)
	b = strconv.AppendInt(b, int64(1000+g.seq%8000), 10)
	b = strconv.AppendInt(b, 12345, 10)
	return b
}

func appendStrNum(b []byte, key string, v int) []byte {
	b = append(b, `","`...)
	b = append(b, key...)
	b = append(b, `":"`...)
	return strconv.AppendInt(b, int64(v), 10)
}
