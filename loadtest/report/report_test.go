package report

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentileIsNearestRank(t *testing.T) {
	t.Parallel()
	s := Sorted([]float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6})
	require.Equal(t, 1.0, s[0])
	require.Equal(t, 5.0, Percentile(s, 0.5))
	require.Equal(t, 9.0, Percentile(s, 0.9))
	require.Equal(t, 10.0, Percentile(s, 0.99))
	require.Equal(t, 1.0, Percentile(s, 0.01))
	require.Zero(t, Percentile(nil, 0.5))
}

func TestHumanNumbers(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{0: "0", 0.5: "0.5", 12: "12", 999: "999", 1500: "1.5k", 12345: "12.3k", 120000: "120k", 2_500_000: "2.5M", 3e9: "3G"} {
		require.Equal(t, want, SI(v), "%v", v)
	}
	require.Equal(t, "512 B", IBytes(512))
	require.Equal(t, "1.5 KiB", IBytes(1536))
	require.Equal(t, "2.0 GiB", IBytes(2<<30))
	require.Equal(t, "0.4ms", Ms(0.4))
	require.Equal(t, "850ms", Ms(850))
	require.Equal(t, "1.25s", Ms(1250))
	require.Equal(t, "12.5s", Ms(12500))
}

func sample() *Report {
	r := &Report{
		Command: "tapline loadtest --duration 2s", Started: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC),
		Machine: Machine{CPUs: 2, OS: "linux/amd64", GoVersion: "go1.26"},
		Setup:   Setup{Mix: map[string]float64{"sofarpc": 3, "webdebug": 1}, SampleEveryMs: 1000, BatchAgeMs: 1000},
		Live: Live{Records: 1000, PublishedPerSec: 500, RecordsPerSec: 450, Formats: []FormatLive{{Format: "sofarpc", Rows: map[string]uint64{"sofarpc_digest": 700}, Sealed: map[string]uint64{"caught_up": 1, "age": 9, "stop": 0}, Reader: &ReaderTime{BuildingSec: 0.5, WaitingSec: 1, BlockedSec: 0.5}}},
			CPUByPart:          []PartCPU{{Part: "pipeline <b>", Percent: 80}},
			EngineInsertedRows: 2000, EngineMergedRows: 2900, MergedPerInserted: 1.45, MergedPerInsertedByMinute: []float64{0.9, 2}, EngineInsertedParts: 290, PartsPerSecond: 29},
		Freshness: Freshness{P50Ms: 800, P99Ms: 1900, Formats: []FormatFreshness{{Format: "sofarpc", P50Ms: 800, P99Ms: 1900}},
			Samples: []ProbePoint{{T: 0.1, Format: "sofarpc", LatencyMs: 700}, {T: 1.1, Format: "webdebug", LatencyMs: 1500}}},
		Checks:  []Check{{Name: "sofarpc: records", What: "a & b", Want: 3, Got: 3, OK: true}, {Name: "x", Want: 2, Got: 1}},
		Verdict: Verdict{Text: "LOSS: x (1 of 2)"},
		Baselines: Baselines{Broker: &BrokerBaseline{RecordsPerSec: 9000}, BrokerRatio: 0.05, Skipped: []string{"the engine: <reason>"},
			Engine: &EngineBaseline{Lines: 100, PerSec: 50, Formats: []FormatRate{{Format: "sofarpc", Records: 100, PerSec: 50, Rows: 100}}},
			Drain: &DrainBaseline{Records: 100, PerSec: 80, Reader: ReaderTime{BuildingSec: 1.6, WaitingSec: 0.3, BlockedSec: 0.1},
				Formats: []FormatRate{{Format: "sofarpc", Records: 100, PerSec: 80, Batches: 2, Sealed: map[string]uint64{"rows": 1, "age": 1}, Reader: &ReaderTime{BuildingSec: 1.6, WaitingSec: 0.3, BlockedSec: 0.1}}}},
			EngineRatio: 1.6, DrainBroker: 400, DrainRatio: 0.2},
		Series: []Point{{T: 0}, {T: 1, Published: 500, Committed: 400, Rows: 800, CPUPercent: 150, RSS: 1 << 30}, {T: 1.05, Published: 510}},
		Notes:  []string{"a note"},
	}
	return r
}

// TestWriteRendersEveryForm writes a report and checks each form: the JSON
// round-trips, the Markdown has its sections and the failed check, and
// every chart of the page is well-formed SVG with text escaped.
func TestWriteRendersEveryForm(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "r")
	paths, err := Write(sample(), dir)
	require.NoError(t, err)
	require.Len(t, paths, 3)

	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, sample().Checks, back.Checks)
	require.Equal(t, sample().Series, back.Series)

	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	require.NoError(t, err)
	for _, want := range []string{"# tapline loadtest: LOSS: x (1 of 2)", "## Figures", "## Baselines", "**0.05**", "not measured: the engine: <reason>", "| x |", "**FAILED**", "a note", "sofarpc 75%, webdebug 25%", "| engine merges | 1.45 rows merged per row inserted", "by minute 0.90, 2.00", "| parts written | 29.0/s (290 in all) |",
		"(2 batches, the last left out: it waited for its age) | 1.60 | building batches 80%, waiting for messages 15%, blocked on a writer 5% |",
		"| sofarpc_digest 700 | building batches 25%, waiting for messages 50%, blocked on a writer 25% |",
		"a live source that keeps up closes by age): sofarpc age 9, caught_up 1."} {
		require.Contains(t, string(md), want)
	}

	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	require.NoError(t, err)
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(string(page), -1)
	require.GreaterOrEqual(t, len(svgs), 6)
	for _, s := range svgs {
		d := xml.NewDecoder(strings.NewReader(s))
		for {
			_, err := d.Token()
			if err != nil {
				require.ErrorContains(t, err, "EOF", "well-formed SVG: %.200s", s)
				break
			}
		}
	}
	require.Contains(t, string(page), "pipeline &lt;b&gt;")
	require.Contains(t, string(page), "rows merged per row inserted")
	require.Contains(t, string(page), "by minute 0.90, 2.00")
	require.NotContains(t, string(page), "<b>")
	require.Contains(t, string(page), `class="bad"`, "a failed verdict is shown as one")
}

// TestRatioListShortensLongRuns: up to twelve minutes are all listed, a
// longer run its first and last six (ratios and counts alike).
func TestRatioListShortensLongRuns(t *testing.T) {
	t.Parallel()
	require.Equal(t, "", RatioList(nil))
	require.Equal(t, "0.50, 1.25", RatioList([]float64{0.5, 1.25}))
	long := make([]float64, 14)
	for i := range long {
		long[i] = float64(i)
	}
	require.Equal(t, "0.00, 1.00, 2.00, 3.00, 4.00, 5.00, …, 8.00, 9.00, 10.00, 11.00, 12.00, 13.00", RatioList(long))
	require.Len(t, strings.Split(RatioList(long[:12]), ", "), 12)
	counts := make([]uint64, 13)
	for i := range counts {
		counts[i] = uint64(10 * i)
	}
	require.Equal(t, "0, 10, 20, 30, 40, 50, …, 70, 80, 90, 100, 110, 120", CountList(counts))
	require.Equal(t, "7", CountList([]uint64{7}))
}

func TestNiceStep(t *testing.T) {
	t.Parallel()
	for raw, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 23: 50, 4100: 5000} {
		require.InDelta(t, want, niceStep(raw), 1e-9, "%v", raw)
	}
}
