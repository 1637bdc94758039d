package chhttp

import (
	"context"
	"sort"
	"strings"

	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/embedded"
	"github.com/tapline/tapline/sql/sqllex"
)

// The guard is the endpoint's second wall. The first is the engine: reads
// run on connections opened with readonly = 1 (after their limits), which
// refuse writes, DDL, file/url table functions, INTO OUTFILE and every
// setting change, whatever the query says; and the engine has no
// file-mapped default database (sink/embedded removes it). What readonly
// does not cover, the guard refuses by allowlist (allow.go):
//
//  1. The engine formats the query with its own parser
//     (formatQuerySingleLine, the text passed as a query parameter, never
//     spliced): comments and heredocs are gone, Unicode quotes are plain
//     names, quoting is standard, a call is a name directly followed by
//     "(", and a second statement is a syntax error.
//  2. {name:Identifier} parameters are substituted into that text, quoted,
//     so that the names they complete are checked in place.
//  3. vet checks the text token by token against the allowlists: statement
//     kinds, functions (scalar file() and the other host-reading functions
//     are not on it), table functions, databases and system tables, and
//     the settings of a SETTINGS clause (literal values only).
//  4. The vetted text, not the client's, is what runs.

// statement is a vetted query.
type statement struct {
	// text is the canonical query to run.
	text string
	// kind is the statement's first keyword, upper case.
	kind string
	// format is the query's FORMAT clause ("" when it has none).
	format string
}

// policy is what vet allows; it is built from the engine's catalog.
type policy struct {
	// database is the endpoint's own database.
	database string
	// databases are every database the engine has, lower case.
	databases map[string]bool
	// tableFunctions are the engine's table function names, lower case.
	tableFunctions map[string]bool
	functions      functionSet
}

// canonical returns the engine's single-line formatting of query. The query
// travels as a parameter value: it is parsed, never executed.
func canonical(ctx context.Context, p *embedded.Pool, query string) (string, error) {
	r, err := p.Query(ctx, "SELECT formatQuerySingleLine({q:String})", "RawBLOB", map[string]string{"q": escapeParam(query)})
	if err != nil {
		return "", engineError(err, true)
	}
	return string(r.Data), nil
}

// paramEscaper writes a value in the escaped form ClickHouse parses query
// parameter values in (as TabSeparated fields): a raw newline or tab would
// end the value.
var paramEscaper = strings.NewReplacer("\\", "\\\\", "\n", "\\n", "\t", "\\t", "\r", "\\r", "\x00", "\\0", "\b", "\\b", "\f", "\\f")

// escapeParam escapes v for a query parameter.
func escapeParam(v string) string { return paramEscaper.Replace(v) }

// bindIdentifiers replaces each {name:Identifier} placeholder of a
// canonical text with its value from params, quoted part by part
// (`system`.`disks`), and removes those values from params: the names a
// parameter completes are then vetted where they stand. A value that is
// not a (dotted) name is refused.
func bindIdentifiers(text string, params map[string]string) (string, error) {
	toks, err := sqllex.Significant(text)
	if err != nil {
		return "", errorf(codeSyntaxError, "%v", err)
	}
	var sb strings.Builder
	last := 0
	for i := 0; i+4 < len(toks); i++ {
		if !toks[i].IsPunct("{") || lowerName(toks[i+1]) == "" || !toks[i+2].IsPunct(":") || !toks[i+3].Is("Identifier") || !toks[i+4].IsPunct("}") {
			continue
		}
		name := spelled(toks[i+1])
		value, ok := params[name]
		if !ok {
			return "", errorf(codeUnknownQueryParam, "Substitution `%s` is not set: pass it as the URL parameter param_%s", name, name)
		}
		quoted, err := quoteIdentifier(value)
		if err != nil {
			return "", err
		}
		sb.WriteString(text[last:toks[i].Pos])
		sb.WriteString(quoted)
		last = toks[i+4].Pos + 1
		delete(params, name)
		i += 4
	}
	sb.WriteString(text[last:])
	return sb.String(), nil
}

