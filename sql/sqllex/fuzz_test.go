package sqllex_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/sql/sqllex"
)

// FuzzLex feeds arbitrary text to the lexer, seeded with the schema's .sql files
// and the boundary cases: it must never panic; what Lex accepts it gives
// back byte for byte (Significant agreeing, minus the trivia); what it
// refuses, Significant refuses at the same position.
func FuzzLex(f *testing.F) {
	for _, dir := range []string{"tables", "views", "queries"} {
		for _, q := range sqlFiles(f, dir+"/*.sql") {
			f.Add(q)
		}
	}
	for _, q := range []string{
		"SELECT $$ ' $$, f() -- '", "SELECT $a$x$a$ $ 1", "SELECT 1 /* /* */ ' */, f", "SELECT 1e--x", "x.1.1",
		"SELECT 1.5e+3, .5, 0x1F, 0x1.8p-3, 0b101, 1_000, 123abc", "SELECT x'1F', b'01', 1 // c\n, 2 # c\n#!x",
		"SELECT `a``b`, \"x\\\"y\", 'it''s' -- “x”", "SELECT * FROM {t:Identifier} WHERE a -> b",
	} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		toks, err := sqllex.Lex(q)
		sig, serr := sqllex.Significant(q)
		if err != nil {
			require.Equal(t, err, serr, "Lex and Significant disagree on %q", q)
			require.Nil(t, sig)
			return
		}
		checkLossless(t, q, toks)
		for _, tk := range toks {
			_ = tk.Name()
			if tk.Kind == sqllex.String {
				_ = tk.StringValue()
			}
		}
	})
}
