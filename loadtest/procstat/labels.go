package procstat

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/google/pprof/profile"
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
// The profile is read with github.com/google/pprof/profile; the CPU
// profile's last sample value is CPU nanoseconds.
func CPUByLabel(data []byte, key string) (map[string]time.Duration, error) {
	p, err := profile.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("procstat: CPU profile: %w", err)
	}
	out := map[string]time.Duration{}
	for _, s := range p.Sample {
		if len(s.Value) == 0 {
			continue
		}
		value := ""
		if vs, ok := s.Label[key]; ok && len(vs) > 0 {
			value = vs[len(vs)-1]
		} else if len(s.Location) > 0 {
			if m := s.Location[0].Mapping; m != nil && strings.Contains(m.File, ".so") {
				value = Native
			}
		}
		out[value] += time.Duration(s.Value[len(s.Value)-1])
	}
	return out, nil
}
