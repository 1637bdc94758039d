package security

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// heavyQuery computes for far longer than the endpoint's limit on one
// thread and produces no output until it ends.
const heavyQuery = "SELECT sum(sipHash64(number)) FROM numbers_mt(1000000000000)"

// abandon sends query and leaves after wait, as a closed browser tab or a
// Grafana panel refreshed mid-query does.
func abandon(t testing.TB, r *run, query string, wait time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.http+"/", strings.NewReader(query))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// TestAbandonedQueriesEndWithTheirClients fills every query connection of
// the endpoint (--http-queries 4) with queries that would compute for the
// whole --http-timeout (60 s) and abandons them. Their client's departure
// cancels them on the engine, so an honest query gets a connection long
// before the timeout; meanwhile ingestion, on connections of its own, goes
// on. A result over --http-max-result-bytes ends with ClickHouse's error.
func TestAbandonedQueriesEndWithTheirClients(t *testing.T) {
	r := startRun(t, "--http-queries", "4", "--http-timeout", "60s", "--http-max-result-bytes", "5000000")
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			abandon(t, r, heavyQuery, 500*time.Millisecond)
		}()
	}
	wg.Wait()

	r.publishDigests(t, "during", 20)
	start := time.Now()
	require.Eventually(t, func() bool { return r.scalar(t, "SELECT count() FROM sofarpc_digest") == "20" }, 30*time.Second, 50*time.Millisecond,
		"an honest query gets a connection and sees the records published meanwhile, long before the abandoned queries' 60 s")
	t.Logf("honest query answered with the new records %v after four abandoned heavy queries", time.Since(start).Round(time.Millisecond))

	resp, err := http.Post("http://"+r.http+"/?"+url.Values{"query": {"SELECT randomString(100) FROM numbers(1000000)"}}.Encode(), "text/plain", nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.LessOrEqual(t, len(body), 5000000+64<<10, "the answer stops near the cap")
	require.Contains(t, string(body[max(0, len(body)-400):]), "Code: 396", "and ends with the limit's error")
}
