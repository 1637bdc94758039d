package publish

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/loadtest/probe"
)

// fakeSender records what it is asked to publish; failEvery makes every
// n-th call fail (before storing anything).
type fakeSender struct {
	mu        sync.Mutex
	calls     int
	failEvery int
	msgs      []sent
}

type sent struct {
	subject string
	data    []byte
	id      string
}

func (s *fakeSender) Publish(_ context.Context, subject string, data []byte, msgID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failEvery > 0 && s.calls%s.failEvery == 0 {
		return errors.New("injected failure")
	}
	s.msgs = append(s.msgs, sent{subject, bytes.Clone(data), msgID})
	return nil
}

func allFormats() map[string]float64 {
	return map[string]float64{"sofarpc": 4, "g3proxy": 2, "django": 2, "webdebug": 1, "envoytap": 1}
}

func TestCountModePublishesExactlyAndKeepsTheTruth(t *testing.T) {
	t.Parallel()
	senders := []*fakeSender{{}, {}, {}}
	cfg := Config{Formats: allFormats(), Seed: 3, Malformed: 0.05, Count: 3001, PerMessage: 10, RunID: "r1"}
	for _, s := range senders {
		cfg.Senders = append(cfg.Senders, s)
	}
	var live Counters
	res, err := Run(context.Background(), cfg, &live)
	require.NoError(t, err)
	total := res.Total()
	require.EqualValues(t, 3001, total.Records)
	require.Equal(t, total.Records, total.Valid+total.Malformed)
	require.Positive(t, total.Malformed)
	require.EqualValues(t, 3001, live.Records.Load())
	require.Equal(t, total.Messages, live.Messages.Load())

	ids := map[string]bool{}
	var lines, msgs uint64
	perSubject := map[string]uint64{}
	for _, s := range senders {
		for _, m := range s.msgs {
			require.False(t, ids[m.id], "message id %s used twice", m.id)
			ids[m.id] = true
			require.True(t, strings.HasPrefix(m.id, "r1-"), m.id)
			msgs++
			format := strings.Split(m.subject, ".")[1]
			if lineFormat(format) {
				n := bytes.Count(m.data, []byte("\n"))
				require.LessOrEqual(t, n, 10, "at most PerMessage lines per message")
				require.True(t, bytes.HasSuffix(m.data, []byte("\n")))
				lines += uint64(n)
				perSubject[m.subject] += uint64(n)
			} else {
				lines++
				perSubject[m.subject]++
			}
		}
	}
	require.Equal(t, total.Records, lines, "every record was sent once")
	require.Equal(t, total.Messages, msgs)
	// Weights 4:2:2:1:1 over 3001 records.
	require.InDelta(t, 1200, res.Formats["sofarpc"].Records, 3)
	require.InDelta(t, 300, res.Formats["webdebug"].Records, 3)
	for subj, n := range perSubject {
		format := strings.Split(subj, ".")[1]
		require.LessOrEqual(t, res.Formats[format].Subjects[subj], n, "valid records on %s never exceed records sent", subj)
	}
	require.Positive(t, res.GenTime)
}

// TestPublisherZeroReproducesTheGenerator: one publisher, one line format:
// the lines it sends are exactly the generator's records for the seed.
func TestPublisherZeroReproducesTheGenerator(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s := &fakeSender{}
	_, err := Run(context.Background(), Config{Formats: map[string]float64{"g3proxy": 1}, Seed: 9, Start: start, Count: 250, PerMessage: 7, RunID: "r", Senders: []Sender{s}}, nil)
	require.NoError(t, err)
	g, err := gen.New("g3proxy", gen.Options{Seed: 9, Start: start})
	require.NoError(t, err)
	var want bytes.Buffer
	var r gen.Record
	for i := 0; i < 250; i++ {
		g.Next(&r)
		want.Write(r.Data)
		want.WriteByte('\n')
	}
	var got bytes.Buffer
	for _, m := range s.msgs {
		got.Write(m.data)
	}
	require.Equal(t, want.String(), got.String())
}

func TestMessagesStayUnderTheByteBound(t *testing.T) {
	t.Parallel()
	s := &fakeSender{}
	res, err := Run(context.Background(), Config{Formats: map[string]float64{"sofarpc": 1, "webdebug": 1}, Count: 2000, PerMessage: 100, MaxMessageBytes: 4096, RunID: "r", Senders: []Sender{s}}, nil)
	require.NoError(t, err)
	lines := 0
	for _, m := range s.msgs {
		if strings.HasPrefix(m.subject, "logs.sofarpc.") {
			require.LessOrEqual(t, len(m.data), 4096, "a line message stays under the bound")
			lines += bytes.Count(m.data, []byte("\n"))
		}
	}
	require.EqualValues(t, res.Formats["sofarpc"].Records, lines)
	require.Greater(t, res.Formats["sofarpc"].Messages, uint64(1000/100), "the byte bound, not the record count, closed the messages")
}

func TestFailedPublishesAreRetriedWithTheSameID(t *testing.T) {
	t.Parallel()
	s := &fakeSender{failEvery: 3}
	res, err := Run(context.Background(), Config{Formats: map[string]float64{"webdebug": 1}, Count: 40, RunID: "r", Senders: []Sender{s}}, nil)
	require.NoError(t, err)
	require.EqualValues(t, 40, res.Total().Records)
	require.Len(t, s.msgs, 40)
	require.Positive(t, res.Retries)
	require.Equal(t, 40+int(res.Retries), s.calls)

	always := &fakeSender{failEvery: 1}
	_, err = Run(context.Background(), Config{Formats: map[string]float64{"webdebug": 1}, Count: 5, RunID: "r", Attempts: 2, Senders: []Sender{always}}, nil)
	require.ErrorContains(t, err, "failed 2 times")
}

