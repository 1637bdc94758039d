package follow

import (
	"bytes"
	"context"
	"time"

	"github.com/tapline/tapline/ingest/decode"
)

// cutRecords is cutLines for a file whose subject's format frames its
// records with decode.NextRecord (Config.RecordSubjects): a JSON record may span
// lines (a SOFATracer value with a raw newline, a pretty-printed object),
// so a message ends only where a record ends, found by the decoder's own
// rule (decode.NextRecordSoFar over the whole lines read). Decoding each
// message then finds the records decoding the whole file would find.
//
// A record whose end is not written yet is held (pendStart, pendEnd) until
// it ends; ageCut publishes it as far as it is written after RecordWait.
// The bounds: a message ends before a record that would take it past
// MaxBytes or MaxLines (a bigger record goes alone); a line longer than
// MaxLineBytes is skipped and counted, as in cutLines; a record over
// several lines longer than MaxLineBytes (under NATS's payload limit and
// decode.MaxRecordBytes, past which the decoder gives it up) is published
// in pieces cut at line ends, each piece at most MaxLineBytes, and counted.
// Cuts that do not follow from the records and the batch bounds alone are
// recorded (cutAt), so that a run after a crash cuts the same ranges.
func (fl *Follower) cutRecords(ctx context.Context, f *file) error {
	for {
		if f.skipping {
			i := bytes.IndexByte(f.buf[f.scanned:], '\n')
			if i < 0 {
				f.drop(len(f.buf))
				return nil
			}
			f.drop(i + 1)
			f.skipping = false
			continue
		}
		whole := bytes.LastIndexByte(f.buf, '\n') + 1 // bytes of whole lines
		var r decode.Record
		ok := false
		if whole > f.scanned {
			r, ok = decode.NextRecordSoFar(f.buf[:whole], f.scanned)
		}
		open := ok && r.Cut == decode.CutAtEnd
		if c := f.nextCut(); c >= 0 && c <= f.readOff {
			// A recorded cut inside the bytes in hand, before the next
			// record's end: cut there, as the run that recorded it did.
			if at := int(c - f.pubOff); !ok || open || r.Next > at {
				f.take(at)
				if err := fl.publish(ctx, f); err != nil {
					return err
				}
				continue
			}
		}
		if !ok {
			// Blank lines, or a partial line.
			f.pendEnd = 0
			if len(f.buf)-whole > fl.cfg.MaxLineBytes {
				at := f.pubOff + int64(whole)
				if err := fl.publish(ctx, f); err != nil {
					return err
				}
				fl.tooLong(f, at)
				f.drop(len(f.buf))
				f.skipping = true
			}
			return nil
		}
		end := r.Next // the record's end, or for an open one its lines so far
		if open {
			end = whole
		}
		if end-f.scanned > fl.cfg.MaxLineBytes || (open && len(f.buf)-whole > fl.cfg.MaxLineBytes) {
			if err := fl.oversize(ctx, f, r, end); err != nil {
				return err
			}
			continue
		}
		if open {
			if f.pendEnd == 0 || f.pendStart != f.pubOff+int64(f.scanned) {
				f.pendStart, f.pendSince = f.pubOff+int64(f.scanned), time.Now()
			}
			f.pendEnd = f.pubOff + int64(whole)
			return nil
		}
		f.pendEnd = 0
		n := end - f.scanned
		lines := r.Lines
		if r.Start > f.scanned {
			lines += bytes.Count(f.buf[f.scanned:r.Start], []byte{'\n'}) // blank lines before it
		}
		if f.scanned > 0 && (f.scanned+n > fl.cfg.MaxBytes || f.lines+lines > fl.cfg.MaxLines) {
			if err := fl.publish(ctx, f); err != nil {
				return err
			}
		}
		if f.lines == 0 {
			f.first = time.Now()
		}
		f.scanned += n
		f.lines += lines
		if f.nextCut() == f.pubOff+int64(f.scanned) {
			if err := fl.publish(ctx, f); err != nil {
				return err
			}
		}
	}
}

// oversize handles the record r at f.scanned that is longer than
// MaxLineBytes (up to end), or whose lines so far are followed by a partial
// line longer than that: it cuts the message in hand before it; then a
// first line too long is skipped as in cutLines, and otherwise the
// record's lines up to the bound are published as a message of their own,
// the rest framed again from there.
func (fl *Follower) oversize(ctx context.Context, f *file, r decode.Record, end int) error {
	if f.scanned > 0 {
		return fl.cutAt(ctx, f, f.scanned)
	}
	f.pendEnd = 0
	first := r.Start + bytes.IndexByte(f.buf[r.Start:], '\n') + 1
	if first > fl.cfg.MaxLineBytes {
		fl.tooLong(f, f.pubOff+int64(r.Start))
		f.drop(first)
		return nil
	}
	fl.stats.split.Add(1)
	fl.logf("follow: %s: the record at byte %d spans more than %d bytes (--max-line-bytes): published in pieces cut at line ends, which its decoder rejects", f.path, f.pubOff+int64(r.Start), fl.cfg.MaxLineBytes)
	return fl.cutAt(ctx, f, bytes.LastIndexByte(f.buf[:min(end, fl.cfg.MaxLineBytes)], '\n')+1)
}
