// Package embeddedtest gives tests the real embedded ClickHouse engine. The
// engine is a process-wide resource (one per process), so a test binary
// shares one engine, opened on first use in a temporary directory, and each
// test gets its own database on it.
//
// A package whose tests use it calls Main from TestMain, so that the engine
// is closed and its directory removed when the tests end:
//
//	func TestMain(m *testing.M) { embeddedtest.Main(m) }
//
// When the engine library is missing, tests fail (never skip) with the
// command that fetches it.
package embeddedtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/tapline/tapline/schema"
	"github.com/tapline/tapline/sink"
	"github.com/tapline/tapline/sink/embedded"
)

var shared struct {
	once sync.Once
	e    *embedded.Engine
	dir  string
	err  error
	n    atomic.Int64
}

// Main runs the tests, then closes the shared engine and removes its
// directory, and exits with the tests' status.
func Main(m *testing.M) {
	code := m.Run()
	if shared.e != nil {
		_ = shared.e.Close()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// Engine returns the test binary's shared engine, opening it on first use.
func Engine(t testing.TB) *embedded.Engine {
	t.Helper()
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "tapline-engine-")
		if shared.err != nil {
			return
		}
		shared.e, shared.err = embedded.Open(context.Background(), embedded.Config{DataDir: shared.dir, Database: "tapline_test"})
	})
	if shared.err != nil {
		t.Fatalf("embedded ClickHouse engine: %v\n(fetch it with `make engine`; tests never skip without it)", shared.err)
	}
	return shared.e
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_]`)

// Target returns a sink target on a new, empty database named after the
// test, with conns connections (0 means 2).
func Target(t testing.TB, conns int) *embedded.Target {
	t.Helper()
	if conns == 0 {
		conns = 2
	}
	e := Engine(t)
	name := strings.ToLower(unsafeChars.ReplaceAllString(t.Name(), "_"))
	if len(name) > 40 {
		name = name[:40]
	}
	db := fmt.Sprintf("t%d_%s", shared.n.Add(1), name)
	p, err := e.NewPool(db, conns)
	if err != nil {
		t.Fatalf("embedded engine pool: %v", err)
	}
	return embedded.NewTarget(p)
}

// Insert inserts rec into table under token as the pipeline does: an error
// the engine marks temporary (sink.IsRetryable: QUERY_WAS_CANCELLED or
// TOO_MANY_PARTS under load, ...) is retried with the same token, so the
// rows land once; any other error fails the test.
func Insert(t testing.TB, target sink.Target, table *schema.Table, rec arrow.Record, token string) {
	t.Helper()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = target.Insert(context.Background(), table, rec, token); err == nil || !sink.IsRetryable(err) {
			break
		}
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("insert into %s (token %s): %v", table.Name(), token, err)
	}
}
