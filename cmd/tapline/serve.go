package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tapline/tapline/app"
)

// runServe serves the embedded engine's HTTP interface without ingesting.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	fs := s.newFlags("serve", "serve [flags]", groupData|groupHTTP|groupHTTPAuth|groupRetention, stderr)
	if err := s.parse(fs, args, nil); err != nil {
		return err
	}
	if s.ClickHouse != "" {
		return usagef("serve serves the embedded engine: drop --clickhouse (a ClickHouse server serves HTTP itself)")
	}
	if err := s.httpConfig().Validate(); err != nil {
		return usageError{err}
	}
	st, err := app.Serve(ctx, s.appConfig(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "tapline serve: %s\n", st.Describe())
	fmt.Fprintf(stdout, "query with: tapline sql --data-dir %s \"SELECT ...\"   (stop with Ctrl-C)\n", s.DataDir)
	<-ctx.Done()
	return nil
}
