// Package baseline measures what tapline's own speed is compared with, on
// the same messages a loadtest published:
//
//   - Broker: the broker's limit for the way tapline consumes: a durable
//     pull consumer per stream that fetches and acknowledges every message
//     one by one and does nothing else.
//   - Engine: ClickHouse's own JSON ingestion: the same JSON lines inserted
//     with FORMAT JSONEachRow into the same tables (tapline's schema in
//     another database). The lines go into a Null-engine table whose columns
//     are the raw JSON keys, and a materialized view maps them into the
//     real table with ClickHouse expressions (sql/*.sql): ClickHouse's
//     usual way to transform on ingest. Only the inserts are timed.
//   - Drain: tapline itself on the same lines from a stored backlog, one
//     format at a time, into another copy of the schema: the like-for-like
//     counterpart of Engine (same lines, same tables, same machine, nothing
//     else running).
package baseline

import (
	"context"
	"embed"
	"fmt"
	"strings"

	"github.com/tapline/tapline/sink"
)

//go:embed sql/*.sql
var files embed.FS

// JSONFormats lists the formats whose records are JSON lines, the ones the
// engine's own JSON ingestion can read, sorted.
func JSONFormats() []string { return []string{"django", "g3proxy", "sofarpc"} }

// IsJSONFormat reports whether format's records are JSON lines.
func IsJSONFormat(format string) bool {
	for _, f := range JSONFormats() {
		if f == format {
			return true
		}
	}
	return false
}

// Execer runs one statement; sink.Target is one.
type Execer interface {
	Exec(ctx context.Context, stmt string) error
}

// Prepare creates the raw tables and their views in db, whose tapline
// schema must already be applied. It is idempotent.
func Prepare(ctx context.Context, db Execer) error {
	var stmts []string
	for _, t := range []string{"raw_sofarpc_digest", "raw_g3proxy_task", "raw_django_events"} {
		stmts = append(stmts, read(t), read(t+"_mv"))
	}
	for _, side := range []string{"client", "server"} {
		r := strings.NewReplacer("{table}", sink.QuoteIdent("raw_sofarpc_stat_"+side), "{view}", sink.QuoteIdent("raw_sofarpc_stat_"+side+"_mv"), "{side}", sink.QuoteString(side))
		stmts = append(stmts, r.Replace(read("raw_sofarpc_stat")), r.Replace(read("raw_sofarpc_stat_mv")))
	}
	for _, st := range stmts {
		if err := db.Exec(ctx, st); err != nil {
			return fmt.Errorf("baseline: prepare the engine's JSON ingestion: %w", err)
		}
	}
	return nil
}

// allowErrors lets the engine skip lines it cannot parse (the malformed
// ones, g3proxy's syslog framing) instead of failing the insert.
const allowErrors = " SETTINGS input_format_allow_errors_num = 1000000000, input_format_allow_errors_ratio = 1"

// statement returns the table the lines published on subject end in and
// the INSERT (to be fed FORMAT JSONEachRow) into the raw table that maps
// them, or ok false when the subject's lines have no mapping.
func statement(subject string) (table, stmt string, ok bool) {
	parts := strings.Split(subject, ".")
	if len(parts) < 3 || parts[0] != "logs" {
		return "", "", false
	}
	raw := ""
	switch parts[1] {
	case "sofarpc":
		switch {
		case len(parts) >= 4 && parts[3] == "digest":
			table, raw = "sofarpc_digest", "raw_sofarpc_digest"
		case len(parts) >= 4 && parts[3] == "stat" && (parts[2] == "client" || parts[2] == "server"):
			// The side comes from the subject, as tapline's decoder takes it.
			table, raw = "sofarpc_stat", "raw_sofarpc_stat_"+parts[2]
		}
	case "g3proxy":
		table, raw = "g3proxy_task", "raw_g3proxy_task"
	case "django":
		table, raw = "django_events", "raw_django_events"
	}
	if raw == "" {
		return "", "", false
	}
	return table, "INSERT INTO " + sink.QuoteIdent(raw) + allowErrors, true
}

func read(name string) string {
	b, err := files.ReadFile("sql/" + name + ".sql")
	if err != nil {
		panic("BUG: baseline: no statement sql/" + name + ".sql")
	}
	return strings.TrimRight(strings.TrimSpace(string(b)), ";")
}
