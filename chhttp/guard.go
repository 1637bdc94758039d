package chhttp

import (
	"context"
	"sort"
	"strings"

	"github.com/tapline/tapline/sink"
)

// The guard decides which statements the endpoint runs, so that nothing
// reaches the engine's files, the host's files or the network through it:
//
//  1. The engine formats the query with its own parser
//     (formatQuerySingleLine, the text passed as a query parameter, never
//     spliced): comments and heredocs are gone, Unicode quotes are plain
//     names, quoting is standard, and a second statement is a syntax error.
//  2. vet checks that canonical text token by token.
//  3. The canonical text, not the client's, is what runs.
//
// What vet refuses, and why (each checked on the engine in guard_test.go):
//   - more than one statement (the engine runs every statement it is given);
//   - INTO OUTFILE (the embedded engine writes the file) and FROM INFILE;
//   - calls of table functions other than a few generators (file, url, s3,
//     remote, merge, executable, ... read files, the network, or other
//     databases' system tables), and of scalar functions that read files or
//     reveal paths (file, getServerSetting, catboostEvaluate, addressToLine);
//   - system tables other than a fixed list of path-free ones (system.disks,
//     system.parts, system.tables, system.databases, system.server_settings
//     ... show the data directory); SHOW TABLES and SHOW DATABASES answer
//     what tools ask system.tables and system.databases for;
//   - settings that read or write files or enable introspection (*schema*,
//     *path*, *file*, allow_introspection_functions), and SQL hidden in
//     setting values (additional_table_filters, additional_result_filter)
//     unless it passes the same checks;
//   - {name:Identifier} parameters naming a table the rules above refuse;
//   - writes, unless the endpoint is writable, and even then only INSERT ...
//     SELECT, ALTER TABLE, DELETE, TRUNCATE and OPTIMIZE: no DDL (the schema
//     is tapline's), no SYSTEM, no BACKUP (it writes files), no inline data.

// readStatements start a read-only query.
var readStatements = map[string]bool{
	"SELECT": true, "WITH": true, "SHOW": true, "DESCRIBE": true, "DESC": true, "EXPLAIN": true, "EXISTS": true,
}

// writeStatements are the writes a writable endpoint runs.
var writeStatements = map[string]bool{
	"INSERT": true, "ALTER": true, "DELETE": true, "TRUNCATE": true, "OPTIMIZE": true,
}

// showObjects are what SHOW may list: names and DDL, not processes, grants,
// disks or caches.
var showObjects = map[string]bool{
	"DATABASES": true, "TABLES": true, "CREATE": true, "COLUMNS": true, "FIELDS": true, "DICTIONARIES": true,
	"FUNCTIONS": true, "ENGINES": true, "INDEX": true, "INDEXES": true, "INDICES": true, "KEYS": true,
	"FULL": true, "EXTENDED": true, "TEMPORARY": true, "SETTINGS": true, "SETTING": true, "CHANGED": true,
}

// explainWrites are statements EXPLAIN may not wrap on a read-only endpoint.
var explainWrites = map[string]bool{
	"INSERT": true, "CREATE": true, "ALTER": true, "DROP": true, "TRUNCATE": true, "RENAME": true,
	"ATTACH": true, "DETACH": true, "OPTIMIZE": true, "SYSTEM": true, "KILL": true, "GRANT": true,
	"REVOKE": true, "DELETE": true, "UPDATE": true, "BACKUP": true, "RESTORE": true, "UNDROP": true,
	"EXCHANGE": true, "SET": true, "USE": true,
}

// allowedTableFunctions generate rows without reading anything.
var allowedTableFunctions = map[string]bool{
	"numbers": true, "numbers_mt": true, "zeros": true, "zeros_mt": true, "values": true, "null": true,
	"generateseries": true, "generate_series": true, "primes": true, "view": true, "format": true,
}

// deniedFunctions are refused even when the engine's list of table
// functions is not at hand: table functions that read files, the network or
// other databases, and scalar functions that read files or reveal paths.
var deniedFunctions = map[string]bool{
	"file": true, "filecluster": true, "filesystem": true, "url": true, "urlcluster": true,
	"s3": true, "s3cluster": true, "gcs": true, "oss": true, "cosn": true, "hdfs": true, "hdfscluster": true,
	"azureblobstorage": true, "azureblobstoragecluster": true, "remote": true, "remotesecure": true,
	"cluster": true, "clusterallreplicas": true, "mysql": true, "postgresql": true, "mongodb": true,
	"redis": true, "sqlite": true, "odbc": true, "jdbc": true, "executable": true, "input": true,
	"merge": true, "loop": true, "dictionary": true, "arrowstream": true, "ytsaurus": true,
	"mergetreeindex": true, "mergetreeprojection": true,
	"getserversetting": true, "catboostevaluate": true, "addresstoline": true,
	"addresstolinewithinlines": true, "addresstosymbol": true,
}

