package webdebug

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestRouteShape(t *testing.T) {
	t.Parallel()
	for uri, want := range map[string]string{
		"":                   "/",
		"/":                  "/",
		"/api/hello?foo=bar": "/api/hello",
		"https://example.com:443/api/hello?foo=bar": "/api/hello",
		"//cdn.example.com/a/b#frag":                "/a/b",
		"https://example.com":                       "/",
		"/users/12345/orders/":                      "/users/{id}/orders",
		"//double//slashes":                         "/slashes",
		"/u/ef95a542-25a3-4f71-a0e9-640c92f43813":   "/u/{id}",
		"/o/5f1d7c2e9b3a4d6e8f0a1b2c/x":             "/o/{id}/x",
		"/t/AbCdEf0123456789xyz":                    "/t/{id}",
		"/blog/my-first-post":                       "/blog/my-first-post",
		"/v2/feed":                                  "/v2/feed",
		"/cafe/decade":                              "/cafe/decade",
		"/deadbeef1":                                "/{id}",
		"/" + strings.Repeat("x", 65):               "/{id}",
		"/a/b/c/d/e/f/g/h/i/j":                      "/a/b/c/d/e/f/g/h/*",
		"relative/path?q":                           "/relative/path",
	} {
		require.Equal(t, want, string(appendRoute(nil, []byte(uri))), uri)
	}
	long := "/" + strings.Repeat("abcdefghij/", 7) + strings.Repeat("k", 60)
	got := string(appendRoute(nil, []byte(long)))
	require.LessOrEqual(t, len(got), maxRouteLen+4)
	require.True(t, strings.HasSuffix(got, "/*"), got)
}

func TestHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Example.COM:8080":       "example.com",
		"example.com":            "example.com",
		"user:pw@example.com:80": "example.com",
		"[::1]:8080":             "::1",
		"::1":                    "::1",
		" api.local ":            "api.local",
	} {
		require.Equal(t, want, string(appendHost(nil, []byte(in))), in)
	}
	a, rest := splitURI([]byte("https://u@Example.com:443/p?q"))
	require.Equal(t, "u@Example.com:443", string(a))
	require.Equal(t, "/p?q", string(rest))
	a, rest = splitURI([]byte("/p://x"))
	require.Nil(t, a)
	require.Equal(t, "/p://x", string(rest))
}

func TestQueryShape(t *testing.T) {
	t.Parallel()
	cases := []struct{ query, syntax, want string }{
		// Upstream examples (web-debug-proto examples and docs).
		{"UPDATE users SET last_loggin = ?dt WHERE id = ?id", "sql", "UPDATE users SET last_loggin = ? WHERE id = ?"},
		{"SELECT * FROM articles WHERE ID = 2;", "sql", "SELECT * FROM articles WHERE ID = ?;"},
		{`{ status: "A", qty: { $lt: 30 } }`, "json", "{ status: ?, qty: { $lt: ? } }"},
		{"UPDATE users SET last_loggin = '2019-02-20 10:32:20' WHERE id = 1000", "", "UPDATE users SET last_loggin = ? WHERE id = ?"},
		// PHP's default syntax is "text": SQL is recognised by its keyword.
		{"select * from `users` where `id` = 42 limit 1", "text", "select * from `users` where `id` = ? limit ?"},
		{`SELECT "name" FROM "users" WHERE "id" = $1`, "sql", `SELECT "name" FROM "users" WHERE "id" = ?`},
		{"SELECT * FROM t WHERE id IN (1, 2, 3) AND s IN ('a','b')", "sql", "SELECT * FROM t WHERE id IN (?) AND s IN (?)"},
		{"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'),(3,'z')", "sql", "INSERT INTO t (a, b) VALUES (?)"},
		{"SELECT a::int, b FROM t WHERE c = :name AND d = -1.5e3", "sql", "SELECT a::int, b FROM t WHERE c = ? AND d = -?"},
		{"SELECT t1.c2 FROM t1 WHERE x = 'it''s' OR y = 'a\\'b'", "sql", "SELECT t1.c2 FROM t1 WHERE x = ? OR y = ?"},
		{"  SELECT\n\t1\n  ", "sql", "SELECT ?"},
		{`{"status": "A", "qty": {"$lt": 30}, "ids": [1, 2, 3]}`, "json", `{"status": ?, "qty": {"$lt": ?}, "ids": [?]}`},
		{`[{"$match": {"a": true}}]`, "", `[{"$match": {"a": true}}]`},
		{"GET session:abc123", "text", "GET"},
		{"hgetall user:42", "", "HGETALL"},
		{"<GetUser><Id>5</Id></GetUser>", "xml", "xml"},
		{"", "", "text"},
		{"", "graphql", "graphql"},
		{"!!!", "text", "text"},
		{strings.Repeat("x", 40) + " y", "text", "text"},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, string(appendQueryShape(nil, []byte(tc.query), []byte(tc.syntax))), "%q (%s)", tc.query, tc.syntax)
	}
	long := "SELECT " + strings.Repeat("é_column, ", 40) + "x FROM t"
	got := appendQueryShape(nil, []byte(long), []byte("sql"))
	require.LessOrEqual(t, len(got), maxShapeLen)
	require.True(t, utf8.Valid(got), "cut at a rune boundary")
}

// TestShapesAreIdempotent: a shape shapes to itself, so the values the
// generator declares as truth (already shapes) are what the decoder writes
// for the literal-filled queries.
func TestShapesAreIdempotent(t *testing.T) {
	t.Parallel()
	for _, q := range []string{
		"UPDATE users SET last_loggin = ? WHERE id = ?",
		"SELECT * FROM t WHERE id IN (?)",
		"INSERT INTO t (a, b) VALUES (?)",
		`{"status": ?, "qty": {"$lt": ?}}`,
	} {
		require.Equal(t, q, string(appendQueryShape(nil, []byte(q), []byte("sql"))))
	}
}
