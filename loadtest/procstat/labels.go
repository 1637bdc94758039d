package procstat

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Native is the CPUByLabel key of unlabelled samples taken in native code
// of a shared library: on threads Go did not start (a cgo library's own
// worker threads), which carry no goroutine and so no label.
const Native = "\x00native"

// CPUByLabel sums the CPU time of a Go CPU profile (runtime/pprof's
// gzipped profile.proto) per value of one pprof label key. Goroutines
// inherit the labels of the goroutine that started them (pprof.Do), and a
// sample taken while a goroutine is in a cgo call counts for that
// goroutine. Samples without the key count under Native when their leaf
// frame is in a shared library (".so": threads a cgo library started, which
// Go samples too on Linux), else under "" (the Go runtime, the garbage
// collector, unlabelled goroutines).
//
// Format: github.com/google/pprof/proto/profile.proto (Profile.sample = 2,
// mapping = 3, location = 4, string_table = 6; Sample.location_id = 1,
// value = 2, label = 3; Label.key = 1, str = 2; Location.id = 1,
// mapping_id = 2; Mapping.id = 1, filename = 5); the CPU profile's second
// value is CPU nanoseconds.
func CPUByLabel(profile []byte, key string) (map[string]time.Duration, error) {
	zr, err := gzip.NewReader(bytes.NewReader(profile))
	if err != nil {
		return nil, fmt.Errorf("procstat: CPU profile: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("procstat: CPU profile: %w", err)
	}
	type sample struct {
		nanos  int64
		leaf   uint64     // location id of the innermost frame
		labels [][2]int64 // key and value string indexes
	}
	var samples []sample
	var strs []string
	mappingFile := map[uint64]int64{} // mapping id -> filename string index
	locMapping := map[uint64]uint64{} // location id -> mapping id
	err = fields(raw, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case num == 6 && typ == protowire.BytesType:
			strs = append(strs, string(v))
		case (num == 3 || num == 4) && typ == protowire.BytesType:
			var id, ref uint64
			refField := protowire.Number(2) // Location.mapping_id
			if num == 3 {
				refField = 5 // Mapping.filename
			}
			if err := fields(v, func(n protowire.Number, t protowire.Type, _ []byte, x uint64) error {
				switch {
				case n == 1 && t == protowire.VarintType:
					id = x
				case n == refField && t == protowire.VarintType:
					ref = x
				}
				return nil
			}); err != nil {
				return err
			}
			if num == 3 {
				mappingFile[id] = int64(ref)
			} else {
				locMapping[id] = ref
			}
		case num == 2 && typ == protowire.BytesType:
			var s sample
			var values, locs []int64
			err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
				switch {
				case (num == 1 || num == 2) && typ == protowire.VarintType:
					if num == 1 {
						locs = append(locs, int64(x))
					} else {
						values = append(values, int64(x))
					}
				case (num == 1 || num == 2) && typ == protowire.BytesType: // packed
					for len(v) > 0 {
						x, n := protowire.ConsumeVarint(v)
						if n < 0 {
							return errors.New("bad packed value")
						}
						if num == 1 {
							locs = append(locs, int64(x))
						} else {
							values = append(values, int64(x))
						}
						v = v[n:]
					}
				case num == 3 && typ == protowire.BytesType:
					var l [2]int64
					if err := fields(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
						if typ == protowire.VarintType && (num == 1 || num == 2) {
							l[num-1] = int64(x)
						}
						return nil
					}); err != nil {
						return err
					}
					s.labels = append(s.labels, l)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(values) > 0 {
				s.nanos = values[len(values)-1]
			}
			if len(locs) > 0 {
				s.leaf = uint64(locs[0])
			}
			samples = append(samples, s)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("procstat: CPU profile: %w", err)
	}
	str := func(i int64) string {
		if i < 0 || int(i) >= len(strs) {
			return ""
		}
		return strs[i]
	}
	out := map[string]time.Duration{}
	for _, s := range samples {
		value, labelled := "", false
		for _, l := range s.labels {
			if str(l[0]) == key {
				value, labelled = str(l[1]), true
			}
		}
		if !labelled {
			if m, ok := locMapping[s.leaf]; ok && strings.Contains(str(mappingFile[m]), ".so") {
				value = Native
			}
		}
		out[value] += time.Duration(s.nanos)
	}
	return out, nil
}

// fields calls f for every field of a protobuf message: its number, wire
// type, and its bytes (length-delimited) or value (varint, fixed).
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.Fixed64Type:
			x, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var y uint32
			y, n = protowire.ConsumeFixed32(b)
			x = uint64(y)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}
