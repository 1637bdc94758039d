package chhttp

import (
	"testing"

	"github.com/tapline/tapline/sql/sqllex"
)

// FuzzVet feeds arbitrary text to the lexer and the guard: they must never
// panic, and whatever vet accepts must lex again to the same tokens (what
// runs is what was checked).
func FuzzVet(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "SELECT $$ ' $$, f() -- '", "SELECT 1 /* /* */ ' */", "SELECT 1e--x", "x.1.1",
		"SELECT * FROM {t:Identifier} SETTINGS additional_table_filters = {'t':'x = 1'} FORMAT JSON",
		"SELECT x'1F', b'01', 0x1F, 1_000, .5e-3", "SHOW TABLES;", "INSERT INTO t FORMAT TSV",
	} {
		f.Add(s)
	}
	p := policy{tableFunctions: map[string]bool{"file": true, "numbers": true}}
	f.Fuzz(func(t *testing.T, q string) {
		st, err := p.vet(q)
		if err != nil {
			return
		}
		a, lerr := sqllex.Significant(q)
		b, lerr2 := sqllex.Significant(st.text)
		if lerr != nil || lerr2 != nil {
			t.Fatalf("vet accepted %q, lex refuses it", q)
		}
		if len(b) > len(a) {
			t.Fatalf("vet returned more tokens than it read: %q -> %q", q, st.text)
		}
	})
}

// FuzzUpgradeNative feeds arbitrary bytes to the Native rewriter: it must
// never panic, and on success it adds exactly BlockInfo per block and one
// byte per column.
func FuzzUpgradeNative(f *testing.F) {
	f.Add([]byte{2, 1, 1, 'x', 5, 'U', 'I', 'n', 't', '8', 7, 1, 's', 6, 'S', 't', 'r', 'i', 'n', 'g', 2, 'h', 'i'})
	f.Add([]byte{1, 2, 1, 'a', 12, 'A', 'r', 'r', 'a', 'y', '(', 'U', 'I', 'n', 't', '8', ')', 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9})
	f.Add([]byte{1, 1, 1, 'l', 22, 'L', 'o', 'w', 'C', 'a', 'r', 'd', 'i', 'n', 'a', 'l', 'i', 't', 'y', '(', 'S', 't', 'r', 'i', 'n', 'g', ')',
		1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 1, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := upgradeNative(nil, in, 54460)
		if err != nil {
			return
		}
		if len(out) < len(in) {
			t.Fatalf("output shorter than input: %d < %d", len(out), len(in))
		}
	})
}
