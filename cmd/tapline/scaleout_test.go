package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/gen"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/internal/syncbuf"
)

// natsNode is one node of the test's NATS cluster, run in a child process
// (this test binary with TAPLINE_TEST_NATS set to the node as JSON), so that
// it can be SIGKILLed and restarted on its store.
type natsNode struct {
	Name        string
	Port        int
	ClusterPort int
	Routes      []string
	Store       string

	cmd *exec.Cmd
	out *syncbuf.Buffer
}

// runNATSNode serves one cluster node until it is killed.
func runNATSNode(spec string) int {
	var n natsNode
	if err := json.Unmarshal([]byte(spec), &n); err != nil {
		fmt.Fprintln(os.Stderr, "TAPLINE_TEST_NATS:", err)
		return 2
	}
	opts := &server.Options{
		ServerName: n.Name, Host: "127.0.0.1", Port: n.Port, JetStream: true, StoreDir: n.Store, NoSigs: true,
		Cluster: server.ClusterOpts{Name: "tapline-test", Host: "127.0.0.1", Port: n.ClusterPort},
		Routes:  server.RoutesFromStr(strings.Join(n.Routes, ",")),
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nats node:", err)
		return 1
	}
	s.ConfigureLogger()
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		fmt.Fprintln(os.Stderr, "nats node did not start")
		return 1
	}
	s.WaitForShutdown()
	return 0
}

func (n *natsNode) start() error {
	spec, err := json.Marshal(n)
	if err != nil {
		return err
	}
	n.cmd = exec.Command(os.Args[0])
	n.cmd.Env = append(os.Environ(), "TAPLINE_TEST_NATS="+string(spec))
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	return n.cmd.Start()
}

func (n *natsNode) kill() {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_ = n.cmd.Wait()
}

