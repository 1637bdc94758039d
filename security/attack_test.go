package security

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-faster/city"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// attack is one request an attacker sends.
type attack struct {
	class, name string
	query       string     // sent as a POST body and as a GET query parameter
	params      url.Values // URL parameters besides the query
}

// attacks returns every attack of the suite, with paths filled in: canary
// (a file with secret content), rc (a file to append to), dir (their
// directory).
func attacks(canary, rc, dir string) []attack {
	q := func(s string) string {
		s = strings.ReplaceAll(s, "CANARY", canary)
		s = strings.ReplaceAll(s, "RC", rc)
		return strings.ReplaceAll(s, "DIR", dir)
	}
	p := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], q(kv[i+1]))
		}
		return v
	}
	var out []attack
	add := func(class, name, query string, params url.Values) {
		out = append(out, attack{class: class, name: name, query: q(query), params: params})
	}
	// clickhouse-local's default database maps table names to file paths.
	for i, s := range []string{
		"SELECT * FROM default.`CANARY`", "SELECT * FROM `CANARY`", "SELECT * FROM 'CANARY'",
		"SELECT _path, _file FROM default.`DIR/*`", "SELECT * FROM default.`DIR/*.txt`",
		"SELECT * FROM default.`/proc/self/environ`", "SELECT count() FROM default.`/etc/passwd`",
		"SELECT * FROM default.`CANARY` SETTINGS max_threads = 1", "DESCRIBE TABLE default.`CANARY`",
		"SHOW CREATE TABLE default.`CANARY`", "INSERT INTO default.`RC` FORMAT TSV\nrm -rf ~\n",
		"INSERT INTO `RC` FORMAT TSV\nrm -rf ~\n", "INSERT INTO default.`DIR/new.csv` FORMAT CSV\n1\n",
		"TRUNCATE TABLE default.`CANARY`", "TRUNCATE TABLE `RC`",
	} {
		add("file-mapped database", fmt.Sprint(i), s, nil)
	}
	// Format settings that name files, as URL parameters and in the query.
	add("format file settings", "template resultset URL", "SELECT 1", p("default_format", "Template", "format_template_resultset", "CANARY"))
	add("format file settings", "template row URL", "SELECT 1", p("default_format", "Template", "format_template_row", "CANARY"))
	add("format file settings", "template in query", "SELECT 1 FORMAT Template SETTINGS format_template_resultset = 'CANARY'", nil)
	add("format file settings", "schema URL", "SELECT 1", p("default_format", "Protobuf", "format_schema", "CANARY:Msg"))
	add("format file settings", "output schema", "SELECT 1", p("output_format_schema", "DIR/out.capnp"))
	add("format file settings", "template with SQL in row format", "SELECT 1", p("default_format", "Template", "format_template_row_format", "${0:JSON}"))
	// Settings whose values are SQL.
	add("SQL in settings", "table filter URL", "SELECT * FROM system.one", p("additional_table_filters", "{'one': 'dummy IN (SELECT length(file(\\'CANARY\\')))'}"))
	add("SQL in settings", "result filter URL", "SELECT 1", p("additional_result_filter", "length(file('CANARY')) > 0"))
	add("SQL in settings", "table filter in query", "SELECT * FROM system.one SETTINGS additional_table_filters = {'one': 'dummy IN (SELECT length(file(\\'CANARY\\')))'}", nil)
	add("SQL in settings", "result filter in query", "SELECT 1 SETTINGS additional_result_filter = 'length(file(\\'CANARY\\')) > 0'", nil)
	add("SQL in settings", "table filter on a tapline table", "SELECT count() FROM sofarpc_digest", p("additional_table_filters", "{'sofarpc_digest': '1 IN (SELECT 1 FROM file(\\'CANARY\\', \\'LineAsString\\'))'}"))
	// Identifier parameters and implicit tables that reach system tables.
	add("system names by parameter", "identifier", "SELECT * FROM {t:Identifier}", p("param_t", "system.disks"))
	add("system names by parameter", "completes system.", "SELECT * FROM system.{t:Identifier}", p("param_t", "disks"))
	add("system names by parameter", "two identifiers", "SELECT * FROM {db:Identifier}.{t:Identifier}", p("param_db", "system", "param_t", "server_settings"))
	add("system names by parameter", "quoted file table", "SELECT * FROM {t:Identifier}", p("param_t", "default.`CANARY`"))
	add("system names by parameter", "implicit table", "SELECT path", p("implicit_table_at_top_level", "system.disks"))
	add("system names by parameter", "implicit select", "path", p("implicit_select", "1", "implicit_table_at_top_level", "system.disks"))
	add("system names by parameter", "database parameter", "SELECT * FROM disks", p("database", "system"))
	// DDL and schema changes.
	for i, s := range []string{
		"TRUNCATE DATABASE tapline", "TRUNCATE TABLE sofarpc_digest", "ALTER TABLE sofarpc_digest ADD COLUMN x UInt8",
		"ALTER TABLE sofarpc_digest DROP COLUMN method", "DROP TABLE sofarpc_digest", "DROP DATABASE tapline",
		"RENAME TABLE sofarpc_digest TO gone", "DETACH TABLE sofarpc_digest", "OPTIMIZE TABLE sofarpc_digest FINAL",
		"ALTER TABLE sofarpc_digest DELETE WHERE 1", "DELETE FROM sofarpc_digest WHERE 1",
		"CREATE TABLE f (x String) ENGINE = File(TSV, 'RC')", "INSERT INTO sofarpc_digest SELECT * FROM sofarpc_digest",
		"INSERT INTO FUNCTION file('RC', 'TSV', 'x String') SELECT 'rm -rf ~'", "SYSTEM DROP MARK CACHE",
		"KILL QUERY WHERE 1", "SET readonly = 0", "CREATE FUNCTION f AS x -> x", "BACKUP DATABASE tapline TO File('DIR/b.zip')",
		"SELECT 1 INTO OUTFILE 'RC'", "EXPLAIN ESTIMATE SELECT * FROM file('CANARY')",
	} {
		add("DDL and writes", fmt.Sprint(i), s, nil)
	}
	// Functions and table functions that read files, the network, the
	// environment or the host's state.
	for i, s := range []string{
		"SELECT file('CANARY')", "SELECT file('/proc/self/environ')", "WITH file('CANARY') AS x SELECT x",
		"SELECT arrayMap(p -> file(p), ['CANARY'])", "SELECT * FROM numbers(1) WHERE file('CANARY') != ''",
		"SELECT `file`('CANARY')", "SELECT FILE('CANARY')", "SELECT 1 /* ' */, file('CANARY') -- '",
		"SELECT getServerSetting('path')", "SELECT hostName()", "SELECT getClientHTTPHeader('Authorization')",
		"SELECT * FROM file('CANARY', 'LineAsString')", "SELECT * FROM file('/proc/self/environ', 'RawBLOB')",
		"SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')", "SELECT * FROM view(SELECT file('CANARY'))",
		"SELECT * FROM merge('system', '^disks$')", "SELECT * FROM executable('cat CANARY', 'LineAsString')",
		"SELECT * FROM filesystem('DIR')", "SELECT * FROM s3('http://127.0.0.1:1/b/k', 'LineAsString')",
		"SELECT 1; SELECT file('CANARY')", "SELECT 1 -- x\n; SELECT file('CANARY')",
		"SELECT aiGenerate('x')", "SELECT dictGet('d', 'a', 1)",
	} {
		add("files, network and host state", fmt.Sprint(i), s, nil)
	}
	// System tables that show paths, configuration or other queries.
	for i, s := range []string{
		"SELECT * FROM system.disks", "SELECT data_paths FROM system.tables", "SELECT path FROM system.parts",
		"SELECT data_path FROM system.databases", "SELECT * FROM system.server_settings", "SELECT * FROM system.query_log",
		"SELECT query FROM system.processes", "SELECT * FROM system.detached_parts", "SELECT * FROM `system`.`disks`",
		"SELECT * FROM system . \"disks\"", "SHOW PROCESSLIST", "SHOW CREATE TABLE system.disks", "SELECT * FROM system.user_directories",
	} {
		add("system tables", fmt.Sprint(i), s, nil)
	}
	return out
}

