package loadtest

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/loadtest/publish"
	"github.com/tapline/tapline/loadtest/report"
)

// PublishOnly publishes cfg's mix to the NATS of stack (its URL, or the
// tapline running on its data directory) for another tapline to consume,
// with progress on cfg.Progress, and writes what it published to stdout.
// Nothing waits for the records to be committed.
func PublishOnly(ctx context.Context, cfg Config, stack app.Config, stdout io.Writer) error {
	formats := cfg.Formats()
	b, err := app.OpenBroker(ctx, stack)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := app.EnsureStreams(ctx, b, app.SourceSpecs(formats, nil), app.StreamLimits{}, os.Stderr); err != nil {
		return err
	}
	var senders []publish.Sender
	for i := 0; i < max(cfg.Publishers, 1); i++ {
		p, err := b.Publisher(0, nil)
		if err != nil {
			return err
		}
		senders = append(senders, p)
	}
	fmt.Fprintf(stdout, "tapline loadtest --publish-only: %s to %s; seed %d\n", strings.Join(formats, ", "), b.URL(), cfg.Seed)
	var live publish.Counters
	done := make(chan struct{})
	if cfg.Progress != nil {
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			var last uint64
			for {
				select {
				case <-done:
					return
				case <-t.C:
					n := live.Records.Load()
					fmt.Fprintf(cfg.Progress, "published %s records (%s/s)\n", report.SI(float64(n)), report.SI(float64(n-last)))
					last = n
				}
			}
		}()
	}
	res, err := publish.Run(ctx, publish.Config{
		Formats: cfg.Mix, Seed: cfg.Seed, Malformed: cfg.Malformed, Rate: cfg.Rate, Duration: cfg.Duration, Count: cfg.Count,
		Senders: senders, PerMessage: cfg.PerMessage, MaxMessageBytes: cfg.MaxMessageBytes, RunID: strconv.FormatInt(time.Now().UnixNano(), 36),
	}, &live)
	close(done)
	if err != nil {
		return err
	}
	t := res.Total()
	sec := res.Stopped.Sub(res.Started).Seconds()
	fmt.Fprintf(stdout, "published %d records (%d malformed) in %d messages, %s, in %.1fs: %s records/s\n", t.Records, t.Malformed, t.Messages, report.IBytes(t.Bytes), sec, report.SI(float64(t.Records)/sec))
	names := res.FormatNames()
	sort.Strings(names)
	for _, f := range names {
		x := res.Formats[f]
		fmt.Fprintf(stdout, "  %-9s %d records (%d malformed) in %d messages\n", f, x.Records, x.Malformed, x.Messages)
	}
	return nil
}
