package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/tapline/tapline/app"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/decode"
)

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var subject string
	var perMsg int
	var whole bool
	fs := s.newFlags("publish", "publish --subject logs.<format>.<...> [flags] [FILE ...] (stdin when no file)", groupData|groupNATS, stderr)
	fs.StringVar(&subject, "subject", "", "subject to publish to, e.g. logs.sofarpc.client.digest (required)")
	fs.IntVar(&perMsg, "lines-per-message", 500, "records (lines) per message for line formats")
	fs.BoolVar(&whole, "whole", false, "publish each file as one message (documents: webdebug, envoytap JSON or protobuf); default for those formats")
	var format string
	if err := s.parse(fs, args, func() error {
		var errs []error
		subjects, err := app.ParseSubjects(s.Subjects)
		if err != nil {
			errs = append(errs, err)
		}
		format = app.FormatForSubject(app.SourceSpecs(app.Formats(), subjects), subject)
		switch {
		case subject == "":
			errs = append(errs, errors.New("--subject is required (e.g. logs.sofarpc.client.digest)"))
		case err == nil && format == "":
			errs = append(errs, fmt.Errorf("--subject %q is captured by no format's subjects (defaults: logs.<format>.>, formats %v; see --subjects)", subject, app.Formats()))
		}
		if perMsg < 1 {
			errs = append(errs, fmt.Errorf("--lines-per-message %d must be at least 1", perMsg))
		}
		errs = append(errs, s.natsConfig().Validate())
		return errors.Join(errs...)
	}); err != nil {
		return err
	}
	if app.Framing(format) == decode.Documents {
		whole = true
	}
	cfg := s.appConfig(stderr)
	b, err := app.OpenBroker(ctx, cfg)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := app.EnsureStreams(ctx, b, app.SourceSpecs([]string{format}, cfg.Subjects), cfg.Streams, stderr); err != nil {
		return err
	}
	pub, err := b.Publisher(publishWindow, nil)
	if err != nil {
		return err
	}
	var records atomic.Uint64
	stop := app.ShowPublishProgress(stderr, 2*time.Second, isTerminal(stderr), records.Load, pub)
	msgs, err := publishFiles(ctx, pub, subject, fs.Args(), whole, perMsg, &records)
	if err == nil {
		err = pub.Flush(ctx)
	}
	stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "published %d records in %d messages to %s (%s)\n", records.Load(), msgs, subject, b.URL())
	if b.Embedded() {
		fmt.Fprintf(stdout, "stored in the embedded NATS in %s; `tapline run --data-dir %s` will consume them\n", s.DataDir, s.DataDir)
	}
	return nil
}

// publishWindow bounds the messages `tapline publish` has sent and the
// stream has not yet acknowledged.
const publishWindow = 1024

// publishFiles publishes the files (stdin for none or "-") to subject: each
// file as one message when whole, else perMsg lines a message. records
// counts the records sent. It returns the messages sent.
func publishFiles(ctx context.Context, pub *ingest.Publisher, subject string, files []string, whole bool, perMsg int, records *atomic.Uint64) (int, error) {
	if len(files) == 0 {
		files = []string{"-"}
	}
	msgs := 0
	for _, name := range files {
		var r io.Reader = os.Stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return msgs, err
			}
			defer f.Close()
			r = f
		}
		if whole {
			data, err := io.ReadAll(r)
			if err != nil {
				return msgs, err
			}
			if err := pub.PublishAsync(ctx, subject, data, ""); err != nil {
				return msgs, err
			}
			msgs++
			records.Add(1)
			continue
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		var buf bytes.Buffer
		n := 0
		flush := func() error {
			if n == 0 {
				return nil
			}
			// The publisher keeps data until it is acknowledged.
			if err := pub.PublishAsync(ctx, subject, bytes.Clone(buf.Bytes()), ""); err != nil {
				return err
			}
			msgs++
			records.Add(uint64(n))
			buf.Reset()
			n = 0
			return nil
		}
		for sc.Scan() {
			line := sc.Bytes()
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			buf.Write(line)
			buf.WriteByte('\n')
			n++
			if n == perMsg {
				if err := flush(); err != nil {
					return msgs, err
				}
			}
		}
		if err := sc.Err(); err != nil {
			return msgs, fmt.Errorf("read %s: %w", name, err)
		}
		if err := flush(); err != nil {
			return msgs, err
		}
	}
	return msgs, nil
}
