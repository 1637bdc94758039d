package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestObservePhasesCallsEachObserverInTurn: nil observers are skipped,
// the others called in the order given, and none set gives nil (the
// pipeline then times nothing).
func TestObservePhasesCallsEachObserverInTurn(t *testing.T) {
	t.Parallel()
	require.Nil(t, ObservePhases(nil, nil))
	var calls []string
	obs := func(name string) func(string, Phase, time.Duration) {
		return func(source string, ph Phase, d time.Duration) {
			calls = append(calls, name+" "+source+" "+string(ph)+" "+d.String())
		}
	}
	ObservePhases(nil, obs("a"), nil, obs("b"))("sofarpc", PhaseClaim, time.Millisecond)
	require.Equal(t, []string{"a sofarpc claim 1ms", "b sofarpc claim 1ms"}, calls)
}
