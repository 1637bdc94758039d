// Package probe makes freshness probes: one small, valid record per format
// that a loadtest publishes every interval next to the generated load, and
// finds again in ClickHouse afterwards. A probe's publish time is kept by
// the publisher; ClickHouse stamps the probe's row with ingested_at (the
// DEFAULT now64(3) of every tapline table) when the insert that carries it
// is processed. ingested_at minus publish time is the probe's
// publish-to-queryable latency: the time a record spends in the stream,
// waiting for its batch, being decoded and being inserted.
//
// A probe adds exactly one row to one table (Table) and no latency sample to
// any view, so a loss check counts it like any other valid record. Every
// probe of a run carries the run's id, so probes of earlier runs in the same
// tables are never mistaken for this run's.
package probe

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/sink"
)

// Formats lists the formats that have a probe, sorted.
func Formats() []string {
	out := make([]string, 0, len(kinds))
	for f := range kinds {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// kind describes one format's probe: how to write it and find it.
type kind struct {
	table string
	// subject returns the subject for run's probes.
	subject func(run string) string
	// appendRecord appends the probe record for id n of run at time at.
	appendRecord func(b []byte, run string, n uint64, at time.Time) []byte
	// query selects (probe number, ingested_at in Unix ms) of run's probes;
	// {run:String} is bound to the run id.
	query string
	// notProbe holds for the table's rows that are no probe of any run.
	notProbe string
}

// Probe service and logger names: what the probes' rows are found by.
const (
	sofarpcService = "tapline.loadtest.Probe"
	g3proxyServer  = "tapline-loadtest-probe"
	djangoLogger   = "tapline.loadtest"
	webdebugPrefix = "tapline-loadtest-probe-"
	envoyPrefix    = "tapline-loadtest-probe-"
)

var kinds = map[string]kind{
	// A SOFARPC server stat line (no latency sample) whose number rides in
	// an unknown key, which the decoder keeps in the extra map.
	"sofarpc": {
		table:   "sofarpc_stat",
		subject: func(string) string { return "logs.sofarpc.server.stat" },
		appendRecord: func(b []byte, run string, n uint64, at time.Time) []byte {
			b = append(b, `{"time":"`...)
			b = at.UTC().AppendFormat(b, "2006-01-02 15:04:05.000")
			b = append(b, `","stat.key":{"method":"probe","local.app":"tapline-loadtest","service":"`+sofarpcService+`"},"count":1,"total.cost.milliseconds":0,"success":"Y","loadtest.probe":"`...)
			b = appendID(b, run, n)
			return append(b, `"}`...)
		},
		query: "SELECT extra['loadtest.probe'] AS id, toUnixTimestamp64Milli(ingested_at) FROM sofarpc_stat " +
			"WHERE service = '" + sofarpcService + "' AND startsWith(id, concat({run:String}, '-'))",
		notProbe: "service != '" + sofarpcService + "'",
	},
	// A g3proxy Created record (only Finished records are samples), its
	// number in msg.
	"g3proxy": {
		table:   "g3proxy_task",
		subject: func(string) string { return "logs.g3proxy.task" },
		appendRecord: func(b []byte, run string, n uint64, at time.Time) []byte {
			b = append(b, `{"daemon_name":"","log_type":"Task","pid":1,"server_type":"HttpProxy","server_name":"`+g3proxyServer+`","task_type":"TcpConnect","task_id":"`...)
			id := strconv.AppendUint(nil, n, 16)
			for i := len(id); i < 32; i++ {
				b = append(b, '0')
			}
			b = append(b, id...)
			b = append(b, `","task_event":"Created","stage":"Created","start_at":"`...)
			b = at.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
			b = append(b, `","server_addr":"127.0.0.1:1","client_addr":"127.0.0.1:2","upstream":"probe.invalid:1","msg":"`...)
			b = appendID(b, run, n)
			return append(b, `"}`...)
		},
		query: "SELECT msg AS id, toUnixTimestamp64Milli(ingested_at) FROM g3proxy_task " +
			"WHERE server_name = '" + g3proxyServer + "' AND startsWith(id, concat({run:String}, '-'))",
		notProbe: "server_name != '" + g3proxyServer + "'",
	},
	// A web debug document without events: one webdebug_documents row, no
	// event rows, no sample.
	"webdebug": {
		table:   "webdebug_documents",
		subject: func(string) string { return "logs.webdebug.scheme" },
		appendRecord: func(b []byte, run string, n uint64, _ time.Time) []byte {
			b = append(b, `{"id":"`+webdebugPrefix...)
			b = appendID(b, run, n)
			return append(b, `","version":1,"events":[]}`...)
		},
		query: "SELECT substring(doc_id, " + strconv.Itoa(len(webdebugPrefix)+1) + ") AS id, toUnixTimestamp64Milli(ingested_at) FROM webdebug_documents " +
			"WHERE startsWith(doc_id, concat('" + webdebugPrefix + "', {run:String}, '-'))",
		notProbe: "NOT startsWith(doc_id, '" + webdebugPrefix + "')",
	},
	// A line of another logger sharing the Django stream: no request or
	// task, no sample; the number rides in an unknown key (extra map).
	"django": {
		table:   "django_events",
		subject: func(string) string { return "logs.django.structlog" },
		appendRecord: func(b []byte, run string, n uint64, at time.Time) []byte {
			b = append(b, `{"event": "loadtest probe", "probe": "`...)
			b = appendID(b, run, n)
			b = append(b, `", "timestamp": "`...)
			b = at.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
			return append(b, `", "logger": "`+djangoLogger+`", "level": "info"}`...)
		},
		query: "SELECT extra['probe'] AS id, toUnixTimestamp64Milli(ingested_at) FROM django_events " +
			"WHERE service = '' AND event_name = '' AND logger = '" + djangoLogger + "' AND startsWith(id, concat({run:String}, '-'))",
		notProbe: "NOT (service = '' AND event_name = '' AND logger = '" + djangoLogger + "')",
	},
	// An Envoy streamed-trace connection segment: one envoytap_connections
	// row, no events, no sample (only buffered traces are). The subject's
	// Envoy token names the run; the trace id is the probe's number.
	"envoytap": {
		table:   "envoytap_connections",
		subject: func(run string) string { return "logs.envoytap.json." + envoyPrefix + run },
		appendRecord: func(b []byte, _ string, n uint64, _ time.Time) []byte {
			b = append(b, `{"socket_streamed_trace_segment":{"trace_id":"`...)
			b = strconv.AppendUint(b, n, 10)
			return append(b, `","connection":{"local_address":{"socket_address":{"address":"127.0.0.1","port_value":1}},"remote_address":{"socket_address":{"address":"127.0.0.1","port_value":2}}}}}`...)
		},
		query: "SELECT concat({run:String}, '-', toString(trace_id)) AS id, toUnixTimestamp64Milli(ingested_at) FROM envoytap_connections " +
			"WHERE envoy = concat('" + envoyPrefix + "', {run:String})",
		notProbe: "NOT startsWith(envoy, '" + envoyPrefix + "')",
	},
}

func appendID(b []byte, run string, n uint64) []byte {
	b = append(b, run...)
	b = append(b, '-')
	return strconv.AppendUint(b, n, 10)
}

// Maker writes the probes of one run. The zero value is not usable; use New.
type Maker struct {
	run string
}

// New returns a Maker for run, the run's id: lowercase letters and digits
// only (it becomes part of subjects and SQL-bound values).
func New(run string) (*Maker, error) {
	if run == "" {
		return nil, fmt.Errorf("probe: empty run id")
	}
	for _, c := range run {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return nil, fmt.Errorf("probe: run id %q: use lowercase letters and digits only", run)
		}
	}
	return &Maker{run: run}, nil
}

// Run returns the run id.
func (m *Maker) Run() string { return m.run }

// Table returns the table a format's probe adds its one row to, or "" for a
// format without a probe.
func Table(format string) string { return kinds[format].table }

// NotProbe returns a SQL condition on table's rows that holds for every
// row that is not a probe of any run: "1" for a table no probe writes to.
func NotProbe(table string) string {
	for _, k := range kinds {
		if k.table == table {
			return k.notProbe
		}
	}
	return "1"
}

// Subject returns the subject a format's probes are published to.
func (m *Maker) Subject(format string) string {
	k, ok := kinds[format]
	if !ok {
		panic("BUG: probe: no probe for format " + format)
	}
	return k.subject(m.run)
}

// Append appends probe number n of format, stamped with at, to b and
// returns it. A probe is one record and one message.
func (m *Maker) Append(b []byte, format string, n uint64, at time.Time) []byte {
	k, ok := kinds[format]
	if !ok {
		panic("BUG: probe: no probe for format " + format)
	}
	return k.appendRecord(b, m.run, n, at)
}

// Landed is one probe found in ClickHouse.
type Landed struct {
	// Format and N are the probe's format and number (Maker.Append's n).
	Format string
	N      uint64
	// IngestedAt is the row's ingested_at.
	IngestedAt time.Time
}

// Find returns the run's probes of format that are in ClickHouse. It reads
// only the probes' rows (the queries filter on the tables' sort keys where
// they can), so it is cheap enough to call once at the end of a run.
func (m *Maker) Find(ctx context.Context, t sink.Target, format string) ([]Landed, error) {
	k, ok := kinds[format]
	if !ok {
		return nil, fmt.Errorf("probe: no probe for format %q", format)
	}
	out, err := t.Query(ctx, k.query, "TabSeparated", map[string]string{"run": m.run})
	if err != nil {
		return nil, fmt.Errorf("probe: find %s probes in %s: %w", format, k.table, err)
	}
	var res []Landed
	prefix := m.run + "-"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		id, ms, ok := strings.Cut(line, "\t")
		if !ok || !strings.HasPrefix(id, prefix) {
			return nil, fmt.Errorf("probe: unexpected row %q from %s", line, k.table)
		}
		n, err1 := strconv.ParseUint(id[len(prefix):], 10, 64)
		v, err2 := strconv.ParseInt(ms, 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("probe: unexpected row %q from %s", line, k.table)
		}
		res = append(res, Landed{Format: format, N: n, IngestedAt: time.UnixMilli(v).UTC()})
	}
	return res, nil
}
