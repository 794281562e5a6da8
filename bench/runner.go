package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// --------------------------------- The runner ---------------------------------
//
// Run executes one scenario against one endpoint (or a cluster given as
// several addresses) in three steps, over the same connections:
//
//  1. setup: optionally flush the server (Flush), and fill the queues of a
//     take scenario (Prefill jobs, pipelined, not measured);
//  2. warm-up: the workload runs for Warmup and nothing is recorded; a take
//     scenario's queues are then topped up by what the warm-up took;
//  3. the measured phase: Count operations, or Duration of them. Every
//     connection is a goroutine that writes Pipeline commands, flushes once
//     and reads the replies, recording each reply's latency from the flush
//     into its own histogram. A sampler counts operations every SampleEvery
//     for the throughput series and redraws the progress line.
//
// When the server is a process on this machine (its INFO process_id names a
// /proc entry), the measured phase also reads the server's CPU time
// (utime+stime from /proc/PID/stat) before and after: ServerCPU.

// Options configures one run.
type Options struct {
	Scenario    string
	Addrs       []string      // host:port; a cluster is several
	Label       string        // names the target in reports ("godisque", "redis")
	Connections int           // concurrent connections
	Pipeline    int           // commands in flight per connection
	BodySize    int           // job body bytes
	Queues      int           // queues (lists) the connections spread over
	Count       int64         // operations to measure; 0 means Duration
	Duration    time.Duration // how long to measure when Count is 0
	Warmup      time.Duration // unmeasured run before measuring
	Replicate   int           // REPLICATE n of the replicated scenario
	TimeoutMs   int           // ADDJOB's ms-timeout
	Prefill     int64         // jobs put in the queues of a take scenario; 0: Count, or see takeFill
	Backlog     int64         // lifecycle: the most jobs producers run ahead of the acks
	QueuePrefix string        // queue names are PREFIX:SCENARIO:i
	Flush       bool          // DEBUG FLUSHALL / FLUSHALL every address before the run
	ServerPID   int           // server process for the CPU figure; 0 asks INFO, -1 disables
	SampleEvery time.Duration // throughput series step
	Progress    io.Writer     // live progress line ("\r..."); nil for none
	DialTimeout time.Duration
}

// DefaultOptions are redis-benchmark-like defaults: 50 connections, no
// pipelining, 24-byte bodies, one queue, 100,000 operations.
func DefaultOptions() Options {
	return Options{
		Connections: 50, Pipeline: 1, BodySize: 24, Queues: 1, Count: 100_000,
		Replicate: 3, TimeoutMs: 5000, Backlog: 10_000, QueuePrefix: "bench",
		SampleEvery: 100 * time.Millisecond, DialTimeout: 5 * time.Second,
	}
}

