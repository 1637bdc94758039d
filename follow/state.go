package follow

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/cespare/xxhash/v2"
)

// fingerprintMax is how many first bytes of a file its fingerprint covers.
// Log lines start with a timestamp, so two files rarely share them.
const fingerprintMax = 1024

// checkpoint is the durable state of one followed file, one JSON file per
// file in the state directory, named by device and inode.
type checkpoint struct {
	// Path is where the file was last seen (for people; identity is below).
	Path string `json:"path"`
	// Subject the file's lines are published to; kept so that a rotated
	// file found under another name keeps its subject.
	Subject string `json:"subject"`
	// Dev and Ino identify the file while it exists.
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
	// FP is the xxhash of the first FPLen bytes: an inode reused by another
	// file is told apart by its first bytes.
	FP    uint64 `json:"fp"`
	FPLen int64  `json:"fp_len"`
	// Nonce is random, made when the file (or a generation of it after a
	// truncation) is first seen; message ids start with it, so the ids of
	// two files or generations never collide.
	Nonce string `json:"nonce"`
	// Offset is the end of the last byte range the stream acknowledged
	// (or that was skipped as too long): the next run reads from here.
	Offset int64 `json:"offset"`
	// Cuts are message ends past Offset that were not fixed by the batch
	// bounds (an age cut, or a partial last line of a rotated file). They
	// are written before their message is published, so that a run after a
	// crash cuts its messages at the same offsets and the re-published
	// messages get the same ids.
	Cuts []int64 `json:"cuts,omitempty"`
}

// key names a file's checkpoint in the state directory.
func key(dev, ino uint64) string { return fmt.Sprintf("%d-%d", dev, ino) }

// newNonce returns 16 random hex digits.
func newNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// msgID is the JetStream message id of the bytes [start, end) of the file
// generation cp describes.
func (cp *checkpoint) msgID(start, end int64) string {
	return fmt.Sprintf("follow.%d.%d.%s.%d-%d", cp.Dev, cp.Ino, cp.Nonce, start, end)
}

// fingerprint hashes the first n bytes of f; ok is false when f is
// shorter. No bytes hash to 0, as in a new checkpoint.
func fingerprint(f *os.File, n int64) (fp uint64, ok bool, err error) {
	if n == 0 {
		return 0, true, nil
	}
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, 0)
	if errors.Is(err, io.EOF) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return xxhash.Sum64(buf[:got]), true, nil
}

// stateDir stores checkpoints.
type stateDir string

// load reads every checkpoint, keyed by device and inode.
func (d stateDir) load() (map[string]*checkpoint, error) {
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return nil, fmt.Errorf("follow: create state directory: %w", err)
	}
	names, err := filepath.Glob(filepath.Join(string(d), "*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]*checkpoint{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("follow: read checkpoint: %w", err)
		}
		var cp checkpoint
		if err := json.Unmarshal(b, &cp); err != nil {
			return nil, fmt.Errorf("follow: checkpoint %s is damaged (%w): remove it to read that file from its start again", n, err)
		}
		k := strings.TrimSuffix(filepath.Base(n), ".json")
		if k != key(cp.Dev, cp.Ino) {
			return nil, fmt.Errorf("follow: checkpoint %s names device %d inode %d: remove it to read that file from its start again", n, cp.Dev, cp.Ino)
		}
		out[k] = &cp
	}
	return out, nil
}

// write stores cp atomically and durably: a temporary file, fsync, rename
// over the old checkpoint, fsync of the directory.
func (d stateDir) write(cp *checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		panic("BUG: checkpoint does not marshal: " + err.Error())
	}
	tmp, err := os.CreateTemp(string(d), ".checkpoint-*")
	if err != nil {
		return fmt.Errorf("follow: write checkpoint: %w (is the state directory writable?)", err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(string(d), key(cp.Dev, cp.Ino)+".json"))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("follow: write checkpoint: %w", err)
	}
	return d.sync()
}

// remove deletes the checkpoint of a file that is gone.
func (d stateDir) remove(cp *checkpoint) error {
	err := os.Remove(filepath.Join(string(d), key(cp.Dev, cp.Ino)+".json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("follow: remove checkpoint: %w", err)
	}
	return d.sync()
}

func (d stateDir) sync() error {
	dir, err := os.Open(string(d))
	if err != nil {
		return fmt.Errorf("follow: sync state directory: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("follow: sync state directory: %w", err)
	}
	return nil
}

// devIno returns the device and inode of fi.
func devIno(fi os.FileInfo) (dev, ino uint64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		panic("BUG: follow needs syscall.Stat_t (Linux, BSD, macOS)")
	}
	return uint64(st.Dev), st.Ino //nolint:unconvert // Dev is int32 on darwin
}
