package pipeline

import "time"

// Phase names one step of committing a sealed batch; Config.ObservePhase
// receives each step's duration. A record's freshness (publish to
// queryable) is its wait in the batch (up to Config.MaxAge) plus
// PhaseQueued, PhaseClaim and PhaseInsert; PhaseHealth and PhaseJournal
// come after its rows are queryable and delay only the acknowledgements.
type Phase string

const (
	// PhaseQueued is from sealing the batch until a writer takes it up
	// (all writers of the source busy with earlier batches).
	PhaseQueued Phase = "queued"
	// PhaseClaim is journaling the batch and clearing it for insertion:
	// the journal write, the journal watch catching up with it, the
	// consumer's ack floor and the clearing write.
	PhaseClaim Phase = "claim"
	// PhaseInsert is inserting the batch's tables, retries included; its
	// rows are queryable at its end.
	PhaseInsert Phase = "insert"
	// PhaseHealth is inserting the batch's pipeline_batches row.
	PhaseHealth Phase = "health"
	// PhaseJournal is marking the batch's journal record committed and
	// acknowledging its messages.
	PhaseJournal Phase = "journal"
)

// Phases lists every Phase in the order a batch passes them.
var Phases = []Phase{PhaseQueued, PhaseClaim, PhaseInsert, PhaseHealth, PhaseJournal}

// ObservePhases returns a Config.ObservePhase that calls each non-nil
// observer in turn, or nil when all are nil.
func ObservePhases(observers ...func(source string, phase Phase, d time.Duration)) func(source string, phase Phase, d time.Duration) {
	var set []func(string, Phase, time.Duration)
	for _, o := range observers {
		if o != nil {
			set = append(set, o)
		}
	}
	switch len(set) {
	case 0:
		return nil
	case 1:
		return set[0]
	}
	return func(source string, phase Phase, d time.Duration) {
		for _, o := range set {
			o(source, phase, d)
		}
	}
}
