package publish

import "github.com/tapline/tapline/gen"

// Tally is the truth about the records of one format (or of all) that the
// stream acknowledged.
type Tally struct {
	// Records published, Valid and Malformed among them (Valid +
	// Malformed == Records); Probes among the valid ones.
	Records, Valid, Malformed, Probes uint64
	// Messages and payload Bytes that carried them.
	Messages, Bytes uint64
	// Samples is the number of latency samples the valid records add to
	// the cross-source view latency_1m (gen.Record's Sample and More).
	Samples uint64
	// Subjects counts valid records per subject: a decoder turns each valid
	// record into rows by its subject (SOFARPC digest or stat lines).
	Subjects map[string]uint64
	// Keys digests, per table with a natural key (KeyTables), the keys of
	// the rows the valid generated records add to it. Probes are not in
	// it: the loadtest finds them by their own marks (package probe).
	Keys map[string]KeySum
}

// count adds one acknowledged record.
func (t *Tally) count(r *gen.Record) {
	t.Records++
	if !r.Valid {
		t.Malformed++
		return
	}
	t.Valid++
	if r.Sample {
		t.Samples++
	}
	t.Samples += uint64(len(r.More))
	if t.Subjects == nil {
		t.Subjects = map[string]uint64{}
	}
	t.Subjects[r.Subject]++
	var buf [128]byte
	for _, k := range naturalKeys {
		if key, ok := k.appendKey(buf[:0], r); ok {
			if t.Keys == nil {
				t.Keys = map[string]KeySum{}
			}
			ks := t.Keys[k.table]
			ks.add(key)
			t.Keys[k.table] = ks
		}
	}
}

func (t *Tally) add(o *Tally) {
	t.Records += o.Records
	t.Valid += o.Valid
	t.Malformed += o.Malformed
	t.Probes += o.Probes
	t.Messages += o.Messages
	t.Bytes += o.Bytes
	t.Samples += o.Samples
	for s, n := range o.Subjects {
		if t.Subjects == nil {
			t.Subjects = map[string]uint64{}
		}
		t.Subjects[s] += n
	}
	for table, k := range o.Keys {
		if t.Keys == nil {
			t.Keys = map[string]KeySum{}
		}
		ks := t.Keys[table]
		ks.N += k.N
		ks.Sum += k.Sum
		t.Keys[table] = ks
	}
}
