package sql

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sql/sqllex"
)

// An alters/NNNN_name.sql file changes tables that exist: one or a few
// ALTER TABLE statements (separated by semicolons) on tables of tables/,
// applied once, in file-name order, after every table and before every
// view, and recorded in MigrationsTable like the CREATE files. A fresh
// install runs them too, right after creating the tables from their
// current files, so each statement must be a no-op on a table that
// already has the new shape: ADD COLUMN IF NOT EXISTS, DROP COLUMN IF
// EXISTS, MODIFY SETTING, MODIFY TTL.
//
// When a table's file changes, the change reaches existing databases only
// through an alters/ file that brings the table to the file's new shape;
// once that file is applied, the table file's new checksum is recorded too
// (it is no longer reported as changed).
//
// alterName is the form of an alters/ file's path.
var alterName = regexp.MustCompile(`^alters/[0-9]{4}_[a-z0-9_]+\.sql$`)

// alterStmt is one parsed ALTER TABLE statement of an alters/ file.
type alterStmt struct {
	table string // the table of tables/ it alters
	rest  string // everything after the table name: the commands
	// columnsOnly is set when every command is a column command (ADD,
	// DROP, MODIFY, RENAME, COMMENT, CLEAR ... COLUMN), which a
	// Distributed table takes too.
	columnsOnly bool
}

// parseAlters splits an alters/ file into its statements and checks each
// is ALTER TABLE <a table of tables/> <commands>.
func parseAlters(st Statement, tables map[string]bool) ([]alterStmt, error) {
	if !alterName.MatchString(st.Name) {
		return nil, fmt.Errorf("%s: name alter files alters/NNNN_what_it_does.sql (four digits, lowercase): they apply in name order", st.Name)
	}
	toks, err := sqllex.Lex(st.SQL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", st.Name, err)
	}
	var out []alterStmt
	start := 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && !toks[i].IsPunct(";") {
			continue
		}
		part := toks[start:i]
		start = i + 1
		sig := significant(part)
		if len(sig) == 0 {
			continue
		}
		if len(sig) < 4 || !sig[0].Is("ALTER") || !sig[1].Is("TABLE") || !sig[2].IsIdent() {
			return nil, fmt.Errorf("%s: statement %d: expected ALTER TABLE <table> <commands>", st.Name, len(out)+1)
		}
		name := sig[2].Name()
		if !tables[name] {
			return nil, fmt.Errorf("%s: statement %d alters %s, which has no file in tables/", st.Name, len(out)+1, name)
		}
		if sig[3].Is("ON") {
			return nil, fmt.Errorf("%s: statement %d: leave out ON CLUSTER; tapline adds it for --cluster", st.Name, len(out)+1)
		}
		a := alterStmt{table: name, columnsOnly: true}
		at := sig[3].Pos - part[0].Pos
		var raw strings.Builder
		for _, t := range part {
			raw.WriteString(t.Text)
		}
		a.rest = strings.TrimSpace(raw.String()[at:])
		// Each command starts the statement or follows a top-level comma:
		// a column command's second word is COLUMN.
		depth, first := 0, 3
		for j := 3; j < len(sig); j++ {
			switch {
			case sig[j].IsPunct("("):
				depth++
			case sig[j].IsPunct(")"):
				depth--
			case depth == 0 && sig[j].IsPunct(","):
				first = j + 1
			}
			if j == first && (j+1 >= len(sig) || !sig[j+1].Is("COLUMN")) {
				a.columnsOnly = false
			}
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no statement", st.Name)
	}
	return out, nil
}

func significant(toks []sqllex.Token) []sqllex.Token {
	var out []sqllex.Token
	for _, t := range toks {
		if !t.Trivia() {
			out = append(out, t)
		}
	}
	return out
}

// renderAlters returns the statements of an alters/ file under opts. On a
// cluster a statement runs ON CLUSTER on the per-shard table, and a column
// command also on the Distributed table (which tapline inserts into).
func renderAlters(as []alterStmt, opts RenderOptions) []string {
	var out []string
	for _, a := range as {
		if opts.Cluster == "" {
			out = append(out, "ALTER TABLE "+a.table+" "+a.rest)
			continue
		}
		on := " ON CLUSTER " + sink.QuoteIdent(opts.Cluster) + " "
		out = append(out, "ALTER TABLE "+a.table+LocalSuffix+on+a.rest)
		if a.columnsOnly {
			out = append(out, "ALTER TABLE "+a.table+on+a.rest)
		}
	}
	return out
}