// quoteIdentifier quotes a dotted name as ClickHouse parses an Identifier
// parameter's value.
func quoteIdentifier(value string) (string, error) {
	toks, err := sqllex.Significant(value)
	if err != nil || len(toks) == 0 || len(toks)%2 == 0 {
		return "", errorf(codeBadArguments, "identifier parameter %q is not a name (name or database.name)", value)
	}
	var parts []string
	for i, t := range toks {
		if i%2 == 1 {
			if !t.IsPunct(".") {
				return "", errorf(codeBadArguments, "identifier parameter %q is not a name (name or database.name)", value)
			}
			continue
		}
		if !t.IsIdent() {
			return "", errorf(codeBadArguments, "identifier parameter %q is not a name (name or database.name)", value)
		}
		parts = append(parts, sink.QuoteIdent(spelled(t)))
	}
	return strings.Join(parts, "."), nil
}

// vet checks a canonical query and describes it. Refusals are *chError
// values with ClickHouse's codes: READONLY for writes, ACCESS_DENIED for
// what the allowlists do not name, SYNTAX_ERROR for what it cannot read.
func (p policy) vet(text string) (statement, error) {
	st := statement{text: strings.TrimSpace(text)}
	toks, err := sqllex.Significant(st.text)
	if err != nil {
		return st, errorf(codeSyntaxError, "%v", err)
	}
	if n := len(toks); n > 0 && toks[n-1].IsPunct(";") {
		st.text = strings.TrimSpace(st.text[:toks[n-1].Pos])
		toks = toks[:n-1]
	}
	if len(toks) == 0 {
		return st, errorf(codeSyntaxError, "empty query")
	}
	first := 0
	for first < len(toks) && toks[first].IsPunct("(") {
		first++
	}
	if first == len(toks) || toks[first].Kind != sqllex.Word {
		return st, errorf(codeSyntaxError, "a query starts with a keyword such as SELECT")
	}
	st.kind = strings.ToUpper(toks[first].Text)
	switch {
	case st.kind == "SHOW":
		if first+1 >= len(toks) || !showObjects[strings.ToUpper(spelled(toks[first+1]))] {
			return st, errorf(codeAccessDenied, "this endpoint answers SHOW %s only", strings.Join(sortedKeys(showObjects), ", "))
		}
	case readKinds[st.kind]:
	case writeKinds[st.kind]:
		return st, errorf(codeReadonly, "Cannot execute query in readonly mode: this tapline endpoint is read-only (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN); data arrives through NATS (tapline publish)")
	default:
		return st, errorf(codeAccessDenied, "%s is not allowed on this endpoint: it runs SELECT, WITH, SHOW, DESCRIBE, EXISTS and EXPLAIN", st.kind)
	}
	if err := p.vetTokens(toks); err != nil {
		return st, err
	}
	st.format = formatClause(toks)
	return st, nil
}

// vetTokens applies the per-token rules to a statement's tokens.
func (p policy) vetTokens(toks []sqllex.Token) error {
	for i, t := range toks {
		next := func(k int) sqllex.Token {
			if i+k < len(toks) {
				return toks[i+k]
			}
			return sqllex.Token{}
		}
		afterDot := i > 0 && toks[i-1].IsPunct(".")
		switch {
		case t.IsPunct(";"):
			return errorf(codeSyntaxError, "Multi-statements are not allowed")
		case t.Is("INTO") && next(1).Is("OUTFILE"):
			return errorf(codeAccessDenied, "INTO OUTFILE would write a file on the tapline host: read the result over HTTP instead")
		case t.Is("FROM") && next(1).Is("INFILE"):
			return errorf(codeAccessDenied, "FROM INFILE would read a file on the tapline host")
		case t.IsPunct("{") && lowerName(next(1)) != "" && next(2).IsPunct(":") && next(3).Is("Identifier"):
			return errorf(codeBadArguments, "identifier parameter {%s:Identifier} has no value", spelled(next(1)))
		case lowerName(t) != "" && !afterDot && next(1).IsPunct("(") && next(1).Pos == t.Pos+len(t.Text):
			if err := p.vetCall(t); err != nil {
				return err
			}
		case lowerName(t) != "" && !afterDot && next(1).IsPunct(".") && lowerName(next(2)) != "":
			if err := p.vetQualified(lowerName(t), next(2)); err != nil {
				return err
			}
		case t.Is("SETTINGS"):
			if err := vetSettings(toks[i+1:], querySettings); err != nil {
				return err
			}
		}
	}
	return nil
}

