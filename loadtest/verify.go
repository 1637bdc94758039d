package loadtest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/loadtest/probe"
	"github.com/tapline/tapline/loadtest/publish"
	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
	"github.com/tapline/tapline/sink"
)

// Measures are counts taken in ClickHouse before and after a run; a check
// compares their difference with what was published. Keys name them:
//
//	rows:<table>       rows of a table
//	keyrows:<table>    rows of a table that are not probes
//	keysum:<table>     the sum of xxHash64 of their natural keys (publish.KeySQL)
//	dups:<table>       rows sharing a unique key (uniqueKeys) with another
//	                   row ingested since the engine's clock read "clock"
//	clock              the engine's clock, Unix ms (taken before the run)
//	latency:<source>   latency samples of latency_1m for a source: requests
//	                   minus no_latency (requests without a latency)
//	calls, tasks, lines, events, finished, withrequest: see measureSQL
func rowsOf(table string) string { return "rows:" + table }

func keyRowsOf(table string) string { return "keyrows:" + table }
func keySumOf(table string) string  { return "keysum:" + table }
func dupsOf(table string) string    { return "dups:" + table }

// uniqueKeys are keys the generators make unique within a run, across
// publishers: random 128-bit document ids (and an event's rank in its
// document). Other tables' keys are not (two publishers can make the
// same SOFARPC trace id or Envoy trace id): their rows are compared as a
// multiset of keys with what was published (publish.KeySum) instead.
var uniqueKeys = map[string]string{
	"webdebug_documents": "doc_id",
	"webdebug_events":    "doc_id, doc_order",
}

// viewMeasures are the measures, beyond row counts, each format's checks
// use.
var viewMeasures = map[string][]string{
	"sofarpc":  {"calls"},
	"g3proxy":  {"finished", "tasks"},
	"django":   {"withrequest", "lines"},
	"envoytap": {"events"},
}

func measureSQL(key string) string {
	kind, arg, _ := strings.Cut(key, ":")
	switch kind {
	case "rows":
		return "SELECT count() FROM " + sink.QuoteIdent(arg)
	case "dups":
		table, since, _ := strings.Cut(arg, ":")
		return "SELECT count() - uniqExact(" + uniqueKeys[table] + ") FROM " + sink.QuoteIdent(table) +
			" WHERE ingested_at >= fromUnixTimestamp64Milli(toInt64(" + sink.QuoteString(since) + ")) AND " + probe.NotProbe(table)
	case "keyrows":
		return "SELECT count() FROM " + sink.QuoteIdent(arg) + " WHERE " + probe.NotProbe(arg)
	case "keysum":
		return "SELECT sumWithOverflow(xxHash64(" + publish.KeySQL(arg) + ")) FROM " + sink.QuoteIdent(arg) + " WHERE " + probe.NotProbe(arg)
	case "clock":
		return "SELECT toUnixTimestamp64Milli(now64(3))"
	case "latency":
		return "SELECT sum(requests) - sum(no_latency) FROM latency_1m WHERE source = " + sink.QuoteString(arg)
	case "calls":
		return "SELECT sum(calls) FROM sofarpc_latency_1m"
	case "finished":
		return "SELECT countIf(task_event = 'Finished') FROM g3proxy_task"
	case "tasks":
		return "SELECT sum(tasks) FROM g3proxy_task_1m"
	case "withrequest":
		return "SELECT countIf(request_id != '') FROM django_events"
	case "lines":
		return "SELECT sum(lines) FROM django_requests"
	case "events":
		return "SELECT sum(events) FROM envoytap_connection_summary"
	}
	panic("BUG: loadtest: unknown measure " + key)
}

