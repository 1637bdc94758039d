package sofarpc

import (
	"bytes"
)

// num is a numeric field that arrived as a JSON string or number: set when
// the key was present with a parseable value.
type num struct {
	v   uint64
	set bool
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
	localIP                                    []byte
	localPort                                  num
	reqSize, respSize                          num
	reqSer, respDeser, connTime, elapse        num
	poolWait, bizImpl, respSer, reqDeser       num
	timeCost                                   num
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
// views define it (see sql/tables/sofarpc_digest.sql):
//   - client side: client.elapse.time, the whole call as the caller saw it;
//   - server side: server.pool.wait.time + req.deserialize.time +
//     biz.impl.time + resp.serialize.time, the time the request spent in the
//     server from its arrival to the response being written;
//   - other SOFATracer digests: time.cost.milliseconds.
func (d *digest) latency() uint32 {
	switch {
	case d.elapse.set:
		return clamp32(d.elapse.v)
	case d.poolWait.set || d.bizImpl.set || d.respSer.set || d.reqDeser.set:
		return clamp32(d.poolWait.v + d.reqDeser.v + d.bizImpl.v + d.respSer.v)
	case d.timeCost.set:
		return clamp32(d.timeCost.v)
	}
	return 0
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
