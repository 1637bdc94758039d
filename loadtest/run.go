package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tapline/tapline/loadtest/probe"
	"github.com/tapline/tapline/loadtest/procstat"
	"github.com/tapline/tapline/loadtest/publish"
	"github.com/tapline/tapline/loadtest/report"
	"github.com/tapline/tapline/pipeline"
)

// run is one loadtest in progress.
type run struct {
	cfg     Config
	env     Env
	formats []string
	began   time.Time
	id      string
	maker   *probe.Maker

	live publish.Counters
	// done is the records the pipeline committed or dead-lettered, in all
	// and per format, updated every few milliseconds by the sampler
	// (publishers read it for MaxInFlight).
	done       atomic.Uint64
	doneFormat map[string]*atomic.Uint64
	// failed counts asynchronous publishes that were refused or never
	// acknowledged.
	failed publishFailures

	before map[string]uint64 // measures before publishing
	after  map[string]uint64 // and after the pipeline finished
	// dlqBefore and dlqAfter count dead letters per subject at the same
	// times.
	dlqBefore, dlqAfter map[string]uint64
	// dups counts rows of this run sharing a unique key, per table.
	dups     map[string]uint64
	pub      *publish.Result
	stats    []pipeline.Stats // the pipeline's final counters
	finished time.Time        // the pipeline's last commit
	series   []report.Point
	procLive procstat.Sample // at the start of the live phase
	procEnd  procstat.Sample // at its end
	// machineLive and machineEnd are the machine's CPU at the same times.
	machineLive, machineEnd procstat.Machine
	cpuSplit                map[string]time.Duration
	// mergeTime is the engine's merge time by table over the live phase.
	mergeTime *mergeClock
	// phases are the live pipeline's commit phases.
	phases *phaseClock
	notes  []string
}

