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
	"github.com/godisque/godisque/cluster"
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
	// Replicate > 1 starts that many nodes in this process, as a cluster
	// (over an in-process network that serializes every message as the
	// real bus does), and adds every job with REPLICATE Replicate: the
	// heap per job is then that of all its copies. Only in-process.
	Replicate int
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
	addrs, target, inProcess := []string{o.Addr}, o.Addr, o.Addr == ""
	if !inProcess && o.Replicate > 1 {
		return nil, fmt.Errorf("bench: mem with REPLICATE starts its own nodes: give no address")
	}
	if inProcess {
		nodes := max(o.Replicate, 1)
		started, stop, err := startMemNodes(ctx, nodes)
		if err != nil {
			return nil, err
		}
		defer stop()
		addrs, target = started, "godisque (in-process)"
		if nodes > 1 {
			target = fmt.Sprintf("godisque (in-process, %d nodes, REPLICATE %d, all copies)", nodes, nodes)
		}
	}
	conns := make([]*Conn, len(addrs))
	for i, a := range addrs {
		c, err := Dial(a, 5*time.Second)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		conns[i] = c
	}
	c := conns[0]
	sample := func() (memSample, error) {
		var s memSample
		for i, c := range conns {
			info, err := c.Info("memory")
			if err != nil {
				return memSample{}, err
			}
			num := func(k string) int64 { v, _ := strconv.ParseInt(info[k], 10, 64); return v }
			s.used += num("used_memory")
			if i == 0 {
				s.heap, s.rss = num("go_heap_alloc"), num("used_memory_rss")
			}
		}
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
		if err := memFill(c, queue, size, o.Jobs, o.Pipeline, o.Replicate); err != nil {
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
		if len(conns) > 1 {
			// The acks reach the other copies a moment later.
			if err := waitNoJobs(ctx, conns); err != nil {
				return out, err
			}
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

// startMemNodes starts n nodes in this process; more than one join as a
// cluster (CLUSTER MEET over an in-process network) before it returns.
func startMemNodes(ctx context.Context, n int) (addrs []string, stop func(), err error) {
	var nodes []*disque.Node
	var dirs []string
	stop = func() {
		for _, nd := range nodes {
			_ = nd.Stop()
		}
		for _, d := range dirs {
			os.RemoveAll(d)
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	var network *cluster.MemNetwork
	if n > 1 {
		network = cluster.NewMemNetwork()
	}
	for i := 0; i < n; i++ {
		dir, err := os.MkdirTemp("", "disque-bench-mem-")
		if err != nil {
			return nil, nil, err
		}
		dirs = append(dirs, dir)
		ln, err := listenClientPort()
		if err != nil {
			return nil, nil, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		cfg := config.Default()
		cfg.Dir, cfg.Port, cfg.Bind = dir, port, []string{"127.0.0.1"}
		dc := disque.Config{Server: cfg, Listener: ln}
		if network != nil {
			dc.Network = network
			dc.BusAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port+config.BusPortOffset))
		}
		node, err := disque.Start(ctx, dc)
		if err != nil {
			ln.Close()
			return nil, nil, err
		}
		nodes = append(nodes, node)
		addrs = append(addrs, node.Addr())
	}
	for i := 1; i < n; i++ {
		_, port, _ := net.SplitHostPort(addrs[i])
		if err := clusterMeet(addrs[i-1], port); err != nil {
			return nil, nil, err
		}
	}
	if n > 1 {
		if err := waitMesh(ctx, addrs); err != nil {
			return nil, nil, err
		}
	}
	return addrs, stop, nil
}

// listenClientPort opens a loopback port with room for its bus port
// (+10000) below 65536, as CLUSTER MEET requires.
func listenClientPort() (net.Listener, error) {
	for try := 0; try < 100; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		if ln.Addr().(*net.TCPAddr).Port <= config.MaxPortWithDerivedBus {
			return ln, nil
		}
		ln.Close()
	}
	return nil, fmt.Errorf("bench: no loopback port below %d", config.MaxPortWithDerivedBus)
}

func clusterMeet(addr, port string) error {
	c, err := Dial(addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Do("CLUSTER", "MEET", "127.0.0.1", port)
	if err != nil {
		return err
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("bench: CLUSTER MEET: %w", err)
	}
	return nil
}

// waitNoJobs waits until no node holds a job (INFO registered_jobs 0).
func waitNoJobs(ctx context.Context, conns []*Conn) error {
	deadline := time.Now().Add(meshWait)
	for _, c := range conns {
		for {
			info, err := c.Info("jobs")
			if err != nil {
				return err
			}
			if info["registered_jobs"] == "0" {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("bench: a node still holds %s jobs after the acks", info["registered_jobs"])
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// memFill adds n jobs to queue, pipelined, with REPLICATE replicate when
// it is above 1.
func memFill(c *Conn, queue string, size, n, depth, replicate int) error {
	args := []string{"ADDJOB", queue, string(Body(size)), "5000"}
	if replicate > 1 {
		args = append(args, "REPLICATE", strconv.Itoa(replicate))
	}
	cmd := AppendCommand(nil, args...)
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