func (o *Options) validate() error {
	switch {
	case len(o.Addrs) == 0:
		return errors.New("bench: no address")
	case o.Connections < 1:
		return errors.New("bench: connections must be at least 1")
	case o.Pipeline < 1:
		return errors.New("bench: pipeline must be at least 1")
	case o.BodySize < 0:
		return errors.New("bench: body size must not be negative")
	case o.Queues < 1:
		return errors.New("bench: queues must be at least 1")
	case o.Count < 0 || (o.Count == 0 && o.Duration <= 0):
		return errors.New("bench: give a count of operations or a duration")
	case o.Replicate < 1:
		return errors.New("bench: replicate must be at least 1")
	}
	info := scenarios[o.Scenario]
	if info.shape == shapeLifecycle && o.Connections < 2 {
		return fmt.Errorf("bench: %s needs at least 2 connections (producers and consumers)", o.Scenario)
	}
	if info.federated && len(o.Addrs) < 2 {
		return fmt.Errorf("bench: %s needs at least 2 addresses (produce on the first, consume on the others)", o.Scenario)
	}
	if o.SampleEvery <= 0 {
		o.SampleEvery = 100 * time.Millisecond
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Backlog <= 0 {
		o.Backlog = 10_000
	}
	if o.QueuePrefix == "" {
		o.QueuePrefix = "bench"
	}
	if o.Label == "" {
		o.Label = o.Addrs[0]
	}
	return nil
}

// Result is what one run measured.
type Result struct {
	Scenario    string
	Label       string
	Addrs       []string
	Connections int
	Pipeline    int
	BodySize    int
	Queues      int

	Ops        int64         // operations completed in the measured phase (jobs, for a lifecycle)
	Commands   int64         // commands answered in the measured phase
	Errors     int64         // error replies
	FirstError string        // the first error reply's text
	Empty      int64         // take and get replies that held no job
	Elapsed    time.Duration // length of the measured phase
	Dry        bool          // a timed take run ended early: its queues ran dry (raise Prefill)

	Latency    *Histogram            // every command's round trip, ns
	PerCommand map[string]*Histogram // by command name

	SampleEvery time.Duration
	Series      []float64 // operations per second in each SampleEvery step

	ServerPID int           // 0 when the server's CPU was not read
	ServerCPU time.Duration // server utime+stime during the measured phase
}

// OpsPerSec is the measured throughput.
func (r *Result) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// CPUPerOp is the server's CPU time per operation, 0 when unknown.
func (r *Result) CPUPerOp() time.Duration {
	if r.ServerPID == 0 || r.Ops == 0 {
		return 0
	}
	return r.ServerCPU / time.Duration(r.Ops)
}

// phase is the shared state of one run of the workers.
type phase struct {
	record bool
	count  int64 // 0: until stopped

	claimed atomic.Int64 // operations handed out to producers (count mode)
	// perQueue, in a counted take phase, is what is left to take from each
	// queue: each queue was filled with its share of the count, so takers
	// claim from their own queue's share and never find it empty.
	perQueue []atomic.Int64
	ops      atomic.Int64 // operations completed
	other    atomic.Int64 // error and empty replies: they end a count as operations do
	dry      atomic.Bool  // a timed take phase stopped because a queue ran dry
	cmds     atomic.Int64 // commands answered
	produced atomic.Int64 // lifecycle: jobs added
	stopped  atomic.Bool
	stopOnce sync.Once
	started  time.Time
	stopAt   time.Time // set once, by stop
	stopOps  int64     // ops when stopped
	done     chan struct{}
}

func newPhase(record bool, count int64) *phase {
	return &phase{record: record, count: count, done: make(chan struct{}), started: time.Now()}
}

func (ph *phase) stop() {
	ph.stopOnce.Do(func() {
		ph.stopAt = time.Now()
		ph.stopOps = ph.ops.Load()
		ph.stopped.Store(true)
		close(ph.done)
	})
}

// claim hands out up to n operations to a producer or a taker of queue:
// 0 when the phase is over for it.
func (ph *phase) claim(n, queue int) int {
	if ph.stopped.Load() {
		return 0
	}
	if ph.count == 0 {
		return n
	}
	budget, limit := &ph.claimed, ph.count
	if ph.perQueue != nil {
		budget, limit = &ph.perQueue[queue], 0
		for {
			left := budget.Load()
			if left <= 0 {
				return 0
			}
			k := min(int64(n), left)
			if budget.CompareAndSwap(left, left-k) {
				return int(k)
			}
		}
	}
	for {
		c := budget.Load()
		if c >= limit {
			return 0
		}
		k := min(int64(n), limit-c)
		if budget.CompareAndSwap(c, c+k) {
			return int(k)
		}
	}
}

// share is queue i's part of n spread over q queues.
func share(n int64, q, i int) int64 {
	s := n / int64(q)
	if int64(i) < n%int64(q) {
		s++
	}
	return s
}

// spread is n shared over q queues.
func spread(n int64, q int) []int64 {
	out := make([]int64, q)
	for i := range out {
		out[i] = share(n, q, i)
	}
	return out
}

// A timed take run without an explicit Prefill starts with takeFill jobs;
// after a warm-up the queues are topped up to what the warm-up's rate
// says the run will take, up to maxTakeFill. Should they still run dry,
// the run ends there and says so (Result.Dry).
const (
	takeFill    = 500_000
	maxTakeFill = 20_000_000
)

// completed counts finished operations (and replies that end a claim
// without being one) and stops a counted phase at its end.
func (ph *phase) completed(ok, other int64) {
	total := ph.ops.Add(ok)
	if other > 0 {
		total += ph.other.Add(other)
	} else {
		total += ph.other.Load()
	}
	if ph.count > 0 && total >= ph.count {
		ph.stop()
	}
}

// worker is one connection's loop and its private tallies.
type worker struct {
	conn   *Conn
	role   shape // shapeProduce, shapeTake, or shapeLifecycle for a consumer
	queue  int
	hists  [numCmds]*Histogram
	errors int64
	first  string
	empty  int64
	taken  int64 // jobs a taker got: a warm-up's are put back
	reply  Reply
	acks   []byte
}

func (w *worker) fail(r *Reply) {
	w.errors++
	if w.first == "" {
		w.first = string(r.Str)
	}
}

// Run runs one scenario.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	p, err := newPlan(&o)
	if err != nil {
		return nil, err
	}
	// Every queue needs a connection (in a lifecycle, a producer and a
	// consumer), or a counted run would never end.
	if p.info.shape == shapeLifecycle {
		o.Queues = min(o.Queues, o.Connections/2)
	} else {
		o.Queues = min(o.Queues, o.Connections)
	}
	p.queues, p.add, p.take, p.get = p.queues[:o.Queues], p.add[:o.Queues], p.take[:o.Queues], p.get[:o.Queues]
	workers, err := dialWorkers(&o, p)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, w := range workers {
			_ = w.conn.Close()
		}
	}()
	if o.Flush {
		if err := flushAll(&o, p); err != nil {
			return nil, err
		}
	}
	prefill := o.Prefill
	if p.info.shape == shapeTake {
		if prefill == 0 {
			prefill = o.Count
			if prefill == 0 {
				prefill = takeFill
			}
		}
		if err := fill(ctx, &o, p, spread(prefill, o.Queues)); err != nil {
			return nil, err
		}
	}
	if o.Warmup > 0 {
		ph := newPhase(false, 0)
		timer := time.AfterFunc(o.Warmup, ph.stop)
		err := runPhase(ctx, &o, p, workers, ph, nil)
		timer.Stop()
		if err != nil {
			return nil, fmt.Errorf("bench: warm-up: %w", err)
		}
		if p.info.shape == shapeTake {
			// Put back what the warm-up took; a timed run without an
			// explicit Prefill also gets what the warm-up's rate says
			// it will take, with a margin.
			taken := make([]int64, o.Queues)
			var total int64
			for _, w := range workers {
				taken[w.queue] += w.taken
				total += w.taken
			}
			if o.Count == 0 && o.Prefill == 0 {
				rate := float64(total) / ph.stopAt.Sub(ph.started).Seconds()
				need := min(int64(rate*o.Duration.Seconds()*2), maxTakeFill)
				if more := need - (prefill - total); more > 0 {
					for i, m := range spread(more, o.Queues) {
						taken[i] += m
					}
				}
			}
			if err := fill(ctx, &o, p, taken); err != nil {
				return nil, err
			}
		}
		for _, w := range workers {
			w.empty, w.taken, w.errors, w.first = 0, 0, 0, ""
		}
	}

	res := &Result{
		Scenario: o.Scenario, Label: o.Label, Addrs: o.Addrs, Connections: o.Connections,
		Pipeline: o.Pipeline, BodySize: o.BodySize, Queues: o.Queues, SampleEvery: o.SampleEvery,
		Latency: NewHistogram(), PerCommand: map[string]*Histogram{},
	}
	pid := serverPID(&o)
	var cpu0 time.Duration
	if pid > 0 {
		if cpu0, err = ProcessCPU(pid); err != nil {
			pid = 0
		}
	}
	ph := newPhase(true, o.Count)
	if p.info.shape == shapeTake && o.Count > 0 {
		ph.perQueue = make([]atomic.Int64, o.Queues)
		for i := range ph.perQueue {
			ph.perQueue[i].Store(share(o.Count, o.Queues, i))
		}
	}
	if o.Count == 0 {
		timer := time.AfterFunc(o.Duration, ph.stop)
		defer timer.Stop()
	}
	start := time.Now()
	if err := runPhase(ctx, &o, p, workers, ph, res); err != nil {
		return nil, err
	}
	if pid > 0 {
		if cpu1, err := ProcessCPU(pid); err == nil {
			res.ServerPID, res.ServerCPU = pid, cpu1-cpu0
		}
	}
	res.Elapsed = ph.stopAt.Sub(start)
	res.Dry = ph.dry.Load()
	res.Ops = ph.stopOps
	res.Commands = ph.cmds.Load()
	for _, w := range workers {
		res.Errors += w.errors
		res.Empty += w.empty
		if res.FirstError == "" {
			res.FirstError = w.first
		}
		for i, h := range w.hists {
			if h == nil || h.Count() == 0 {
				continue
			}
			name := p.names[i]
			if res.PerCommand[name] == nil {
				res.PerCommand[name] = NewHistogram()
			}
			res.PerCommand[name].Merge(h)
			res.Latency.Merge(h)
		}
	}
	return res, nil
}

