package gateway

import (
	"testing"

	"github.com/godisque/godisque/protocol"
)

// Benchmarks of the pure argument parsers and reply writers of the hot
// commands (STYLE.md 15). The RESP round trip through a node is
// roundtrip_bench_test.go; the load generator is bench/.
//
//	go test -run '^$' -bench 'Parse|Append' -benchmem ./gateway/

func benchArgs(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

func benchIDs(n int) []string {
	g := protocol.NewIDGen("0123456789abcdef0123456789abcdef01234567", []byte("bench"))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = g.Next(86400, 8640)
	}
	return ids
}

func BenchmarkParseADDJOB(b *testing.B) {
	for _, tc := range []struct {
		name string
		args [][]byte
	}{
		{"plain", benchArgs("ADDJOB", "queue", "012345678901234567890123", "0")},
		{"options", benchArgs("ADDJOB", "queue", "012345678901234567890123", "5000",
			"REPLICATE", "3", "RETRY", "60", "TTL", "3600", "MAXLEN", "1000")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := parseADDJOB(tc.args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseGETJOB(b *testing.B) {
	args := benchArgs("GETJOB", "NOHANG", "TIMEOUT", "100", "COUNT", "16", "FROM", "queue")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := parseGETJOB(args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseACKJOB(b *testing.B) {
	for _, n := range []int{1, 16} {
		args := benchArgs(append([]string{"ACKJOB"}, benchIDs(n)...)...)
		b.Run(map[int]string{1: "1id", 16: "16ids"}[n], func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := parseACKJOB(args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendJobs(b *testing.B) {
	jobs := &protocol.Jobs{}
	for _, id := range benchIDs(16) {
		jobs.Jobs = append(jobs.Jobs, &protocol.JobItem{Queue: "queue", Id: id, Body: []byte("012345678901234567890123")})
	}
	one := &protocol.Jobs{Jobs: jobs.Jobs[:1]}
	buf := make([]byte, 0, 4096)
	b.Run("1job", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			buf = appendJobs(buf[:0], one, false, true)
		}
	})
	b.Run("16jobs", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			buf = appendJobs(buf[:0], jobs, false, true)
		}
	})
}
