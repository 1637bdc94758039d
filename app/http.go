package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/tapline/tapline/chhttp"
)

// startHTTP serves the ClickHouse HTTP interface over the stack's embedded
// engine on cfg.Addr (for `tapline sql` and Grafana), on read-only engine
// connections of its own. This is the one place the endpoint's handler is
// built.
func (st *Stack) startHTTP(cfg chhttp.Config) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w (another process uses the port? pick another with --http, or --http \"\" to disable)", cfg.Addr, err)
	}
	h, err := chhttp.NewHandler(cfg, st.Target.Engine, st.Target.Engine.Database())
	if err != nil {
		_ = ln.Close()
		return err
	}
	st.httpAddr = ln.Addr().String()
	st.http = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
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
