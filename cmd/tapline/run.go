package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tapline/tapline/app"
)

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	fs := s.newFlags("run", "run [flags]", groupData|groupNATS|groupPipeline|groupHTTP|groupHTTPAuth|groupRetention, stderr)
	if err := s.parse(fs, args, func() error {
		_, err := s.validateRun(stderr)
		return err
	}); err != nil {
		return err
	}
	st, err := openStack(ctx, s.appConfig(stderr))
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "tapline run: %s\n", st.Describe())
	fmt.Fprintf(stdout, "publish with: tapline publish --data-dir %s --subject logs.<format>.<...> FILE   (stop with Ctrl-C)\n", s.DataDir)

	done := make(chan struct{})
	go st.ReportProgress(done, stderr, 5*time.Second, false)
	go func() {
		select {
		case <-ctx.Done():
			st.Draining()
		case <-done:
		}
	}()
	err = st.Pipeline.Run(ctx)
	close(done)
	st.PrintStats(stdout)
	return err
}

// openStack opens the application; a bad DSN is a usage error.
func openStack(ctx context.Context, c app.Config) (*app.Stack, error) {
	st, err := app.Open(ctx, c)
	if errors.Is(err, app.ErrBadDSN) {
		return nil, usageError{err}
	}
	return st, err
}

// validateRun checks everything run and demo need, reporting every problem
// at once, and returns the selected formats.
func (s *settings) validateRun(stderr io.Writer) ([]string, error) {
	var errs []error
	formats, err := s.selectedSources()
	if err != nil {
		errs = append(errs, err)
	}
	if _, err := s.location(); err != nil {
		errs = append(errs, err)
	}
	if _, err := app.ParseSubjects(s.Subjects); err != nil {
		errs = append(errs, err)
	}
	if s.AckWait <= 0 {
		// app takes 0 for its default; the flag must say a real value.
		errs = append(errs, fmt.Errorf("--ack-wait %v: must be at least 1s", s.AckWait))
	}
	if err := s.appConfig(stderr).Validate(); err != nil {
		errs = append(errs, err)
	}
	return formats, errors.Join(errs...)
}