// TestEndpointUnderAttack tries every attack on a read-only and on a
// writable `tapline run`, by POST and by GET: each must be refused, no
// answer may show the canary file's content, the process environment's
// secret or the engine's data directory, and no file outside the data
// directories may change. Afterwards the runs still ingest and their
// tables still hold their rows.
func TestEndpointUnderAttack(t *testing.T) {
	dir := t.TempDir()
	canaryText := "canary-" + randomHex(12)
	canary := filepath.Join(dir, "canary.txt")
	rc := filepath.Join(dir, "shellrc")
	require.NoError(t, os.WriteFile(canary, []byte(canaryText+"\n"), 0o644))
	require.NoError(t, os.WriteFile(rc, []byte("# rc file\n"), 0o644))
	before := map[string]fileState{canary: stat(t, canary), rc: stat(t, rc)}

	ro := startRun(t)
	rw := startRun(t, "--http-writable")
	for _, r := range []*run{ro, rw} {
		r.publishDigests(t, "seed", 50)
		require.Eventually(t, func() bool { return r.scalar(t, "SELECT count() FROM sofarpc_digest") == "50" }, 60*time.Second, 100*time.Millisecond)
	}
	forbidden := []string{canaryText, ro.secret, rw.secret, ro.dataDir, rw.dataDir}
	clean := func(t *testing.T, a answer, what string) {
		t.Helper()
		for _, f := range forbidden {
			require.NotContains(t, a.body, f, what)
			for k, vs := range a.header {
				require.NotContains(t, k+strings.Join(vs, ","), f, what)
			}
		}
	}

	// The canary is readable to the process (the attacks are not refused
	// for lack of permission): the engine reads it when asked directly.
	require.Contains(t, string(must(os.ReadFile(canary))), canaryText)

	refused := 0
	for _, a := range attacks(canary, rc, dir) {
		for _, r := range []*run{ro, rw} {
			mode := "read-only"
			if r == rw {
				mode = "writable"
			}
			t.Run(a.class+"/"+a.name+"/"+mode, func(t *testing.T) {
				for method, ans := range map[string]answer{"POST": r.post(t, a.query, a.params), "GET": r.get(t, a.query, a.params)} {
					what := fmt.Sprintf("%s %s: %q %v -> %d %s", mode, method, a.query, a.params, ans.status, ans.body)
					clean(t, ans, what)
					require.GreaterOrEqual(t, ans.status, 400, "refused: %s", what)
					require.NotEmpty(t, ans.code, "a ClickHouse error code: %s", what)
					refused++
				}
			})
		}
	}
	t.Logf("%d attack requests refused", refused)

	t.Run("Host and Origin", func(t *testing.T) {
		for _, h := range []map[string]string{
			{"Host": "evil.example"}, {"Host": "localhost.evil.example:8124"},
			{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
		} {
			req, err := http.NewRequest(http.MethodPost, "http://"+ro.http+"/", strings.NewReader("SELECT 1"))
			require.NoError(t, err)
			for k, v := range h {
				if k == "Host" {
					req.Host = v
				} else {
					req.Header.Set(k, v)
				}
			}
			ans := ro.do(t, req)
			require.Equal(t, http.StatusForbidden, ans.status, "%v: %s", h, ans.body)
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+ro.http+"/", strings.NewReader("SELECT 1"))
		req.Host = "localhost"
		require.Equal(t, "1\n", ro.do(t, req).body, "a loopback name is served")
	})

	t.Run("request bodies", func(t *testing.T) {
		big := "SELECT '" + strings.Repeat("x", 17<<20) + "'"
		ans := ro.post(t, big, nil)
		require.Equal(t, "229", ans.code, "a query over 16 MiB: %d", ans.status)

		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write([]byte("SELECT 1 -- "))
		_, _ = zw.Write(make([]byte, 512<<20))
		require.NoError(t, zw.Close())
		req, _ := http.NewRequest(http.MethodPost, "http://"+ro.http+"/", bytes.NewReader(gz.Bytes()))
		req.Header.Set("Content-Encoding", "gzip")
		ans = ro.do(t, req)
		require.Equal(t, "229", ans.code, "a gzip body that expands to 512 MiB is cut at 16 MiB: %s", ans.body)

		bomb := zstdFrameClaiming(t, 100, make([]byte, 64<<20))
		for _, r := range []*run{ro, rw} {
			req, _ = http.NewRequest(http.MethodPost, "http://"+r.http+"/?decompress=1&query="+url.QueryEscape("INSERT INTO sofarpc_digest FORMAT JSONEachRow"), bytes.NewReader(bomb))
			ans = r.do(t, req)
			require.GreaterOrEqual(t, ans.status, 400, "a frame that expands past its claim: %s", ans.body)
		}
	})

	for path, was := range before {
		require.Equal(t, was, stat(t, path), "%s changed", path)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no file appeared beside the canary")

	for _, r := range []*run{ro, rw} {
		require.True(t, r.alive(), "the run survived: %s", r.stderr)
		require.Equal(t, "50", r.scalar(t, "SELECT count() FROM sofarpc_digest"), "the table kept its rows")
		r.publishDigests(t, "after", 10)
		require.Eventually(t, func() bool { return r.scalar(t, "SELECT count() FROM sofarpc_digest") == "60" }, 60*time.Second, 100*time.Millisecond, "still ingesting")
	}
}

// zstdFrameClaiming returns one ClickHouse compressed frame whose header
// claims raw bytes but whose ZSTD payload expands to payload.
func zstdFrameClaiming(t *testing.T, raw uint32, payload []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	z := enc.EncodeAll(payload, nil)
	frame := make([]byte, 16+9, 16+9+len(z))
	frame = append(frame, z...)
	frame[16] = 0x90
	binary.LittleEndian.PutUint32(frame[17:], uint32(9+len(z)))
	binary.LittleEndian.PutUint32(frame[21:], raw)
	h := city.CH128(frame[16:])
	binary.LittleEndian.PutUint64(frame[0:], h.Low)
	binary.LittleEndian.PutUint64(frame[8:], h.High)
	return frame
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
