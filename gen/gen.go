// Package gen generates realistic log records of every format tapline
// reads, deterministically from a seed. The demo, the tests and the
// loadtest use the same generators, and every generated record carries the
// truth a test needs to check what ClickHouse computed from it.
package gen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Options configure a generator. The zero value is usable: seed 0, records
// starting now, 1 ms apart, no malformed records.
type Options struct {
	// Seed makes the output reproducible: the same seed and options give
	// the same records.
	Seed uint64
	// Start is the event time of the first record; zero means time.Now().
	Start time.Time
	// Step is the average event-time distance between records; 0 means 1ms.
	Step time.Duration
	// Malformed is the share (0..1) of records that are deliberately broken
	// and must end in the dead-letter stream.
	Malformed float64
}

func (o Options) start() time.Time {
	if o.Start.IsZero() {
		return time.Now().UTC()
	}
	return o.Start.UTC()
}

func (o Options) step() time.Duration {
	if o.Step <= 0 {
		return time.Millisecond
	}
	return o.Step
}

// Record is one generated record and the truth about it.
type Record struct {
	// Subject is the NATS subject the record belongs on.
	Subject string
	// Data is the record's bytes: one line without its newline for
	// line-oriented formats, one whole document otherwise. Next reuses its
	// capacity.
	Data []byte
	// Valid is false for a deliberately malformed record.
	Valid bool
	// Sample is true when the record adds one latency sample to the
	// cross-source view latency_1m; the fields below describe it.
	Sample    bool
	Kind      string
	Service   string
	Operation string
	LatencyMs float64
	Error     bool
	// Time is the record's event time.
	Time time.Time
	// More lists the further samples the record adds to latency_1m, beyond
	// the one above, for formats whose record holds several measured things
	// (a web debug document's queries). Nil for most formats; Next reuses
	// its capacity.
	More []Sample
}

// Sample is one latency sample a record adds to latency_1m: the same truth
// as Record's sample fields, with its own event time (which decides the
// minute it lands in).
type Sample struct {
	Kind      string
	Service   string
	Operation string
	LatencyMs float64
	Error     bool
	Time      time.Time
}

// Generator produces records of one format. Not safe for concurrent use.
type Generator interface {
	// Format returns the format name (as the decoder registry knows it).
	Format() string
	// Next overwrites r with the next record.
	Next(r *Record)
}

// Constructor builds a generator.
type Constructor func(Options) Generator

// Formats lists the generators by format name.
func Formats() map[string]Constructor {
	return map[string]Constructor{
		"sofarpc":  NewSofarpc,
		"g3proxy":  NewG3proxy,
		"webdebug": NewWebdebug,
		"django":   NewDjango,
		"envoytap": NewEnvoytap,
	}
}

// Names returns the format names with a generator, sorted.
func Names() []string {
	var names []string
	for n := range Formats() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the generator for format, or an error naming the known ones.
func New(format string, opts Options) (Generator, error) {
	c, ok := Formats()[format]
	if !ok {
		return nil, fmt.Errorf("no generator for format %q (known: %v)", format, Names())
	}
	return c(opts), nil
}

// zipf picks index i of n with probability proportional to 1/(i+1)^s: a few
// popular services and methods, a long tail of rare ones.
type zipf struct {
	cdf []float64
}

func newZipf(n int, s float64) zipf {
	z := zipf{cdf: make([]float64, n)}
	sum := 0.0
	for i := 0; i < n; i++ {
		sum += 1 / math.Pow(float64(i+1), s)
		z.cdf[i] = sum
	}
	for i := range z.cdf {
		z.cdf[i] /= sum
	}
	return z
}

func (z zipf) pick(r *rand.Rand) int {
	u := r.Float64()
	return sort.SearchFloat64s(z.cdf, u)
}

// logNormalMs draws a latency in milliseconds from a log-normal
// distribution with the given median and shape (sigma), with a rare
// long-tail multiplier: most calls near the median, p99 several times it.
func logNormalMs(r *rand.Rand, median, sigma float64) float64 {
	v := median * math.Exp(sigma*r.NormFloat64())
	if r.Float64() < 0.01 {
		v *= 5 + 10*r.Float64()
	}
	return v
}

// clock hands out event times: Start, then increments averaging Step.
type clock struct {
	t    time.Time
	step time.Duration
}

func (c *clock) next(r *rand.Rand) time.Time {
	t := c.t
	c.t = c.t.Add(time.Duration(float64(c.step) * 2 * r.Float64()))
	return t
}
