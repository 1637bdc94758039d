package sql

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tapline/tapline/sink"
)

// Retention is how long tapline's tables keep rows, through ClickHouse TTL
// (TTL <time column> + <duration>, the columns are in retained): ClickHouse
// deletes expired rows in background merges. It is separate from the streams' limits (NATS keeps
// messages by its own rules). A zero duration keeps that class of tables
// forever; the zero Retention keeps everything. The defaults are
// DefaultRetention.
type Retention struct {
	// Raw is for the tables of decoded records (one row per record, event,
	// request, task or connection): the big ones. Counted from arrival.
	Raw time.Duration
	// Aggregates is for the per-minute aggregates (*_1m): small, and the
	// history dashboards show over long ranges. Counted from the minute.
	Aggregates time.Duration
	// Batches is for pipeline_batches, the pipeline's own health rows.
	Batches time.Duration
}

// DefaultRetention is tapline's default: 30 days of raw records (enough to
// investigate last month's incidents; the bulk of the disk), 400 days of
// per-minute aggregates (a year-over-year comparison with a month of
// margin, at a few rows per minute and series) and 30 days of batch
// records (like the raw rows they describe).
func DefaultRetention() Retention {
	return Retention{Raw: 30 * 24 * time.Hour, Aggregates: 400 * 24 * time.Hour, Batches: 30 * 24 * time.Hour}
}

// Validate reports every duration that is negative or not whole seconds.
func (r Retention) Validate() error {
	var errs []error
	for _, c := range []struct {
		flag string
		d    time.Duration
	}{{"raw", r.Raw}, {"aggregates", r.Aggregates}, {"batches", r.Batches}} {
		switch {
		case c.d < 0:
			errs = append(errs, fmt.Errorf("retention %s %v is negative: give a duration such as 720h, or 0 to keep rows forever", c.flag, c.d))
		case c.d%time.Second != 0:
			errs = append(errs, fmt.Errorf("retention %s %v is not whole seconds", c.flag, c.d))
		}
	}
	return errors.Join(errs...)
}

// retentionClass says which Retention duration a table follows.
type retentionClass int

const (
	raw retentionClass = iota
	aggregate
	batches
)

// retained is every table of tables/ with its retention class and the time
// column of its TTL. Raw tables expire by arrival (ingested_at, or
// updated_at for the tables views assemble per request, task or connection,
// added by alters/0002), not by event time: a backfill of old log files
// stays for the retention after it arrived instead of vanishing at the next
// merge. Aggregates have only their event minute (also their partition
// key), so an aggregate older than its retention is deleted even when it
// was just written. pipeline_batches expires by commit time.
var retained = map[string]struct {
	class  retentionClass
	column string
}{
	"django_events":               {raw, "ingested_at"},
	"django_open_requests":        {raw, "ingested_at"},
	"django_open_tasks":           {raw, "ingested_at"},
	"django_requests":             {raw, "updated_at"},
	"django_tasks":                {raw, "updated_at"},
	"envoytap_connection_summary": {raw, "updated_at"},
	"envoytap_connections":        {raw, "ingested_at"},
	"envoytap_events":             {raw, "ingested_at"},
	"g3proxy_task":                {raw, "ingested_at"},
	"sofarpc_digest":              {raw, "ingested_at"},
	"sofarpc_stat":                {raw, "ingested_at"},
	"webdebug_documents":          {raw, "ingested_at"},
	"webdebug_events":             {raw, "ingested_at"},
	"g3proxy_task_1m":             {aggregate, "minute"},
	"latency_1m":                  {aggregate, "minute"},
	"sofarpc_latency_1m":          {aggregate, "minute"},
	"pipeline_batches":            {batches, "committed_at"},
}

// RetainedTables returns every table retention applies to, with the time
// column its TTL is on.
func RetainedTables() map[string]string {
	out := make(map[string]string, len(retained))
	for name, t := range retained {
		out[name] = t.column
	}
	return out
}

func (r Retention) of(c retentionClass) time.Duration {
	switch c {
	case aggregate:
		return r.Aggregates
	case batches:
		return r.Batches
	}
	return r.Raw
}

