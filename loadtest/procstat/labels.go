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

// Frames names the work of unlabelled goroutines by the code they run:
// CPUByLabel counts a Go sample without the label under Key when a
// function of its stack is in the package path Prefix (a prefix of the
// function's full name, e.g. "github.com/nats-io/nats-server/v2/" for an
// embedded NATS server's goroutines, which its own code starts and so
// carry no label). Key should not be a value the label takes.
type Frames struct {
	Key, Prefix string
}

// CPUByLabel sums the CPU time of a Go CPU profile (runtime/pprof's
// gzipped profile.proto) per value of one pprof label key. Goroutines
// inherit the labels of the goroutine that started them (pprof.Do), and a
// sample taken while a goroutine is in a cgo call counts for that
// goroutine. Samples without the key count under Native when their leaf
// frame is in a shared library (".so": threads a cgo library started, which
// Go samples too on Linux), else under the Key of the first of byFrames
// whose Prefix a function of the sample's stack has, else under "" (the Go
// runtime, the garbage collector, other unlabelled goroutines). Function
// names are compared as Go writes them in source, with the "%2e" pprof
// writes for a dot in a module path turned back into ".".
//
// The profile is read with github.com/google/pprof/profile; the CPU
// profile's last sample value is CPU nanoseconds.
func CPUByLabel(data []byte, key string, byFrames ...Frames) (map[string]time.Duration, error) {
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
			} else {
				value = framesKey(s, byFrames)
			}
		}
		out[value] += time.Duration(s.Value[len(s.Value)-1])
	}
	return out, nil
}

// framesKey is the Key of the first rule whose Prefix a function of s's
// stack has, or "".
func framesKey(s *profile.Sample, rules []Frames) string {
	for _, r := range rules {
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				if ln.Function != nil && strings.HasPrefix(strings.ReplaceAll(ln.Function.Name, "%2e", "."), r.Prefix) {
					return r.Key
				}
			}
		}
	}
	return ""
}
