package sofarpc

import (
	"bytes"
	"math"
)

// num is a numeric field that arrived as a JSON string or number: set when
// the key was present with a parseable value, bad when it was present with
// a value that is no count or duration (negative, fractional, overflowing
// uint64, another unit, an object), which is then kept in extra.
type num struct {
	v        uint64
	set, bad bool
}

// present says whether the key was in the record at all.
func (n num) present() bool { return n.set || n.bad }

// ms32 returns n as milliseconds in a UInt32 column, false when n is unset,
// bad, or too large for the column (a value clamped to 4294967295 would be
// a sample of about 50 days that nobody measured).
func (n num) ms32() (uint32, bool) {
	if !n.set || n.bad || n.v > math.MaxUint32 {
		return 0, false
	}
	return uint32(n.v), true
}

// kv is one key/value pair kept for a map column.
type kv struct{ k, v []byte }

// digest holds one digest record between parsing and appending, so that a
// record that fails half way appends nothing. Byte slices point into the
// input line or into the decoder's arena; both outlive the record.
type digest struct {
	tsMs                                       int64
	side, traceID, spanID, localApp, remoteApp []byte
	protocol, service, method, invokeType      []byte
	routerRecord, thread, resultCode, remoteIP []byte
	localIP, remoteHost                        []byte
	requestURL, sql, dbName, dbType, dbURL     []byte
	localPort, remotePort                      num
	reqSize, respSize                          num
	reqSer, respDeser, connTime, elapse        num
	poolWait, bizImpl, respSer, reqDeser       num
	timeCost, totalTime, connEstablish, dbExec num
	errorText                                  []byte
	baggage, sysBaggage, extra                 []kv
	hasTime                                    bool
}

func (d *digest) reset() {
	*d = digest{baggage: d.baggage[:0], sysBaggage: d.sysBaggage[:0], extra: d.extra[:0]}
}

// stat holds one stat record between parsing and appending.
type stat struct {
	tsMs                               int64
	side                               []byte
	localApp, remoteApp, service, meth []byte
	count, totalCost                   num
	success                            bool
	loadTest                           int8 // -1 absent, 0 false, 1 true
	statKeyExtra, extra                []kv
	hasTime, hasStatKey                bool
}

func (s *stat) reset() {
	*s = stat{statKeyExtra: s.statKeyExtra[:0], extra: s.extra[:0], loadTest: -1}
}

// latency returns the latency in milliseconds of a digest record, as the
// views define it (see sql/tables/sofarpc_digest.sql), from the first of
// these the record has:
//   - client.elapse.time: an RPC client call as the caller saw it;
//   - time.cost.milliseconds: the span of the other SOFATracer digests
//     (HTTP clients and servers, Dubbo, datasource, ...);
//   - total.time: the datasource digests of the 2018 documentation;
//   - server.pool.wait.time + req.deserialize.time + biz.impl.time +
//     resp.serialize.time: an RPC server call, from its arrival to the
//     response being written (the ones a record has).
//
// ok is false when the record has none of them, or the one it has (any of
// the server timings) is not a usable number of milliseconds: such a record
// has a NULL latency and is no latency sample in the views, never a 0 ms one.
func (d *digest) latency() (ms uint32, ok bool) {
	switch {
	case d.elapse.present():
		return d.elapse.ms32()
	case d.timeCost.present():
		return d.timeCost.ms32()
	case d.totalTime.present():
		return d.totalTime.ms32()
	}
	var sum uint64
	found := false
	for _, n := range [...]num{d.poolWait, d.reqDeser, d.bizImpl, d.respSer} {
		if !n.present() {
			continue
		}
		v, ok := n.ms32()
		if !ok {
			return 0, false
		}
		sum += uint64(v)
		found = true
	}
	if !found || sum > math.MaxUint32 {
		return 0, false
	}
	return uint32(sum), true
}

func clamp32(v uint64) uint32 {
	if v > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(v)
}

// isError says whether a record counts as an error in the views:
//   - RPC result codes: "00" is success; "01" business exception, "02" RPC
//     logic error, "03" timeout, "04" routing failure are errors;
//   - other SOFATracer digests: a three-digit HTTP status of 500 or more, or
//     the words "failed"/"false"/"error"; "success", "0", "" are success;
//   - any non-empty "error" key marks an error.
func (d *digest) isError() bool {
	if len(d.errorText) > 0 {
		return true
	}
	c := d.resultCode
	switch {
	case len(c) == 0:
		return false
	case len(c) == 2 && c[0] == '0':
		return c[1] != '0'
	case len(c) == 3 && isDigits(c):
		return c[0] >= '5'
	}
	if isDigits(c) {
		for _, b := range c {
			if b != '0' {
				return true
			}
		}
		return false
	}
	return bytes.EqualFold(c, []byte("failed")) || bytes.EqualFold(c, []byte("false")) || bytes.EqualFold(c, []byte("error")) || bytes.EqualFold(c, []byte("fail"))
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// splitHostPort splits "host:port", "[v6]:port" or a bare host. A port that
// is not a number in 0..65535 leaves the whole value as the host.
func splitHostPort(v []byte) (host []byte, port uint16) {
	if len(v) > 0 && v[0] == '[' {
		if end := bytes.IndexByte(v, ']'); end > 0 {
			host = v[1:end]
			if rest := v[end+1:]; len(rest) > 1 && rest[0] == ':' {
				if p, ok := parsePort(rest[1:]); ok {
					return host, p
				}
			}
			return host, 0
		}
		return v, 0
	}
	i := bytes.IndexByte(v, ':')
	if i < 0 || bytes.IndexByte(v[i+1:], ':') >= 0 {
		return v, 0 // no port, or a bare IPv6 address
	}
	if p, ok := parsePort(v[i+1:]); ok {
		return v[:i], p
	}
	return v, 0
}

func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	var p uint32
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		p = p*10 + uint32(c-'0')
	}
	if p > 65535 {
		return 0, false
	}
	return uint16(p), true
}

// parseBaggage splits SOFATracer's "k=v&k2=v2" baggage into pairs appended
// to dst. Empty items are skipped; an item without '=' keeps an empty value.
func parseBaggage(dst []kv, v []byte) []kv {
	for len(v) > 0 {
		item := v
		if i := bytes.IndexByte(v, '&'); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if len(item) == 0 {
			continue
		}
		if i := bytes.IndexByte(item, '='); i >= 0 {
			dst = append(dst, kv{item[:i], item[i+1:]})
		} else {
			dst = append(dst, kv{item, nil})
		}
	}
	return dst
}
