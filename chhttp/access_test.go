package chhttp

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFailedLoginsAreRateLimited: after five wrong passwords from one
// address even the right one is refused until a second has passed.
func TestFailedLoginsAreRateLimited(t *testing.T) {
	srv, _ := endpoint(t, Config{Addr: "127.0.0.1:0", User: "grafana", Password: "s3cret"})
	login := func(pass string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader("SELECT 1"))
		require.NoError(t, err)
		req.SetBasicAuth("grafana", pass)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-ClickHouse-Exception-Code")
	}
	status, _ := login("s3cret")
	require.Equal(t, http.StatusOK, status)
	for i := 0; i < 5; i++ {
		_, code := login("wrong" + strings.Repeat("x", i))
		require.Equal(t, "516", code)
	}
	status, code := login("s3cret")
	require.Equal(t, http.StatusForbidden, status, "the right password, too soon after five failures")
	require.Equal(t, "516", code)
	time.Sleep(1100 * time.Millisecond)
	status, _ = login("s3cret")
	require.Equal(t, http.StatusOK, status, "a second later")
}

// TestHostAllowed: loopback names always; other names only when listed, or
// on a non-loopback listener without a list.
func TestHostAllowed(t *testing.T) {
	t.Parallel()
	lo := &Handler{cfg: Config{Addr: "127.0.0.1:8124"}}
	require.True(t, lo.hostAllowed("localhost"))
	require.True(t, lo.hostAllowed("127.0.0.1"))
	require.True(t, lo.hostAllowed("::1"))
	require.False(t, lo.hostAllowed("evil.example"))
	named := &Handler{cfg: Config{Addr: "127.0.0.1:8124", Hosts: []string{"grafana.internal"}}}
	require.True(t, named.hostAllowed("GRAFANA.internal"))
	require.False(t, named.hostAllowed("evil.example"))
	open := &Handler{cfg: Config{Addr: "0.0.0.0:8124", User: "u", Password: "p"}}
	require.True(t, open.hostAllowed("tapline.example"))
	require.Equal(t, "::1", hostOnly("[::1]:8124"))
}
