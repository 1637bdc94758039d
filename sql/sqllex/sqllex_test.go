package sqllex_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/sql/sqllex"
)

// texts returns the Text of q's significant tokens.
func texts(t *testing.T, q string) []string {
	t.Helper()
	toks, err := sqllex.Significant(q)
	require.NoError(t, err, q)
	var out []string
	for _, tk := range toks {
		out = append(out, tk.Text)
	}
	return out
}

// TestLexFollowsClickHouse checks token boundaries where a wrong boundary
// would move every later quote (src/Parsers/Lexer.cpp).
func TestLexFollowsClickHouse(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"SELECT", "$$ ' $$", ",", "f", "(", ")"}, texts(t, "SELECT $$ ' $$, f() -- '"))
	require.Equal(t, []string{"SELECT", "$a$x$a$", "$", "1"}, texts(t, "SELECT $a$x$a$ $ 1"))
	require.Equal(t, []string{"SELECT", "1", ",", "f"}, texts(t, "SELECT 1 /* /* */ ' */, f"), "block comments nest")
	require.Equal(t, []string{"SELECT", "1e-", "-", "x"}, texts(t, "SELECT 1e--x"), "the exponent's sign belongs to the number")
	require.Equal(t, []string{"x", ".", "1", ".", "1"}, texts(t, "x.1.1"), "after a dot only an integer")
	require.Equal(t, []string{"SELECT", "1.5e+3", ",", ".5", ",", "0x1F", ",", "1_000", ",", "123abc"}, texts(t, "SELECT 1.5e+3, .5, 0x1F, 1_000, 123abc"))
	require.Equal(t, []string{"SELECT", "x'1F'", ",", "b'01'", ",", "1", ",", "2"}, texts(t, "SELECT x'1F', b'01', 1 // c\n, 2 # c"))
	require.Equal(t, []string{"a", "->", "b"}, texts(t, "a -> b"))
	_, err := sqllex.Significant("SELECT “x”")
	require.Error(t, err)
	_, err = sqllex.Significant("SELECT 'unterminated")
	require.Error(t, err)
	require.Equal(t, "it's\n", sqllex.Token{Kind: sqllex.String, Text: `'it\'s\n'`}.StringValue())
	require.Equal(t, "a''b", sqllex.Token{Kind: sqllex.String, Text: `$t$a''b$t$`}.StringValue())
}

// TestLexKinds checks each token's kind, text and position on a query with
// every kind, comments and whitespace included.
func TestLexKinds(t *testing.T) {
	t.Parallel()
	q := "SELECT `a``b` -- c\n\t/* d /* e */ */ \"x\\\"y\", 'it''s', 0x1F # f"
	toks, err := sqllex.Lex(q)
	require.NoError(t, err)
	type kt struct {
		k    sqllex.Kind
		text string
	}
	var got []kt
	pos := 0
	for _, tk := range toks {
		require.Equal(t, pos, tk.Pos, "position of %q", tk.Text)
		pos += len(tk.Text)
		got = append(got, kt{tk.Kind, tk.Text})
	}
	S, C, W, Q, Str, N, P := sqllex.Space, sqllex.Comment, sqllex.Word, sqllex.Quoted, sqllex.String, sqllex.Number, sqllex.Punct
	require.Equal(t, []kt{
		{W, "SELECT"}, {S, " "}, {Q, "`a``b`"}, {S, " "}, {C, "-- c"}, {S, "\n\t"}, {C, "/* d /* e */ */"}, {S, " "},
		{Q, `"x\"y"`}, {P, ","}, {S, " "}, {Str, "'it''s'"}, {P, ","}, {S, " "}, {N, "0x1F"}, {S, " "}, {C, "# f"},
	}, got)
	require.Equal(t, "a`b", toks[2].Name())
	require.Equal(t, `x"y`, toks[8].Name())
	require.Equal(t, "SELECT", toks[0].Name())
	require.Equal(t, "", toks[11].Name(), "a string is not a name")
	require.Equal(t, "it's", toks[11].StringValue())
	require.True(t, toks[0].Is("select"))
	require.False(t, toks[2].Is("a`b"), "a quoted identifier is never a keyword")
	require.True(t, toks[4].Trivia() && toks[5].Trivia())
}

// TestLexErrors checks what the lexer refuses and where it says the fault
// is (1-based, as ClickHouse counts).
func TestLexErrors(t *testing.T) {
	t.Parallel()
	for q, want := range map[string]string{
		"SELECT “x”":           "non-ASCII character outside quotes (ClickHouse reads Unicode quotation marks as quotes): write names in ASCII or `backquotes` at position 8",
		"SELECT 'unterminated": "unterminated quote ' at position 8",
		"SELECT x'1F":          "unterminated quote ' at position 8",
		"SELECT `x":            "unterminated quote ` at position 8",
		"/* a /* b */":         "unterminated /* comment at position 1",
		"SELECT \x01":          "control character outside quotes at position 8",
	} {
		toks, err := sqllex.Lex(q)
		require.Nil(t, toks, q)
		var le *sqllex.Error
		require.ErrorAs(t, err, &le, q)
		require.Equal(t, want, err.Error(), q)
	}
	for _, q := range []string{"SELECT 'é' -- “x”", "SELECT `é`", "/* “ */ 1"} {
		_, err := sqllex.Lex(q)
		require.NoError(t, err, "non-ASCII inside quotes and comments is text: %q", q)
	}
}

// sqlFiles returns the text of the .sql files of package sql matching
// pattern (relative to sql/): real inputs with comments.
func sqlFiles(t testing.TB, pattern string) map[string]string {
	paths, err := filepath.Glob(filepath.Join("..", pattern))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		out[p] = string(b)
	}
	return out
}

// checkLossless requires that Lex's tokens are q, in order, without gaps,
// and that Significant returns the same tokens without the trivia.
func checkLossless(t *testing.T, q string, toks []sqllex.Token) {
	t.Helper()
	var sb strings.Builder
	var sig []sqllex.Token
	for _, tk := range toks {
		if tk.Text == "" || tk.Pos != sb.Len() {
			t.Fatalf("token %+v at byte %d of %q: empty or misplaced", tk, sb.Len(), q)
		}
		sb.WriteString(tk.Text)
		if !tk.Trivia() {
			sig = append(sig, tk)
		}
	}
	if sb.String() != q {
		t.Fatalf("tokens do not give the input back:\n in: %q\nout: %q", q, sb.String())
	}
	got, err := sqllex.Significant(q)
	require.NoError(t, err, "Lex accepted %q, Significant refuses it", q)
	require.Equal(t, sig, got, "Significant is not Lex without the trivia")
}

// TestLexLossless requires that the tokens of every .sql file of package
// sql (tables, views, queries, golden renderings) give the file back byte
// for byte.
func TestLexLossless(t *testing.T) {
	t.Parallel()
	for p, q := range sqlFiles(t, "*/*.sql") {
		toks, err := sqllex.Lex(q)
		require.NoError(t, err, p)
		checkLossless(t, q, toks)
	}
}
