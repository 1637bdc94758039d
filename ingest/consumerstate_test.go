package ingest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
)

// cluster is a three-node NATS cluster in this process.
type cluster struct {
	t     *testing.T
	opts  []*server.Options
	nodes []*server.Server
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	var ports []int
	for range 6 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		require.NoError(t, l.Close())
	}
	c := &cluster{t: t}
	for i := range 3 {
		var routes []string
		for j := range 3 {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[2*j+1]))
			}
		}
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: ports[2*i], JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
			Cluster: server.ClusterOpts{Name: "state-test", Host: "127.0.0.1", Port: ports[2*i+1]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
		})
	}
	c.nodes = make([]*server.Server, 3)
	for i := range 3 {
		c.launch(i)
	}
	for _, s := range c.nodes {
		require.True(t, s.ReadyForConnections(30*time.Second))
	}
	t.Cleanup(func() {
		for _, s := range c.nodes {
			if s != nil {
				s.Shutdown()
			}
		}
	})
	return c
}

func (c *cluster) launch(i int) {
	o := *c.opts[i]
	s, err := server.NewServer(&o)
	require.NoError(c.t, err)
	s.Start()
	c.nodes[i] = s
}

func (c *cluster) start(i int) {
	c.launch(i)
	require.True(c.t, c.nodes[i].ReadyForConnections(30*time.Second))
}

// repeatUntil runs step over and over until stop is closed.
func repeatUntil(stop <-chan struct{}, step func()) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		step()
	}
}

func (c *cluster) urls() string {
	var u []string
	for _, o := range c.opts {
		u = append(u, fmt.Sprintf("nats://127.0.0.1:%d", o.Port))
	}
	return strings.Join(u, ",")
}

// TestConsumerStateComesFromTheLeader: while a node of a three-node
// cluster restarts, it answers some consumer info requests before the
// consumer's leader does, from a consumer it has not recovered yet (an ack
// floor of 0). The pipeline reads the floor to rule out that another
// process committed a message already, so State must never report a floor
// below one read before. Messages are published and acknowledged all
// along, so the floor moves while nodes restart. Readers alternate the raw
// request and State; nodes restart until a raw answer went below a floor
// read before (so the test can fail), and no State answer may.
func TestConsumerStateComesFromTheLeader(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var b *Broker
	require.Eventually(t, func() bool {
		sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
		defer scancel()
		var err error
		b, err = Start(sctx, Config{URL: c.urls()})
		return err == nil
	}, time.Minute, 100*time.Millisecond, "the cluster elects its meta leader")
	defer b.Close()
	_, err := b.EnsureStream(ctx, StreamSpec{Name: "FLOOR", Subjects: []string{"floor.>"}, Replicas: 3})
	require.NoError(t, err)
	cons, err := b.Consumer(ctx, ConsumerSpec{Stream: "FLOOR", Durable: "d", AckWait: 5 * time.Second})
	require.NoError(t, err)
	defer cons.Stop()
	require.True(t, cons.clustered.Load(), "the consumer's creation says it is replicated")
	pub, err := b.Publisher(0, nil)
	require.NoError(t, err)

	var highest atomic.Uint64 // the highest floor any answer gave
	type tally struct{ reads, refused, low atomic.Int64 }
	var raw, checked tally
	var lows sync.Map
	read := func(tl *tally, what string, get func(context.Context) (uint64, error)) {
		before := highest.Load()
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		floor, err := get(rctx)
		rcancel()
		tl.reads.Add(1)
		switch {
		case err != nil:
			tl.refused.Add(1)
		case floor < before:
			tl.low.Add(1)
			lows.Store(fmt.Sprintf("%s %d<%d", what, floor, before), true)
		default:
			for h := highest.Load(); floor > h && !highest.CompareAndSwap(h, floor); h = highest.Load() {
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			_ = pub.PublishAsync(ctx, "floor.x", []byte(fmt.Sprint(i)), "")
		}
	})
	until := func(step func()) { repeatUntil(stop, step) }
	wg.Go(func() {
		until(func() {
			if m, err := cons.Next(ctx, 100*time.Millisecond); err == nil {
				_ = m.Ack()
			}
		})
	})
	for range 4 {
		wg.Go(func() {
			until(func() {
				read(&raw, "raw", func(ctx context.Context) (uint64, error) {
					info, err := cons.cons.Info(ctx)
					if err != nil {
						return 0, err
					}
					return info.AckFloor.Stream, nil
				})
				read(&checked, "State", func(ctx context.Context) (uint64, error) {
					st, err := cons.State(ctx)
					return st.AckFloor, err
				})
			})
		})
	}
	rounds := 0
	for ; rounds < 30 && (rounds < 3 || raw.low.Load() == 0); rounds++ {
		i := rounds % 3
		c.nodes[i].Shutdown()
		c.nodes[i].WaitForShutdown()
		time.Sleep(time.Duration(rounds%3) * 500 * time.Millisecond)
		c.start(i)
		time.Sleep(2 * time.Second)
	}
	close(stop)
	wg.Wait()
	var seen []string
	lows.Range(func(k, _ any) bool { seen = append(seen, fmt.Sprint(k)); return true })
	t.Logf("%d node restarts; raw: %d reads, %d failed, %d below a floor read before; State: %d reads, %d refused, %d below; highest floor %d; %s",
		rounds, raw.reads.Load(), raw.refused.Load(), raw.low.Load(), checked.reads.Load(), checked.refused.Load(), checked.low.Load(), highest.Load(), strings.Join(seen, ", "))
	require.Positive(t, raw.low.Load(), "no node answered from stale state in %d restarts, so this run proves nothing", rounds)
	require.Zero(t, checked.low.Load(), "State returned an ack floor below one read before: %s", strings.Join(seen, ", "))
}

