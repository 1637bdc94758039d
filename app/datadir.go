package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tapline/tapline/sink/embedded"
)

// The data directories tapline's commands use unless told otherwise.
const (
	// DefaultDataDir is `tapline run`'s and the other commands' default.
	DefaultDataDir = "tapline-data"
	// DemoDataDir is `tapline demo`'s own directory, which it may wipe.
	DemoDataDir = "tapline-demo"
	// LoadtestDataDir is `tapline loadtest`'s own directory, which it may
	// wipe.
	LoadtestDataDir = "data/loadtest"
)

// ErrNotDataDir is wrapped by CheckDataDir for a directory tapline never
// wrote.
var ErrNotDataDir = errors.New("not a tapline data directory")

// wrote reports whether tapline wrote dir: it holds the embedded engine's
// clickhouse/, the embedded NATS store nats/, or an endpoint file.
func wrote(dir string) bool {
	for _, name := range []string{"clickhouse", "nats", EndpointFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// CheckDataDir refuses, for commands that only read, a data directory
// tapline never wrote (a typo would otherwise create a fresh directory and
// answer from an empty engine). The error names the directories tapline
// knows and whether each holds data.
func CheckDataDir(dir string) error {
	if wrote(dir) {
		return nil
	}
	why := "it does not exist"
	if fi, err := os.Stat(dir); err == nil {
		why = "it holds no clickhouse/, nats/ or endpoint.json"
		if !fi.IsDir() {
			why = "it is not a directory"
		}
	}
	var known []string
	for _, k := range []struct{ dir, who string }{{DefaultDataDir, "the default"}, {DemoDataDir, "the demo's"}, {LoadtestDataDir, "the loadtest's"}} {
		state := "none there yet"
		if wrote(k.dir) {
			state = "holds data"
		}
		known = append(known, fmt.Sprintf("%s (%s, %s)", k.dir, k.who, state))
	}
	return fmt.Errorf("--data-dir %s: %w: %s. tapline writes a data directory with `tapline run` or `tapline demo`; the ones it knows here: %s. Pass one of them, or the directory you ran tapline with", dir, ErrNotDataDir, why, strings.Join(known, ", "))
}

// FreshDir empties dir when who made it (marker file inside), creates it
// otherwise, and refuses to touch a non-empty directory who did not make
// (a *NotOursError). The marker is written again.
func FreshDir(dir, marker, who string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case os.IsNotExist(err):
	case err != nil:
		return err
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return &NotOursError{Dir: dir, Who: who}
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clear %s: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte("made by "+who+"; its next run empties this directory\n"), 0o644)
}

// NotOursError is FreshDir's refusal to wipe a non-empty directory that
// Who did not make.
type NotOursError struct{ Dir, Who string }

func (e *NotOursError) Error() string {
	return fmt.Sprintf("--data-dir %s is not empty and was not made by %s: pick another directory", e.Dir, e.Who)
}

// EnsureEngine fetches the embedded engine when c uses it and no library
// can be found (so that the demo works on a fresh machine with one
// command), reporting the download on progress, and returns c with the
// library's path.
func EnsureEngine(ctx context.Context, c Config, progress io.Writer) (Config, error) {
	if c.ClickHouse != "" {
		return c, nil
	}
	if _, err := c.EngineConfig().ResolveLibrary(); err == nil {
		return c, nil
	}
	lib, err := embedded.FetchLibrary(ctx, embedded.DefaultCacheRoot(), progress)
	if err != nil {
		return c, err
	}
	c.Library = lib
	return c, nil
}
