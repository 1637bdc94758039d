// Package sofarpc decodes SOFARPC / SOFATracer JSON digest and stat logs
// (rpc-client-digest.log, rpc-server-digest.log, rpc-client-stat.log,
// rpc-server-stat.log; format reference: docs/formats/sofarpc-sofatracer.md,
// upstream: sofastack/sofa-rpc RpcClientDigestSpanJsonEncoder,
// RpcServerDigestSpanJsonEncoder, AbstractRpcStatJsonReporter).
//
// A payload holds one record per line; a line may also hold several records
// written back to back ("}{", as in the upstream docs' sample). A record with
// a "stat.key" member is a stat record (table sofarpc_stat), any other object
// is a digest record (table sofarpc_digest). Other SOFATracer digest logs
// (spring-mvc, httpclient, okhttp, resttemplate, openfeign, dubbo,
// datasource, flexible) share the shape: their documented keys land in
// columns ("time" for "timestamp", "traceId" for "tracerId", remote.host and
// remote.port, local.host and local.port, request.url, the datasource's sql
// and database.* keys, Dubbo's serialization times, and durations written as
// 205 or "228ms" as milliseconds), everything else in the extra map.
package sofarpc

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/jsonscan"
	"github.com/tapline/tapline/ingest/decode/timeparse"
	"github.com/tapline/tapline/schema"
)

// Format is the name this decoder is registered under.
const Format = "sofarpc"

// Decoder decodes SOFARPC digest and stat lines. See package doc.
type Decoder struct {
	clock *timeparse.Local
	sc    jsonscan.Scanner
	arena []byte // copies of unescaped strings for the current record
	line  []byte // the record being parsed (for arena decisions)
	dg    digest
	st    stat
	cols  cols
	bound *schema.Builder
}

var _ decode.Decoder = (*Decoder)(nil)

// New returns a Decoder. opts.TimeZone is the zone of the zone-less
// SOFATracer timestamps (the JVM's local time); nil means UTC.
func New(opts decode.Options) (decode.Decoder, error) {
	return &Decoder{clock: timeparse.NewLocal(opts.Location())}, nil
}

// Tables returns sofarpc_digest and sofarpc_stat, in that order.
func (d *Decoder) Tables() []*schema.Table {
	return []*schema.Table{schema.SofarpcDigest, schema.SofarpcStat}
}

// Decode appends the digest and stat records of payload to out. See
// decode.Decoder for the contract.
func (d *Decoder) Decode(payload []byte, meta decode.Meta, out *decode.Output) {
	if d.bound != out.Builders[0] {
		d.cols.bind(out.Builders[0], out.Builders[1])
		d.bound = out.Builders[0]
	}
	side := subjectSide(meta.Subject)
	for off := 0; ; {
		r, ok := decode.NextRecord(payload, off)
		if !ok {
			break
		}
		if r.Cut != decode.NotCut {
			out.Rejectf(payload, r.Start, r.End, "%s", r.Reason())
		} else {
			d.decodeLine(payload, r.Start, r.End, side, out)
		}
		off = r.Next
	}
}

// decodeLine decodes the records of one line (usually one): a line as
// decode.NextRecord frames it, so it may span physical lines.
func (d *Decoder) decodeLine(payload []byte, start, end int, side []byte, out *decode.Output) {
	line := payload[start:end]
	pos := 0
	for pos < len(line) {
		rest := line[pos:]
		d.sc.Reset(rest)
		d.line = rest
		d.arena = d.arena[:0]
		isStat, err := d.parse(side)
		used := d.sc.Pos()
		if err != nil {
			// The rest of the line is one bad record: nothing after a syntax
			// error can be trusted to start a record.
			out.Rejectf(payload, start+pos, end, "%v", err)
			return
		}
		if isStat {
			d.cols.appendStat(&d.st)
		} else {
			d.cols.appendDigest(&d.dg)
		}
		out.Records++
		pos += used
		for pos < len(line) && (line[pos] == ' ' || line[pos] == '\t') {
			pos++
		}
	}
}

