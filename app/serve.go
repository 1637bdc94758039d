package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Serve opens the embedded engine in cfg.DataDir with its schema applied
// and serves its ClickHouse HTTP interface on cfg.HTTP, without NATS and
// without consuming anything: Grafana on a demo's data after the demo
// ended, or (cfg.HTTP.Writable) a modern ClickHouse that other tapline
// processes write into through clickhouse-go's HTTP protocol. It announces
// itself in the endpoint file, so `tapline sql --data-dir` reaches it.
// Close the returned stack to stop.
func Serve(ctx context.Context, cfg Config) (_ *Stack, err error) {
	var errs []error
	if cfg.ClickHouse != "" {
		errs = append(errs, errors.New("serve serves the embedded engine: drop --clickhouse (a ClickHouse server serves HTTP itself)"))
	}
	if cfg.HTTP.Addr == "" {
		errs = append(errs, errors.New("serve needs --http: the address to serve on"))
	} else if err := cfg.HTTP.Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Database == "" {
		errs = append(errs, errors.New("--database must not be empty"))
	}
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	st := &Stack{cfg: cfg, started: time.Now()}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	if st.Target, err = OpenTarget(ctx, cfg); err != nil {
		return nil, err
	}
	if err := ApplySchema(ctx, st.Target, "", cfg.log()); err != nil {
		return nil, err
	}
	if cfg.Retention != nil {
		if err := ApplyRetention(ctx, st.Target, "", *cfg.Retention, cfg.log()); err != nil {
			return nil, err
		}
	}
	if err := st.startHTTP(cfg.HTTP); err != nil {
		return nil, err
	}
	if err := WriteEndpoint(cfg.DataDir, Endpoint{PID: os.Getpid(), HTTP: st.httpAddr, Started: st.started}); err != nil {
		return nil, err
	}
	return st, nil
}
