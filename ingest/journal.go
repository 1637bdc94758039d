package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Journal records every batch's exact message sequences and deduplication
// token in a JetStream key-value bucket before the batch is inserted, so a
// batch cut short by a crash is replayed after restart with exactly the same
// records and token, and ClickHouse counts it once. Safe for concurrent use.
type Journal struct {
	kv jetstream.KeyValue
}

// DefaultJournalBucket is the key-value bucket tapline journals batches in.
const DefaultJournalBucket = "TAPLINE_JOURNAL"

// JournalSpec describes the journal bucket tapline creates when it is
// missing.
type JournalSpec struct {
	// Bucket is the key-value bucket's name; empty means DefaultJournalBucket.
	Bucket string
	// Replicas for a clustered server; 0 means 1. Several processes on one
	// consumer share the journal: on a cluster give it the streams' replicas.
	Replicas int
}

// Journal opens the journal bucket, creating it with one replica when it is
// missing (see OpenJournal).
func (b *Broker) Journal(ctx context.Context, bucket string) (*Journal, error) {
	return b.OpenJournal(ctx, JournalSpec{Bucket: bucket})
}

// JournalHistory is how many writes of each record the journal bucket
// keeps. A record is written several times in quick succession (created,
// cleared, renewed, committed), and a watch that falls behind, or resumes
// after a reconnect, reads only what the bucket still holds: with one write
// kept it would skip a record's first write, see the record only after
// writes that came later than another process's record, and take the older
// record for the newer one (JournalIndex.Older). With every write of a
// live record kept, a watch that has processed revision rev has seen every
// record written before rev. (A record's writes go at once when it is
// deleted, which only happens to records that were never inserted, or whose
// messages are all acknowledged.)
const JournalHistory = jetstream.KeyValueMaxHistory

// OpenJournal opens the journal bucket. A missing bucket is created with
// spec's settings; an existing one is used as it is (its replicas and
// limits are the operator's), like the streams, except that a history
// below JournalHistory is raised to it (earlier releases kept one write).
func (b *Broker) OpenJournal(ctx context.Context, spec JournalSpec) (*Journal, error) {
	if spec.Bucket == "" {
		spec.Bucket = DefaultJournalBucket
	}
	if spec.Replicas == 0 {
		spec.Replicas = 1
	}
	kv, err := b.js.KeyValue(ctx, spec.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = b.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      spec.Bucket,
			Description: "tapline batch journal: sequences, dedup tokens and owners of batches not yet acknowledged",
			History:     JournalHistory,
			Storage:     jetstream.FileStorage,
			Replicas:    spec.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = b.js.KeyValue(ctx, spec.Bucket) // another process created it meanwhile
		}
	}
	if err != nil {
		return nil, fmt.Errorf("nats: journal bucket %s: %w", spec.Bucket, err)
	}
	if err := b.raiseHistory(ctx, kv); err != nil {
		return nil, err
	}
	return &Journal{kv: kv}, nil
}

// raiseHistory raises the history of an existing journal bucket to
// JournalHistory (the bucket's stream keeps that many messages per key).
func (b *Broker) raiseHistory(ctx context.Context, kv jetstream.KeyValue) error {
	st, err := kv.Status(ctx)
	if err != nil {
		return fmt.Errorf("nats: journal bucket %s: status: %w", kv.Bucket(), err)
	}
	if st.History() >= JournalHistory {
		return nil
	}
	s, err := b.js.Stream(ctx, "KV_"+kv.Bucket())
	if err == nil {
		cfg := s.CachedInfo().Config
		cfg.MaxMsgsPerSubject = JournalHistory
		_, err = b.js.UpdateStream(ctx, cfg)
	}
	if err != nil {
		return fmt.Errorf("nats: journal bucket %s: raise its history from %d to %d writes per record (needed by several processes on one consumer; the NATS user needs the right to update stream KV_%s): %w",
			kv.Bucket(), st.History(), JournalHistory, kv.Bucket(), err)
	}
	return nil
}

// SeqRange is an inclusive range of stream sequences.
type SeqRange struct {
	First uint64 `json:"f"`
	Last  uint64 `json:"l"`
}

