package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/config"
)

// ---------------------------------- Memory ------------------------------------
//
// Mem fills a node with Jobs jobs of each body size, one size at a time, and
// reports what each resting queued job costs: Go heap after a GC, resident
// set, and the node's accounted used_memory (what maxmemory is judged on).
// Then it fetches and acknowledges every job and checks the heap came back
// to where it started.
//
// With no address it starts a node inside this process, where the heap can
// be read after a forced GC (runtime.ReadMemStats after debug.FreeOSMemory):
// the exact figure. Against a node given by address it can only read INFO:
// go_heap_alloc is then the heap at that instant, garbage included, and an
// original disque-server reports no heap at all. See also
// actors.BenchmarkHeapPerQueuedJob, the same heap figure without RESP.

// MemOptions configures Mem.
type MemOptions struct {
	Addr      string // "" starts a node in this process
	Jobs      int
	BodySizes []int
	Pipeline  int
	Progress  io.Writer
}

// MemResult is the cost of Jobs resting jobs of one body size.
type MemResult struct {
	Target           string  `json:"target"`
	BodySize         int     `json:"body_size"`
	Jobs             int     `json:"jobs"`
	HeapAfterGC      bool    `json:"heap_after_gc"` // false: INFO go_heap_alloc of a remote node
	HeapPerJob       float64 `json:"heap_bytes_per_job"`
	RSSPerJob        float64 `json:"rss_bytes_per_job"`
	UsedMemoryPerJob float64 `json:"used_memory_bytes_per_job"`
	HeapBaseline     int64   `json:"heap_baseline"`
	HeapFull         int64   `json:"heap_full"`
	HeapAfterAck     int64   `json:"heap_after_ack"`
	// HeapReturned: after the acks the heap is within 1 MiB or 5% of the
	// jobs' heap of its baseline.
	HeapReturned bool `json:"heap_returned"`
}

type memSample struct{ heap, rss, used int64 }

// Mem runs the memory measurement.
func Mem(ctx context.Context, o MemOptions) ([]MemResult, error) {
	if o.Jobs <= 0 {
		return nil, fmt.Errorf("bench: mem needs a positive number of jobs")
	}
	if len(o.BodySizes) == 0 {
		o.BodySizes = []int{24, 1024}
	}
	if o.Pipeline <= 0 {
		o.Pipeline = 256
	}
	addr, target, inProcess := o.Addr, o.Addr, o.Addr == ""
	if inProcess {
		dir, err := os.MkdirTemp("", "disque-bench-mem-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg := config.Default()
		cfg.Dir = dir
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		node, err := disque.Start(ctx, disque.Config{Server: cfg, Listener: ln})
		if err != nil {
			return nil, err
		}
		defer func() { _ = node.Stop() }()
		addr, target = node.Addr(), "godisque (in-process)"
	}
	c, err := Dial(addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sample := func() (memSample, error) {
		info, err := c.Info("memory")
		if err != nil {
			return memSample{}, err
		}
		num := func(k string) int64 { v, _ := strconv.ParseInt(info[k], 10, 64); return v }
		s := memSample{heap: num("go_heap_alloc"), rss: num("used_memory_rss"), used: num("used_memory")}
		if inProcess {
			debug.FreeOSMemory() // a GC, and the freed pages back to the OS
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			s.heap = int64(ms.HeapAlloc)
			if rss, err := ProcessRSS(os.Getpid()); err == nil {
				s.rss = rss
			}
		}
		return s, nil
	}
	var out []MemResult
	for _, size := range o.BodySizes {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		queue := fmt.Sprintf("bench:mem:%d", size)
		base, err := sample()
		if err != nil {
			return out, err
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "\r\033[Kmem: adding %d jobs of %d bytes", o.Jobs, size)
		}
		if err := memFill(c, queue, size, o.Jobs, o.Pipeline); err != nil {
			return out, err
		}
		full, err := sample()
		if err != nil {
			return out, err
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "\r\033[Kmem: fetching and acknowledging %d jobs of %d bytes", o.Jobs, size)
		}
		if err := memDrain(c, queue); err != nil {
			return out, err
		}
		after, err := sample()
		if err != nil {
			return out, err
		}
		n := float64(o.Jobs)
		grown := full.heap - base.heap
		r := MemResult{
			Target: target, BodySize: size, Jobs: o.Jobs, HeapAfterGC: inProcess,
			HeapPerJob: float64(grown) / n, RSSPerJob: float64(full.rss-base.rss) / n,
			UsedMemoryPerJob: float64(full.used-base.used) / n,
			HeapBaseline:     base.heap, HeapFull: full.heap, HeapAfterAck: after.heap,
		}
		r.HeapReturned = after.heap-base.heap <= max(1<<20, grown/20)
		out = append(out, r)
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "\r\033[K")
	}
	return out, nil
}

// memFill adds n jobs to queue, pipelined.
func memFill(c *Conn, queue string, size, n, depth int) error {
	cmd := AppendCommand(nil, "ADDJOB", queue, string(Body(size)), "5000")
	var r Reply
	for done := 0; done < n; {
		k := min(depth, n-done)
		for i := 0; i < k; i++ {
			c.Append(cmd)
		}
		if err := c.Flush(); err != nil {
			return err
		}
		for i := 0; i < k; i++ {
			if err := c.Read(&r); err != nil {
				return err
			}
			if err := r.Err(); err != nil {
				return fmt.Errorf("bench: ADDJOB: %w", err)
			}
		}
		done += k
	}
	return nil
}

// memDrain fetches and acknowledges every job of queue.
func memDrain(c *Conn, queue string) error {
	get := AppendCommand(nil, "GETJOB", "NOHANG", "COUNT", "1000", "FROM", queue)
	var r Reply
	var ack []byte
	for {
		c.Append(get)
		if err := c.Flush(); err != nil {
			return err
		}
		if err := c.Read(&r); err != nil {
			return err
		}
		if err := r.Err(); err != nil {
			return fmt.Errorf("bench: GETJOB: %w", err)
		}
		if isEmpty(&r) {
			return nil
		}
		ack = AppendArrayHeader(ack[:0], 1+len(r.Elems))
		ack = AppendBulkString(ack, "ACKJOB")
		for i := range r.Elems {
			if job := &r.Elems[i]; len(job.Elems) >= 2 {
				ack = AppendBulk(ack, job.Elems[1].Str)
			}
		}
		c.Append(ack)
		if err := c.Flush(); err != nil {
			return err
		}
		if err := c.Read(&r); err != nil {
			return err
		}
		if err := r.Err(); err != nil {
			return fmt.Errorf("bench: ACKJOB: %w", err)
		}
	}
}

// WriteMem prints memory results.
func WriteMem(w io.Writer, rs []MemResult) {
	for _, r := range rs {
		heapNote := "heap after GC"
		if !r.HeapAfterGC {
			heapNote = "heap (INFO go_heap_alloc, not after GC)"
		}
		back := "returned to its baseline"
		if !r.HeapReturned {
			back = "did NOT return to its baseline"
		}
		fmt.Fprintf(w, "memory, %s, %d jobs of %d bytes: %s %.0f B/job, RSS %.0f B/job, used_memory %.0f B/job; "+
			"after acknowledging them the heap %s (%+.1f KiB)\n",
			r.Target, r.Jobs, r.BodySize, heapNote, r.HeapPerJob, r.RSSPerJob, r.UsedMemoryPerJob,
			back, float64(r.HeapAfterAck-r.HeapBaseline)/1024)
	}
}
