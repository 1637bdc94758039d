package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/tapline/tapline/chhttp"
)

// startHTTP serves the ClickHouse HTTP interface over the stack's target
// on cfg.Addr (for `tapline sql` and Grafana). This is the one place the
// endpoint's handler is built.
func (st *Stack) startHTTP(cfg chhttp.Config) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w (another process uses the port? pick another with --http, or --http \"\" to disable)", cfg.Addr, err)
	}
	st.httpAddr = ln.Addr().String()
	st.http = &http.Server{Handler: chhttp.NewHandler(cfg, st.Target), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = st.http.Serve(ln) }()
	return nil
}

// stopHTTP shuts the endpoint down, waiting up to two seconds for requests
// in progress.
func (st *Stack) stopHTTP() {
	if st.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = st.http.Shutdown(ctx)
	cancel()
	st.http = nil
}