// ttlExpr is the TTL expression for column and d, written as ClickHouse
// prints it back in system.tables (so an unchanged TTL compares equal), in
// the largest unit that divides d; "" for d = 0 (no TTL).
func ttlExpr(column string, d time.Duration) string {
	if d == 0 {
		return ""
	}
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"Day", 24 * time.Hour}, {"Hour", time.Hour}, {"Minute", time.Minute}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%s + toInterval%s(%d)", column, u.name, d/u.d)
		}
	}
	return fmt.Sprintf("%s + toIntervalSecond(%d)", column, d/time.Second)
}

// TTLChange is one table whose TTL differs from a Retention.
type TTLChange struct {
	// Table is the table tapline writes (on a cluster, the DDL alters its
	// per-shard table).
	Table string
	// Have is the table's TTL expression now, "" for none.
	Have string
	// Want is the TTL expression r asks for, "" for none.
	Want string
	// Statement is the ALTER TABLE that makes Have Want.
	Statement string
}

func ttlStatement(table, want string, opts RenderOptions) string {
	target := table
	if opts.Cluster != "" {
		target = table + LocalSuffix + " ON CLUSTER " + sink.QuoteIdent(opts.Cluster)
	}
	if want == "" {
		return "ALTER TABLE " + target + " REMOVE TTL"
	}
	return "ALTER TABLE " + target + " MODIFY TTL " + want
}

// RetentionStatements returns the ALTER TABLE ... MODIFY TTL statement of
// every retained table for r under opts, sorted by table, whatever the
// tables have now (`tapline schema print`). A table kept forever gets no
// statement.
func RetentionStatements(r Retention, opts RenderOptions) []string {
	var out []string
	for _, name := range sortedRetained() {
		if want := ttlExpr(retained[name].column, r.of(retained[name].class)); want != "" {
			out = append(out, ttlStatement(name, want, opts))
		}
	}
	return out
}

func sortedRetained() []string {
	names := make([]string, 0, len(retained))
	for n := range retained {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var ttlRE = regexp.MustCompile(`\sTTL\s+(.*?)(?:\s+SETTINGS\s|$)`)

// RetentionChanges reads each retained table's TTL from system.tables of
// db's current database and returns the changes r asks for, sorted by
// table; none when every TTL already is r's. It fails when a retained
// table does not exist (apply the migrations first).
func RetentionChanges(ctx context.Context, db DB, r Retention, opts RenderOptions) ([]TTLChange, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	out, err := db.Query(ctx, "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase()", "TabSeparatedRaw", nil)
	if err != nil {
		return nil, fmt.Errorf("read the tables' TTL: %w", err)
	}
	have := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, engine, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		have[name] = ""
		if m := ttlRE.FindStringSubmatch(engine); m != nil {
			have[name] = strings.Join(strings.Fields(m[1]), " ")
		}
	}
	var changes []TTLChange
	var missing []string
	for _, name := range sortedRetained() {
		t := retained[name]
		onServer := name
		if opts.Cluster != "" {
			onServer = name + LocalSuffix
		}
		h, ok := have[onServer]
		if !ok {
			missing = append(missing, onServer)
			continue
		}
		want := ttlExpr(t.column, r.of(t.class))
		if h != want {
			changes = append(changes, TTLChange{Table: name, Have: h, Want: want, Statement: ttlStatement(name, want, opts)})
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("cannot set retention: tables %s do not exist (run `tapline schema apply` first)", strings.Join(missing, ", "))
	}
	return changes, nil
}

// ApplyRetention brings every retained table's TTL to r (MODIFY TTL, or
// REMOVE TTL for a zero duration) and returns what it changed; a table
// whose TTL already is r's is not touched, so ApplyRetention may run on
// every start. ClickHouse applies a changed TTL to the rows already stored
// in the background (materialize_ttl_after_modify). It stops at the first
// failure, naming the table.
func ApplyRetention(ctx context.Context, db DB, r Retention, opts RenderOptions) ([]TTLChange, error) {
	changes, err := RetentionChanges(ctx, db, r, opts)
	if err != nil {
		return nil, err
	}
	for i, c := range changes {
		if err := db.Exec(ctx, c.Statement); err != nil {
			return changes[:i], fmt.Errorf("set retention of %s: %w", c.Table, err)
		}
	}
	return changes, nil
}
