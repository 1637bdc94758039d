package publish

import (
	"bytes"
	"sort"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/tapline/tapline/gen"
)

// KeySum is a digest of the natural keys of the rows a table should gain:
// how many, and the sum (wrapping at 2^64) of each key's xxHash64. A sum
// is a digest of a multiset: it does not depend on order, two equal keys
// count twice, and a lost row and a duplicated one (or an altered key)
// change it although the count stays the same. The same digest taken in
// ClickHouse over the rows that landed (KeySQL) must equal it.
type KeySum struct {
	N, Sum uint64
}

func (k *KeySum) add(key []byte) {
	k.N++
	k.Sum += xxhash.Sum64(key)
}

// naturalKey tells one table's rows apart twice: from a generated record
// as it was published, and in SQL from the row it became. The generators
// do not make every key unique across publishers (two publishers can
// produce the same SOFARPC trace id in the same millisecond), which is why
// the keys are compared as multisets rather than required to be unique.
type naturalKey struct {
	table string
	// sql is the key of a row as a String expression over the table's
	// columns; it must give the bytes appendKey gives.
	sql string
	// appendKey appends the key of the row r adds to the table and
	// reports true, or false when r adds no row to it.
	appendKey func(b []byte, r *gen.Record) ([]byte, bool)
}

// naturalKeys are the keys of the tables where every valid generated
// record is one row. Event times are what the generators put in the row
// (gen.Record.Time is "the time the row says"), at the column's precision.
var naturalKeys = []naturalKey{
	// Client and server halves of a call share the trace id; the side
	// tells them apart (trace ids also carry the call's millisecond).
	{
		table: "sofarpc_digest",
		sql:   "concat(side, '/', trace_id)",
		appendKey: func(b []byte, r *gen.Record) ([]byte, bool) {
			side, ok := sofarpcSide(r.Subject, ".digest")
			if !ok {
				return b, false
			}
			id, ok := stringMember(r.Data, "tracerId")
			if !ok {
				return b, false
			}
			b = append(b, side...)
			b = append(b, '/')
			return append(b, id...), true
		},
	},
	// A stat line is a period's count for one key; its time, in ms.
	{
		table: "sofarpc_stat",
		sql:   "toString(toUnixTimestamp64Milli(time))",
		appendKey: func(b []byte, r *gen.Record) ([]byte, bool) {
			if _, ok := sofarpcSide(r.Subject, ".stat"); !ok {
				return b, false
			}
			return strconv.AppendInt(b, r.Time.UnixMilli(), 10), true
		},
	},
	// A task's records share its task_id; their event times (µs) differ.
	{
		table: "g3proxy_task",
		sql:   "toString(toUnixTimestamp64Micro(event_time))",
		appendKey: func(b []byte, r *gen.Record) ([]byte, bool) {
			if r.Subject != gen.G3proxyTask {
				return b, false
			}
			return strconv.AppendInt(b, r.Time.UnixMicro(), 10), true
		},
	},
	{
		table: "django_events",
		sql:   "toString(toUnixTimestamp64Micro(timestamp))",
		appendKey: func(b []byte, r *gen.Record) ([]byte, bool) {
			if r.Subject != gen.DjangoSubject {
				return b, false
			}
			return strconv.AppendInt(b, r.Time.UnixMicro(), 10), true
		},
	},
	// A document's id or uuid (random 128-bit UUIDs), its first member.
	{
		table: "webdebug_documents",
		sql:   "doc_id",
		appendKey: func(b []byte, r *gen.Record) ([]byte, bool) {
			if r.Subject != gen.WebdebugScheme {
				return b, false
			}
			id, ok := firstOf(r.Data, "uuid", "id")
			if !ok {
				return b, false
			}
			return append(b, id...), true
		},
	},
}

// KeyTables lists the tables whose rows have a natural key, sorted.
func KeyTables() []string {
	out := make([]string, 0, len(naturalKeys))
	for _, k := range naturalKeys {
		out = append(out, k.table)
	}
	sort.Strings(out)
	return out
}

// KeySQL returns the SQL expression (type String) of a row's natural key
// in table: the bytes whose xxHash64 Tally.Keys sums. It panics for a
// table not in KeyTables.
func KeySQL(table string) string {
	for _, k := range naturalKeys {
		if k.table == table {
			return k.sql
		}
	}
	panic("BUG: publish: no natural key for table " + table)
}

// sofarpcSide returns the side token of a SOFARPC subject ending in
// suffix (logs.sofarpc.client.digest: client).
func sofarpcSide(subject, suffix string) (string, bool) {
	rest, ok := strings.CutSuffix(subject, suffix)
	if !ok || !strings.HasPrefix(subject, "logs.sofarpc.") {
		return "", false
	}
	side := rest[strings.LastIndexByte(rest, '.')+1:]
	return side, side == "client" || side == "server"
}

// firstOf returns the value of whichever of the string members a and b
// comes first in data.
func firstOf(data []byte, a, b string) ([]byte, bool) {
	va, oka := stringMember(data, a)
	vb, okb := stringMember(data, b)
	switch {
	case oka && okb:
		if memberAt(data, a) < memberAt(data, b) {
			return va, true
		}
		return vb, true
	case oka:
		return va, true
	}
	return vb, okb
}

// stringMember returns the value of the first JSON member name whose value
// is a string without escapes, in generated JSON (any spacing).
func stringMember(data []byte, name string) ([]byte, bool) {
	i := memberAt(data, name)
	if i < 0 {
		return nil, false
	}
	rest := bytes.TrimLeft(data[i+len(name)+2:], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return nil, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return nil, false
	}
	return rest[1 : 1+end], true
}

// memberAt returns where "name" (quoted) first occurs in data, or -1.
func memberAt(data []byte, name string) int {
	var q [64]byte
	needle := append(append(append(q[:0], '"'), name...), '"')
	return bytes.Index(data, needle)
}