// dialWorkers opens one connection per worker and gives each its role,
// queue and address.
func dialWorkers(o *Options, p *plan) ([]*worker, error) {
	producers := o.Connections
	if p.info.shape == shapeLifecycle {
		producers = o.Connections / 2
	}
	var workers []*worker
	for i := 0; i < o.Connections; i++ {
		w := &worker{role: p.info.shape}
		addr := o.Addrs[i%len(o.Addrs)]
		switch {
		case p.info.shape != shapeLifecycle:
			w.queue = i % len(p.queues)
		case i < producers:
			w.role, w.queue = shapeProduce, i%len(p.queues)
			if p.info.federated {
				addr = o.Addrs[0]
			}
		default:
			j := i - producers
			w.queue = j % len(p.queues)
			if p.info.federated {
				addr = o.Addrs[1+j%(len(o.Addrs)-1)]
			}
		}
		c, err := Dial(addr, o.DialTimeout)
		if err != nil {
			for _, w := range workers {
				_ = w.conn.Close()
			}
			return nil, fmt.Errorf("bench: %w", err)
		}
		w.conn = c
		for k := range w.hists {
			w.hists[k] = NewHistogram()
		}
		workers = append(workers, w)
	}
	return workers, nil
}

// flushAll empties every address.
func flushAll(o *Options, p *plan) error {
	for _, addr := range o.Addrs {
		c, err := Dial(addr, o.DialTimeout)
		if err != nil {
			return fmt.Errorf("bench: flush: %w", err)
		}
		r, err := c.Do(p.flush...)
		_ = c.Close()
		if err != nil {
			return fmt.Errorf("bench: flush %s: %w", addr, err)
		}
		if err := r.Err(); err != nil {
			return fmt.Errorf("bench: flush %s: %w", addr, err)
		}
	}
	return nil
}

