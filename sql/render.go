package sql

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sql/sqllex"
)

// RenderOptions choose how the .sql files become DDL for a target. The
// zero value renders for one server or the embedded engine: the files as
// they are.
type RenderOptions struct {
	// Cluster, when set, renders for a ClickHouse cluster of that name
	// (remote_servers in the server configuration):
	//
	//   - every statement runs ON CLUSTER;
	//   - tables/x.sql becomes x_local, with the Replicated variant of its
	//     engine (ZooKeeper/Keeper path /clickhouse/tables/{shard}/<db>/x_local,
	//     replica {replica}: both macros from each server's configuration)
	//     and replicated_deduplication_window in place of
	//     non_replicated_deduplication_window, plus x, a Distributed table
	//     over x_local that tapline inserts into and queries read, sharded
	//     by cityHash64 of x's ORDER BY key: a replayed batch splits into
	//     the same per-shard blocks as the first attempt, so each shard
	//     recognises its block's deduplication token;
	//   - a materialized view fires on inserts into the local table of its
	//     source on each shard and writes TO the local table of its target;
	//     other tables it reads (joins) stay the Distributed ones.
	Cluster string
	// Database is the database the DDL runs in; the cluster rendering names
	// it in ZooKeeper paths and Distributed engines. Empty means "tapline".
	Database string
}

// LocalSuffix is appended to a table's name for its per-shard table in the
// cluster rendering.
const LocalSuffix = "_local"

func (o RenderOptions) database() string {
	if o.Database == "" {
		return "tapline"
	}
	return o.Database
}

// Render returns the statements that create the object of one file (by its
// Statement.Name, "tables/..." or "views/...") under opts. Without a
// cluster that is the file's statement unchanged.
func Render(st Statement, opts RenderOptions, tables map[string]bool) ([]string, error) {
	if opts.Cluster == "" {
		return []string{st.SQL}, nil
	}
	switch {
	case strings.HasPrefix(st.Name, "tables/"):
		return renderClusterTable(st, opts)
	case strings.HasPrefix(st.Name, "views/"):
		v, err := renderClusterView(st, opts, tables)
		if err != nil {
			return nil, err
		}
		return []string{v}, nil
	}
	return nil, fmt.Errorf("render %s: only tables/ and views/ files are DDL", st.Name)
}

var engineRE = regexp.MustCompile(`^(\w*)MergeTree$`)

func renderClusterTable(st Statement, opts RenderOptions) ([]string, error) {
	toks, err := sqllex.Lex(st.SQL)
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", st.Name, err)
	}
	name, at := createdName(toks, "TABLE")
	if at < 0 {
		return nil, fmt.Errorf("render %s: expected CREATE TABLE IF NOT EXISTS <name>", st.Name)
	}
	local := name + LocalSuffix
	onCluster := " ON CLUSTER " + sink.QuoteIdent(opts.Cluster)
	var sb strings.Builder
	var orderBy string
	hasWindow, isNull := false, false
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		switch {
		case i == at:
			sb.WriteString(local + onCluster)
			continue
		case tk.Is("ENGINE") && nullEngineAt(toks, i):
			// A Null table stores nothing: each shard's views feed their
			// own, so it is local only, neither Replicated nor Distributed.
			isNull = true
		case tk.Is("ENGINE") && engineAt(toks, i) >= 0:
			e := engineAt(toks, i)
			kind := engineRE.FindStringSubmatch(toks[e].Text)[1]
			args, last := "", e
			if o := nextNonSpace(toks, e); o >= 0 && toks[o].Text == "(" {
				last = closing(toks, o)
				args = strings.TrimSpace(join(toks[o+1 : last]))
			}
			zk := fmt.Sprintf("/clickhouse/tables/{shard}/%s/%s", opts.database(), local)
			sb.WriteString(fmt.Sprintf("ENGINE = Replicated%sMergeTree(%s, '{replica}'", kind, sink.QuoteString(zk)))
			if args != "" {
				sb.WriteString(", " + args)
			}
			sb.WriteString(")")
			i = last
			continue
		case tk.Is("ORDER") && orderBy == "":
			orderBy = orderByExpr(toks, i)
		case tk.IsIdent() && tk.Text == "non_replicated_deduplication_window":
			sb.WriteString("replicated_deduplication_window")
			hasWindow = true
			continue
		case tk.IsIdent() && tk.Text == "replicated_deduplication_window":
			hasWindow = true
		}
		sb.WriteString(tk.Text)
	}
	localSQL := strings.TrimSpace(sb.String())
	if isNull {
		return []string{localSQL}, nil
	}
	if !hasWindow {
		localSQL += "\nSETTINGS replicated_deduplication_window = 10000"
	}
	if orderBy == "" || orderBy == "tuple()" {
		return nil, fmt.Errorf("render %s: a cluster needs an ORDER BY key to shard by (replays must reach the same shard)", st.Name)
	}
	dist := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s%s AS %s\nENGINE = Distributed(%s, %s, %s, cityHash64(%s))",
		name, onCluster, local, sink.QuoteString(opts.Cluster), sink.QuoteString(opts.database()), sink.QuoteString(local), orderBy)
	return []string{localSQL, dist}, nil
}

