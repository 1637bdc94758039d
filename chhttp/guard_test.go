package chhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/sink/embedded"
)

// post sends query as a POST body with URL parameters and returns the
// status, the X-ClickHouse-Exception-Code header and the body.
func post(t *testing.T, base, query string, params url.Values) (int, string, string) {
	t.Helper()
	resp, err := http.Post(base+"/?"+params.Encode(), "text/plain", strings.NewReader(query))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code"), string(b)
}

// TestGuardOnTheEngine sends queries that would read or write files, reach
// the network, reveal the engine's paths or change data through a
// read-only endpoint on the real engine, each spelled to slip past a naive
// check, and requires ClickHouse's refusal code; then checks that what
// tools need still runs. The engine itself answers every one of the
// refused queries when asked directly (the first subtest proves it for the
// file ones), so the refusals are the guard's.
func TestGuardOnTheEngine(t *testing.T) {
	ctx := context.Background()
	srv, target := endpoint(t, Config{Addr: "127.0.0.1:0"})
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	require.NoError(t, os.WriteFile(secret, []byte("tapline-secret-content\n"), 0o600))
	outfile := filepath.Join(dir, "out.txt")
	paths, err := target.Query(ctx, "SELECT groupArray(path) FROM system.disks", "TabSeparatedRaw", nil)
	require.NoError(t, err)
	dataPath := strings.Trim(strings.TrimSpace(string(paths)), "[]'/")
	require.NotEmpty(t, dataPath)

	t.Run("the engine reads files when asked directly", func(t *testing.T) {
		out, err := target.Query(ctx, "SELECT file('"+secret+"')", "TabSeparatedRaw", nil)
		require.NoError(t, err)
		require.Contains(t, string(out), "tapline-secret-content")
	})

	refused := []struct {
		name, query string
		code        string
	}{
		{"file table function", "SELECT * FROM file('" + secret + "', 'LineAsString')", "497"},
		{"file scalar function", "SELECT file('" + secret + "')", "497"},
		{"Unicode quotes around the name", "SELECT “file”('" + secret + "')", "497"},
		{"backquoted name", "SELECT `file`('" + secret + "')", "497"},
		{"upper case", "SELECT FILE('" + secret + "')", "497"},
		{"heredoc hiding a quote", "SELECT $$ ' $$, file('" + secret + "') -- '", "497"},
		{"comment hiding a quote", "SELECT 1 // '\n, file('" + secret + "') -- '", "497"},
		{"nested comment hiding a quote", "SELECT 1 /* /* */ ' */, file('" + secret + "') -- '", "497"},
		{"number swallowing a comment", "SELECT 1e--x\n, file('" + secret + "')", "62"},
		{"url", "SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')", "497"},
		{"s3", "SELECT * FROM s3('http://127.0.0.1:1/b/k', 'LineAsString')", "497"},
		{"remote", "SELECT * FROM remote('127.0.0.1:9000', system.one)", "497"},
		{"merge over system tables", "SELECT * FROM merge(system, '^disks$')", "497"},
		{"filesystem", "SELECT * FROM filesystem('/')", "497"},
		{"executable", "SELECT * FROM executable('id', 'LineAsString')", "497"},
		{"INTO OUTFILE", "SELECT 1 INTO OUTFILE '" + outfile + "'", "497"},
		{"second statement", "SELECT 1; SELECT file('" + secret + "')", "62"},
		{"system.disks", "SELECT path FROM system.disks", "497"},
		{"system.tables paths", "SELECT data_paths FROM `system`.\"tables\"", "497"},
		{"system.parts", "SELECT path FROM system.parts", "497"},
		{"server settings", "SELECT getServerSetting('path')", "497"},
		{"table filter setting", "SELECT 1 SETTINGS additional_table_filters = {'one': 'dummy IN (SELECT length(file(\\'" + secret + "\\')))'}", "497"},
		{"schema setting", "SELECT 1 SETTINGS format_schema = 'x:y'", "497"},
		{"introspection", "SELECT 1 SETTINGS allow_introspection_functions = 1", "497"},
		{"subquery in DESCRIBE", "DESCRIBE TABLE file('" + secret + "', 'LineAsString')", "497"},
		{"INSERT", "INSERT INTO t SELECT 1", "164"},
		{"CREATE", "CREATE TABLE t (x UInt8) ENGINE = File(TSV, '" + outfile + "')", "164"},
		{"SYSTEM", "SYSTEM FLUSH LOGS", "164"},
		{"SET", "SET readonly = 0", "164"},
		{"TRUNCATE", "TRUNCATE TABLE t", "164"},
		{"ALTER ADD COLUMN", "ALTER TABLE t ADD COLUMN y UInt8", "164"},
		{"file-mapped default database", "SELECT * FROM default.`" + secret + "`", "497"},
		{"file-mapped table by path", "SELECT * FROM `" + secret + "`", "60"},
		{"system table through a bound identifier", "SELECT * FROM system.one, system.{t:Identifier}", "456"},
		{"implicit table setting", "SELECT 1 SETTINGS implicit_table_at_top_level = 'system.disks'", "497"},
		{"hostName", "SELECT hostName()", "497"},
		{"getClientHTTPHeader", "SELECT getClientHTTPHeader('Authorization')", "497"},
		{"SHOW PROCESSLIST", "SHOW PROCESSLIST", "497"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			status, code, body := post(t, srv.URL, c.query, nil)
			require.Equal(t, c.code, code, "%s\n%s", c.query, body)
			require.NotEqual(t, http.StatusOK, status)
			require.NotContains(t, body, "tapline-secret-content")
			require.NotContains(t, body, dataPath, "the engine's data directory")
			require.NotContains(t, body, "formatQuerySingleLine", "the guard's own query stays out of messages")
		})
	}
	_, err = os.Stat(outfile)
	require.True(t, errors.Is(err, os.ErrNotExist), "INTO OUTFILE wrote %s", outfile)

	t.Run("URL parameters", func(t *testing.T) {
		_, code, _ := post(t, srv.URL, "SELECT 1", url.Values{"format_schema": {"x:y"}})
		require.Equal(t, "497", code)
		_, code, _ = post(t, srv.URL, "SELECT 1", url.Values{"additional_result_filter": {"length(file('" + secret + "')) > 0"}})
		require.Equal(t, "497", code)
		_, code, _ = post(t, srv.URL, "SELECT * FROM {t:Identifier}", url.Values{"param_t": {"system.disks"}})
		require.Equal(t, "497", code)
		_, code, _ = post(t, srv.URL, "SELECT * FROM system.{t:Identifier}", url.Values{"param_t": {"disks"}})
		require.Equal(t, "497", code, "a parameter completing a system. name")
		_, code, _ = post(t, srv.URL, "SELECT path FROM system.one", url.Values{"implicit_table_at_top_level": {"system.disks"}})
		require.Equal(t, "497", code, "a URL setting that picks an implicit table")
		_, code, _ = post(t, srv.URL, "SELECT 1", url.Values{"format_template_resultset": {"/etc/passwd"}})
		require.Equal(t, "497", code, "a format setting naming a file")
		_, code, _ = post(t, srv.URL, "SELECT * FROM disks", url.Values{"database": {"system"}})
		require.Equal(t, "81", code)
		require.NoError(t, target.Exec(ctx, "CREATE TABLE ident_target (x UInt8) ENGINE = Memory"))
		status, _, body := post(t, srv.URL, "SELECT count() FROM {t:Identifier}", url.Values{"param_t": {"ident_target"}})
		require.Equal(t, http.StatusOK, status, body)
	})

	t.Run("readable system tables show no path", func(t *testing.T) {
		tables := []string{"information_schema.tables", "information_schema.columns", "information_schema.schemata", "information_schema.views"}
		for name := range allowedSystemTables {
			switch name {
			case "numbers", "numbers_mt", "zeros", "zeros_mt", "primes": // endless generators
			default:
				tables = append(tables, "system."+name)
			}
		}
		require.NoError(t, target.Exec(ctx, "CREATE TABLE probe_mt (x UInt8) ENGINE = MergeTree ORDER BY x"))
		probe, err := target.Query(ctx, "SELECT count() > 0 FROM system.tables WHERE position(toString(tuple(*)), {p:String}) > 0", "TabSeparated", map[string]string{"p": dataPath})
		require.NoError(t, err)
		require.Equal(t, "1\n", string(probe), "the probe finds the path where it is (system.tables, refused above)")
		for _, tbl := range tables {
			q := "SELECT count() FROM " + tbl + " WHERE position(toString(tuple(*)), {p:String}) > 0"
			status, code, body := post(t, srv.URL, q, url.Values{"param_p": {dataPath}})
			require.Equal(t, http.StatusOK, status, "%s: %s %s", tbl, code, body)
			require.Equal(t, "0\n", body, "%s shows the engine's data directory", tbl)
		}
	})

	allowed := []string{
		"SELECT 1",
		"WITH 2 AS x SELECT x * 2",
		"(SELECT 1) UNION ALL (SELECT 2)",
		"SHOW DATABASES",
		"SHOW TABLES",
		"DESC TABLE system.one",
		"EXPLAIN SELECT 1",
		"EXISTS TABLE system.one",
		"SELECT name, type, table FROM system.columns WHERE database = currentDatabase()",
		"SELECT name FROM system.functions WHERE name = 'sum'",
		"SELECT * FROM information_schema.tables WHERE table_schema = currentDatabase()",
		"SELECT sum(number) FROM numbers(10)",
		"SELECT 'file(''/etc/passwd'')' AS not_a_call, $$url('x')$$ AS neither, 'é' AS utf8",
		"SELECT 1 FORMAT JSONEachRow",
		"SELECT dummy FROM system.one SETTINGS max_threads = 1",
		"SELECT 1 FORMAT JSONEachRow SETTINGS max_threads = 1",
		"EXPLAIN AST INSERT INTO t SELECT 1",
		"SELECT 1;",
	}
	for _, q := range allowed {
		status, code, body := post(t, srv.URL, q, nil)
		require.Equal(t, http.StatusOK, status, "%s: %s %s", q, code, body)
	}
}

