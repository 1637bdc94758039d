package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/tapline/tapline/app"
)

func runSQL(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var format string
	fs := s.newFlags("sql", `sql [flags] "SELECT ..." (or the query on stdin)`, groupData|groupHTTPAuth, stderr)
	fs.StringVar(&format, "format", "PrettyCompactMonoBlock", "ClickHouse output format: PrettyCompactMonoBlock, TabSeparatedWithNames, CSVWithNames, JSONEachRow, Vertical, ...")
	if err := s.parse(fs, args, nil); err != nil {
		return err
	}
	query := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if query == "" || query == "-" {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		query = strings.TrimSpace(string(b))
	}
	if query == "" {
		return usagef("no query: pass it as an argument or on stdin")
	}
	// A running tapline holds the embedded engine: ask it over loopback.
	if s.ClickHouse == "" {
		if err := app.CheckDataDir(s.DataDir); err != nil {
			return usageError{err}
		}
		if ep := app.RunningEndpoint(ctx, s.DataDir); ep != nil {
			if ep.HTTP == "" {
				return fmt.Errorf("tapline (pid %d) holds %s but serves no HTTP endpoint (it runs with --http \"\"): query it through a ClickHouse server target, or restart it with --http", ep.PID, s.DataDir)
			}
			return queryHTTP(ctx, ep.HTTP, s.HTTPUser, s.HTTPPassword, query, format, stdout)
		}
	}
	t, err := openTarget(ctx, s.appConfig(stderr))
	if err != nil {
		return err
	}
	defer t.Close()
	out, err := t.Query(ctx, query, format, nil)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

// openTarget opens the configured ClickHouse; a bad DSN is a usage error.
func openTarget(ctx context.Context, c app.Config) (*app.Target, error) {
	t, err := app.OpenTarget(ctx, c)
	if errors.Is(err, app.ErrBadDSN) {
		return nil, usageError{err}
	}
	return t, err
}

// queryHTTP runs query on a running tapline's HTTP endpoint (read-only:
// reads of tapline's tables, SHOW, DESCRIBE, EXPLAIN), with the endpoint's
// credentials when given.
func queryHTTP(ctx context.Context, addr, user, password, query, format string, stdout io.Writer) error {
	u := "http://" + addr + "/?default_format=" + url.QueryEscape(format)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(query))
	if err != nil {
		return err
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("query the running tapline at %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		msg := strings.TrimSpace(string(b))
		if code := resp.Header.Get("X-ClickHouse-Exception-Code"); code == "194" || code == "516" {
			msg += " (the running tapline requires credentials: pass --http-user and --http-password, or TAPLINE_HTTP_PASSWORD)"
		}
		return fmt.Errorf("%s", msg)
	}
	_, err = io.Copy(stdout, resp.Body)
	return err
}