// orderByExpr returns the ORDER BY expression starting at toks[i] (the
// ORDER keyword) without outer parentheses, as a comma-separated list.
func orderByExpr(toks []sqllex.Token, i int) string {
	j := i + 1
	for j < len(toks) && (toks[j].Trivia() || toks[j].Is("BY")) {
		j++
	}
	start := j
	depth := 0
	for ; j < len(toks); j++ {
		t := toks[j]
		switch {
		case t.Text == "(":
			depth++
		case t.Text == ")":
			depth--
		case depth == 0 && (t.Is("SETTINGS") || t.Is("TTL") || t.Is("PRIMARY") || t.Is("SAMPLE") || t.Is("PARTITION")):
			goto done
		}
	}
done:
	expr := strings.TrimSpace(join(toks[start:j]))
	if et, err := sqllex.Lex(expr); err == nil && len(et) > 0 && et[0].Text == "(" && closing(et, 0) == len(et)-1 {
		expr = strings.TrimSpace(expr[1 : len(expr)-1])
	}
	return expr
}

func renderClusterView(st Statement, opts RenderOptions, tables map[string]bool) (string, error) {
	toks, err := sqllex.Lex(st.SQL)
	if err != nil {
		return "", fmt.Errorf("render %s: %w", st.Name, err)
	}
	_, at := createdName(toks, "VIEW")
	if at < 0 {
		return "", fmt.Errorf("render %s: expected CREATE MATERIALIZED VIEW IF NOT EXISTS <name> TO <table>", st.Name)
	}
	// The view fires on inserts into the first table named after a FROM.
	source := ""
	for i := range toks {
		if !toks[i].Is("FROM") {
			continue
		}
		if n := nextWord(toks, i); n >= 0 && tables[toks[n].Name()] {
			source = toks[n].Name()
			break
		}
	}
	if source == "" {
		return "", fmt.Errorf("render %s: no FROM <table of tables/> to trigger on", st.Name)
	}
	var sb strings.Builder
	for i, tk := range toks {
		switch {
		case i == at:
			sb.WriteString(tk.Text + " ON CLUSTER " + sink.QuoteIdent(opts.Cluster))
			continue
		case tk.Is("TO") && i > at:
			if n := nextWord(toks, i); n >= 0 && tables[toks[n].Name()] {
				toks[n].Text = toks[n].Name() + LocalSuffix
			}
		case tk.IsIdent() && tk.Name() == source:
			sb.WriteString(source + LocalSuffix)
			continue
		}
		sb.WriteString(tk.Text)
	}
	return strings.TrimSpace(sb.String()), nil
}

// createdName finds "CREATE [MATERIALIZED] <kind> IF NOT EXISTS <name>" and
// returns the name and its token index (-1 when absent).
func createdName(toks []sqllex.Token, kind string) (string, int) {
	seen := false
	for i, tk := range toks {
		if tk.Is(kind) {
			seen = true
		}
		if seen && tk.Is("EXISTS") {
			if n := nextWord(toks, i); n >= 0 {
				return toks[n].Name(), n
			}
		}
	}
	return "", -1
}

// engineAt returns the index of the *MergeTree engine name in "ENGINE =
// <name>" starting at toks[i], or -1.
func engineAt(toks []sqllex.Token, i int) int {
	if n := engineWord(toks, i); n >= 0 && engineRE.MatchString(toks[n].Text) {
		return n
	}
	return -1
}

// nullEngineAt reports whether toks[i] (ENGINE) starts "ENGINE = Null".
func nullEngineAt(toks []sqllex.Token, i int) bool {
	n := engineWord(toks, i)
	return n >= 0 && toks[n].Text == "Null"
}

// engineWord returns the index of the engine's name in "ENGINE = <name>"
// starting at toks[i], or -1.
func engineWord(toks []sqllex.Token, i int) int {
	eq := nextNonSpace(toks, i)
	if eq < 0 || toks[eq].Text != "=" {
		return -1
	}
	n := nextNonSpace(toks, eq)
	if n < 0 || toks[n].Kind != sqllex.Word {
		return -1
	}
	return n
}

func nextNonSpace(toks []sqllex.Token, i int) int {
	for j := i + 1; j < len(toks); j++ {
		if !toks[j].Trivia() {
			return j
		}
	}
	return -1
}

func nextWord(toks []sqllex.Token, i int) int {
	for j := i + 1; j < len(toks); j++ {
		if toks[j].Trivia() {
			continue
		}
		if toks[j].IsIdent() {
			return j
		}
		return -1
	}
	return -1
}

func closing(toks []sqllex.Token, open int) int {
	depth := 0
	for j := open; j < len(toks); j++ {
		switch toks[j].Text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return len(toks) - 1
}

func join(toks []sqllex.Token) string {
	var sb strings.Builder
	for _, t := range toks {
		if t.Kind == sqllex.Comment {
			continue
		}
		sb.WriteString(t.Text)
	}
	return sb.String()
}
