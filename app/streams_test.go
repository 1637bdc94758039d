package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest"
)

// TestStreamDupeWindowIsChecked: the duplicate window must not be negative
// nor longer than the streams' max age (NATS refuses that stream), with 0
// standing for each default.
func TestStreamDupeWindowIsChecked(t *testing.T) {
	for _, c := range []struct {
		limits StreamLimits
		err    string
	}{
		{StreamLimits{}, ""},
		{StreamLimits{Duplicates: 20 * time.Second}, ""},
		{StreamLimits{Duplicates: time.Hour, MaxAge: time.Hour}, ""},
		{StreamLimits{Duplicates: -time.Second}, "must not be negative"},
		{StreamLimits{Duplicates: 2 * time.Hour, MaxAge: time.Hour}, "longer than the streams' max age 1h0m0s"},
		{StreamLimits{Duplicates: ingest.DefaultStreamMaxAge + time.Second}, "longer than the streams' max age 168h0m0s"},
	} {
		err := c.limits.validateDuplicates()
		if c.err == "" {
			require.NoError(t, err, "%+v", c.limits)
			continue
		}
		require.ErrorContains(t, err, c.err, "%+v", c.limits)
		require.ErrorContains(t, err, "--stream-dupe-window")
	}
}