// TestConcurrentStateReadsAreNotStale: the pipeline's writers read a
// consumer's state at the same time (one before journaling a batch, the
// lead between batches), and their answers may come back in another order
// than they were asked. On a single server every answer is the leader's,
// so none may be refused as stale: an answer below a floor that another
// read returned while this one was under way is older, not stale. Messages
// are published and acknowledged all along, so the floor moves between the
// reads. (A single server's floor never goes back, so an answer below one
// returned before its request was sent cannot happen here: the cluster
// test above covers those.)
func TestConcurrentStateReadsAreNotStale(t *testing.T) {
	ctx, b := embedded(t, time.Minute)
	_, err := b.EnsureStream(ctx, StreamSpec{Name: "RACE", Subjects: []string{"race.>"}})
	require.NoError(t, err)
	cons, err := b.Consumer(ctx, ConsumerSpec{Stream: "RACE", Durable: "d", AckWait: 5 * time.Second})
	require.NoError(t, err)
	defer cons.Stop()
	pub, err := b.Publisher(0, nil)
	require.NoError(t, err)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	until := func(step func()) { repeatUntil(stop, step) }
	var published atomic.Int64
	wg.Go(func() {
		until(func() {
			_ = pub.PublishAsync(ctx, "race.x", []byte("x"), "")
			published.Add(1)
			time.Sleep(100 * time.Microsecond)
		})
	})
	wg.Go(func() {
		until(func() {
			if m, err := cons.Next(ctx, 100*time.Millisecond); err == nil {
				_ = m.Ack()
			}
		})
	})
	var highest atomic.Uint64
	var reads, refused atomic.Int64
	var firstErr atomic.Value
	for range 6 {
		wg.Go(func() {
			until(func() {
				st, err := cons.State(ctx)
				reads.Add(1)
				switch {
				case err != nil:
					refused.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				default:
					for h := highest.Load(); st.AckFloor > h && !highest.CompareAndSwap(h, st.AckFloor); h = highest.Load() {
					}
				}
			})
		})
	}
	time.Sleep(5 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d reads, %d refused; %d published, highest floor %d; first refusal: %v",
		reads.Load(), refused.Load(), published.Load(), highest.Load(), firstErr.Load())
	require.Greater(t, highest.Load(), uint64(200), "the floor must move while the reads go on, or this run proves nothing")
	require.Zero(t, refused.Load(), "a single server's answer was refused as stale: %v", firstErr.Load())
}
