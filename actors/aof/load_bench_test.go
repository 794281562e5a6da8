package aof

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godisque/godisque/protocol"
)

// BenchmarkLoad1M loads a file of one million LOADJOB records shaped like
// real ones (40-byte IDs, a 100-byte body, three nodes delivered), the way a
// node starts: every record decoded and handed to the callback.
//
//	go test -run '^$' -bench Load1M -benchtime 3x ./actors/aof/
func BenchmarkLoad1M(b *testing.B) {
	const n = 1_000_000
	p := filepath.Join(b.TempDir(), "disque.aof")
	w, err := Open(p, No)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(strings.Repeat("x", 100))
	nodes := []string{strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)}
	for i := 0; i < n; i++ {
		j := &protocol.Job{
			Id:             fmt.Sprintf("D-dcb833cf-%024d-05a1", i),
			Queue:          fmt.Sprintf("queue-%d", i%100),
			Body:           body,
			State:          protocol.JobState_QUEUED,
			Repl:           3,
			Ctime:          1_700_000_000_000_000_000 + int64(i),
			EtimeMs:        1_700_000_000_000 + 86_400_000,
			QtimeMs:        1_700_000_000_000 + int64(i),
			Retry:          300,
			NodesDelivered: nodes,
			Flags:          1,
		}
		if err := w.Append(j); err != nil {
			b.Fatal(err)
		}
		if i%10_000 == 0 {
			if err := w.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	size := fileSize(b, p)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var jobs int
		res, err := Load(p, LoadOptions{}, func(m protocol.Message) error {
			if _, ok := m.(*protocol.Job); ok {
				jobs++
			}
			return nil
		})
		if err != nil || jobs != n || res.Records != n {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
	b.Logf("%d records, %d MB", n, size>>20)
}
