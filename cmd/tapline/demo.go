package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/demo"
)

// demoMarker marks a directory the demo created, so that it may wipe it.
const demoMarker = ".tapline-demo"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var records, others int
	var seed uint64
	var malformed float64
	fs := s.newFlags("demo", "demo [flags]", groupData|groupPipeline, stderr)
	fs.IntVar(&records, "records", 200_000, "SOFARPC digest and stat lines to publish")
	fs.IntVar(&others, "records-per-format", 20_000, "records to publish for every other format")
	fs.Uint64Var(&seed, "seed", 1, "generator seed (the same seed publishes the same records)")
	fs.Float64Var(&malformed, "malformed", 0.001, "share of deliberately malformed records (they end in the dead-letter stream)")
	// The demo's own default directory, so it never wipes a real one.
	s.DataDir = app.DemoDataDir
	fs.Lookup("data-dir").DefValue = s.DataDir
	if err := s.parse(fs, args, func() error {
		s.HTTP = ""
		_, err := s.validateRun(stderr)
		errs := []error{err}
		if records < 1 {
			errs = append(errs, fmt.Errorf("--records %d must be positive", records))
		}
		if others < 0 {
			errs = append(errs, fmt.Errorf("--records-per-format %d must not be negative", others))
		}
		if malformed < 0 || malformed >= 1 {
			errs = append(errs, fmt.Errorf("--malformed %v must be in [0, 1)", malformed))
		}
		return errors.Join(errs...)
	}); err != nil {
		return err
	}
	cfg, err := app.EnsureEngine(ctx, s.appConfig(stderr), stderr)
	if err != nil {
		return err
	}
	if err := freshDir(s.DataDir, demoMarker, "the demo"); err != nil {
		return err
	}
	return demo.Run(ctx, demo.Config{App: cfg, Records: records, PerFormat: others, Seed: seed, Malformed: malformed, Out: stdout, Progress: stderr, InPlace: isTerminal(stderr)})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