// measureKeys returns every measure the formats' checks use.
func measureKeys(env Env, formats []string) []string {
	var keys []string
	for _, f := range formats {
		for _, t := range env.Tables[f] {
			keys = append(keys, rowsOf(t))
			if has(publish.KeyTables(), t) {
				keys = append(keys, keyRowsOf(t), keySumOf(t))
			}
		}
		keys = append(keys, "latency:"+f)
		keys = append(keys, viewMeasures[f]...)
	}
	if has(formats, "sofarpc") && !has(keys, rowsOf("sofarpc_digest")) {
		keys = append(keys, rowsOf("sofarpc_digest"))
	}
	if has(formats, "envoytap") && !has(keys, rowsOf("envoytap_events")) {
		keys = append(keys, rowsOf("envoytap_events"))
	}
	return keys
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func measure(ctx context.Context, env Env, formats []string) (map[string]uint64, error) {
	return count(ctx, env.Target, append(measureKeys(env, formats), "clock"))
}

// duplicates counts, per table with a unique key, the rows ingested since
// the engine's clock read since (Unix ms) whose key another of them has.
func duplicates(ctx context.Context, env Env, formats []string, since uint64) (map[string]uint64, error) {
	var keys []string
	for _, f := range formats {
		for _, t := range env.Tables[f] {
			if uniqueKeys[t] != "" {
				keys = append(keys, dupsOf(t)+":"+strconv.FormatUint(since, 10))
			}
		}
	}
	m, err := count(ctx, env.Target, keys)
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for k, n := range m {
		_, rest, _ := strings.Cut(k, ":")
		table, _, _ := strings.Cut(rest, ":")
		out[table] = n
	}
	return out, nil
}

// count takes the measures in one query.
func count(ctx context.Context, t sink.Target, keys []string) (map[string]uint64, error) {
	m := map[string]uint64{}
	if len(keys) == 0 {
		return m, nil // nothing to measure (a --mix of formats without such tables)
	}
	var q strings.Builder
	for i, k := range keys {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT %d, toUInt64(ifNull((%s), 0))", i, measureSQL(k))
	}
	out, err := t.Query(ctx, q.String(), "TabSeparated", nil)
	if err != nil {
		return nil, fmt.Errorf("loadtest: count rows: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		i, n, ok := strings.Cut(line, "\t")
		idx, err1 := strconv.Atoi(i)
		v, err2 := strconv.ParseUint(n, 10, 64)
		if !ok || err1 != nil || err2 != nil || idx < 0 || idx >= len(keys) {
			return nil, fmt.Errorf("loadtest: count rows: unexpected line %q", line)
		}
		m[keys[idx]] = v
	}
	return m, nil
}

// truthRows returns the rows a table gains from a format's valid records
// when each valid record is one row of it, from the publisher's truth.
func truthRows(table string, t *publish.Tally) (uint64, bool) {
	switch table {
	case "sofarpc_digest", "sofarpc_stat":
		suffix := ".digest"
		if table == "sofarpc_stat" {
			suffix = ".stat"
		}
		var n uint64
		for subj, c := range t.Subjects {
			if strings.HasSuffix(subj, suffix) {
				n += c
			}
		}
		return n, true
	case "g3proxy_task", "webdebug_documents", "django_events":
		return t.Valid, true
	}
	return 0, false
}

// checks compares what was published with what landed.
func (r *run) checks() []report.Check {
	delta := func(key string) uint64 { return r.after[key] - min(r.after[key], r.before[key]) }
	stats := map[string]pipeline.Stats{}
	for _, s := range r.stats {
		stats[s.Source] = s
	}
	var out []report.Check
	add := func(name, what string, want, got uint64) {
		out = append(out, report.Check{Name: name, What: what, Want: want, Got: got, OK: want == got})
	}
	for _, f := range r.formats {
		t := r.pub.Formats[f]
		if t == nil {
			t = &publish.Tally{}
		}
		st := stats[f]
		add(f+": records", "valid records published (probes included) / records the pipeline decoded and committed", t.Valid, st.RecordsCommitted)
		dl := "dlq." + f
		add(f+": dead letters", "malformed records published / dead letters stored in "+ingest.DefaultDeadLetterStream, t.Malformed, r.dlqAfter[dl]-min(r.dlqAfter[dl], r.dlqBefore[dl]))
		tables := append([]string(nil), r.env.Tables[f]...)
		sort.Strings(tables)
		for _, table := range tables {
			if want, ok := truthRows(table, t); ok {
				add(table+": rows", "valid records published (one row each) / rows in ClickHouse", want, delta(rowsOf(table)))
			} else {
				add(table+": rows", "rows the pipeline committed / rows in ClickHouse", st.Rows[table], delta(rowsOf(table)))
			}
			if uniqueKeys[table] != "" {
				add(table+": duplicate keys", "rows of this run with the same ("+uniqueKeys[table]+") as another: none published / found", 0, r.dups[table])
			}
			if has(publish.KeyTables(), table) {
				k := t.Keys[table]
				add(table+": generated rows", "generated records published for the table / its rows that are not probes", k.N, delta(keyRowsOf(table)))
				// The sums wrap at 2^64: so does their difference.
				got := r.after[keySumOf(table)] - r.before[keySumOf(table)]
				out = append(out, report.Check{Name: table + ": keys", What: "sum of xxHash64(" + publish.KeySQL(table) + ") over the generated records published / over the rows that are not probes",
					Want: k.Sum, Got: got, OK: k.Sum == got, Digest: true})
			}
		}
		add("latency_1m "+f+": samples", "latency samples the valid records carry (generator truth) / sum(requests) - sum(no_latency) in the view", t.Samples, delta("latency:"+f))
		switch f {
		case "sofarpc":
			want, _ := truthRows("sofarpc_digest", t)
			add("sofarpc_latency_1m: calls", "digest records published / sum(calls) in the view", want, delta("calls"))
		case "g3proxy":
			add("g3proxy_task_1m: tasks", "Finished rows in g3proxy_task / sum(tasks) in the view", delta("finished"), delta("tasks"))
		case "django":
			add("django_requests: lines", "django_events rows with a request_id / sum(lines) in the view", delta("withrequest"), delta("lines"))
		case "envoytap":
			add("envoytap_connection_summary: events", "rows in envoytap_events / sum(events) in the view", delta(rowsOf("envoytap_events")), delta("events"))
		}
	}
	return out
}

// verdict sums the checks up: a check that found fewer than published is a
// loss, more a duplicate; a digest of keys that differs is both (the rows
// are not the published ones: with the same count, at least one is
// missing and another is there twice or altered).
func verdict(checks []report.Check) report.Verdict {
	v := report.Verdict{ZeroLoss: true, ZeroDuplicates: true}
	var lost, dup, keys []string
	for _, c := range checks {
		switch {
		case c.Digest && !c.OK:
			v.ZeroLoss, v.ZeroDuplicates = false, false
			keys = append(keys, c.Name)
		case c.Digest: // equal digests
		case c.Got < c.Want:
			v.ZeroLoss = false
			lost = append(lost, fmt.Sprintf("%s (%d of %d)", c.Name, c.Got, c.Want))
		case c.Got > c.Want:
			v.ZeroDuplicates = false
			dup = append(dup, fmt.Sprintf("%s (%d for %d)", c.Name, c.Got, c.Want))
		}
	}
	switch {
	case v.ZeroLoss && v.ZeroDuplicates:
		v.Text = fmt.Sprintf("zero loss, zero duplicates (%d checks)", len(checks))
	default:
		var parts []string
		if len(lost) > 0 {
			parts = append(parts, "LOSS: "+strings.Join(lost, ", "))
		}
		if len(dup) > 0 {
			parts = append(parts, "DUPLICATES: "+strings.Join(dup, ", "))
		}
		if len(keys) > 0 {
			parts = append(parts, "OTHER ROWS THAN PUBLISHED (lost and duplicated or altered): "+strings.Join(keys, ", "))
		}
		v.Text = strings.Join(parts, "; ")
	}
	return v
}
