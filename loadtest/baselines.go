package loadtest

import (
	"context"
	"fmt"
	"time"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/loadtest/baseline"
	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
)

// baselines runs the broker baseline on every format's messages, then the
// engine's JSON ingestion and tapline's drain on the JSON-lines formats'
// messages, and puts rates and ratios into rep.
func (r *run) baselines(ctx context.Context, rep *report.Report) error {
	var streams, jsonStreams []baseline.Stream
	for _, f := range r.formats {
		s := baseline.Stream{Format: f, Stream: ingest.DefaultSource(f).Stream}
		streams = append(streams, s)
		if baseline.IsJSONFormat(f) {
			jsonStreams = append(jsonStreams, s)
		}
	}
	bl := &rep.Baselines
	r.settle(ctx, r.env.Target, "the broker baseline")
	r.progress("baseline: the broker alone (consume and acknowledge %d streams)...", len(streams))
	reads, elapsed, err := baseline.Broker(ctx, r.env.Dial, BrokerDurable, streams)
	if err != nil {
		return err
	}
	b := &report.BrokerBaseline{Durable: BrokerDurable, Seconds: elapsed.Seconds()}
	for _, rd := range reads {
		if rd.Redelivered > 0 {
			r.notes = append(r.notes, fmt.Sprintf("Broker baseline, %s: %d messages came twice (a delivery was lost, typically a connection the server dropped as too slow) and their wait for the ack wait (%v) is in its time: the broker rate is understated.", rd.Format, rd.Redelivered, baseline.BrokerAckWait))
		}
		// The broker baseline does not look inside messages: the records are
		// what the live phase published per message of the format.
		var recs uint64
		if t := r.pub.Formats[rd.Format]; t != nil && t.Messages > 0 {
			recs = uint64(float64(t.Records) * float64(rd.Messages) / float64(t.Messages))
		}
		b.Messages += rd.Messages
		b.Bytes += rd.Bytes
		b.Records += recs
		b.Formats = append(b.Formats, report.FormatRate{Format: rd.Format, Messages: rd.Messages, Records: recs, Bytes: rd.Bytes, Seconds: rd.Elapsed.Seconds(), PerSec: per(float64(recs), rd.Elapsed.Seconds())})
	}
	b.RecordsPerSec = per(float64(b.Records), b.Seconds)
	b.MessagesPerSec = per(float64(b.Messages), b.Seconds)
	bl.Broker = b
	bl.BrokerRatio = per(rep.Live.RecordsPerSec, b.RecordsPerSec)
	if b.Messages != rep.Live.Messages {
		r.notes = append(r.notes, fmt.Sprintf("The broker baseline read %d messages, the live phase published %d: the streams held messages its consumer (%s) had not read before.", b.Messages, rep.Live.Messages, BrokerDurable))
	}

	switch {
	case len(jsonStreams) == 0:
		bl.Skipped = append(bl.Skipped, "the engine's JSON ingestion: no JSON-lines format (sofarpc, g3proxy, django) in the mix")
		return nil
	case r.env.OpenDatabase == nil:
		bl.Skipped = append(bl.Skipped, "the engine's JSON ingestion: "+r.env.NoEngine)
		return nil
	}
	edb, ins, err := r.env.OpenDatabase(ctx, EngineDatabase)
	if err != nil {
		return err
	}
	if err := baseline.Prepare(ctx, edb); err != nil {
		return err
	}
	r.settle(ctx, r.env.Target, "the engine baseline")
	r.progress("baseline: the engine's own JSON ingestion (FORMAT JSONEachRow) of %d formats...", len(jsonStreams))
	conn, err := r.env.Dial(ctx)
	if err != nil {
		return err
	}
	ereads, err := baseline.Engine(ctx, baseline.EngineConfig{Broker: conn, Durable: EngineDurable, Into: ins, MaxRows: r.cfg.Pipeline.MaxRows, MaxBytes: r.cfg.Pipeline.MaxBytes}, jsonStreams)
	conn.Close()
	if err != nil {
		return err
	}
	var rowKeys []string
	for _, s := range jsonStreams {
		for _, t := range r.env.Tables[s.Format] {
			rowKeys = append(rowKeys, rowsOf(t))
		}
	}
	erows, err := count(ctx, edb, rowKeys)
	if err != nil {
		return err
	}
	e := &report.EngineBaseline{Database: EngineDatabase}
	var eTime time.Duration
	for _, rd := range ereads {
		fr := report.FormatRate{Format: rd.Format, Messages: rd.Messages, Records: rd.Lines, Bytes: rd.Bytes, Seconds: rd.Elapsed.Seconds(), PerSec: per(float64(rd.Lines), rd.Elapsed.Seconds())}
		for _, t := range r.env.Tables[rd.Format] {
			fr.Rows += erows[rowsOf(t)]
		}
		e.Formats = append(e.Formats, fr)
		e.Lines += rd.Lines
		eTime += rd.Elapsed
	}
	e.Seconds = eTime.Seconds()
	e.PerSec = per(float64(e.Lines), e.Seconds)
	bl.Engine = e

	ddb, _, err := r.env.OpenDatabase(ctx, DrainDatabase)
	if err != nil {
		return err
	}
	r.settle(ctx, r.env.Target, "the drain")
	r.progress("baseline: tapline draining the same JSON lines from the stream, one format at a time...")
	if conn, err = r.env.Dial(ctx); err != nil {
		return err
	}
	drained, err := baseline.Drain(ctx, baseline.DrainConfig{Broker: conn, Durable: DrainDurable, Target: ddb, DLQ: r.env.DLQ, Pipeline: r.cfg.Pipeline, NewDecoder: r.env.NewDecoder}, jsonStreams)
	conn.Close()
	if err != nil {
		return err
	}
	d := &report.DrainBaseline{Database: DrainDatabase}
	var dTime time.Duration
	for _, x := range drained {
		rt := report.ReaderTime{BuildingSec: x.Reader.Building.Seconds(), WaitingSec: x.Reader.Waiting.Seconds(), BlockedSec: x.Reader.Blocked.Seconds()}
		d.Formats = append(d.Formats, report.FormatRate{Format: x.Format, Records: x.Records + x.Rejected, Seconds: x.Elapsed.Seconds(), PerSec: per(float64(x.Counted), x.Elapsed.Seconds()), Batches: x.Batches, Tail: x.Tail, Sealed: sealedByName(x.Sealed), Reader: &rt})
		d.Reader = d.Reader.Add(rt)
		d.Records += x.Counted
		dTime += x.Elapsed
	}
	d.Seconds = dTime.Seconds()
	d.PerSec = per(float64(d.Records), d.Seconds)
	bl.Drain = d
	bl.EngineRatio = per(d.PerSec, e.PerSec)
	var brecs uint64
	var bsec float64
	for _, f := range b.Formats {
		if baseline.IsJSONFormat(f.Format) {
			brecs += f.Records
			bsec = max(bsec, f.Seconds)
		}
	}
	bl.DrainBroker = per(float64(brecs), bsec)
	bl.DrainRatio = per(d.PerSec, bl.DrainBroker)
	r.notes = append(r.notes,
		"Engine baseline: the JSON lines of the live phase, read back from the streams (not timed) and inserted with FORMAT JSONEachRow in inserts as large as tapline's batches into a Null table per kind of line whose columns are the raw keys; a materialized view maps them into the same tables (database "+EngineDatabase+", tapline's schema and views); only the inserts are timed. The drain is tapline's pipeline on the same lines from the stream (database "+DrainDatabase+"), NATS included, timed to the commit of its last batch (of the one before it when the last one closed by its age, the stream having run dry in it). The ratio compares the two, one format at a time.",
		"The drain dead-letters the malformed lines again; the dead-letter stream drops the copies within its 2-minute duplicate window of the originals and keeps the later ones (tapline dlq list shows them twice).")
	return nil
}

// progress prints a phase's name on the progress writer.
func (r *run) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
	}
}

// sealedByName turns a pipeline's Stats.Sealed into the report's form
// (reasons by name); nil when no batch was closed.
func sealedByName(sealed map[pipeline.Seal]uint64) map[string]uint64 {
	if len(sealed) == 0 {
		return nil
	}
	out := make(map[string]uint64, len(sealed))
	for why, n := range sealed {
		out[string(why)] = n
	}
	return out
}
