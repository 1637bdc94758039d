package chhttp

import (
	"context"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// curlResponse is what curl -i printed: status, headers, body.
type curlResponse struct {
	status  int
	headers http.Header
	body    string
}

// curl runs the curl binary with args (plus -s -S -i) and parses its
// output; it fails the test when curl itself fails.
func curl(t *testing.T, args ...string) curlResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "curl", append([]string{"-s", "-S", "-i"}, args...)...).CombinedOutput()
	require.NoError(t, err, "curl %v: %s", args, out)
	head, body, ok := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
	require.True(t, ok, "curl output without headers: %s", out)
	lines := strings.Split(head, "\n")
	var r curlResponse
	r.headers = http.Header{}
	fields := strings.Fields(lines[0])
	require.GreaterOrEqual(t, len(fields), 2, lines[0])
	r.status, err = strconv.Atoi(fields[1])
	require.NoError(t, err, lines[0])
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			r.headers.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	r.body = body
	return r
}

// TestCurl uses the endpoint the way the README shows: curl with the query
// in the URL or the body, formats, parameters, settings, compression,
// errors and credentials.
func TestCurl(t *testing.T) {
	srv, _ := endpoint(t, Config{Addr: "127.0.0.1:0"})
	u := srv.URL + "/"

	r := curl(t, srv.URL+"/ping")
	require.Equal(t, 200, r.status)
	require.Equal(t, "Ok.\n", r.body)

	r = curl(t, u+"?query=SELECT+1+AS+x+FORMAT+JSONEachRow")
	require.Equal(t, 200, r.status)
	require.Equal(t, "{\"x\":1}\n", r.body)
	require.Equal(t, "JSONEachRow", r.headers.Get("X-ClickHouse-Format"))
	require.NotEmpty(t, r.headers.Get("X-ClickHouse-Query-Id"))

	r = curl(t, "--data-binary", "SELECT 2 AS y, 'a,b' AS z", u+"?default_format=CSVWithNames")
	require.Equal(t, "\"y\",\"z\"\n2,\"a,b\"\n", r.body)
	require.Equal(t, "text/csv; charset=UTF-8", r.headers.Get("Content-Type"))

	r = curl(t, "-H", "X-ClickHouse-Format: JSONCompactEachRow", "--data-binary", "SELECT {n:UInt8} * 2, {s:String}", u+"?param_n=21&param_s=tap")
	require.Equal(t, "[42, \"tap\"]\n", r.body)

	r = curl(t, "-G", "--data-urlencode", "query=SELECT getSetting('max_threads'), getSetting('readonly')", "--data-urlencode", "max_threads=2", u)
	require.Equal(t, "497", r.headers.Get("X-ClickHouse-Exception-Code"), "settings are the endpoint's own: %s", r.body)
	r = curl(t, "-G", "--data-urlencode", "query=SELECT getSetting('max_threads'), getSetting('readonly')", "--data-urlencode", "max_execution_time=5", u)
	require.Equal(t, "1\t1\n", r.body, "the endpoint's own max_threads on a readonly connection; max_execution_time is taken")

	r = curl(t, "--compressed", "--data-binary", "SELECT repeat('tapline', 1000)", u+"?enable_http_compression=1")
	require.Equal(t, 200, r.status)
	require.NotEmpty(t, r.headers.Get("Content-Encoding"))
	require.Equal(t, strings.Repeat("tapline", 1000)+"\n", r.body)

	r = curl(t, "--data-binary", "SELECT * FROM no_such_table", u)
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "60", r.headers.Get("X-ClickHouse-Exception-Code"))
	require.True(t, strings.HasPrefix(r.body, "Code: 60. DB::Exception: "), r.body)

	r = curl(t, "--data-binary", "SELECT * FROM file('/etc/passwd', 'LineAsString')", u)
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "497", r.headers.Get("X-ClickHouse-Exception-Code"))
	require.NotContains(t, r.body, "root:")

	r = curl(t, "--data-binary", "SELECT 1", u+"?no_such_setting=1")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "115", r.headers.Get("X-ClickHouse-Exception-Code"))

	r = curl(t, "--data-binary", "SELECT 1", u+"?database=other")
	require.Equal(t, http.StatusNotFound, r.status)
	require.Equal(t, "81", r.headers.Get("X-ClickHouse-Exception-Code"))

	r = curl(t, srv.URL+"/play")
	require.Equal(t, http.StatusNotFound, r.status)

	locked, _ := endpoint(t, Config{Addr: "127.0.0.1:0", User: "grafana", Password: "s3cret"})
	r = curl(t, "--data-binary", "SELECT 1", locked.URL+"/")
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "194", r.headers.Get("X-ClickHouse-Exception-Code"))
	require.NotEmpty(t, r.headers.Get("WWW-Authenticate"))
	r = curl(t, "-u", "grafana:wrong", "--data-binary", "SELECT 1", locked.URL+"/")
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "516", r.headers.Get("X-ClickHouse-Exception-Code"))
	r = curl(t, "-u", "grafana:s3cret", "--data-binary", "SELECT 1", locked.URL+"/")
	require.Equal(t, 200, r.status)
	require.Equal(t, "1\n", r.body)
	r = curl(t, "-H", "X-ClickHouse-User: grafana", "-H", "X-ClickHouse-Key: s3cret", "--data-binary", "SELECT 1", locked.URL+"/")
	require.Equal(t, "1\n", r.body)
	r = curl(t, locked.URL+"/ping")
	require.Equal(t, "Ok.\n", r.body, "health checks need no credentials, as on a ClickHouse server")
}
