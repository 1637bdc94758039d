package follow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// ErrStopIncomplete is returned by Run when the stream did not acknowledge
// everything published before ShutdownTimeout: those lines are not
// checkpointed, and the next run publishes them again under the same ids.
var ErrStopIncomplete = errors.New("follow: stopped before the stream acknowledged every message: the next run publishes them again under the same ids (nothing is lost)")

// Run follows the files until ctx ends, then publishes the whole lines in
// hand, waits (at most ShutdownTimeout) for the stream to acknowledge what
// was published, and writes the checkpoints. It returns ctx's error after a
// clean stop, or the first error that stopped it; lines published and not
// checkpointed then are published again by the next run, under the same
// message ids.
func (fl *Follower) Run(ctx context.Context) error {
	var err error
	if fl.saved, err = fl.state.load(); err != nil {
		return err
	}
	defer fl.closeAll()
	fl.lastCkpt = time.Now()
	t := time.NewTicker(fl.cfg.Poll)
	defer t.Stop()
	first := true
	for {
		if err := fl.poll(ctx); err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		if first {
			fl.forgetUnseen()
			first = false
		}
		select {
		case <-ctx.Done():
		case <-t.C:
			continue
		}
		break
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fl.cfg.ShutdownTimeout)
	defer cancel()
	// Publish the whole lines in hand (a partial last line waits for its
	// newline), wait for the acknowledgements, checkpoint.
	for _, f := range fl.files {
		if err = fl.cutAt(dctx, f, f.scanned); err != nil {
			break
		}
	}
	if err == nil {
		err = fl.checkpoint(dctx)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStopIncomplete, err)
	}
	return ctx.Err()
}

// poll looks for files, reads what they gained, publishes, and checkpoints
// when due.
func (fl *Follower) poll(ctx context.Context) error {
	if err := fl.scan(); err != nil {
		return err
	}
	now := time.Now()
	keys := make([]string, 0, len(fl.files))
	for k := range fl.files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lag int64
	for _, k := range keys {
		f := fl.files[k]
		if err := fl.truncated(ctx, f); err != nil {
			return err
		}
		grew, err := fl.read(ctx, f)
		if err != nil {
			return err
		}
		if grew {
			f.grew = now
		}
		idle := now.Sub(f.grew) >= fl.cfg.RotateWait
		if err := fl.ageCut(ctx, f, now, !f.seen && idle); err != nil {
			return err
		}
		if fi, err := f.f.Stat(); err == nil {
			lag += fi.Size() - f.cp.Offset
		}
	}
	fl.stats.lag.Store(lag)
	if fl.unflushed > 0 && now.Sub(fl.lastCkpt) >= fl.cfg.Checkpoint {
		if err := fl.checkpoint(ctx); err != nil {
			return err
		}
	}
	// Files gone and idle, all published and acknowledged: let go of them.
	for _, k := range keys {
		f := fl.files[k]
		if !f.seen && now.Sub(f.grew) >= fl.cfg.RotateWait && len(f.buf) == 0 && f.cp.Offset == f.pubOff {
			fl.logf("follow: %s (device %d inode %d) is no longer at a followed path and was read to its end: closed", f.path, f.cp.Dev, f.cp.Ino)
			_ = f.f.Close()
			delete(fl.files, k)
			if err := fl.state.remove(f.cp); err != nil {
				return err
			}
		}
	}
	fl.stats.files.Store(int64(len(fl.files)))
	return nil
}

