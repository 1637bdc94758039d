package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// readChunk is how much one read takes from a file.
const readChunk = 256 << 10

// file is one followed file: its open descriptor, its checkpoint and the
// message being assembled. buf holds the bytes [pubOff, readOff): the
// complete lines of the message in hand (buf[:scanned]) and what follows
// them (a partial line, or bytes not yet looked at).
type file struct {
	cp       *checkpoint
	f        *os.File
	path     string
	pubOff   int64 // end of the last published (or skipped) range
	readOff  int64 // end of what was read
	buf      []byte
	scanned  int       // bytes of complete lines in the message in hand
	lines    int       // lines in the message in hand
	first    time.Time // when the message in hand got its first line
	skipping bool      // discarding the rest of a line longer than MaxLineBytes
	seen     bool      // a followed path names this file in the last scan
	grew     time.Time // when the file last grew

	// records: the subject's format frames records with
	// decode.NextRecord, so messages end only where a record ends (see
	// cutRecords). pendStart and pendEnd (file offsets) are the whole lines
	// read of a record whose end is not written yet, pendEnd 0 when none;
	// pendSince is when it was first seen.
	records            bool
	pendStart, pendEnd int64
	pendSince          time.Time
}

// read reads what the file gained and cuts messages of whole lines,
// publishing each, until the end of the file or ctx ends. It returns
// whether the file grew.
func (fl *Follower) read(ctx context.Context, f *file) (bool, error) {
	grew := false
	for ctx.Err() == nil {
		if len(f.buf)+readChunk > cap(f.buf) {
			f.buf = slices.Grow(f.buf, readChunk)
		}
		n, err := f.f.ReadAt(f.buf[len(f.buf):len(f.buf)+readChunk], f.readOff)
		f.buf = f.buf[:len(f.buf)+n]
		f.readOff += int64(n)
		if n > 0 {
			grew = true
			fl.stats.bytesRead.Add(uint64(n))
			cut := fl.cutLines
			if f.records {
				cut = fl.cutRecords
			}
			if err := cut(ctx, f); err != nil {
				return grew, err
			}
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return grew, nil
		}
		if err != nil {
			return grew, fmt.Errorf("follow: read %s: %w", f.path, err)
		}
	}
	return grew, nil
}

// nextCut returns the first recorded cut past the message in hand's
// start, or -1.
func (f *file) nextCut() int64 {
	for _, c := range f.cp.Cuts {
		if c > f.pubOff {
			return c
		}
	}
	return -1
}

// cutLines moves the complete lines of buf into messages: a message ends
// before a line that would take it past MaxBytes or MaxLines, and at every
// recorded cut. A line longer than MaxLineBytes is skipped and counted.
func (fl *Follower) cutLines(ctx context.Context, f *file) error {
	for {
		rest := f.buf[f.scanned:]
		if f.skipping {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				f.drop(len(rest))
				return nil
			}
			f.drop(i + 1)
			f.skipping = false
			continue
		}
		if c := f.nextCut(); c >= 0 && c <= f.readOff {
			// A recorded cut inside the bytes in hand: before the next
			// line's end, it is a partial line published on purpose.
			at := int(c - f.pubOff)
			if i := bytes.IndexByte(rest, '\n'); i < 0 || f.scanned+i+1 > at {
				if at > f.scanned {
					f.scanned = at
					f.lines++
				}
				if err := fl.publish(ctx, f); err != nil {
					return err
				}
				continue
			}
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if len(rest) > fl.cfg.MaxLineBytes {
				if err := fl.publish(ctx, f); err != nil {
					return err
				}
				fl.tooLong(f, f.pubOff)
				f.drop(len(f.buf))
				f.skipping = true
			}
			return nil
		}
		n := i + 1
		if n > fl.cfg.MaxLineBytes {
			if err := fl.publish(ctx, f); err != nil {
				return err
			}
			fl.tooLong(f, f.pubOff)
			f.drop(n)
			continue
		}
		if f.scanned > 0 && (f.scanned+n > fl.cfg.MaxBytes || f.lines == fl.cfg.MaxLines) {
			if err := fl.publish(ctx, f); err != nil {
				return err
			}
		}
		if f.lines == 0 {
			f.first = time.Now()
		}
		f.scanned += n
		f.lines++
		if f.nextCut() == f.pubOff+int64(f.scanned) {
			if err := fl.publish(ctx, f); err != nil {
				return err
			}
		}
	}
}

