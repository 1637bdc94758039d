package main

import (
	"context"
	"errors"
)

// openServer opens a ClickHouse server target (clickhouse-go/v2).
func openServer(ctx context.Context, s *settings) (*target, error) {
	_ = ctx
	return nil, errors.New("--clickhouse: the server target is not available in this build")
}