// allowedSystemTables hold no paths and no other sessions' queries.
var allowedSystemTables = map[string]bool{
	"one": true, "numbers": true, "numbers_mt": true, "zeros": true, "zeros_mt": true, "primes": true,
	"columns": true, "functions": true, "table_functions": true, "table_engines": true, "database_engines": true,
	"data_type_families": true, "aggregate_function_combinators": true, "formats": true, "settings": true,
	"time_zones": true, "collations": true, "keywords": true, "contributors": true, "completions": true,
}

// filterSettings carry SQL expressions in their values.
var filterSettings = map[string]bool{"additional_table_filters": true, "additional_result_filter": true}

// settingAllowed reports whether the endpoint lets a client set name.
func settingAllowed(name string) bool {
	n := strings.ToLower(name)
	return !strings.Contains(n, "schema") && !strings.Contains(n, "path") && !strings.Contains(n, "file") &&
		n != "allow_introspection_functions"
}

// statement is a vetted query.
type statement struct {
	// text is the canonical query to run.
	text string
	// kind is the statement's first keyword, upper case.
	kind string
	// read is true for SELECT, SHOW, DESCRIBE, EXPLAIN and EXISTS.
	read bool
	// format is the query's FORMAT clause ("" when it has none).
	format string
	// identParams are the names of {name:Identifier} placeholders.
	identParams []string
}

// policy is what vet allows.
type policy struct {
	// writable admits writeStatements.
	writable bool
	// tableFunctions are the engine's table function names, lower case;
	// every one not in allowedTableFunctions is refused.
	tableFunctions map[string]bool
}

// canonical returns the engine's single-line formatting of query. The query
// travels as a parameter value: it is parsed, never executed.
func canonical(ctx context.Context, t sink.Target, query string) (string, error) {
	out, err := t.Query(ctx, "SELECT formatQuerySingleLine({q:String})", "RawBLOB", map[string]string{"q": escapeParam(query)})
	if err != nil {
		return "", engineError(err, true)
	}
	return string(out), nil
}

// paramEscaper writes a value in the escaped form ClickHouse parses query
// parameter values in (as TabSeparated fields): a raw newline or tab would
// end the value.
var paramEscaper = strings.NewReplacer("\\", "\\\\", "\n", "\\n", "\t", "\\t", "\r", "\\r", "\x00", "\\0", "\b", "\\b", "\f", "\\f")

// escapeParam escapes v for a query parameter.
func escapeParam(v string) string { return paramEscaper.Replace(v) }

// vet checks a canonical query and describes it. Refusals are *chError
// values with ClickHouse's codes: READONLY for writes, ACCESS_DENIED for
// files, paths and system tables, NOT_IMPLEMENTED for what the endpoint does
// not support, SYNTAX_ERROR for what it cannot read.
func (p policy) vet(text string) (statement, error) {
	st := statement{text: strings.TrimSpace(text)}
	toks, lerr := lex(st.text)
	if lerr != nil {
		return st, errorf(codeSyntaxError, "%s at position %d", lerr.msg, lerr.pos+1)
	}
	if n := len(toks); n > 0 && toks[n-1].punct(";") {
		st.text = strings.TrimSpace(st.text[:toks[n-1].pos])
		toks = toks[:n-1]
	}
	if len(toks) == 0 {
		return st, errorf(codeSyntaxError, "empty query")
	}
	first := 0
	for first < len(toks) && toks[first].punct("(") {
		first++
	}
	if first == len(toks) || toks[first].kind != tokIdent {
		return st, errorf(codeSyntaxError, "a query starts with a keyword such as SELECT")
	}
	st.kind = strings.ToUpper(toks[first].text)
	st.read = readStatements[st.kind]
	switch {
	case st.kind == "SHOW":
		if first+1 >= len(toks) || !showObjects[strings.ToUpper(toks[first+1].text)] {
			return st, errorf(codeAccessDenied, "this endpoint answers SHOW DATABASES, TABLES, CREATE, COLUMNS, DICTIONARIES, FUNCTIONS, ENGINES, INDEX and SETTINGS only")
		}
	case st.kind == "EXPLAIN":
		for _, t := range toks[first+1:] {
			if t.kind == tokIdent && explainWrites[strings.ToUpper(t.text)] && !p.writable {
				return st, errorf(codeReadonly, "Cannot execute query in readonly mode: this tapline endpoint is read-only, and EXPLAIN may not wrap %s", strings.ToUpper(t.text))
			}
		}
	case st.read:
	case writeStatements[st.kind] && p.writable:
		if st.kind == "INSERT" && len(toks) >= 2 && toks[len(toks)-2].is("FORMAT") {
			return st, errorf(codeNotImplemented, "INSERT with inline data (VALUES or FORMAT) is not supported by this endpoint: publish records through NATS (tapline publish), or use INSERT ... SELECT")
		}
	case writeStatements[st.kind]:
		return st, errorf(codeReadonly, "Cannot execute query in readonly mode: this tapline endpoint is read-only (start tapline run with --http-writable to allow INSERT ... SELECT, ALTER, DELETE, TRUNCATE and OPTIMIZE)")
	default:
		if p.writable {
			return st, errorf(codeAccessDenied, "%s is not allowed on this endpoint: it runs reads, INSERT ... SELECT, ALTER TABLE, DELETE, TRUNCATE and OPTIMIZE; change the schema with tapline schema apply", st.kind)
		}
		return st, errorf(codeReadonly, "Cannot execute query in readonly mode: this tapline endpoint is read-only and runs SELECT, SHOW, DESCRIBE, EXPLAIN and EXISTS")
	}
	if err := p.vetTokens(toks, 0, &st); err != nil {
		return st, err
	}
	st.format = formatClause(toks)
	return st, nil
}