// fill adds perQueue[i] jobs to queue i, pipelined and unmeasured, over a
// few connections of their own, each address in turn.
func fill(ctx context.Context, o *Options, p *plan, perQueue []int64) error {
	const depth = 256
	type chunk struct {
		queue int
		n     int64
	}
	work := make(chan chunk, 64)
	go func() {
		defer close(work)
		for q, n := range perQueue {
			for ; n > 0; n -= depth {
				select {
				case work <- chunk{q, min(depth, n)}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	conns := min(8, o.Connections)
	errc := make(chan error, conns)
	for i := 0; i < conns; i++ {
		go func(addr string) {
			errc <- func() error {
				c, err := Dial(addr, o.DialTimeout)
				if err != nil {
					drain(work)
					return err
				}
				defer c.Close()
				var r Reply
				for ch := range work {
					m := ch.n
					for j := int64(0); j < m; j++ {
						c.Append(p.add[ch.queue])
					}
					if err := c.Flush(); err != nil {
						return err
					}
					for j := int64(0); j < m; j++ {
						if err := c.Read(&r); err != nil {
							return err
						}
						if err := r.Err(); err != nil {
							drain(work)
							return err
						}
					}
				}
				return ctx.Err()
			}()
		}(o.Addrs[i%len(o.Addrs)])
	}
	var first error
	for i := 0; i < conns; i++ {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("bench: filling the queues: %w", first)
	}
	return nil
}

// drain empties a channel until it is closed, so that its sender ends.
func drain[T any](c <-chan T) {
	for range c {
	}
}

// runPhase runs every worker until the phase stops, sampling throughput
// into res when res is not nil.
func runPhase(ctx context.Context, o *Options, p *plan, workers []*worker, ph *phase, res *Result) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(workers))
	stopCtx := context.AfterFunc(ctx, ph.stop)
	defer stopCtx()
	for _, w := range workers {
		wg.Add(1)
		go func(w *worker) {
			defer wg.Done()
			if err := w.run(o, p, ph); err != nil {
				errc <- err
				ph.stop()
			}
		}(w)
	}
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		sample(o, ph, res)
	}()
	<-ph.done
	// Workers finish the batch they are in: a lifecycle consumer may sit in
	// its blocking gets until they time out, a replicated ADDJOB until its
	// ms-timeout. Past that the server is not answering.
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	grace := time.Duration(o.Pipeline*getTimeoutMs+o.TimeoutMs)*time.Millisecond + 5*time.Second
	select {
	case <-finished:
	case <-time.After(grace):
		for _, w := range workers {
			_ = w.conn.SetDeadline(time.Now())
		}
		<-finished
		for _, w := range workers {
			_ = w.conn.SetDeadline(time.Time{})
		}
		return errors.New("bench: workers did not stop")
	}
	<-samplerDone
	select {
	case err := <-errc:
		if isTimeout(err) {
			return fmt.Errorf("bench: server stopped answering: %w", err)
		}
		return err
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sample records the throughput series and draws the progress line until
// the phase stops.
func sample(o *Options, ph *phase, res *Result) {
	t := time.NewTicker(o.SampleEvery)
	defer t.Stop()
	start := time.Now()
	last, lastAt := int64(0), start
	redraw := time.Now()
	for {
		select {
		case <-ph.done:
			if res != nil {
				if d := ph.stopAt.Sub(lastAt); d > o.SampleEvery/4 {
					res.Series = append(res.Series, float64(ph.stopOps-last)/d.Seconds())
				}
			}
			if o.Progress != nil && res != nil {
				fmt.Fprintf(o.Progress, "\r\033[K")
			}
			return
		case now := <-t.C:
			ops := ph.ops.Load()
			if res != nil {
				res.Series = append(res.Series, float64(ops-last)/now.Sub(lastAt).Seconds())
			}
			if o.Progress != nil && now.Sub(redraw) >= 250*time.Millisecond {
				redraw = now
				what := "measuring"
				if !ph.record {
					what = "warming up"
				}
				rate := float64(ops) / now.Sub(start).Seconds()
				fmt.Fprintf(o.Progress, "\r\033[K%s %s P%d: %s %.1fs, %d ops, %.0f ops/s",
					o.Label, o.Scenario, o.Pipeline, what, now.Sub(start).Seconds(), ops, rate)
			}
			last, lastAt = ops, now
		}
	}
}

// run is the worker's loop for its role.
func (w *worker) run(o *Options, p *plan, ph *phase) error {
	switch w.role {
	case shapeProduce:
		return w.batches(o, ph, p.add[w.queue], cmdAdd, p.info.shape == shapeLifecycle)
	case shapeTake:
		return w.batches(o, ph, p.take[w.queue], cmdTake, false)
	default:
		return w.consume(o, p, ph)
	}
}

// batches sends cmd Pipeline at a time until the phase ends. Each reply is
// an operation of a produce or take scenario; a lifecycle's producer counts
// jobs produced instead and keeps within the backlog.
func (w *worker) batches(o *Options, ph *phase, cmd []byte, kind int, lifecycle bool) error {
	h := w.hists[kind]
	for {
		if lifecycle {
			// In a lifecycle the count is of acknowledged jobs: producers
			// add until the consumers are done, keeping within Backlog.
			for !ph.stopped.Load() && ph.produced.Load()-ph.ops.Load() > o.Backlog {
				time.Sleep(100 * time.Microsecond)
			}
		}
		n := o.Pipeline
		if !lifecycle {
			n = ph.claim(o.Pipeline, w.queue)
		} else if ph.stopped.Load() {
			n = 0
		}
		if n == 0 {
			return nil
		}
		for i := 0; i < n; i++ {
			w.conn.Append(cmd)
		}
		t0 := time.Now()
		if err := w.conn.Flush(); err != nil {
			return err
		}
		var ok, failed int64
		for i := 0; i < n; i++ {
			if err := w.conn.Read(&w.reply); err != nil {
				return err
			}
			if ph.record {
				h.RecordDuration(time.Since(t0))
			}
			switch {
			case w.reply.IsError():
				w.fail(&w.reply)
				failed++
			case kind == cmdTake && isEmpty(&w.reply):
				// Not an operation. A timed run ends here: past this
				// point it would measure empty replies.
				w.empty++
				failed++
				if ph.record && ph.count == 0 {
					ph.dry.Store(true)
					ph.stop()
				}
			case kind == cmdTake:
				w.taken++
				ok++
			default:
				ok++
			}
		}
		ph.cmds.Add(int64(n))
		if lifecycle {
			ph.produced.Add(ok)
			if failed > 0 {
				ph.other.Add(failed)
			}
			continue
		}
		ph.completed(ok, failed)
	}
}

// consume is a lifecycle consumer: Pipeline blocking gets, then one ack per
// job received. Each acknowledged job is an operation.
func (w *worker) consume(o *Options, p *plan, ph *phase) error {
	hGet, hAck := w.hists[cmdGet], w.hists[cmdAck]
	get := p.get[w.queue]
	for !ph.stopped.Load() {
		for i := 0; i < o.Pipeline; i++ {
			w.conn.Append(get)
		}
		t0 := time.Now()
		if err := w.conn.Flush(); err != nil {
			return err
		}
		w.acks = w.acks[:0]
		jobs := 0
		for i := 0; i < o.Pipeline; i++ {
			if err := w.conn.Read(&w.reply); err != nil {
				return err
			}
			if ph.record {
				hGet.RecordDuration(time.Since(t0))
			}
			if w.reply.IsError() {
				w.fail(&w.reply)
				continue
			}
			var ok bool
			if w.acks, ok = p.appendAck(w.acks, w.queue, &w.reply); ok {
				jobs++
			} else {
				w.empty++
			}
		}
		ph.cmds.Add(int64(o.Pipeline))
		if jobs == 0 {
			continue
		}
		w.conn.Append(w.acks)
		t1 := time.Now()
		if err := w.conn.Flush(); err != nil {
			return err
		}
		var ok, failed int64
		for i := 0; i < jobs; i++ {
			if err := w.conn.Read(&w.reply); err != nil {
				return err
			}
			if ph.record {
				hAck.RecordDuration(time.Since(t1))
			}
			if w.reply.IsError() {
				w.fail(&w.reply)
				failed++
			} else {
				ok++
			}
		}
		ph.cmds.Add(int64(jobs))
		ph.completed(ok, failed)
	}
	return nil
}
