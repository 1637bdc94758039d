// Package follow ships growing log files to NATS JetStream, in the spirit
// of Vector's file source, Fluent Bit's tail and Filebeat: it follows
// files (paths or globs) by polling, survives rotation by rename and by
// copytruncate, batches whole lines into messages and publishes them
// asynchronously through one ingest.Publisher.
//
// Guarantee: every line reaches the stream once, across restarts and
// crashes, within the stream's duplicate window. Each message is the byte
// range [start, end) of one file generation and its JetStream message id
// is made of the file's identity (device, inode, a random nonce kept in
// its checkpoint) and that range. A file's checkpoint (identity plus the
// acknowledged offset) is written atomically and durably only after the
// stream acknowledged every message up to that offset; message bounds that
// depend on time are written before their message is published, so a run
// after a crash re-publishes the same ranges under the same ids and the
// stream drops the copies it already holds.
package follow

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tapline/tapline/ingest"
)

// Route sends the files whose path matches Glob (filepath.Match) to
// Subject. A Glob without a '/' is matched against the file's base name.
type Route struct {
	Glob    string
	Subject string
}

// Config configures a Follower. The zero value of every field but Paths,
// StateDir and a subject (Subject or Routes) works.
type Config struct {
	// Paths are files or globs (filepath.Glob) to follow; new matches are
	// picked up at every poll.
	Paths []string
	// Subject receives every file's lines unless a Route matches first.
	Subject string
	// Routes map paths to subjects; the first match wins.
	Routes []Route
	// RecordSubjects are the subjects (of Subject and Routes) whose format
	// frames its records with decode.NextRecord: a JSON record may span
	// lines (app.SpansLines). The files published to them are cut into
	// messages only where a record ends; a record whose end is not written
	// yet is waited for, up to RecordWait. Files of other subjects are cut
	// at any line end.
	RecordSubjects []string
	// StateDir holds one checkpoint per file.
	StateDir string
	// MaxLines and MaxBytes bound a message (defaults 500 lines, 256 KiB);
	// a line (or a record) longer than MaxBytes is a message of its own.
	MaxLines, MaxBytes int
	// MaxLineBytes is the longest line published (default 1,000,000, under
	// NATS's default 1 MiB payload limit); longer lines are skipped,
	// counted and reported.
	MaxLineBytes int
	// MaxAge publishes a message whose first line is this old (default 1s).
	MaxAge time.Duration
	// RecordWait is how long a record over several lines whose end is not
	// written yet is waited for (default 5s; files of RecordSubjects
	// only); then it is published as far as it is written and counted as
	// split: its rest becomes separate records, which the decoder rejects.
	RecordWait time.Duration
	// Poll is how often files are looked at (default 250ms).
	Poll time.Duration
	// Checkpoint is how often acknowledgements are awaited and checkpoints
	// written while messages are in flight (default 1s).
	Checkpoint time.Duration
	// Window bounds the messages published and not yet checkpointed
	// (default 1024): at that many, the follower waits for their
	// acknowledgements.
	Window int
	// RotateWait is how long a file no followed path names any more
	// (rotated away, deleted) is still read after it last grew (default
	// 5s); then its partial last line, if any, is published with a newline
	// added, and the file is closed and its checkpoint removed.
	RotateWait time.Duration
	// ShutdownTimeout bounds the final wait for acknowledgements when ctx
	// ends (default 30s).
	ShutdownTimeout time.Duration
	// Log receives warnings (files skipped, lines too long, truncations);
	// nil discards them.
	Log io.Writer
}

// Validate reports every problem of c at once. It does not change c.
func (c Config) Validate() error {
	var errs []error
	if len(c.Paths) == 0 {
		errs = append(errs, errors.New("follow: no path to follow: name files or globs"))
	}
	for _, p := range c.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("follow: path %q: %w", p, err))
		}
	}
	for _, r := range c.Routes {
		if _, err := filepath.Match(r.Glob, ""); err != nil || r.Glob == "" || r.Subject == "" {
			errs = append(errs, fmt.Errorf("follow: route %q=%q: want glob=subject with a valid glob", r.Glob, r.Subject))
		}
	}
	if c.Subject == "" && len(c.Routes) == 0 {
		errs = append(errs, errors.New("follow: no subject: set one for every file (--subject logs.sofarpc.client.digest) or routes from globs to subjects (--follow-map)"))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("follow: no state directory for the checkpoints"))
	}
	for _, v := range []struct {
		name string
		n    int64
	}{{"max lines", int64(c.MaxLines)}, {"max bytes", int64(c.MaxBytes)}, {"max line bytes", int64(c.MaxLineBytes)}, {"window", int64(c.Window)},
		{"max age", int64(c.MaxAge)}, {"record wait", int64(c.RecordWait)}, {"poll", int64(c.Poll)}, {"checkpoint", int64(c.Checkpoint)}, {"rotate wait", int64(c.RotateWait)}, {"shutdown timeout", int64(c.ShutdownTimeout)}} {
		if v.n < 0 {
			errs = append(errs, fmt.Errorf("follow: %s must not be negative", v.name))
		}
	}
	return errors.Join(errs...)
}

// withDefaults returns c with zero values replaced by the defaults.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxLines, 500)
	def(&c.MaxBytes, 256<<10)
	def(&c.MaxLineBytes, 1_000_000)
	def(&c.Window, 1024)
	dur(&c.MaxAge, time.Second)
	dur(&c.RecordWait, 5*time.Second)
	dur(&c.Poll, 250*time.Millisecond)
	dur(&c.Checkpoint, time.Second)
	dur(&c.RotateWait, 5*time.Second)
	dur(&c.ShutdownTimeout, 30*time.Second)
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// subject returns the subject of path, or "" when nothing routes it.
func (c Config) subject(path string) string {
	for _, r := range c.Routes {
		p := path
		if !strings.Contains(r.Glob, "/") {
			p = filepath.Base(path)
		}
		if ok, _ := filepath.Match(r.Glob, p); ok {
			return r.Subject
		}
	}
	return c.Subject
}

// Follower follows files and publishes their lines. Run it once; Stats
// may be called concurrently with Run.
type Follower struct {
	cfg   Config
	pub   *ingest.Publisher
	state stateDir
	stats counters

	files     map[string]*file       // open files by device and inode
	saved     map[string]*checkpoint // checkpoints not yet matched to a file
	unflushed int                    // messages published since the last checkpoint
	lastCkpt  time.Time
	warned    map[string]bool // paths reported once as without subject

	// id makes message ids; tests replace it to break the guarantee.
	id func(cp *checkpoint, start, end int64) string
	// beforeAck, set by tests, writes checkpoints before the
	// acknowledgements are awaited: the guarantee broken on purpose.
	beforeAck bool
	// forgetCuts, set by tests, does not record time-dependent cuts: the
	// guarantee broken on purpose.
	forgetCuts bool
}

// New returns a follower publishing through pub. pub must not be used by
// anything else while the follower runs: the follower's checkpoints wait
// for every publish of pub to be acknowledged.
func New(cfg Config, pub *ingest.Publisher) (*Follower, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Follower{cfg: cfg, pub: pub, state: stateDir(cfg.StateDir), files: map[string]*file{}, warned: map[string]bool{},
		id: (*checkpoint).msgID}, nil
}

// logf writes one warning line.
func (fl *Follower) logf(format string, args ...any) {
	fmt.Fprintf(fl.cfg.Log, format+"\n", args...)
}