func TestRateIsNeverExceeded(t *testing.T) {
	t.Parallel()
	s1, s2 := &fakeSender{}, &fakeSender{}
	began := time.Now()
	res, err := Run(context.Background(), Config{Formats: map[string]float64{"sofarpc": 1}, Rate: 2000, Duration: 600 * time.Millisecond, PerMessage: 5, RunID: "r", Senders: []Sender{s1, s2}}, nil)
	require.NoError(t, err)
	elapsed := time.Since(began)
	n := res.Total().Records
	require.LessOrEqual(t, float64(n), 2000*elapsed.Seconds()+2, "records %d in %v", n, elapsed)
	require.Greater(t, n, uint64(200), "a loaded machine still publishes a good part of the target")
}

func TestInFlightBoundHoldsPublishers(t *testing.T) {
	t.Parallel()
	var done atomic.Uint64
	s := &fakeSender{}
	res, err := Run(context.Background(), Config{Formats: map[string]float64{"django": 1}, Duration: 300 * time.Millisecond, PerMessage: 10, MaxInFlight: 200, Done: func(string) uint64 { return done.Load() }, RunID: "r", Senders: []Sender{s}}, nil)
	require.NoError(t, err)
	n := res.Total().Records
	require.GreaterOrEqual(t, n, uint64(200))
	require.LessOrEqual(t, n, uint64(200+10), "one partly filled message beyond the bound at most")
	require.Greater(t, res.Held, 100*time.Millisecond)
}

// TestInFlightBoundIsSharedByTheMix: a format whose consumer is stuck
// holds only its share of the bound; the others go on while the
// publisher's turn has not come to the stuck one.
func TestInFlightBoundIsSharedByTheMix(t *testing.T) {
	t.Parallel()
	var live Counters
	done := func(f string) uint64 {
		if f == "webdebug" {
			return 0 // stuck
		}
		return live.Format(f) // everything else is done at once
	}
	res, err := Run(context.Background(), Config{Formats: map[string]float64{"sofarpc": 3, "webdebug": 1}, Duration: 300 * time.Millisecond, PerMessage: 10, MaxInFlight: 400, Done: done, RunID: "r", Senders: []Sender{&fakeSender{}}}, &live)
	require.NoError(t, err)
	require.EqualValues(t, 100, res.Formats["webdebug"].Records, "webdebug stops at its share, 400 × 1/4")
	require.InDelta(t, 300, res.Formats["sofarpc"].Records, 10, "and the round robin waits for it: sofarpc stays at 3 per webdebug record")
	require.Equal(t, res.Formats["webdebug"].Records, live.Format("webdebug"))
}

func TestProbesArePublishedEveryInterval(t *testing.T) {
	t.Parallel()
	m, err := probe.New("p1")
	require.NoError(t, err)
	load, probes := &fakeSender{}, &fakeSender{}
	res, err := Run(context.Background(), Config{
		Formats: map[string]float64{"sofarpc": 1}, Rate: 100, Duration: 350 * time.Millisecond, RunID: "r", Senders: []Sender{load},
		Probes: &Probes{Maker: m, Formats: []string{"sofarpc", "envoytap"}, Interval: 100 * time.Millisecond, Sender: probes},
	}, nil)
	require.NoError(t, err)
	per := map[string]int{}
	for _, p := range res.Probes {
		require.False(t, p.Acked.Before(p.Published))
		per[p.Format]++
	}
	require.Len(t, probes.msgs, len(res.Probes))
	for _, f := range []string{"sofarpc", "envoytap"} {
		require.GreaterOrEqual(t, per[f], 3, "%s: one probe at the start and one per interval", f)
		require.EqualValues(t, per[f], res.Formats[f].Probes, f)
	}
	require.EqualValues(t, per["envoytap"], res.Formats["envoytap"].Valid, "envoytap got only probes")
	require.GreaterOrEqual(t, res.Formats["sofarpc"].Subjects["logs.sofarpc.server.stat"], res.Formats["sofarpc"].Probes, "probes count as valid records of their subject")
	require.Contains(t, probes.msgs[0].id, "r-probe-")
}

// TestCountModeEndsTheProbesToo: with a count and no duration, the run ends
// when the publishers have published their records, probes included.
func TestCountModeEndsTheProbesToo(t *testing.T) {
	t.Parallel()
	m, err := probe.New("c1")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), Config{Formats: map[string]float64{"django": 1}, Count: 500, RunID: "r", Senders: []Sender{&fakeSender{}},
			Probes: &Probes{Maker: m, Formats: []string{"django"}, Interval: 10 * time.Millisecond, Sender: &fakeSender{}}}, nil)
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end after its count")
	}
}

func TestValidateReportsEverythingAtOnce(t *testing.T) {
	t.Parallel()
	err := Config{Formats: map[string]float64{"nope": 0}, Malformed: 1, Rate: -1, MaxInFlight: 5}.Validate()
	require.Error(t, err)
	for _, want := range []string{`no generator for format "nope"`, "weight of nope", "malformed share", "rate -1", "duration or a count", "no sender", "needs a Done", "empty run id"} {
		require.ErrorContains(t, err, want)
	}
}
