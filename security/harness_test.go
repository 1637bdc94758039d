package security

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
)

// The suite runs the real tapline binary, built once per test binary from
// this module, as a child process: `tapline run` with its embedded NATS and
// engine, exactly as a user starts it.

var build struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

// taplineBinary builds cmd/tapline into a temporary directory (once).
func taplineBinary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "tapline-security-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "tapline")
		cmd := exec.Command("go", "build", "-o", build.bin, "github.com/tapline/tapline/cmd/tapline")
		build.out, build.err = cmd.CombinedOutput()
	})
	require.NoError(t, build.err, "build tapline: %s", build.out)
	return build.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.bin != "" {
		_ = os.RemoveAll(filepath.Dir(build.bin))
	}
	os.Exit(code)
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// run is a `tapline run` child process.
type run struct {
	cmd     *exec.Cmd
	dataDir string
	http    string // host:port
	nats    string
	stderr  *bytes.Buffer
	secret  string // a value only in the child's environment
}

// startRun starts `tapline run` on a fresh data directory with extra flags
// and waits until its endpoint file names its HTTP endpoint.
func startRun(t testing.TB, extra ...string) *run {
	t.Helper()
	r := &run{dataDir: t.TempDir(), stderr: &bytes.Buffer{}, secret: "env-secret-" + randomHex(8)}
	args := append([]string{"run", "--data-dir", r.dataDir, "--http", "127.0.0.1:0", "--batch-age", "100ms"}, extra...)
	r.cmd = exec.Command(taplineBinary(t), args...)
	r.cmd.Env = append(os.Environ(), "TAPLINE_SECURITY_SECRET="+r.secret)
	r.cmd.Stdout = io.Discard
	r.cmd.Stderr = r.stderr
	require.NoError(t, r.cmd.Start())
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	})
	var ep struct {
		PID  int    `json:"pid"`
		HTTP string `json:"http"`
		NATS string `json:"nats"`
	}
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(filepath.Join(r.dataDir, "endpoint.json"))
		return err == nil && json.Unmarshal(b, &ep) == nil && ep.PID == r.cmd.Process.Pid && ep.HTTP != ""
	}, 90*time.Second, 50*time.Millisecond, "tapline run starts: %s", r.stderr)
	r.http, r.nats = ep.HTTP, ep.NATS
	return r
}

// alive reports whether the child still runs.
func (r *run) alive() bool {
	return r.cmd.ProcessState == nil && r.cmd.Process.Signal(syscall.Signal(0)) == nil
}

// answer is one HTTP exchange with the endpoint.
type answer struct {
	status int
	code   string
	header http.Header
	body   string
}

// do sends one request and reads the whole answer (bounded to 64 MiB).
func (r *run) do(t testing.TB, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return answer{status: resp.StatusCode, code: resp.Header.Get("X-ClickHouse-Exception-Code"), header: resp.Header, body: string(b)}
}

// post sends query as a POST body with URL parameters.
func (r *run) post(t testing.TB, query string, params url.Values) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+r.http+"/?"+params.Encode(), strings.NewReader(query))
	require.NoError(t, err)
	return r.do(t, req)
}

// get sends query as the query URL parameter of a GET.
func (r *run) get(t testing.TB, query string, params url.Values) answer {
	t.Helper()
	if params == nil {
		params = url.Values{}
	}
	params.Set("query", query)
	req, err := http.NewRequest(http.MethodGet, "http://"+r.http+"/?"+params.Encode(), nil)
	require.NoError(t, err)
	return r.do(t, req)
}

// scalar runs a read and returns its trimmed TSV answer, failing the test on
// an error.
func (r *run) scalar(t testing.TB, query string) string {
	t.Helper()
	a := r.post(t, query, nil)
	require.Equal(t, http.StatusOK, a.status, "%s: %s", query, a.body)
	return strings.TrimSpace(a.body)
}

// publishDigests publishes n SOFARPC client digest lines with trace ids
// "<prefix>-<i>" to the child's embedded NATS and waits for the stream's
// acknowledgements.
func (r *run) publishDigests(t testing.TB, prefix string, n int) {
	t.Helper()
	nc, err := nats.Connect(r.nats)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, `{"timestamp":"%s","tracerId":"%s-%d","spanId":"0","span.kind":"client","local.app":"sec","protocol":"bolt","service":"com.example.Sec:1.0","method":"probe","invoke.type":"sync","remote.app":"samples","remote.ip":"127.0.0.1:12200","result.code":"00","client.elapse.time":"5"}`+"\n",
			time.Now().UTC().Format("2006-01-02 15:04:05.000"), prefix, i)
	}
	_, err = js.Publish("logs.sofarpc.client.digest", buf.Bytes(), nats.Context(context.Background()))
	require.NoError(t, err)
}

// fileState is what the suite checks of a file outside the data directory.
type fileState struct {
	size    int64
	modTime time.Time
	content string
}

func stat(t testing.TB, path string) fileState {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return fileState{size: fi.Size(), modTime: fi.ModTime(), content: string(b)}
}