// scan matches the paths, opens files not yet followed (resuming from
// their checkpoint when identity and fingerprint agree) and marks which
// followed files a path still names.
func (fl *Follower) scan() error {
	for _, f := range fl.files {
		f.seen = false
	}
	for _, pat := range fl.cfg.Paths {
		paths, _ := filepath.Glob(pat) // patterns are validated
		for _, p := range paths {
			if err := fl.open(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// open follows path, or marks the file it names as seen.
func (fl *Follower) open(path string) error {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil // gone between glob and stat, or not a file
	}
	if f, ok := fl.files[key(devIno(fi))]; ok {
		f.seen, f.path = true, path
		return nil
	}
	h, err := os.Open(path)
	if err != nil {
		fl.warnOnce(path, fmt.Sprintf("follow: %s: %v: skipped (check its permissions)", path, err))
		return nil
	}
	fi, err = h.Stat()
	if err != nil {
		_ = h.Close()
		return fmt.Errorf("follow: stat %s: %w", path, err)
	}
	dev, ino := devIno(fi)
	k := key(dev, ino)
	cp := fl.saved[k]
	delete(fl.saved, k)
	if cp != nil {
		if fp, ok, err := fingerprint(h, cp.FPLen); err != nil || !ok || fp != cp.FP || fi.Size() < cp.Offset {
			fl.logf("follow: %s: device %d inode %d holds another file than its checkpoint says (inode reused, or truncated while stopped): read from its start", path, dev, ino)
			cp = nil
		}
	}
	if cp == nil {
		subject := fl.cfg.subject(path)
		if subject == "" {
			_ = h.Close()
			fl.warnOnce(path, fmt.Sprintf("follow: %s: no route gives it a subject: skipped (add one to the mapping, or set a subject)", path))
			return nil
		}
		cp = &checkpoint{Path: path, Subject: subject, Dev: dev, Ino: ino, Nonce: newNonce()}
		if err := fl.state.write(cp); err != nil {
			_ = h.Close()
			return err
		}
	}
	fl.files[k] = &file{cp: cp, f: h, path: path, pubOff: cp.Offset, readOff: cp.Offset, seen: true, grew: time.Now(),
		records: slices.Contains(fl.cfg.RecordSubjects, cp.Subject)}
	return nil
}

// truncated notices a copytruncate (the file is shorter than what was
// read, or its first bytes changed): it waits for what was published,
// starts a new generation (new nonce, offset 0) and reads from the start.
// Bytes written before the truncation and not yet read are lost with it.
func (fl *Follower) truncated(ctx context.Context, f *file) error {
	fi, err := f.f.Stat()
	if err != nil {
		return fmt.Errorf("follow: stat %s: %w", f.path, err)
	}
	same := fi.Size() >= f.readOff
	if same && f.cp.FPLen > 0 {
		fp, ok, err := fingerprint(f.f, f.cp.FPLen)
		if err != nil {
			return fmt.Errorf("follow: read %s: %w", f.path, err)
		}
		same = ok && fp == f.cp.FP
	}
	if same {
		if f.cp.FPLen < fingerprintMax && fi.Size() > f.cp.FPLen {
			f.cp.FPLen = min(fi.Size(), fingerprintMax)
			if f.cp.FP, _, err = fingerprint(f.f, f.cp.FPLen); err != nil {
				return fmt.Errorf("follow: read %s: %w", f.path, err)
			}
		}
		return nil
	}
	if err := fl.checkpoint(ctx); err != nil {
		return err
	}
	fl.stats.truncations.Add(1)
	if rest := f.readOff - f.pubOff; rest > 0 {
		fl.logf("follow: %s was truncated (copytruncate?) with %d bytes of a partial last line not published: lost", f.path, rest)
	} else {
		fl.logf("follow: %s was truncated (copytruncate?): reading it from its start", f.path)
	}
	f.cp.Offset, f.cp.Cuts, f.cp.FP, f.cp.FPLen, f.cp.Nonce = 0, nil, 0, 0, newNonce()
	if err := fl.state.write(f.cp); err != nil {
		return err
	}
	f.pubOff, f.readOff, f.buf, f.scanned, f.lines, f.skipping, f.pendEnd = 0, 0, f.buf[:0], 0, 0, false, 0
	return nil
}

// checkpoint waits until the stream acknowledged every message published
// so far, then writes the checkpoint of every file whose offset moved.
func (fl *Follower) checkpoint(ctx context.Context) error {
	if fl.beforeAck {
		if err := fl.writeCheckpoints(); err != nil {
			return err
		}
	}
	if fl.unflushed > 0 {
		if err := fl.pub.Flush(ctx); err != nil {
			return fmt.Errorf("follow: waiting for acknowledgements: %w", err)
		}
	}
	fl.unflushed = 0
	fl.lastCkpt = time.Now()
	return fl.writeCheckpoints()
}

func (fl *Follower) writeCheckpoints() error {
	for _, f := range fl.files {
		if f.cp.Offset == f.pubOff {
			continue
		}
		f.cp.Offset, f.cp.Path = f.pubOff, f.path
		cuts := f.cp.Cuts[:0]
		for _, c := range f.cp.Cuts {
			if c > f.pubOff {
				cuts = append(cuts, c)
			}
		}
		f.cp.Cuts = cuts
		if err := fl.state.write(f.cp); err != nil {
			return err
		}
	}
	return nil
}

// forgetUnseen removes the checkpoints of files no followed path names at
// start: their rest cannot be found any more.
func (fl *Follower) forgetUnseen() {
	for k, cp := range fl.saved {
		fl.logf("follow: %s (device %d inode %d) is at no followed path any more: its checkpoint is removed (what it held past byte %d is not shipped)", cp.Path, cp.Dev, cp.Ino, cp.Offset)
		if err := fl.state.remove(cp); err != nil {
			fl.logf("%v", errors.Unwrap(err))
		}
		delete(fl.saved, k)
	}
}

func (fl *Follower) warnOnce(path, msg string) {
	if !fl.warned[path] {
		fl.warned[path] = true
		fl.logf("%s", msg)
	}
}

func (fl *Follower) closeAll() {
	for _, f := range fl.files {
		_ = f.f.Close()
	}
}
