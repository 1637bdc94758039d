package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/loadtest/report"
)

// rateFlag is --rate: records per second, or a share of the maximum rate
// written "N%", which the loadtest measures first (calibrate).
type rateFlag struct {
	perSec  float64 // records/s; 0 with share 0: as fast as tapline keeps up
	share   float64 // of the calibrated maximum (0..1 once valid); 0 when perSec is given
	percent bool    // written as a share
}

// String returns the flag's value as written.
func (r *rateFlag) String() string {
	if r == nil {
		return "0"
	}
	if r.percent {
		return strconv.FormatFloat(100*r.share, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(r.perSec, 'f', -1, 64)
}

// Set reads "17000" (records/s) or "50%" (of the maximum rate). It only
// rejects what is not a number: the ranges are checked with the other
// flags (validate), so that every problem is reported at once.
func (r *rateFlag) Set(v string) error {
	v = strings.TrimSpace(v)
	if p, ok := strings.CutSuffix(v, "%"); ok {
		n, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return fmt.Errorf("want a share of the maximum rate, e.g. 50%%")
		}
		r.perSec, r.share, r.percent = 0, n/100, true
		return nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("want records per second (0: as fast as tapline keeps up) or a share of the maximum rate, e.g. 17000 or 50%%")
	}
	r.perSec, r.share, r.percent = n, 0, false
	return nil
}

// validate reports a share outside (0%, 100%]; a negative rate in records
// per second is loadtest.Config's to report.
func (r *rateFlag) validate() error {
	if r.percent && (r.share <= 0 || r.share > 1) {
		return fmt.Errorf("--rate %s: want a share of the maximum rate above 0%% and at most 100%%, e.g. 50%%", r)
	}
	return nil
}

// calibration runs a child `tapline loadtest` as fast as tapline keeps up,
// for d, in a fresh embedded stack in dir (removed afterwards), with the
// same flags as this run otherwise (args), and returns the records per
// second it committed end to end: the maximum rate --rate N% takes its
// share of. The child is a process of its own because an engine is one per
// process; nothing of it stays in this run's stack.
func calibration(ctx context.Context, args []string, dir string, d time.Duration, progress io.Writer) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("--rate N%%: find this program to run the calibration: %w", err)
	}
	if err := freshDir(dir, loadtestMarker, "the loadtest's calibration"); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	reports := filepath.Join(dir, "report")
	// Later flags win: the calibration publishes for d as fast as tapline
	// keeps up, without baselines, in dir.
	child := append([]string{"loadtest"}, args...)
	child = append(child, "--rate", "0", "--duration", d.String(), "--count", "0", "--baselines=false", "--quiet", "--cpu-profile", "",
		"--data-dir", filepath.Join(dir, "data"), "--report-dir", reports)
	fmt.Fprintf(progress, "calibration: %v as fast as tapline keeps up, in a child loadtest (%s)...\n", d, dir)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, child...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("--rate N%%: the calibration run failed (%w); its output:\n%s", err, out.String())
	}
	b, err := os.ReadFile(filepath.Join(reports, "report.json"))
	if err != nil {
		return 0, fmt.Errorf("--rate N%%: read the calibration's report: %w", err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return 0, fmt.Errorf("--rate N%%: the calibration's report: %w", err)
	}
	if rep.Live.RecordsPerSec <= 0 {
		return 0, errors.New("--rate N%: the calibration committed nothing; run it alone (--rate 0) to see why")
	}
	return rep.Live.RecordsPerSec, nil
}