// BatchRecord is one journaled batch.
type BatchRecord struct {
	// Stream and Durable identify the consumer that read the batch.
	Stream  string `json:"stream"`
	Durable string `json:"durable"`
	// Ranges are the batch's stream sequences, sorted and disjoint.
	Ranges []SeqRange `json:"ranges"`
	// Token is the batch's insert_deduplication_token base.
	Token string `json:"token"`
	// Committed is set once every insert of the batch was committed.
	Committed bool `json:"committed"`
	// Written is when the record was last written (the writer's clock).
	Written time.Time `json:"written"`
	// Owner is the process that holds the batch, Instance + "/" + a
	// random id per process start (see Owner). Empty in records of
	// releases that did not record owners: such a record's owner is dead.
	Owner string `json:"owner,omitempty"`
	// Lease is how long the record stays its owner's after its last write:
	// the owner rewrites it (renews) well within that time while it works
	// on the batch. Past it, another process may adopt the batch.
	Lease time.Duration `json:"lease,omitempty"`
	// Adoptions counts how often the batch changed owner.
	Adoptions int `json:"adoptions,omitempty"`
	// Cleared is set (before anything is inserted) once the owner found
	// that no record journaled before this one holds any of its sequences.
	// A record never cleared was never inserted: when its owner is gone it
	// is deleted, not replayed. Records without an owner (older releases)
	// count as cleared.
	Cleared bool `json:"cleared,omitempty"`
}

// Insertable reports whether the batch may have been inserted under its
// token (it was cleared, or an older release wrote it).
func (r BatchRecord) Insertable() bool { return r.Cleared || r.Owner == "" }

// First returns the batch's lowest sequence.
func (r BatchRecord) First() uint64 { return r.Ranges[0].First }

// Last returns the batch's highest sequence.
func (r BatchRecord) Last() uint64 { return r.Ranges[len(r.Ranges)-1].Last }

// Contains reports whether seq belongs to the batch.
func (r BatchRecord) Contains(seq uint64) bool {
	i := sort.Search(len(r.Ranges), func(i int) bool { return r.Ranges[i].Last >= seq })
	return i < len(r.Ranges) && r.Ranges[i].First <= seq
}

// Count returns how many sequences the batch holds.
func (r BatchRecord) Count() uint64 {
	var n uint64
	for _, rg := range r.Ranges {
		n += rg.Last - rg.First + 1
	}
	return n
}

// Ranges compresses sequences (in any order, without duplicates) into
// sorted inclusive ranges.
func Ranges(seqs []uint64) []SeqRange {
	s := append([]uint64(nil), seqs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var out []SeqRange
	for _, q := range s {
		if n := len(out); n > 0 && out[n-1].Last+1 == q {
			out[n-1].Last = q
			continue
		} else if n > 0 && out[n-1].Last == q {
			continue
		}
		out = append(out, SeqRange{First: q, Last: q})
	}
	return out
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidName reports whether s can name a stream, consumer or bucket:
// letters, digits, '_' and '-'.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// Key is the record's key in the journal bucket: stream, consumer and the
// batch's first and last sequence.
func (r BatchRecord) Key() string {
	return r.Stream + "." + r.Durable + "." + strconv.FormatUint(r.First(), 10) + "-" + strconv.FormatUint(r.Last(), 10)
}

// Put writes (or overwrites) the record and returns once it is stored.
func (j *Journal) Put(ctx context.Context, r BatchRecord) error {
	if len(r.Ranges) == 0 {
		return errors.New("BUG: journal record without sequences")
	}
	r.Written = time.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("journal: encode: %w", err)
	}
	if _, err := j.kv.Put(ctx, r.Key(), b); err != nil {
		return fmt.Errorf("journal: put %s: %w", r.Key(), err)
	}
	return nil
}

// Delete removes the record.
func (j *Journal) Delete(ctx context.Context, r BatchRecord) error {
	return j.DeleteKey(ctx, r.Key())
}

// Compact removes the markers deleted records leave behind (a purge leaves
// one per key, forever otherwise), so the bucket holds only the records
// of batches in flight. Safe to run while others write.
func (j *Journal) Compact(ctx context.Context) error {
	if err := j.kv.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(-1)); err != nil {
		return fmt.Errorf("journal: compact: %w", err)
	}
	return nil
}

// Size returns how many entries the bucket holds: the writes kept of the
// records in flight (up to JournalHistory each) and the markers of deleted
// ones not yet compacted.
func (j *Journal) Size(ctx context.Context) (uint64, error) {
	st, err := j.kv.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("journal: status: %w", err)
	}
	return st.Values(), nil
}

// List returns the records of one consumer, oldest batch first.
func (j *Journal) List(ctx context.Context, stream, durable string) ([]BatchRecord, error) {
	prefix := stream + "." + durable + "."
	lister, err := j.kv.ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("journal: list %s: %w", prefix, err)
	}
	var keys []string
	for k := range lister.Keys() {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	var out []BatchRecord
	for _, k := range keys {
		e, err := j.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("journal: get %s: %w", k, err)
		}
		var r BatchRecord
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return nil, fmt.Errorf("journal: decode %s: %w", k, err)
		}
		if len(r.Ranges) > 0 {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].First() < out[b].First() })
	return out, nil
}
