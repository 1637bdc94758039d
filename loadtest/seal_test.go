package loadtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
)

// TestReportListsSealsInThePipelinesOrder: the report's order of the
// reasons a batch closed is pipeline.Seals', and names every one of them.
func TestReportListsSealsInThePipelinesOrder(t *testing.T) {
	t.Parallel()
	var names []string
	for _, why := range pipeline.Seals {
		names = append(names, string(why))
	}
	require.Equal(t, names, report.SealOrder)
}