// tooLong reports a line longer than MaxLineBytes starting at off.
func (fl *Follower) tooLong(f *file, off int64) {
	fl.stats.tooLong.Add(1)
	fl.logf("follow: %s: the line at byte %d is longer than %d bytes (--max-line-bytes): skipped, not published", f.path, off, fl.cfg.MaxLineBytes)
}

// drop discards the first n bytes of buf (nothing of the message in hand).
func (f *file) drop(n int) {
	if f.scanned != 0 {
		panic("BUG: follow: drop with a message in hand")
	}
	f.pubOff += int64(n)
	f.buf = append(f.buf[:0], f.buf[n:]...)
}

// publish sends the message in hand, if any: the bytes
// [pubOff, pubOff+scanned), with a newline added when they end in a
// partial line, under an id made of the file's identity and that range.
func (fl *Follower) publish(ctx context.Context, f *file) error {
	if f.scanned == 0 {
		return nil
	}
	n := f.scanned
	// The publisher keeps data until the stream acknowledges it.
	data := make([]byte, n, n+1)
	copy(data, f.buf[:n])
	if data[n-1] != '\n' {
		data = append(data, '\n')
	}
	start, end := f.pubOff, f.pubOff+int64(n)
	if err := fl.pub.PublishAsync(ctx, f.cp.Subject, data, fl.id(f.cp, start, end)); err != nil {
		return fmt.Errorf("follow: %s: %w", f.path, err)
	}
	fl.stats.lines.Add(uint64(f.lines))
	fl.stats.messages.Add(1)
	fl.stats.bytes.Add(uint64(n))
	fl.unflushed++
	f.scanned, f.lines = 0, 0
	f.drop(n)
	if fl.unflushed >= fl.cfg.Window {
		return fl.checkpoint(ctx)
	}
	return nil
}

// ageCut publishes the message in hand when its first line is older than
// MaxAge, or (final) when the file is gone and idle, taking a partial last
// line with it. A record whose end is not written yet is not part of the
// message in hand: it waits, up to RecordWait after it was first seen, and
// is then published as far as it is written (counted as split).
func (fl *Follower) ageCut(ctx context.Context, f *file, now time.Time, final bool) error {
	switch {
	case final:
		return fl.cutAt(ctx, f, len(f.buf))
	case f.pendEnd > f.pubOff+int64(f.scanned) && now.Sub(f.pendSince) >= fl.cfg.RecordWait:
		fl.stats.split.Add(1)
		fl.logf("follow: %s: the record at byte %d did not end within %s (--record-wait): published as far as it is written, its rest will be separate records", f.path, f.pendStart, fl.cfg.RecordWait)
		end := int(f.pendEnd - f.pubOff)
		f.pendEnd = 0
		return fl.cutAt(ctx, f, end)
	case f.scanned > 0 && now.Sub(f.first) >= fl.cfg.MaxAge:
		return fl.cutAt(ctx, f, f.scanned)
	}
	return nil
}

// cutAt publishes buf[:end] as one message (end is past the message in
// hand's lines, or at their end). The cut does not follow from the batch
// bounds, so it is made durable first: a run after a crash cuts there
// too.
func (fl *Follower) cutAt(ctx context.Context, f *file, end int) error {
	if end == 0 {
		return nil
	}
	if !fl.forgetCuts {
		f.cp.Cuts = append(f.cp.Cuts, f.pubOff+int64(end))
		if err := fl.state.write(f.cp); err != nil {
			return err
		}
	}
	f.take(end)
	return fl.publish(ctx, f)
}

// take makes buf[:end] the message in hand, when end is past it.
func (f *file) take(end int) {
	if end > f.scanned {
		f.lines += bytes.Count(f.buf[f.scanned:end], []byte{'\n'})
		if f.buf[end-1] != '\n' {
			f.lines++ // a partial last line
		}
		f.scanned = end
	}
}