// vetTokens applies the per-token rules to toks; depth counts how deeply
// the tokens sit in setting values (SQL inside strings inside SQL).
func (p policy) vetTokens(toks []token, depth int, st *statement) error {
	if depth > 4 {
		return errorf(codeAccessDenied, "filter settings nested too deeply")
	}
	for i, t := range toks {
		next := func(k int) token {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return token{}
		}
		switch {
		case t.punct(";"):
			return errorf(codeSyntaxError, "Multi-statements are not allowed")
		case t.is("INTO") && next(1).is("OUTFILE"):
			return errorf(codeAccessDenied, "INTO OUTFILE would write a file on the tapline host: read the result over HTTP instead")
		case t.is("FROM") && next(1).is("INFILE"):
			return errorf(codeAccessDenied, "FROM INFILE would read a file on the tapline host")
		case t.name() != "" && next(1).punct("(") && !(i > 0 && toks[i-1].punct(".")):
			if n := t.name(); deniedFunctions[n] || p.tableFunctions[n] && !allowedTableFunctions[n] {
				return errorf(codeAccessDenied, "function %s is not allowed on this endpoint: it reads files, the network or other databases, or reveals the engine's paths", t.text)
			}
		case (t.name() == "system") && next(1).punct(".") && next(2).name() != "":
			if !allowedSystemTables[next(2).name()] {
				return errorf(codeAccessDenied, "table system.%s is not readable on this endpoint (it may show the engine's paths or other sessions' queries); readable system tables: %s", next(2).text, strings.Join(sortedKeys(allowedSystemTables), ", "))
			}
		case t.is("SETTINGS"):
			if err := p.vetSettings(toks[i+1:], depth); err != nil {
				return err
			}
		case t.punct("{") && next(1).name() != "" && next(2).punct(":"):
			if next(3).is("Identifier") {
				st.identParams = append(st.identParams, next(1).text)
			}
		}
	}
	return nil
}

// vetSettings checks the "name = value, ..." list after a SETTINGS keyword.
func (p policy) vetSettings(toks []token, depth int) error {
	for i := 0; i+2 < len(toks) && toks[i].name() != "" && toks[i+1].punct("="); {
		name := toks[i].name()
		if !settingAllowed(name) {
			return errorf(codeAccessDenied, "setting %s is not allowed on this endpoint: it reads or writes files or enables introspection", toks[i].text)
		}
		// The value runs to the next comma outside brackets.
		j, level := i+2, 0
		for ; j < len(toks); j++ {
			t := toks[j]
			if t.punct("(") || t.punct("[") || t.punct("{") {
				level++
			} else if t.punct(")") || t.punct("]") || t.punct("}") {
				level--
			}
			if level < 0 || level == 0 && t.punct(",") {
				break
			}
			if level == 0 && j > i+2 && t.kind == tokIdent && !toks[j-1].punct(".") && (t.is("FORMAT") || t.is("SETTINGS")) {
				break
			}
			if filterSettings[name] && t.kind == tokString {
				if err := p.vetExpression(stringValue(t.text), depth+1); err != nil {
					return err
				}
			}
		}
		if j >= len(toks) || !toks[j].punct(",") {
			return nil
		}
		i = j + 1
	}
	return nil
}

// vetExpression checks SQL found inside a setting value.
func (p policy) vetExpression(sqlText string, depth int) error {
	toks, lerr := lex(sqlText)
	if lerr != nil {
		return errorf(codeAccessDenied, "filter setting value: %s", lerr.msg)
	}
	var st statement
	return p.vetTokens(toks, depth, &st)
}

// vetIdentifier checks the value bound to a {name:Identifier} placeholder.
func (p policy) vetIdentifier(value string) error {
	toks, lerr := lex(value)
	if lerr != nil {
		return errorf(codeBadArguments, "identifier parameter %q: %s", value, lerr.msg)
	}
	if len(toks) > 0 && toks[0].name() == "system" && (len(toks) < 3 || !allowedSystemTables[toks[2].name()]) {
		return errorf(codeAccessDenied, "identifier parameter %q names a system table this endpoint does not show", value)
	}
	var st statement
	return p.vetTokens(toks, 0, &st)
}

// formatClause returns the name in a top-level "FORMAT name" that ends the
// query or precedes its SETTINGS.
func formatClause(toks []token) string {
	level := 0
	for i, t := range toks {
		switch {
		case t.punct("(") || t.punct("["):
			level++
		case t.punct(")") || t.punct("]"):
			level--
		case level == 0 && t.is("FORMAT") && i+1 < len(toks) && toks[i+1].name() != "" &&
			(i+2 == len(toks) || toks[i+2].is("SETTINGS")):
			return toks[i+1].text
		}
	}
	return ""
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