// parse reads one record at the scanner's position into d.dg or d.st. A
// record is a stat record when it has a "stat.key" member. Digests are far
// more common, so a record is parsed as a digest first and parsed again as a
// stat record when the digest parser meets "stat.key".
func (d *Decoder) parse(side []byte) (isStat bool, err error) {
	if d.sc.Peek() != jsonscan.Object {
		if d.sc.Err() == nil && d.sc.AtEnd() {
			return false, errors.New("empty record")
		}
		return false, errors.New("record is not a JSON object")
	}
	err = d.parseDigest(side)
	if !errors.Is(err, errIsStat) {
		return false, err
	}
	d.sc.Reset(d.line)
	d.arena = d.arena[:0]
	return true, d.parseStat(side)
}

var (
	errIsStat    = errors.New("record has stat.key: a stat record")
	errNoStatKey = errors.New("stat record has no stat.key")
	sideClient   = []byte("client")
	sideServer   = []byte("server")
	keyError     = []byte("error")
)

func (d *Decoder) parseDigest(side []byte) error {
	sc := &d.sc
	dg := &d.dg
	dg.reset()
	sc.EnterObject()
	for {
		k, ok := sc.Key()
		if !ok {
			break
		}
		if err := d.digestMember(k); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !dg.hasTime {
		return errors.New("digest record has no timestamp")
	}
	if len(dg.side) == 0 {
		dg.side = side
	}
	return nil
}

func (d *Decoder) parseStat(side []byte) error {
	sc := &d.sc
	st := &d.st
	st.reset()
	sc.EnterObject()
	for {
		k, ok := sc.Key()
		if !ok {
			break
		}
		if err := d.statMember(k); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !st.hasStatKey {
		return errNoStatKey
	}
	if !st.hasTime {
		return errors.New("stat record has no time")
	}
	st.side = side
	return nil
}

// digestMember reads the value of digest key k into its column, or into the
// extra map when tapline does not know the key.
func (d *Decoder) digestMember(k []byte) error {
	sc := &d.sc
	dg := &d.dg
	switch string(k) {
	case "timestamp", "time":
		ms, err := d.timestamp(k)
		if err != nil {
			return err
		}
		dg.tsMs, dg.hasTime = ms, true
	case "stat.key":
		return errIsStat
	case "tracerId", "traceId":
		dg.traceID = d.str()
	case "spanId":
		dg.spanID = d.str()
	case "span.kind":
		dg.side = d.str()
	case "local.app":
		dg.localApp = d.str()
	case "remote.app":
		dg.remoteApp = d.str()
	case "protocol":
		dg.protocol = d.str()
	case "service":
		dg.service = d.str()
	case "method":
		dg.method = d.str()
	case "current.thread.name":
		dg.thread = d.str()
	case "invoke.type":
		dg.invokeType = d.str()
	case "router.record":
		dg.routerRecord = d.str()
	case "remote.ip":
		dg.remoteIP = d.str()
	case "local.client.ip":
		dg.localIP = d.str()
	case "result.code":
		dg.resultCode = d.str()
	case "error":
		dg.errorText = d.anyValue()
		dg.extra = append(dg.extra, kv{keyError, dg.errorText})
	case "baggage", "biz.baggage":
		dg.baggage = parseBaggage(dg.baggage, d.str())
	case "sys.baggage":
		dg.sysBaggage = parseBaggage(dg.sysBaggage, d.str())
	case "remote.host":
		dg.remoteHost = d.str()
	case "local.host":
		dg.localIP = d.str()
	case "request.url":
		dg.requestURL = d.str()
	case "sql":
		dg.sql = d.str()
	case "database.name":
		dg.dbName = d.str()
	case "database.type":
		dg.dbType = d.str()
	case "database.endpoint":
		dg.dbURL = d.str()
	case "local.client.port", "local.port":
		return d.number(k, &dg.localPort, &dg.extra)
	case "remote.port":
		return d.number(k, &dg.remotePort, &dg.extra)
	case "req.size", "req.size.bytes":
		return d.number(k, &dg.reqSize, &dg.extra)
	case "resp.size", "resp.size.bytes":
		return d.number(k, &dg.respSize, &dg.extra)
	// Dubbo names the serialization times by side: the client serializes
	// the request and deserializes the response, the server the reverse.
	case "req.serialize.time", "client.serialize.time":
		return d.ms(k, &dg.reqSer, &dg.extra)
	case "resp.deserialize.time", "client.deserialize.time":
		return d.ms(k, &dg.respDeser, &dg.extra)
	case "client.conn.time":
		return d.ms(k, &dg.connTime, &dg.extra)
	case "client.elapse.time":
		return d.ms(k, &dg.elapse, &dg.extra)
	case "server.pool.wait.time":
		return d.ms(k, &dg.poolWait, &dg.extra)
	case "biz.impl.time":
		return d.ms(k, &dg.bizImpl, &dg.extra)
	case "resp.serialize.time", "server.serialize.time":
		return d.ms(k, &dg.respSer, &dg.extra)
	case "req.deserialize.time", "server.deserialize.time":
		return d.ms(k, &dg.reqDeser, &dg.extra)
	// Durations of the other SOFATracer digests: 205 or "205ms" (2019
	// docs); the datasource digest's "228ms" strings.
	case "time.cost.milliseconds":
		return d.ms(k, &dg.timeCost, &dg.extra)
	case "total.time":
		return d.ms(k, &dg.totalTime, &dg.extra)
	case "connection.establish.span":
		return d.ms(k, &dg.connEstablish, &dg.extra)
	case "db.execute.cost":
		return d.ms(k, &dg.dbExec, &dg.extra)
	default:
		kk := d.keep(k)
		dg.extra = append(dg.extra, kv{kk, d.anyValue()})
	}
	return sc.Err()
}

// statMember reads the value of stat key k into its column, or into the
// extra map when tapline does not know the key.
func (d *Decoder) statMember(k []byte) error {
	sc := &d.sc
	st := &d.st
	switch string(k) {
	case "time", "timestamp":
		ms, err := d.timestamp(k)
		if err != nil {
			return err
		}
		st.tsMs, st.hasTime = ms, true
	case "stat.key":
		return d.parseStatKey()
	case "count":
		return d.number(k, &st.count, &st.extra)
	case "total.cost.milliseconds":
		return d.number(k, &st.totalCost, &st.extra)
	case "success":
		st.success = truthy(d.anyValue())
	case "load.test":
		if truthy(d.anyValue()) {
			st.loadTest = 1
		} else {
			st.loadTest = 0
		}
	default:
		kk := d.keep(k)
		st.extra = append(st.extra, kv{kk, d.anyValue()})
	}
	return sc.Err()
}

func (d *Decoder) timestamp(k []byte) (int64, error) {
	v, ok := d.sc.Str()
	if !ok {
		return 0, d.sc.Err()
	}
	ms, ok := d.clock.ParseSOFA(v)
	if !ok {
		return 0, fmt.Errorf("%s %q is not a yyyy-MM-dd HH:mm:ss.SSS timestamp", k, v)
	}
	return ms, nil
}

// str reads a string value; null and non-string values are kept as their
// JSON text (the server encoder writes null as "", the client skips nulls).
func (d *Decoder) str() []byte {
	if d.sc.Peek() == jsonscan.String {
		v, _ := d.sc.Str()
		return d.keep(v)
	}
	if d.sc.Null() {
		return nil
	}
	v, _ := d.sc.Skip()
	return v
}

// anyValue reads any value: strings unescaped, everything else as raw JSON.
func (d *Decoder) anyValue() []byte {
	if d.sc.Peek() == jsonscan.String {
		v, _ := d.sc.Str()
		return d.keep(v)
	}
	v, _ := d.sc.Skip()
	return v
}

// number reads a count or duration: digest logs write numbers as strings
// ("582"), stat logs as JSON numbers; other SOFATracer logs write "205ms".
// An empty string or null leaves the field unset. A value that is no number
// (negative, fractional, too large for uint64, "1.5s") is kept verbatim in
// extra under its key, so nothing is lost, and marks the field bad.
func (d *Decoder) number(k []byte, dst *num, extra *[]kv) error {
	sc := &d.sc
	var raw []byte
	switch sc.Peek() {
	case jsonscan.String:
		raw, _ = sc.Str()
	case jsonscan.Number:
		raw, _ = sc.Num()
	case jsonscan.Null:
		sc.Null()
		return nil
	default:
		v, _ := sc.Skip()
		*extra = append(*extra, kv{d.keep(k), v})
		*dst = num{bad: true}
		return sc.Err()
	}
	if sc.Err() != nil {
		return sc.Err()
	}
	if len(raw) == 0 {
		return nil
	}
	digits := raw
	if n := len(digits); n > 2 && digits[n-2] == 'm' && digits[n-1] == 's' {
		digits = digits[:n-2]
	}
	if v, ok := jsonscan.ParseUint(digits); ok {
		*dst = num{v: v, set: true}
		return nil
	}
	*extra = append(*extra, kv{d.keep(k), d.keep(raw)})
	*dst = num{bad: true}
	return nil
}

// ms reads a duration in milliseconds for a UInt32 column like number; a
// value too large for the column (more than 49 days) is kept in extra as
// written and marks the field bad, rather than being clamped.
func (d *Decoder) ms(k []byte, dst *num, extra *[]kv) error {
	if err := d.number(k, dst, extra); err != nil {
		return err
	}
	if dst.set && dst.v > math.MaxUint32 {
		*extra = append(*extra, kv{d.keep(k), d.keep(strconv.AppendUint(nil, dst.v, 10))})
		*dst = num{bad: true}
	}
	return nil
}

// parseStatKey flattens the nested stat.key object.
func (d *Decoder) parseStatKey() error {
	sc := &d.sc
	st := &d.st
	if sc.Peek() != jsonscan.Object {
		// Some writers quote it; keep it rather than reject the record.
		st.hasStatKey = true
		st.statKeyExtra = append(st.statKeyExtra, kv{[]byte("stat.key"), d.anyValue()})
		return sc.Err()
	}
	st.hasStatKey = true
	sc.EnterObject()
	for {
		k, ok := sc.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "local.app":
			st.localApp = d.str()
		case "remote.app":
			st.remoteApp = d.str()
		case "service":
			st.service = d.str()
		case "method":
			st.meth = d.str()
		default:
			kk := d.keep(k)
			st.statKeyExtra = append(st.statKeyExtra, kv{kk, d.anyValue()})
		}
	}
	return sc.Err()
}

func truthy(v []byte) bool {
	switch string(bytes.TrimSpace(v)) {
	case "Y", "y", "T", "t", "true", "True", "TRUE", "1", "yes":
		return true
	}
	return false
}

// subjectSide returns "client" or "server" when a token of the subject says
// so (logs.sofarpc.client.stat), else nil.
func subjectSide(subject string) []byte {
	for subject != "" {
		tok := subject
		if i := strings.IndexByte(subject, '.'); i >= 0 {
			tok, subject = subject[:i], subject[i+1:]
		} else {
			subject = ""
		}
		switch tok {
		case "client":
			return sideClient
		case "server":
			return sideServer
		}
	}
	return nil
}

func uintptrOf(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }

// keep returns v if it points into the current record, or a copy in the
// arena if it points into the scanner's scratch space (escaped strings),
// which the next read overwrites. Arena copies stay valid for the record:
// the arena is only truncated between records, and growing it leaves the
// earlier backing array untouched.
func (d *Decoder) keep(v []byte) []byte {
	if len(v) == 0 || inside(d.line, v) {
		return v
	}
	n := len(d.arena)
	d.arena = append(d.arena, v...)
	return d.arena[n:len(d.arena):len(d.arena)]
}

func inside(buf, v []byte) bool {
	if len(buf) == 0 {
		return false
	}
	b0, v0 := uintptrOf(&buf[0]), uintptrOf(&v[0])
	return v0 >= b0 && v0 < b0+uintptr(len(buf))
}