// TestWritable runs the one write a writable endpoint allows: INSERT ...
// FORMAT with the data in the body (plain and in compressed frames, with a
// deduplication token), over POST only; and refuses every other write.
func TestWritable(t *testing.T) {
	ctx := context.Background()
	srv, target := endpoint(t, Config{Addr: "127.0.0.1:0", Writable: true})
	require.NoError(t, target.Exec(ctx, "CREATE TABLE w (x UInt64) ENGINE = MergeTree ORDER BY x SETTINGS non_replicated_deduplication_window = 100"))
	status, code, body := post(t, srv.URL, "INSERT INTO w FORMAT TSV\n1\n2\n", nil)
	require.Equal(t, http.StatusOK, status, "%s %s", code, body)
	status, code, body = post(t, srv.URL, "3\n4\n", url.Values{"query": {"INSERT INTO w (x) FORMAT TSV"}, "insert_deduplication_token": {"tok-1"}})
	require.Equal(t, http.StatusOK, status, "%s %s", code, body)
	status, _, _ = post(t, srv.URL, "3\n4\n", url.Values{"query": {"INSERT INTO w (x) FORMAT TSV"}, "insert_deduplication_token": {"tok-1"}})
	require.Equal(t, http.StatusOK, status)
	framed, err := compressFrames(nil, []byte("5\n"), methodLZ4, 0)
	require.NoError(t, err)
	resp, err := http.Post(srv.URL+"/?decompress=1&query="+url.QueryEscape("INSERT INTO w SETTINGS insert_deduplication_token = 'tok-2' FORMAT TSV"), "application/octet-stream", bytes.NewReader(framed))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, _, body = post(t, srv.URL, "SELECT count(), sum(x) FROM w", nil)
	require.Equal(t, "5\t15\n", body, "the replayed token-1 insert was dropped")

	resp, err = http.Get(srv.URL + "/?query=" + url.QueryEscape("INSERT INTO w FORMAT TSV"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "164", resp.Header.Get("X-ClickHouse-Exception-Code"), "GET implies read-only, as on ClickHouse")

	require.NoError(t, target.Exec(ctx, "CREATE DATABASE IF NOT EXISTS elsewhere"))
	require.NoError(t, target.Exec(ctx, "CREATE TABLE IF NOT EXISTS elsewhere.z (x UInt8) ENGINE = Memory"))
	for q, want := range map[string]string{
		"INSERT INTO w VALUES (7)":                                 "497",
		"INSERT INTO w SELECT 1":                                   "497",
		"INSERT INTO w SELECT length(file('/etc/hostname'))":       "497",
		"INSERT INTO FUNCTION file('/tmp/x.tsv') SELECT 1":         "497",
		"INSERT INTO default.`/tmp/tapline-x.csv` FORMAT CSV\n1\n": "497",
		"INSERT INTO system.one FORMAT TSV\n1\n":                   "497",
		"INSERT INTO elsewhere.z FORMAT TSV\n1\n":                  "497",
		"INSERT INTO no_such_table FORMAT TSV\n1\n":                "497",
		"INSERT INTO w FORMAT Template\n1\n":                       "497",
		"INSERT INTO w SETTINGS max_threads = 8 FORMAT TSV\n1\n":   "497",
		"DROP TABLE w":                             "164",
		"TRUNCATE TABLE w":                         "164",
		"ALTER TABLE w DELETE WHERE 1":             "164",
		"ALTER TABLE w ADD COLUMN y UInt8":         "164",
		"CREATE TABLE v (x UInt8) ENGINE = Memory": "164",
		"TRUNCATE DATABASE " + target.(*embedded.Target).Pool().Database(): "164",
		"BACKUP TABLE w TO Disk('default', 'b.zip')":                       "164",
	} {
		status, code, body := post(t, srv.URL, q, nil)
		require.Equal(t, want, code, "%s: %d %s", q, status, body)
	}
	_, _, body = post(t, srv.URL, "SELECT count() FROM w", nil)
	require.Equal(t, "5\n", body)
}

// TestVet checks the guard's decisions on canonical text without the
// engine, including tokens the lexer must read as ClickHouse does.
func TestVet(t *testing.T) {
	t.Parallel()
	p := policy{
		database:       "tapline",
		databases:      map[string]bool{"tapline": true, "system": true, "default": true, "information_schema": true},
		tableFunctions: map[string]bool{"numbers": true, "file": true, "eval": true},
		functions: newFunctionSet([]string{"file\tOther\t\t0", "sum\tAggregate Functions\t\t1", "length\tString\t\t0",
			"quantilesTDigest\tAggregate Functions\t\t1", "hostName\tOther\t\t0", "hostname\t\thostName\t0", "version\tOther\t\t0",
			"format\tString\t\t0"}, []string{"If", "Merge", "OrNull", "State"}),
	}
	for q, want := range map[string]int{
		"SELECT 1":                                     0,
		"SELECT * FROM numbers(3)":                     0,
		"SELECT * FROM eval('x')":                      codeAccessDenied,
		"SELECT * FROM file('x')":                      codeAccessDenied,
		"SELECT file('x')":                             codeAccessDenied,
		"SELECT hostname()":                            codeAccessDenied, // an alias of a refused function
		"SELECT nosuchfunction(1)":                     codeAccessDenied,
		"SELECT version(), length('x')":                0,
		"SELECT sumIf(x, x > 1), sumIfOrNull(x, 1)":    0,
		"SELECT quantilesTDigestMerge(0.5)(x)":         0,
		"SELECT lengthIf(x)":                           codeAccessDenied, // combinators apply to aggregates only
		"SELECT x.file(1)":                             0,                // a method-like name after a dot is not the function
		"SELECT (file, 1)":                             0,                // a column named file, not a call
		"SELECT `file`('x')":                           codeAccessDenied, // a quoted name called is a call
		"SELECT 'a''b', `c``d`, \"e\\\"f\"":            0,
		"SELECT 1; SELECT 2":                           codeSyntaxError,
		"SELECT é":                                     codeSyntaxError,
		"SELECT 1 INTO OUTFILE 'x'":                    codeAccessDenied,
		"INSERT INTO t SELECT 1":                       codeReadonly,
		"TRUNCATE TABLE t":                             codeReadonly,
		"ALTER TABLE t ADD COLUMN y UInt8":             codeReadonly,
		"KILL QUERY WHERE 1":                           codeReadonly,
		"SHOW GRANTS":                                  codeAccessDenied,
		"SELECT * FROM system.one":                     0,
		"SELECT * FROM system . settings":              0,
		"SELECT * FROM `system`.`disks`":               codeAccessDenied,
		"SELECT * FROM system.query_log":               codeAccessDenied,
		"SELECT * FROM default.`/etc/passwd`":          codeAccessDenied,
		"SELECT * FROM tapline.sofarpc_digest":         0,
		"SELECT * FROM information_schema.tables":      0,
		"SELECT * FROM system.{t:Identifier}":          codeBadArguments,
		"SELECT 1 SETTINGS max_threads = 1":            0,
		"SELECT 1 SETTINGS max_threads = (SELECT 1)":   codeAccessDenied,
		"SELECT 1 SETTINGS output_format_schema = 'x'": codeAccessDenied,
		"SELECT 1 SETTINGS additional_table_filters = {'t':'file(\\'x\\') = 1'}": codeAccessDenied,
		"SELECT 1 SETTINGS implicit_table_at_top_level = 'system.disks'":         codeAccessDenied,
	} {
		_, err := p.vet(q)
		if want == 0 {
			require.NoError(t, err, q)
			continue
		}
		var ce *chError
		require.True(t, errors.As(err, &ce), "%s: %v", q, err)
		require.Equal(t, want, ce.code, "%s: %v", q, err)
	}
	st, err := p.vet("SELECT 1 FORMAT JSON SETTINGS max_threads = 1")
	require.NoError(t, err)
	require.Equal(t, "JSON", st.format)
	st, err = p.vet("SELECT format('{}', 'x') AS format")
	require.NoError(t, err)
	require.Equal(t, "", st.format)

	params := map[string]string{"t": "system.disks", "v": "x"}
	text, err := bindIdentifiers("SELECT * FROM {t:Identifier} WHERE x = {v:String}", params)
	require.NoError(t, err)
	require.Equal(t, "SELECT * FROM `system`.`disks` WHERE x = {v:String}", text)
	require.Equal(t, map[string]string{"v": "x"}, params, "bound identifiers leave the parameters")
	_, err = p.vet(text)
	require.Error(t, err, "the bound name is vetted in place")
	text, err = bindIdentifiers("SELECT * FROM system.{t:Identifier}", map[string]string{"t": "disks"})
	require.NoError(t, err)
	_, err = p.vet(text)
	require.Error(t, err, "a parameter completing a system. name")
	for _, bad := range []string{"x; DROP TABLE y", "f(1)", "a.", "'s'"} {
		_, err = bindIdentifiers("SELECT * FROM {t:Identifier}", map[string]string{"t": bad})
		require.Error(t, err, bad)
	}
}

// TestScrub removes the engine's data directory from error messages.
func TestScrub(t *testing.T) {
	t.Parallel()
	h := &Handler{cat: &catalog{Paths: []string{"/var/lib/tapline/clickhouse/"}}}
	err := h.scrub(&chError{code: 76, text: "Code: 76. DB::Exception: Cannot open file /var/lib/tapline/clickhouse/store/abc/data.bin. (CANNOT_OPEN_FILE)"})
	require.Equal(t, "Code: 76. DB::Exception: Cannot open file <data>/store/abc/data.bin. (CANNOT_OPEN_FILE)", err.Error())
	require.Equal(t, 76, err.code)
	require.Equal(t, "Code: 1001. DB::Exception: plain. (STD_EXCEPTION)", h.scrub(errors.New("plain")).Error())
}
