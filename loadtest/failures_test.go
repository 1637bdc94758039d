package loadtest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPublishFailuresCountsAndKeepsTheFirst: no failure is no error; after
// two, the error counts both, names the first's subject and reason, says
// what it means and what to do.
func TestPublishFailuresCountsAndKeepsTheFirst(t *testing.T) {
	var f publishFailures
	require.NoError(t, f.err("so X"))
	f.add("logs.a", errors.New("maximum messages exceeded"))
	f.add("logs.b", errors.New("timeout"))
	err := f.err("so no loss check can be exact")
	require.ErrorContains(t, err, "2 messages were refused by the stream or never acknowledged (first: logs.a: maximum messages exceeded)")
	require.ErrorContains(t, err, "may or may not be stored, so no loss check can be exact: check the broker, or publish with --sync-publish")
}
