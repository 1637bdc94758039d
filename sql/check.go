package sql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tapline/tapline/schema"
)

// CheckColumns proves that every table in tables exists in db's current
// database with exactly the columns tapline sends (schema/), with the same
// types, and that its other columns are filled by ClickHouse
// (DEFAULT, MATERIALIZED, ALIAS). Order does not matter: inserts name
// their columns. It returns nil or one error naming every
// difference, for the pipeline to refuse to start on.
func CheckColumns(ctx context.Context, db DB, tables []*schema.Table) error {
	out, err := db.Query(ctx, "SELECT table, name, type, default_kind FROM system.columns WHERE database = currentDatabase()", "TabSeparatedRaw", nil)
	if err != nil {
		return fmt.Errorf("read the server's columns: %w", err)
	}
	type col struct{ name, typ, def string }
	have := map[string][]col{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 4 {
			have[f[0]] = append(have[f[0]], col{f[1], f[2], f[3]})
		}
	}
	var diffs []string
	seen := map[string]bool{}
	for _, t := range tables {
		if seen[t.Name()] {
			continue
		}
		seen[t.Name()] = true
		cols, ok := have[t.Name()]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("table %s does not exist", t.Name()))
			continue
		}
		byName := map[string]col{}
		var sent []string
		for _, c := range cols {
			byName[c.name] = c
			if c.def == "" {
				sent = append(sent, c.name)
			}
		}
		var want []string
		for _, c := range t.Columns() {
			want = append(want, c.Name)
			h, ok := byName[c.Name]
			switch {
			case !ok:
				diffs = append(diffs, fmt.Sprintf("%s.%s is missing (tapline sends %s)", t.Name(), c.Name, c.CH))
			case h.typ != c.CH:
				diffs = append(diffs, fmt.Sprintf("%s.%s is %s, tapline sends %s", t.Name(), c.Name, h.typ, c.CH))
			case h.def != "":
				diffs = append(diffs, fmt.Sprintf("%s.%s is a %s column, tapline sends it", t.Name(), c.Name, h.def))
			}
		}
		wantSet := map[string]bool{}
		for _, w := range want {
			wantSet[w] = true
		}
		for _, s := range sent {
			if !wantSet[s] {
				diffs = append(diffs, fmt.Sprintf("%s.%s has no DEFAULT and tapline does not send it", t.Name(), s))
			}
		}
	}
	if len(diffs) > 0 {
		return errors.New("the ClickHouse tables differ from what this tapline writes: " + strings.Join(diffs, "; ") + " (run `tapline schema status` and `tapline schema apply`; a table file changed without an alters/ file needs an ALTER by hand)")
	}
	return nil
}