// freePorts returns n ports free on loopback right now.
func freePorts(t *testing.T, n int) []int {
	var out []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// instance is one `tapline run` of the scale-out test, restarted under the
// same --instance name after each kill; its output of every start is kept.
type instance struct {
	name    string
	args    []string
	metrics string
	cmd     *exec.Cmd
	out     *syncbuf.Buffer
	alive   bool
}

func (in *instance) start() error {
	in.cmd = exec.Command(os.Args[0], in.args...)
	in.cmd.Env = append(os.Environ(), "TAPLINE_TEST_MAIN=1")
	in.cmd.Stdout = io.Discard
	in.cmd.Stderr = in.out
	if err := in.cmd.Start(); err != nil {
		return err
	}
	in.alive = true
	return nil
}

func (in *instance) ready() bool {
	resp, err := http.Get("http://" + in.metrics + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (in *instance) kill() {
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	_ = in.cmd.Wait()
	in.alive = false
}

// mixPublisher publishes generated SOFARPC and g3proxy records in 64 KiB
// messages (one subject's records per message) and counts, per table, the
// rows they must become.
type mixPublisher struct {
	sofa, g3                       gen.Generator
	digests, stats, tasks, g3samps int
}

func (p *mixPublisher) publish(ctx context.Context, pub *ingest.Publisher, sofarpc, g3proxy int) error {
	bySubject := map[string]*bytes.Buffer{}
	var r gen.Record
	send := func(subj string, w *bytes.Buffer) error {
		err := pub.PublishAsync(ctx, subj, bytes.Clone(w.Bytes()), "")
		w.Reset()
		return err
	}
	add := func() error {
		w := bySubject[r.Subject]
		if w == nil {
			w = &bytes.Buffer{}
			bySubject[r.Subject] = w
		}
		w.Write(r.Data)
		w.WriteByte('\n')
		if w.Len() > 64<<10 {
			return send(r.Subject, w)
		}
		return nil
	}
	for i := range sofarpc + g3proxy {
		if i%3 == 2 && g3proxy > 0 {
			g3proxy--
			p.g3.Next(&r)
			p.tasks++
			if r.Sample {
				p.g3samps++
			}
		} else {
			p.sofa.Next(&r)
			if r.Sample {
				p.digests++
			} else {
				p.stats++
			}
		}
		if err := add(); err != nil {
			return err
		}
	}
	for subj, w := range bySubject {
		if w.Len() > 0 {
			if err := send(subj, w); err != nil {
				return err
			}
		}
	}
	return pub.Flush(ctx)
}

// TestScaleOutStaysExactlyOnce runs tapline as a user scales it out: a
// three-node NATS cluster (child processes, streams and journal with three
// replicas), one `tapline serve --http-writable` as the shared ClickHouse
// (the embedded 26.7 engine), and three `tapline run` on one durable
// consumer per format writing into it over HTTP. It publishes SOFARPC and
// g3proxy records in rounds, and in every round SIGKILLs a run while the
// journal holds one of its batches uncommitted: restarted at once, the run
// replays the batch itself; restarted only after the lease (two ack waits),
// a live run adopts it. One round SIGKILLs a NATS node as well. Rounds go on
// (bounded) until both a replay and an adoption were logged by the runs, so
// the test cannot pass by luck of timing; at least 300k records go out. At
// the end every record is in its table once (count and uniqueness of its
// natural key) and each view counts it once.
func TestScaleOutStaysExactlyOnce(t *testing.T) {
	const (
		ackWait   = 3 * time.Second
		minRounds = 4
		maxRounds = 12
		perRound  = 75_000 // records: 50k SOFARPC, 25k g3proxy
	)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	// The NATS cluster.
	ports := freePorts(t, 6)
	var nodes []*natsNode
	var urls []string
	for i := range 3 {
		n := &natsNode{Name: fmt.Sprintf("n%d", i+1), Port: ports[2*i], ClusterPort: ports[2*i+1], Store: t.TempDir(), out: &syncbuf.Buffer{}}
		for j := range 3 {
			if j != i {
				n.Routes = append(n.Routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[2*j+1]))
			}
		}
		nodes = append(nodes, n)
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.Port))
	}
	for _, n := range nodes {
		require.NoError(t, n.start())
		t.Cleanup(n.kill)
	}
	natsURL := strings.Join(urls, ",")

	// The shared engine.
	served := t.TempDir()
	sv := startChild(t, served, true, "serve", "--data-dir", served, "--http", "127.0.0.1:0", "--http-writable")
	count := func(q string) uint64 { return sv.count(t, q) }

	// Three runs.
	var runs []*instance
	for i, port := range freePorts(t, 3) {
		in := &instance{name: fmt.Sprintf("run-%d", i+1), metrics: fmt.Sprintf("127.0.0.1:%d", port), out: &syncbuf.Buffer{}}
		in.args = []string{"run", "--data-dir", t.TempDir(), "--http", "", "--nats-url", natsURL, "--stream-replicas", "3",
			"--clickhouse", "http://" + sv.ep.HTTP + "/tapline", "--sources", "sofarpc,g3proxy", "--instance", in.name,
			"--metrics", in.metrics, "--batch-rows", "10000", "--batch-age", "200ms", "--ack-wait", ackWait.String(), "--shutdown-timeout", "20s"}
		runs = append(runs, in)
	}
	logs := func() string {
		var b strings.Builder
		for _, in := range runs {
			fmt.Fprintf(&b, "--- %s\n%s", in.name, in.out.String())
		}
		return b.String()
	}
	for _, in := range runs {
		require.NoError(t, in.start())
		t.Cleanup(in.kill)
		require.Eventually(t, in.ready, 90*time.Second, 100*time.Millisecond, "%s gets ready (NATS cluster, streams, engine):\n%s", in.name, logs())
	}

	b, err := ingest.Start(ctx, ingest.Config{URL: natsURL})
	require.NoError(t, err)
	defer b.Close()
	pub, err := b.Publisher(0, nil)
	require.NoError(t, err)
	j, err := b.Journal(ctx, ingest.DefaultJournalBucket)
	require.NoError(t, err)
	start := time.Now().Add(-2 * time.Hour)
	p := &mixPublisher{
		sofa: gen.NewSofarpc(gen.Options{Seed: 11, Start: start, Step: 3 * time.Millisecond}),
		g3:   gen.NewG3proxy(gen.Options{Seed: 12, Start: start, Step: 7 * time.Millisecond}),
	}

	// uncommittedOf returns a run holding a journaled batch not yet
	// committed right now, waiting up to 20s for one. It looks in a watch
	// of the journal (the index the runs keep themselves), not a listing:
	// a listing reads every key and then each record, and with the whole
	// suite running beside this test it took longer than a batch stays
	// uncommitted, so that no round found one (CI, twice in a row).
	var indexes []*ingest.JournalIndex
	cleared := &clearedRecords{seen: map[string]ingest.JournalEntry{}}
	for _, format := range []string{"sofarpc", "g3proxy"} {
		src := ingest.DefaultSource(format)
		x, err := j.Watch(ctx, src.Stream, src.Durable, cleared.note)
		require.NoError(t, err)
		defer x.Stop()
		indexes = append(indexes, x)
	}
	uncommittedOf := func() *instance {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			for _, x := range indexes {
				for _, e := range x.Entries() {
					for _, in := range runs {
						if !e.Record.Committed && len(e.Record.Ranges) > 0 && in.alive && ingest.OwnerInstance(e.Record.Owner) == in.name {
							return in
						}
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	}
	replays := func() (own, adopted int) {
		l := logs()
		return strings.Count(l, "adopted=false"), strings.Count(l, "adopted=true")
	}

	var seen []string
	var published int
	natsKilled := false
	var pending sync.WaitGroup
	// Cleanups run last first: a test that fails mid-round waits for its
	// pending restarts before the runs are killed (a kill racing a restart
	// would read a half-set instance).
	t.Cleanup(pending.Wait)
	restartErr := make(chan error, maxRounds)
	for round := 1; round <= maxRounds; round++ {
		own, adopted := replays()
		if round > minRounds && own > 0 && adopted > 0 && natsKilled && published >= 300_000 {
			break
		}
		pubErr := make(chan error, 1)
		go func() { pubErr <- p.publish(ctx, pub, perRound*2/3, perRound/3) }()
		published += perRound
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		victim := uncommittedOf()
		if victim == nil {
			seen = append(seen, fmt.Sprintf("round %d: no run held an uncommitted batch", round))
		} else {
			victim.kill()
			// Odd rounds restart the run at once (it replays its own batch);
			// even rounds only after its lease ran out (a live run adopts it).
			delay := 300 * time.Millisecond
			if round%2 == 0 {
				delay = 2*ackWait + 3*time.Second
			}
			seen = append(seen, fmt.Sprintf("round %d: killed %s, restart in %v", round, victim.name, delay))
			pending.Add(1)
			go func(in *instance) {
				defer pending.Done()
				time.Sleep(delay)
				if err := in.start(); err != nil {
					restartErr <- err
				}
			}(victim)
		}
		if round == 3 {
			n := nodes[rng.IntN(len(nodes))]
			n.kill()
			seen = append(seen, fmt.Sprintf("round %d: killed NATS node %s", round, n.Name))
			time.Sleep(2 * time.Second)
			require.NoError(t, n.start())
			natsKilled = true
		}
		require.NoError(t, <-pubErr, "publish round %d", round)
		pending.Wait()
		select {
		case err := <-restartErr:
			require.NoError(t, err, "restart a run")
		default:
		}
	}
	for _, in := range runs {
		require.Eventually(t, in.ready, 90*time.Second, 100*time.Millisecond, "%s is ready again:\n%s", in.name, logs())
	}
	caughtUp := func() bool {
		return count("SELECT count() FROM sofarpc_digest") >= uint64(p.digests) && count("SELECT count() FROM sofarpc_stat") >= uint64(p.stats) &&
			count("SELECT count() FROM g3proxy_task") >= uint64(p.tasks) &&
			count("SELECT sum(requests) FROM latency_1m WHERE source = 'sofarpc'") >= uint64(p.digests) &&
			count("SELECT sum(requests) FROM latency_1m WHERE source = 'g3proxy'") >= uint64(p.g3samps)
	}
	require.Eventually(t, caughtUp, 3*time.Minute, 250*time.Millisecond, "the runs catch up:\n%s\n%s", strings.Join(seen, "\n"), logs())
	time.Sleep(2 * ackWait) // room for late redeliveries to show as duplicates
	own, adopted := replays()
	l := logs()
	// Why batches were left to redelivery, by the runs' own words.
	var whys []string
	for _, w := range []struct{ label, text string }{
		{"stalled", "stalled past the ack wait"}, {"in another's batch", "in another process's batch"},
		{"watch lags", "the journal watch lags"}, {"older batch", "an older batch holds"},
		{"committed already", "are committed already"}, {"floor unread", "ack floor could not be read"},
		{"acknowledged already", "were acknowledged already"}, {"taken over", "taken over before it was cleared"},
	} {
		whys = append(whys, fmt.Sprintf("%s %d", w.label, strings.Count(l, w.text)))
	}
	t.Logf("published %d records (%d SOFARPC digests, %d stats, %d g3proxy tasks); %d own replays, %d adoptions; %d batches left to redelivery (%s), %d unused records deleted\n%s",
		published, p.digests, p.stats, p.tasks, own, adopted, strings.Count(l, "batch left to redelivery"), strings.Join(whys, ", "),
		strings.Count(l, "never cleared"), strings.Join(seen, "\n"))
	require.GreaterOrEqual(t, published, 300_000)
	require.True(t, natsKilled)
	require.Positive(t, own, "no run replayed its own journaled batch after a restart:\n%s", strings.Join(seen, "\n"))
	require.Positive(t, adopted, "no run adopted another's journaled batch:\n%s", strings.Join(seen, "\n"))

	exact := func(what, q string, want int) {
		if got := sv.answeredCount(t, q); got != uint64(want) {
			t.Errorf("%s (%s): %d, want %d\n%s", what, q, got, want, cleared.overlaps(sv, l))
			t.FailNow()
		}
	}
	exact("every digest once", "SELECT count() FROM sofarpc_digest", p.digests)
	exact("digest keys unique", "SELECT uniqExact(side, trace_id) FROM sofarpc_digest", p.digests)
	exact("every stat once", "SELECT count() FROM sofarpc_stat", p.stats)
	exact("stat keys unique", "SELECT uniqExact(time) FROM sofarpc_stat", p.stats)
	exact("every g3proxy task record once", "SELECT count() FROM g3proxy_task", p.tasks)
	exact("g3proxy keys unique", "SELECT uniqExact(task_id, task_event, event_time) FROM g3proxy_task", p.tasks)
	exact("SOFARPC view counts each call once", "SELECT sum(calls) FROM sofarpc_latency_1m", p.digests)
	exact("cross-source view, SOFARPC", "SELECT sum(requests) FROM latency_1m WHERE source = 'sofarpc'", p.digests)
	exact("cross-source view, g3proxy", "SELECT sum(requests) FROM latency_1m WHERE source = 'g3proxy'", p.g3samps)
	exact("g3proxy view", "SELECT sum(tasks) FROM g3proxy_task_1m", p.g3samps)

	for _, in := range runs {
		require.NoError(t, in.cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, in.cmd.Wait(), "%s drains and exits 0:\n%s", in.name, in.out.String())
	}
	for _, n := range nodes {
		require.NoError(t, n.cmd.Process.Signal(syscall.SIGTERM))
		_ = n.cmd.Wait()
	}
}

// clearedRecords keeps every journal record the test's own watches saw
// cleared for insertion (or adopted, which only a cleared record is), once
// per token and sequence list: the records whose rows may be in the tables.
type clearedRecords struct {
	mu   sync.Mutex
	seen map[string]ingest.JournalEntry
}

// note is the watches' callback.
func (c *clearedRecords) note(e ingest.JournalEntry) {
	if !e.Record.Insertable() {
		return
	}
	k := fmt.Sprint(e.Record.Token, e.Record.Ranges)
	c.mu.Lock()
	if _, ok := c.seen[k]; !ok {
		c.seen[k] = e
	}
	c.mu.Unlock()
}

// overlaps explains a count that is off: the pairs of records cleared for
// insertion, under two tokens, that share a stream sequence (that
// message's rows went in under both), with the runs' log lines that name
// either. None when one token's rows landed twice (the engine did not
// deduplicate a replay), or when the watch missed a record collected
// before it read it; the counts of duplicated keys say how many rows.
func (c *clearedRecords) overlaps(sv *child, logs string) string {
	c.mu.Lock()
	recs := make([]ingest.JournalEntry, 0, len(c.seen))
	for _, e := range c.seen {
		recs = append(recs, e)
	}
	c.mu.Unlock()
	shared := func(a, b []ingest.SeqRange) []ingest.SeqRange {
		var out []ingest.SeqRange
		for _, x := range a {
			for _, y := range b {
				if lo, hi := max(x.First, y.First), min(x.Last, y.Last); lo <= hi {
					out = append(out, ingest.SeqRange{First: lo, Last: hi})
				}
			}
		}
		return out
	}
	var b strings.Builder
	fmt.Fprintf(&b, "records cleared for insertion seen by the test's watch: %d\n", len(recs))
	fmt.Fprintf(&b, "duplicated digest keys: %s", sv.text(`SELECT count(), sum(c) FROM (SELECT count() AS c FROM sofarpc_digest GROUP BY side, trace_id HAVING c > 1) FORMAT TSV`))
	fmt.Fprintf(&b, "duplicated g3proxy keys: %s", sv.text(`SELECT count(), sum(c) FROM (SELECT count() AS c FROM g3proxy_task GROUP BY task_id, task_event, event_time HAVING c > 1) FORMAT TSV`))
	pairs := 0
	for i, x := range recs {
		for _, y := range recs[i+1:] {
			if x.Record.Stream != y.Record.Stream || x.Record.Token == y.Record.Token && slices.Equal(x.Record.Ranges, y.Record.Ranges) {
				continue
			}
			both := shared(x.Record.Ranges, y.Record.Ranges)
			if len(both) == 0 {
				continue
			}
			pairs++
			fmt.Fprintf(&b, "cleared twice: sequences %v in %s (owner %s, revision %d, adoptions %d) and %s (owner %s, revision %d, adoptions %d)\n",
				both, x.Record.Token, x.Record.Owner, x.Revision, x.Record.Adoptions, y.Record.Token, y.Record.Owner, y.Revision, y.Record.Adoptions)
			for _, tok := range []ingest.BatchRecord{x.Record, y.Record} {
				name := tok.Token[strings.LastIndexByte(tok.Token, ':')+1:]
				first, last, _ := strings.Cut(name, "-")
				for _, l := range strings.Split(logs, "\n") {
					if namesToken(l, tok.Token) || strings.Contains(l, "first="+first+" last="+last+" ") {
						fmt.Fprintf(&b, "  %s\n", l)
					}
				}
			}
		}
	}
	if pairs == 0 {
		b.WriteString("no two cleared records share a sequence\n")
	}
	return b.String()
}

// namesToken reports whether log line l names token (not a longer one).
func namesToken(l, token string) bool {
	for i := strings.Index(l, token); i >= 0; {
		end := i + len(token)
		if end == len(l) || l[end] < '0' || l[end] > '9' {
			return true
		}
		j := strings.Index(l[end:], token)
		if j < 0 {
			return false
		}
		i = end + j
	}
	return false
}
