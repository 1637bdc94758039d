package baseline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tapline/tapline/ingest"
)

// EngineConfig says where the engine baseline reads and writes.
type EngineConfig struct {
	// Broker is the connection the baseline reads the messages on.
	Broker *ingest.Broker
	// Durable is the consumer the baseline reads each stream with.
	Durable string
	// Into inserts into a database with tapline's schema on which Prepare
	// ran.
	Into Inserter
	// MaxRows and MaxBytes bound one insert, like tapline's batches
	// (pipeline.Config): an insert carries at most MaxRows lines and about
	// MaxBytes bytes. 0 means 100000 and 32 MiB, tapline's defaults.
	MaxRows, MaxBytes int
}

// Engine inserts every message of the streams (JSON-lines formats only)
// that cfg.Durable has not acknowledged, with FORMAT JSONEachRow, one
// format after the other, in inserts as large as tapline's batches. Reading
// the messages from NATS is not timed; each Read's Elapsed sums the time of
// its inserts, from the call until ClickHouse committed (the views
// included).
func Engine(ctx context.Context, cfg EngineConfig, streams []Stream) ([]Read, error) {
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = 100_000
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 32 << 20
	}
	var reads []Read
	for _, s := range streams {
		if !IsJSONFormat(s.Format) {
			return reads, fmt.Errorf("baseline: engine: %s is not a JSON-lines format (%v are)", s.Format, JSONFormats())
		}
		r, err := engineFormat(ctx, cfg, s)
		reads = append(reads, r)
		if err != nil {
			return reads, err
		}
	}
	return reads, nil
}

var newline = []byte{'\n'}

// chunk is one insert being gathered: the lines of one subject kind.
type chunk struct {
	stmt   string
	data   [][]byte
	msgs   []*ingest.Msg
	lines  int
	nbytes int
}

func engineFormat(ctx context.Context, cfg EngineConfig, s Stream) (Read, error) {
	r := Read{Format: s.Format}
	// A chunk holds its messages unacknowledged until it is inserted: allow
	// that many (a message may carry a single line).
	c, err := cfg.Broker.Consumer(ctx, ingest.ConsumerSpec{Stream: s.Stream, Durable: cfg.Durable, MaxAckPending: 4*cfg.MaxRows + 1000})
	if err != nil {
		return r, err
	}
	defer c.Stop()
	total, err := backlog(ctx, c)
	if err != nil {
		return r, err
	}
	chunks := map[string]*chunk{}
	insert := func(ch *chunk) error {
		if len(ch.data) == 0 {
			return nil
		}
		t0 := time.Now()
		if err := cfg.Into.InsertRaw(ctx, ch.stmt, "JSONEachRow", ch.data...); err != nil {
			return fmt.Errorf("baseline: engine: insert %d %s lines: %w", ch.lines, s.Format, err)
		}
		r.Elapsed += time.Since(t0)
		for _, m := range ch.msgs {
			if err := m.Ack(); err != nil {
				return fmt.Errorf("baseline: engine: ack %s #%d: %w", s.Stream, m.Seq, err)
			}
		}
		ch.data, ch.msgs, ch.lines, ch.nbytes = ch.data[:0], ch.msgs[:0], 0, 0
		return nil
	}
	for r.Messages < total {
		m, err := c.Next(ctx, 10*time.Second)
		if errors.Is(err, ingest.ErrNoMessage) {
			return r, fmt.Errorf("baseline: engine: %s: no message for 10s after %d of %d", s.Stream, r.Messages, total)
		}
		if err != nil {
			return r, err
		}
		r.Messages++
		data := m.Data()
		r.Bytes += uint64(len(data))
		_, stmt, ok := statement(m.Subject())
		if !ok {
			// Not a subject the generators or probes use: nothing to map.
			if err := m.Ack(); err != nil {
				return r, err
			}
			continue
		}
		ch := chunks[stmt]
		if ch == nil {
			ch = &chunk{stmt: stmt}
			chunks[stmt] = ch
		}
		n := bytes.Count(data, []byte{'\n'})
		if len(data) > 0 && data[len(data)-1] != '\n' {
			n++
		}
		if ch.lines > 0 && (ch.lines+n > cfg.MaxRows || ch.nbytes+len(data) > cfg.MaxBytes) {
			if err := insert(ch); err != nil {
				return r, err
			}
		}
		ch.data = append(ch.data, data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			ch.data = append(ch.data, newline) // keep the next message's first line apart
		}
		ch.msgs = append(ch.msgs, m)
		ch.lines += n
		ch.nbytes += len(data)
		r.Lines += uint64(n)
	}
	stmts := make([]string, 0, len(chunks))
	for st := range chunks {
		stmts = append(stmts, st)
	}
	sort.Strings(stmts)
	for _, st := range stmts {
		if err := insert(chunks[st]); err != nil {
			return r, err
		}
	}
	return r, nil
}
