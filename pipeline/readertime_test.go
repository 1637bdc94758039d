package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/sink"
)

// slowDecoder decodes as its decoder does, after a pause per message.
type slowDecoder struct {
	decode.Decoder
	delay time.Duration
}

func (s slowDecoder) Decode(payload []byte, meta decode.Meta, out *decode.Output) {
	time.Sleep(s.delay)
	s.Decoder.Decode(payload, meta, out)
}

// TestReaderTimeShowsWhatBoundsTheSource drains the same backlog of 100
// messages twice into the engine, once with every insert 100 ms slower and
// once with every message's decoding 20 ms slower: the reader's time
// (Stats.ReadBuilding, ReadWaiting, ReadBlocked) must say which side bounded
// each run, by at least 1.5 s. Either way the reader waited for messages
// once the backlog was read, and the three parts add up to no more than the
// run's time.
func TestReaderTimeShowsWhatBoundsTheSource(t *testing.T) {
	for _, tc := range []struct {
		name          string
		insert, parse time.Duration
	}{{"slow inserts", 100 * time.Millisecond, 0}, {"slow decoding", 0, 20 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			recs := f.publish(4_000, 40, 0)
			valid, _ := countValid(recs, false)
			cons, dec := f.sofarpcSource(0)
			var target sink.Target = f.target
			if tc.insert > 0 {
				target = slowTarget{f.target, tc.insert}
			}
			if tc.parse > 0 {
				dec = slowDecoder{dec, tc.parse}
			}
			p, err := New(Config{MaxRows: 400, MaxAge: 100 * time.Millisecond, Inserters: 1}, target, f.journal, f.dlq, []Source{{Name: "sofarpc", Decoder: dec, Consumer: cons}})
			require.NoError(t, err)
			began := time.Now()
			require.NoError(t, f.runUntil(p, func() bool { return p.Stats()[0].RecordsCommitted >= uint64(valid) }))
			took := time.Since(began)
			s := p.Stats()[0]
			t.Logf("%s in %v", tc.name, took)
			t.Logf("building %v, waiting %v, blocked %v", s.ReadBuilding, s.ReadWaiting, s.ReadBlocked)
			require.Positive(t, s.ReadBuilding, "the reader decoded 100 messages")
			require.Positive(t, s.ReadWaiting, "the reader waited for messages at least once the backlog was read")
			require.LessOrEqual(t, s.ReadBuilding+s.ReadWaiting+s.ReadBlocked, took, "the parts of the reader's time fit in the run")
			if tc.insert > 0 {
				require.Greater(t, s.ReadBlocked, 1500*time.Millisecond, "about ten batches behind 100-ms inserts: the reader waits for the writer")
				require.Greater(t, s.ReadBlocked, s.ReadBuilding+s.ReadWaiting, "slow inserts bound the source")
			} else {
				require.Greater(t, s.ReadBuilding, 1500*time.Millisecond, "100 messages at 20 ms each: the reader decodes")
				require.Greater(t, s.ReadBuilding, s.ReadBlocked+s.ReadWaiting, "slow decoding bounds the source")
			}
		})
	}
}