func (r *run) run(ctx context.Context) (*report.Report, error) {
	r.id = strconv.FormatInt(r.began.UnixNano(), 36)
	maker, err := probe.New(r.id)
	if err != nil {
		return nil, err
	}
	r.maker = maker
	// The checks count this run's records: nothing may be waiting before.
	if lag, err := r.lag(ctx); err != nil {
		return nil, err
	} else if lag > 0 {
		return nil, fmt.Errorf("loadtest: tapline's consumers have %d messages from before this run still to acknowledge, which would blur the loss check: let `tapline run` consume them first, or use empty streams (a fresh --data-dir, or purge the streams on an external NATS)", lag)
	}
	if r.before, err = measure(ctx, r.env, r.formats); err != nil {
		return nil, err
	}
	if r.dlqBefore, err = r.env.DLQ.Count(ctx); err != nil {
		return nil, err
	}

	// One connection per publisher, and one for the probes, made under the
	// load generator's label so that their client goroutines count for it.
	var senders []publish.Sender
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	pprof.Do(ctx, pprof.Labels(labelKey, partLoad), func(ctx context.Context) {
		for i := 0; i <= r.cfg.publishers() && err == nil; i++ {
			var s publish.Sender
			var closeFn func()
			if s, closeFn, err = r.env.Connect(ctx, r.failed.add); err != nil {
				err = fmt.Errorf("loadtest: connect publisher %d: %w", i, err)
				break
			}
			senders, closers = append(senders, s), append(closers, closeFn)
		}
	})
	if err != nil {
		return nil, err
	}

	// The live phase: pipeline, sampler and publishers at once, profiled
	// to split the process's CPU by part.
	var prof bytes.Buffer
	profiling := pprof.StartCPUProfile(&prof) == nil
	if !profiling {
		r.notes = append(r.notes, "The CPU was not split by part: another CPU profile was running in the process.")
	}
	defer func() {
		if profiling {
			pprof.StopCPUProfile()
		}
	}()
	pipeCtx, stopPipeline := context.WithCancel(ctx)
	defer stopPipeline()
	pipeErr := make(chan error, 1)
	go pprof.Do(pipeCtx, pprof.Labels(labelKey, partPipeline), func(ctx context.Context) { pipeErr <- r.env.Pipeline.Run(ctx) })
	smp, err := newSampler(ctx, r)
	if err != nil {
		return nil, err
	}
	smpCtx, stopSampler := context.WithCancel(ctx)
	smpDone := make(chan struct{})
	go pprof.Do(smpCtx, pprof.Labels(labelKey, partMeasure), func(ctx context.Context) { smp.run(ctx); close(smpDone) })
	stopAll := func() {
		stopPipeline()
		stopSampler()
		<-smpDone
	}

	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	type pubOut struct {
		res *publish.Result
		err error
	}
	pubDone := make(chan pubOut, 1)
	go pprof.Do(pubCtx, pprof.Labels(labelKey, partLoad), func(ctx context.Context) {
		res, err := publish.Run(ctx, r.publishConfig(senders), &r.live)
		pubDone <- pubOut{res, err}
	})
	select {
	case out := <-pubDone:
		r.pub = out.res
		if out.err == nil {
			out.err = r.failed.err("so no loss check can be exact")
		}
		if out.err != nil {
			stopAll()
			<-pipeErr
			return nil, fmt.Errorf("loadtest: publish: %w", out.err)
		}
	case err := <-pipeErr:
		stopPub()
		<-pubDone
		stopAll()
		return nil, pipelineStopped(err)
	}

	// Wait until the pipeline has done every published record.
	deadline := time.Now().Add(r.cfg.drainTimeout())
	for r.done.Load() < r.live.Records.Load() {
		if time.Now().After(deadline) {
			r.notes = append(r.notes, fmt.Sprintf("The pipeline had not finished %d published records %v after publishing ended (--drain-timeout): the checks below show what was missing then.", r.live.Records.Load()-r.done.Load(), r.cfg.drainTimeout()))
			break
		}
		select {
		case <-ctx.Done():
			stopAll()
			<-pipeErr
			return nil, ctx.Err()
		case err := <-pipeErr:
			stopAll()
			return nil, pipelineStopped(err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	stopAll() // the sampler takes the last point: everything done
	if err := <-pipeErr; err != nil {
		return nil, pipelineStopped(err)
	}
	r.stats = r.env.Pipeline.Stats()
	for _, s := range r.stats {
		if s.LastCommit.After(r.finished) {
			r.finished = s.LastCommit
		}
	}
	r.procEnd, r.machineEnd = smp.last, smp.lastM
	if profiling {
		pprof.StopCPUProfile()
		profiling = false
		if err := r.splitCPU(prof.Bytes()); err != nil {
			return nil, err
		}
	}

	// What landed.
	if r.after, err = measure(ctx, r.env, r.formats); err != nil {
		return nil, err
	}
	if r.dups, err = duplicates(ctx, r.env, r.formats, r.before["clock"]); err != nil {
		return nil, err
	}
	if r.dlqAfter, err = r.env.DLQ.Count(ctx); err != nil {
		return nil, err
	}
	rep := r.report()
	rep.Checks = r.checks()
	rep.Verdict = verdict(rep.Checks)
	if rep.Freshness, err = r.freshness(ctx); err != nil {
		return nil, err
	}
	if r.cfg.Baselines {
		if err := r.baselines(ctx, rep); err != nil {
			return nil, err
		}
	}
	rep.Notes = append(rep.Notes, r.notes...)
	rep.Finished = time.Now()
	return rep, nil
}

// CPU profile labels: which part of the process a goroutine works for.
const (
	labelKey     = "tapline-loadtest"
	partPipeline = "pipeline"
	partLoad     = "load generator"
	partMeasure  = "measurement"
)

// Parts of the CPU profile that no label marks, told apart by their code
// (procstat.Frames): the embedded NATS server's goroutines, which the server
// starts itself, and the NATS client library's own goroutines (a
// connection's reading and flushing). Whatever else has no label is the Go
// runtime: garbage collection, the scheduler.
const (
	partNATSServer = "\x00nats server"
	partNATSClient = "\x00nats client"
)

var natsFrames = []procstat.Frames{
	{Key: partNATSServer, Prefix: "github.com/nats-io/nats-server/"},
	{Key: partNATSClient, Prefix: "github.com/nats-io/nats.go"},
}

// splitCPU sums the live phase's CPU profile by part and hands the profile
// to cfg.CPUProfile.
func (r *run) splitCPU(profile []byte) error {
	if r.cfg.CPUProfile != nil {
		if _, err := r.cfg.CPUProfile.Write(profile); err != nil {
			return fmt.Errorf("loadtest: write the CPU profile: %w", err)
		}
	}
	split, err := procstat.CPUByLabel(profile, labelKey, natsFrames...)
	if err != nil {
		return err
	}
	r.cpuSplit = split
	return nil
}

// publishFailures counts the asynchronous publishes a stream refused or
// never acknowledged, and keeps the first one's error. Safe for concurrent
// use; the zero value counts none.
type publishFailures struct {
	n     atomic.Uint64
	first atomic.Value
}

// add counts a publish to subject given up on with err; it is the
// publishers' error handler.
func (f *publishFailures) add(subject string, err error) {
	if f.n.Add(1) == 1 {
		f.first.Store(fmt.Errorf("%s: %w", subject, err))
	}
}

// err is nil when none failed, else an error counting them, with the
// first's reason, what that means (consequence) and what to do.
func (f *publishFailures) err(consequence string) error {
	n := f.n.Load()
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d messages were refused by the stream or never acknowledged (first: %v); they may or may not be stored, %s: check the broker, or publish with --sync-publish, which retries", n, f.first.Load(), consequence)
}

func pipelineStopped(err error) error {
	if err == nil {
		err = errors.New("stopped early")
	}
	return fmt.Errorf("loadtest: the pipeline failed: %w", err)
}

func (r *run) publishConfig(senders []publish.Sender) publish.Config {
	c := publish.Config{
		Formats:         r.cfg.Mix,
		Seed:            r.cfg.Seed,
		Malformed:       r.cfg.Malformed,
		Start:           r.began.UTC(),
		Rate:            r.cfg.Rate,
		Duration:        r.cfg.Duration,
		Count:           r.cfg.Count,
		Senders:         senders[1:],
		Async:           !r.cfg.SyncPublish,
		PerMessage:      r.cfg.perMessage(),
		MaxMessageBytes: r.cfg.MaxMessageBytes,
		MaxInFlight:     r.cfg.MaxInFlight,
		Done:            func(f string) uint64 { return r.doneFormat[f].Load() },
		RunID:           r.id,
		Probes:          &publish.Probes{Maker: r.maker, Formats: r.formats, Interval: r.cfg.probeInterval(), Sender: senders[0]},
	}
	if r.cfg.Rate > 0 {
		// Event times advance about as fast as the wall clock.
		c.Step = time.Duration(float64(time.Second) * float64(len(c.Senders)) / r.cfg.Rate)
	}
	return c
}

// lag sums, over tapline's consumers, the messages not yet acknowledged.
func (r *run) lag(ctx context.Context) (uint64, error) {
	var n uint64
	for _, c := range r.env.Consumers {
		st, err := c.State(ctx)
		if err != nil {
			return 0, err
		}
		n += st.Pending + uint64(st.AckPending)
	}
	return n, nil
}

// doneNow sums the pipeline's committed and dead-lettered records, and
// stores the per-format counts for the publishers.
func (r *run) doneNow() (committed, dead uint64) {
	for _, s := range r.env.Pipeline.Stats() {
		committed += s.RecordsCommitted
		dead += s.Rejected
		if n := r.doneFormat[s.Source]; n != nil {
			n.Store(s.RecordsCommitted + s.Rejected)
		}
	}
	return committed, dead
}
