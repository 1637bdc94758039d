package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
)

// Owner returns a journal owner name for one process start: instance, a
// slash and a random id. instance names the process across restarts (a
// host or pod name); records of an earlier start of the same instance are
// known to be orphaned and adopted at once, without waiting for their
// lease.
func Owner(instance string) string {
	return strings.ReplaceAll(instance, "/", "_") + "/" + uuid.NewString()[:8]
}

// OwnerInstance returns the instance part of an owner name.
func OwnerInstance(owner string) string {
	if i := strings.LastIndexByte(owner, '/'); i >= 0 {
		return owner[:i]
	}
	return owner
}

// JournalEntry is a journal record as stored: its key, its revision (for
// compare-and-set) and when the server stored it.
type JournalEntry struct {
	Record   BatchRecord
	Key      string
	Revision uint64
	// Stored is the server's time of the record's last write.
	Stored time.Time
}

// Lapsed reports whether the record's owner let its lease run out by now:
// the record has no owner (an older release wrote it), or it was not
// rewritten for its lease. It compares the server's write time with now,
// so the processes' clocks must agree within a fraction of the lease (NTP).
func (e JournalEntry) Lapsed(now time.Time) bool {
	r := e.Record
	return r.Owner == "" || r.Lease <= 0 || now.After(e.Stored.Add(r.Lease))
}

// ErrJournalConflict is returned by Create when another batch (of any
// process) is journaled with the same first and last sequence: the batch
// must not be inserted under that token (it names the other record's
// messages); leave its messages unacknowledged.
var ErrJournalConflict = errors.New("journal: another batch is journaled under these first and last sequences")

// ErrRecordGone is returned by Swap when the record was deleted meanwhile.
var ErrRecordGone = errors.New("journal: record deleted")

func encodeRecord(r *BatchRecord) ([]byte, error) {
	if len(r.Ranges) == 0 {
		return nil, errors.New("BUG: journal record without sequences")
	}
	r.Written = time.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("journal: encode: %w", err)
	}
	return b, nil
}

func decodeEntry(e jetstream.KeyValueEntry) (JournalEntry, error) {
	var r BatchRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return JournalEntry{}, fmt.Errorf("journal: decode %s: %w", e.Key(), err)
	}
	return JournalEntry{Record: r, Key: e.Key(), Revision: e.Revision(), Stored: e.Created()}, nil
}

// Create journals a new batch, failing with ErrJournalConflict when its key
// holds another record. A retried Create whose first attempt was stored
// (its answer lost) finds its own record and succeeds: same owner, same
// sequences, not yet cleared, committed or adopted. Any other record under
// the key conflicts, this process's own included: an earlier batch of it
// with the same first and last sequence (whose unused record could not be
// deleted) holds other sequences in between, and taking it for the new
// batch would clear and insert the new batch's messages under a record
// that does not name them.
func (j *Journal) Create(ctx context.Context, r BatchRecord) (JournalEntry, error) {
	b, err := encodeRecord(&r)
	if err != nil {
		return JournalEntry{}, err
	}
	key := r.Key()
	rev, err := j.kv.Create(ctx, key, b)
	if err == nil {
		return JournalEntry{Record: r, Key: key, Revision: rev, Stored: time.Now()}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return JournalEntry{}, fmt.Errorf("journal: create %s: %w", key, err)
	}
	cur, gerr := j.get(ctx, key)
	if gerr != nil {
		return JournalEntry{}, gerr
	}
	if c := cur.Record; c.Owner == r.Owner && c.Token == r.Token && slices.Equal(c.Ranges, r.Ranges) && !c.Cleared && !c.Committed && c.Adoptions == 0 {
		return cur, nil
	}
	return JournalEntry{}, fmt.Errorf("%w (%s, owner %s)", ErrJournalConflict, key, cur.Record.Owner)
}

func (j *Journal) get(ctx context.Context, key string) (JournalEntry, error) {
	e, err := j.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return JournalEntry{}, fmt.Errorf("%w: %s", ErrRecordGone, key)
	}
	if err != nil {
		return JournalEntry{}, fmt.Errorf("journal: get %s: %w", key, err)
	}
	return decodeEntry(e)
}

// Swap applies change to the record of e and writes it back with
// compare-and-set. When another write came first, it reads the record
// again and applies change to that, until a write succeeds or change
// returns false (nothing to write; Swap returns the current entry). It
// fails with ErrRecordGone when the record was deleted.
func (j *Journal) Swap(ctx context.Context, e JournalEntry, change func(r *BatchRecord) bool) (JournalEntry, error) {
	cur := e
	for {
		next := cur.Record
		next.Ranges = append([]SeqRange(nil), cur.Record.Ranges...)
		if !change(&next) {
			return cur, nil
		}
		b, err := encodeRecord(&next)
		if err != nil {
			return cur, err
		}
		rev, err := j.kv.Update(ctx, cur.Key, b, cur.Revision)
		if err == nil {
			return JournalEntry{Record: next, Key: cur.Key, Revision: rev, Stored: time.Now()}, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return cur, fmt.Errorf("journal: update %s: %w", cur.Key, err)
		}
		if cur, err = j.get(ctx, e.Key); err != nil {
			return e, err
		}
	}
}

// Adopt takes e's record over for owner when it is still as e shows it
// (compare-and-set on e's revision): of several processes adopting one
// record, one succeeds. It returns false when the record changed or went
// meanwhile (someone else adopted, renewed or committed it).
func (j *Journal) Adopt(ctx context.Context, e JournalEntry, owner string, lease time.Duration) (JournalEntry, bool, error) {
	next := e.Record
	next.Owner, next.Lease = owner, lease
	next.Adoptions++
	b, err := encodeRecord(&next)
	if err != nil {
		return e, false, err
	}
	rev, err := j.kv.Update(ctx, e.Key, b, e.Revision)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("journal: adopt %s: %w", e.Key, err)
	}
	return JournalEntry{Record: next, Key: e.Key, Revision: rev, Stored: time.Now()}, true, nil
}

// DeleteIf removes e's record when it is still as e shows it
// (compare-and-set on e's revision); it returns false when the record
// changed meanwhile.
func (j *Journal) DeleteIf(ctx context.Context, e JournalEntry) (bool, error) {
	err := j.kv.Purge(ctx, e.Key, jetstream.LastRevision(e.Revision))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("journal: delete %s: %w", e.Key, err)
	}
	return true, nil
}

// DeleteUnused removes the record under key only while it is owner's and
// was never cleared for insertion (nor committed), with compare-and-set;
// it reports whether the record is gone. A record that changed hands or
// was cleared meanwhile stays: a clear whose answer was lost is stored
// all the same, and another process may have adopted and inserted the
// batch since, so its messages belong to that record and must be parked
// behind it, not batched again under a new token.
func (j *Journal) DeleteUnused(ctx context.Context, key, owner string) (bool, error) {
	for {
		cur, err := j.get(ctx, key)
		if errors.Is(err, ErrRecordGone) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if r := cur.Record; r.Owner != owner || r.Cleared || r.Committed {
			return false, nil
		}
		ok, err := j.DeleteIf(ctx, cur)
		if err != nil || ok {
			return ok, err
		}
	}
}

// DeleteKey removes the record stored under key.
func (j *Journal) DeleteKey(ctx context.Context, key string) error {
	if err := j.kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("journal: delete %s: %w", key, err)
	}
	return nil
}
