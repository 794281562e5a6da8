package gateway_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/bench"
	"github.com/godisque/godisque/config"
)

// Benchmarks of the gateway-to-actor round trip over RESP on loopback: one
// connection, the client in this process (bench.Conn, the load
// generator's client), so each op is client encode + syscalls + redcon +
// parse + actor + reply. Without pipelining the figure is latency-bound;
// with 16 in flight it shows the per-command cost a pipeline amortises.
//
//	go test -run '^$' -bench RoundTrip -benchmem ./gateway/

func benchNode(b *testing.B) *bench.Conn {
	b.Helper()
	cfg := config.Default()
	cfg.Dir = b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	n, err := disque.Start(context.Background(), disque.Config{Server: cfg, Listener: ln, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	c, err := bench.Dial(n.Addr(), 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Close()
		_ = n.Stop()
	})
	return c
}

// roundTrips sends cmd b.N times, depth at a time, checking each reply.
func roundTrips(b *testing.B, c *bench.Conn, cmd []byte, depth int, check func(*bench.Reply) bool) {
	roundTripsOf(b, c, [][]byte{cmd}, depth, check)
}

// roundTripsOf is roundTrips cycling through cmds.
func roundTripsOf(b *testing.B, c *bench.Conn, cmds [][]byte, depth int, check func(*bench.Reply) bool) {
	var r bench.Reply
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(depth, b.N-done)
		for i := 0; i < k; i++ {
			c.Append(cmds[(done+i)%len(cmds)])
		}
		if err := c.Flush(); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < k; i++ {
			if err := c.Read(&r); err != nil {
				b.Fatal(err)
			}
			if !check(&r) {
				b.Fatalf("unexpected reply %s", r.String())
			}
		}
		done += k
	}
}

func BenchmarkRoundTripADDJOB(b *testing.B) {
	cmd := bench.AppendCommand(nil, "ADDJOB", "q", "012345678901234567890123", "0")
	isID := func(r *bench.Reply) bool { return r.Kind == bench.KindStatus && strings.HasPrefix(string(r.Str), "D-") }
	b.Run("P1", func(b *testing.B) { roundTrips(b, benchNode(b), cmd, 1, isID) })
	b.Run("P16", func(b *testing.B) { roundTrips(b, benchNode(b), cmd, 16, isID) })
}

// A pipeline of ADDJOBs to as many queues as commands: a producer fanning
// out to per-consumer queues.
func BenchmarkRoundTripADDJOBFanOut(b *testing.B) {
	const queues = 256
	cmds := make([][]byte, queues)
	for i := range cmds {
		cmds[i] = bench.AppendCommand(nil, "ADDJOB", "q"+strconv.Itoa(i), "012345678901234567890123", "0")
	}
	isID := func(r *bench.Reply) bool { return r.Kind == bench.KindStatus && strings.HasPrefix(string(r.Str), "D-") }
	roundTripsOf(b, benchNode(b), cmds, queues, isID)
}

func BenchmarkRoundTripGETJOB(b *testing.B) {
	add := bench.AppendCommand(nil, "ADDJOB", "q", "012345678901234567890123", "0")
	get := bench.AppendCommand(nil, "GETJOB", "NOHANG", "FROM", "q")
	isJob := func(r *bench.Reply) bool { return r.Kind == bench.KindArray && len(r.Elems) == 1 }
	for _, depth := range []int{1, 16} {
		b.Run(map[int]string{1: "P1", 16: "P16"}[depth], func(b *testing.B) {
			c := benchNode(b)
			b.StopTimer()
			roundTrips(b, c, add, 256, func(*bench.Reply) bool { return true }) // fill b.N jobs
			b.StartTimer()
			roundTrips(b, c, get, depth, isJob)
		})
	}
}

func BenchmarkRoundTripPING(b *testing.B) {
	// The floor: a command that never reaches an actor.
	cmd := bench.AppendCommand(nil, "PING")
	isPong := func(r *bench.Reply) bool { return string(r.Str) == "PONG" }
	b.Run("P1", func(b *testing.B) { roundTrips(b, benchNode(b), cmd, 1, isPong) })
	b.Run("P16", func(b *testing.B) { roundTrips(b, benchNode(b), cmd, 16, isPong) })
}
