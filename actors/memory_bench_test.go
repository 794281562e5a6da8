package actors

import (
	"context"
	"runtime"
	"testing"

	"github.com/godisque/godisque/protocol"
)

// BenchmarkHeapPerQueuedJob reports the Go heap each resting queued job
// costs (24-byte body, one queue), measured after GC, and checks the heap
// returns to its baseline once the jobs are acknowledged.
//
//	go test -run '^$' -bench HeapPerQueuedJob -benchtime 200000x ./actors/
func BenchmarkHeapPerQueuedJob(b *testing.B) {
	n, err := Start(Options{NodeID: testNodeID, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Stop()
	ctx := context.Background()
	body := []byte("012345678901234567890123")
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := heap()
	ids := make([]string, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := n.Ask(ctx, &protocol.AddJob{Queue: "q", Body: append([]byte(nil), body...), Retry: -1})
		ids[i] = r.(*protocol.AddJobReply).Id
	}
	b.StopTimer()
	idsSize := uint64(b.N) * 16 // the ids slice headers held by this benchmark
	full := heap()
	b.ReportMetric(float64(full-base-idsSize)/float64(b.N), "heapB/job")
	b.ReportMetric(float64(n.UsedMemory()-MemoryBase)/float64(b.N), "accountedB/job")
	for start := 0; start < len(ids); start += 1000 {
		end := min(start+1000, len(ids))
		n.Ask(ctx, &protocol.AckJob{Ids: ids[start:end]})
	}
	ids = nil
	after := heap()
	b.ReportMetric(float64(int64(after)-int64(base))/1024, "heapKiB-after-ack")
}