// vetCall checks a call: an admitted function or table function.
func (p policy) vetCall(t sqllex.Token) error {
	name := lowerName(t)
	switch {
	case syntaxCalls[name], p.functions.allows(name), allowedTableFunctions[name]:
		return nil
	case p.tableFunctions[name]:
		return errorf(codeAccessDenied, "table function %s is not allowed on this endpoint (it reads files, the network or other databases); allowed table functions: %s", spelled(t), strings.Join(sortedKeys(allowedTableFunctions), ", "))
	case p.functions.known[name]:
		return errorf(codeAccessDenied, "function %s is not allowed on this endpoint: it may read the host's files or state; allowed are computations on values (dates, strings, arrays, JSON, maths, aggregates, ...)", spelled(t))
	}
	return errorf(codeAccessDenied, "%s is not a function this endpoint knows or allows", spelled(t))
}

// vetQualified checks "db.name": only the endpoint's database, the
// allowlisted system tables and information_schema views. A first part
// that names no database is a table or column qualifier and passes.
func (p policy) vetQualified(db string, table sqllex.Token) error {
	switch {
	case db == "system":
		if !allowedSystemTables[lowerName(table)] {
			return errorf(codeAccessDenied, "table system.%s is not readable on this endpoint (it may show the engine's paths, configuration or other sessions' queries); readable system tables: %s", spelled(table), strings.Join(sortedKeys(allowedSystemTables), ", "))
		}
	case infoSchemas[db], db == strings.ToLower(p.database):
	case p.databases[db]:
		return errorf(codeAccessDenied, "database %s is not readable on this endpoint: it serves %s", db, p.database)
	}
	return nil
}

// vetSettings checks the "name = literal, ..." list after a SETTINGS
// keyword against allowed; it ends at a token that is not part of it.
func vetSettings(toks []sqllex.Token, allowed map[string]bool) error {
	for i := 0; i < len(toks); i += 4 {
		if lowerName(toks[i]) == "" || i+1 >= len(toks) || !toks[i+1].IsPunct("=") {
			return nil
		}
		name := lowerName(toks[i])
		if !allowed[name] {
			return errorf(codeAccessDenied, "setting %s is not allowed on this endpoint (allowed: %s); limits are the endpoint's own", spelled(toks[i]), strings.Join(sortedKeys(allowed), ", "))
		}
		if i+2 >= len(toks) {
			return errorf(codeSyntaxError, "setting %s has no value", spelled(toks[i]))
		}
		v := toks[i+2]
		literal := v.Kind == sqllex.Number || v.Kind == sqllex.String && !strings.HasPrefix(v.Text, "$") || v.Is("true") || v.Is("false")
		if !literal {
			return errorf(codeAccessDenied, "setting %s: only a literal value is allowed here, not %q", spelled(toks[i]), spelled(v))
		}
		if i+3 >= len(toks) || !toks[i+3].IsPunct(",") {
			return nil
		}
	}
	return nil
}

// formatClause returns the name in a top-level "FORMAT name" that ends the
// query or precedes its SETTINGS.
func formatClause(toks []sqllex.Token) string {
	level := 0
	for i, t := range toks {
		switch {
		case t.IsPunct("(") || t.IsPunct("["):
			level++
		case t.IsPunct(")") || t.IsPunct("]"):
			level--
		case level == 0 && t.Is("FORMAT") && i+1 < len(toks) && lowerName(toks[i+1]) != "" &&
			(i+2 == len(toks) || toks[i+2].Is("SETTINGS")):
			return spelled(toks[i+1])
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

// lowerName returns the name t spells (bare or quoted), lower case, or "".
func lowerName(t sqllex.Token) string { return strings.ToLower(t.Name()) }

// spelled returns the name a quoted identifier spells, or else t's text.
func spelled(t sqllex.Token) string {
	if t.Kind == sqllex.Quoted {
		return t.Name()
	}
	return t.Text
}

// quoteEnd is sqllex.QuoteEnd, for the type parser in native.go.
func quoteEnd(s string, i int) (int, bool) { return sqllex.QuoteEnd(s, i) }
