package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/tapline/tapline/sink/clickhouse"
)

// openServer opens the ClickHouse server named by --clickhouse (native
// protocol, clickhouse-go/v2). `run` waits for a server that is down,
// logging each attempt; the other commands give up after three attempts.
// The DSN's database wins over --database. Neither the DSN's password nor
// anything derived from it is printed.
func openServer(ctx context.Context, s *settings) (*target, error) {
	cfg, err := clickhouse.ParseDSN(s.ClickHouse)
	if err != nil {
		return nil, usageError{err}
	}
	if cfg.Database == "" {
		cfg.Database = s.Database
	}
	cfg.Cluster = s.Cluster
	cfg.CreateDatabase = s.createDatabase
	cfg.ConnectAttempts = 3
	if s.waitForServer {
		cfg.ConnectAttempts = 0
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &target{Target: t, desc: t.Describe(), database: cfg.Database}, nil
}
