package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/ingest"
)

func runDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var source string
	var limit int
	fs := s.newFlags("dlq", "dlq list|replay [flags]", groupData|groupNATS, stderr)
	fs.StringVar(&source, "source", "", "only dead letters of this format")
	fs.IntVar(&limit, "limit", 100, "at most this many dead letters")
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fs.Usage()
			return errHelp
		}
		return usagef("want `tapline dlq list` or `tapline dlq replay`")
	}
	verb := args[0]
	if err := s.parse(fs, args[1:], nil); err != nil {
		return err
	}
	if limit < 1 {
		return usagef("--limit must be at least 1")
	}
	cfg := s.appConfig(stderr)
	if cfg.NATS.URL == "" {
		if err := app.CheckDataDir(s.DataDir); err != nil {
			return usageError{err}
		}
	}
	b, err := app.OpenBroker(ctx, cfg)
	if err != nil {
		return err
	}
	defer b.Close()
	dlq, err := b.DeadLetters(ctx, ingest.DefaultDeadLetterStream)
	if err != nil {
		return err
	}
	letters, err := dlq.List(ctx, source, 1, limit)
	if err != nil {
		return err
	}
	if verb == "list" {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tstored\tsource\tsubject\tseq\tline\treason\trecord")
		for _, dl := range letters {
			rec := strings.ReplaceAll(string(dl.Data), "\n", "\\n")
			if len(rec) > 80 {
				rec = rec[:80] + "..."
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", dl.StoredSeq, dl.StoredAt.UTC().Format("2006-01-02 15:04:05"), dl.Source, dl.Subject, dl.Seq, dl.Line, dl.Reason, rec)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d dead letters shown (--limit %d)\n", len(letters), limit)
		return nil
	}
	pub, err := b.Publisher(0, nil)
	if err != nil {
		return err
	}
	n := 0
	for _, dl := range letters {
		if dl.Subject == "" {
			continue
		}
		if err := pub.Publish(ctx, dl.Subject, dl.Data, ""); err != nil {
			return fmt.Errorf("replay dead letter #%d: %w (%d replayed before it)", dl.StoredSeq, err, n)
		}
		if err := dlq.Delete(ctx, dl.StoredSeq); err != nil {
			return fmt.Errorf("replayed dead letter #%d but could not remove it; remove it before replaying again: %w", dl.StoredSeq, err)
		}
		n++
	}
	fmt.Fprintf(stdout, "replayed %d dead letters to their original subjects\n", n)
	return nil
}
