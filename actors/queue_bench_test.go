package actors

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/godisque/godisque/protocol"
)

// Benchmarks of the queue core's hot path (no actors, no RESP) and of the
// actor round trip a gateway pays per command (Node.Ask, no RESP). The heap
// a resting job costs is BenchmarkHeapPerQueuedJob (memory_bench_test.go);
// job ID generation is protocol.BenchmarkIDGenNext; the RESP side is in
// gateway/ and bench/.
//
//	go test -run '^$' -bench 'Queue|Ask' -benchmem ./actors/

const benchNow = int64(1_700_000_000_000) // unix ms

// benchQueue is a queue core with a node's environment and an ID generator.
type benchQueue struct {
	q   *Queue
	ids *protocol.IDGen
	seq int64
}

func newBenchQueue() *benchQueue {
	env := &Env{
		NodeID:  func() string { return testNodeID },
		Dir:     NewDirectory(),
		Mem:     &Memory{},
		Rand:    rand.New(rand.NewPCG(1, 2)),
		Visible: func(int) {},
		Blocked: func(int) {},
	}
	return &benchQueue{q: NewQueue("q", env), ids: protocol.NewIDGen(testNodeID, []byte("bench-seed"))}
}

var benchBody = []byte("012345678901234567890123") // 24 bytes

// benchSelf is the shared nodes_delivered of the benchmark's jobs, as
// Node.selfOnly is of a node's.
var benchSelf = []string{testNodeID}

// add is what Node.addJob builds and the queue actor runs for one ADDJOB.
func (b *benchQueue) add() {
	b.seq++
	const ttl, retry = 86400, 8640
	j := &Job{
		ID: b.ids.Next(ttl, retry), Queue: "q", Body: string(benchBody),
		Ctime: benchNow*1_000_000 + b.seq, Etime: benchNow + ttl*1000, Qtime: benchNow + retry*1000,
		Retry: retry, Repl: 1, heapIdx: -1,
	}
	j.shareDelivered(&benchSelf)
	if err := b.q.Add(benchNow, j, 0); err != nil {
		panic(err.Text)
	}
}

// BenchmarkQueueAdd is ADDJOB's queue step into a growing queue.
func BenchmarkQueueAdd(b *testing.B) {
	bq := newBenchQueue()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		bq.add()
	}
}

// BenchmarkQueueTake is GETJOB's queue step (one job) from a full queue.
func BenchmarkQueueTake(b *testing.B) {
	bq := newBenchQueue()
	for i := 0; i < b.N; i++ {
		bq.add()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if items, _ := bq.q.Take(benchNow, 1); len(items) != 1 {
			b.Fatal("queue empty")
		}
	}
}

// BenchmarkQueueLifecycle is one job's whole life in a queue 10,000 deep:
// add, take, ack (deleted, as on a single node).
func BenchmarkQueueLifecycle(b *testing.B) {
	bq := newBenchQueue()
	for i := 0; i < 10_000; i++ {
		bq.add()
	}
	ids := make([]string, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bq.add()
		items, _ := bq.q.Take(benchNow, 1)
		ids[0] = items[0].Id
		if bq.q.Ack(benchNow, ids) != 1 {
			b.Fatal("not acked")
		}
	}
}

// BenchmarkAskAddJob is the gateway-to-actor round trip of ADDJOB without
// RESP: Node.Ask from one goroutine, then from GOMAXPROCS of them.
func BenchmarkAskAddJob(b *testing.B) {
	n, err := Start(Options{NodeID: testNodeID, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Stop()
	ctx := context.Background()
	add := func() {
		r := n.Ask(ctx, &protocol.AddJob{Queue: "q", Body: benchBody, Retry: -1})
		if _, ok := r.(*protocol.AddJobReply); !ok {
			b.Fatalf("ADDJOB: %v", r)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			add()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				add()
			}
		})
	})
}

// BenchmarkAskLifecycle is ADDJOB, GETJOB NOHANG and ACKJOB through
// Node.Ask: three actor round trips per job.
func BenchmarkAskLifecycle(b *testing.B) {
	n, err := Start(Options{NodeID: testNodeID, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Stop()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n.Ask(ctx, &protocol.AddJob{Queue: "q", Body: benchBody, Retry: -1})
		r, ok := n.Ask(ctx, &protocol.GetJob{Queues: []string{"q"}, Nohang: true, Count: 1}).(*protocol.Jobs)
		if !ok || len(r.Jobs) != 1 {
			b.Fatalf("GETJOB: %v", r)
		}
		if c, ok := n.Ask(ctx, &protocol.AckJob{Ids: []string{r.Jobs[0].Id}}).(*protocol.Count); !ok || c.N != 1 {
			b.Fatalf("ACKJOB: %v", c)
		}
	}
}
