package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/godisque/godisque/bench"
)

// -------------------------------- The workload --------------------------------
//
// Each client is a loop on its own goroutine: it picks a node at random,
// and either enqueues a value nobody else ever enqueues (ADDJOB with the
// run's REPLICATE and RETRY), or dequeues (GETJOB with a short TIMEOUT)
// and, when it got a job, acknowledges it (ACKJOB) on another random node.
// Every operation is recorded with its invocation and completion times and
// its outcome:
//
//   - ok: the node answered, and not with an error;
//   - fail: the node answered an error, or could not be reached at all (a
//     refused connection carries no command, so nothing happened);
//   - unknown: the command was sent and no answer came (a broken
//     connection, a paused node, a deadline): it may have happened.
//
// A client never retries an operation and never reuses a value: a retried
// ADDJOB would make a second job of the same value, and the checker could
// no longer tell a duplicate delivery from two jobs. Clients talk RESP
// through bench.Conn, one connection per node, dropped and redialled after
// anything but a reply.

// Recorder collects a run's history from many goroutines, with times as
// offsets from its start, and tracks which acknowledged values have not
// been dequeued yet (the drain stops early once there are none).
type Recorder struct {
	t0 time.Time

	mu      sync.Mutex
	h       History
	pending map[string]bool // enqueued OK, not dequeued yet
	seen    map[string]bool // dequeued
}

// NewRecorder starts the clock of a history at t0.
func NewRecorder(t0 time.Time) *Recorder {
	return &Recorder{t0: t0, pending: map[string]bool{}, seen: map[string]bool{}}
}

// Since is the offset of t in the history.
func (r *Recorder) Since(t time.Time) time.Duration { return t.Sub(r.t0) }

// Add records a completed op.
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h = append(r.h, op)
	if op.Outcome != OK {
		return
	}
	switch op.Kind {
	case Enqueue:
		if !r.seen[op.Value] {
			r.pending[op.Value] = true
		}
	case Dequeue:
		if op.Value != "" {
			r.seen[op.Value] = true
			delete(r.pending, op.Value)
		}
	}
}

// Pending is how many acknowledged values were not dequeued yet.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// History is a copy of what was recorded.
func (r *Recorder) History() History {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(History(nil), r.h...)
}

// WorkloadOptions configure the clients.
type WorkloadOptions struct {
	Addrs     []string // the nodes, by RESP address
	Clients   int
	Queue     string
	Replicate int
	Retry     time.Duration // whole seconds
	// Rate bounds each client's steps per second (an enqueue, or a dequeue
	// with its ack); 0 is as fast as the cluster answers.
	Rate float64
	// EnqueueShare is the probability that a step enqueues.
	EnqueueShare float64
	// AddTimeout is ADDJOB's replication timeout; GetTimeout GETJOB's
	// TIMEOUT. Slack is how much longer the client waits for a reply
	// before it calls the op unknown.
	AddTimeout, GetTimeout, Slack time.Duration
	Seed                          uint64
}

// RunWorkload runs the clients until ctx ends, then waits for their last
// operations to complete.
func RunWorkload(ctx context.Context, o WorkloadOptions, rec *Recorder) {
	var wg sync.WaitGroup
	for i := range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(i, o, rec)
			defer c.close()
			c.loop(ctx)
		}()
	}
	wg.Wait()
}

type client struct {
	id    int
	o     WorkloadOptions
	rec   *Recorder
	rng   *rand.Rand
	conns map[string]*bench.Conn
	seq   int
}

func newClient(id int, o WorkloadOptions, rec *Recorder) *client {
	return &client{
		id: id, o: o, rec: rec, conns: map[string]*bench.Conn{},
		rng: rand.New(rand.NewPCG(o.Seed, uint64(id)+1)),
	}
}

func (c *client) close() {
	for _, conn := range c.conns {
		conn.Close()
	}
}

func (c *client) node() string { return c.o.Addrs[c.rng.IntN(len(c.o.Addrs))] }

func (c *client) loop(ctx context.Context) {
	var every time.Duration
	if c.o.Rate > 0 {
		every = time.Duration(float64(time.Second) / c.o.Rate)
	}
	next := time.Now()
	for ctx.Err() == nil {
		if c.rng.Float64() < c.o.EnqueueShare {
			c.enqueue()
		} else {
			c.dequeue()
		}
		if every > 0 {
			next = next.Add(every)
			if wait := time.Until(next); wait > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			} else {
				next = time.Now() // behind: do not burst to catch up
			}
		}
	}
}

// value names the client's next job body: unique in the run.
func (c *client) value() string {
	c.seq++
	return strconv.Itoa(c.id) + "-" + strconv.Itoa(c.seq)
}

func (c *client) enqueue() {
	v, addr := c.value(), c.node()
	args := []string{"ADDJOB", c.o.Queue, v, strconv.FormatInt(c.o.AddTimeout.Milliseconds(), 10),
		"REPLICATE", strconv.Itoa(c.o.Replicate), "RETRY", strconv.FormatInt(int64(c.o.Retry/time.Second), 10)}
	op := Op{Client: c.id, Kind: Enqueue, Value: v, Node: addr, Replicate: c.o.Replicate}
	r := c.call(&op, addr, c.o.AddTimeout+c.o.Slack, args...)
	if r != nil && op.Outcome == OK {
		op.JobID = string(r.Str)
	}
	c.rec.Add(op)
}

func (c *client) dequeue() {
	addr := c.node()
	op := Op{Client: c.id, Kind: Dequeue, Node: addr}
	r := c.call(&op, addr, c.o.GetTimeout+c.o.Slack, "GETJOB", "TIMEOUT",
		strconv.FormatInt(c.o.GetTimeout.Milliseconds(), 10), "COUNT", "1", "FROM", c.o.Queue)
	var id string
	if r != nil && op.Outcome == OK && !r.Null && len(r.Elems) > 0 {
		if job := r.Elems[0]; len(job.Elems) >= 3 {
			id, op.JobID, op.Value = string(job.Elems[1].Str), string(job.Elems[1].Str), string(job.Elems[2].Str)
		} else {
			op.Outcome, op.Error = Fail, "malformed GETJOB reply: "+r.String()
		}
	}
	c.rec.Add(op)
	if id == "" {
		return
	}
	addr = c.node()
	ack := Op{Client: c.id, Kind: Ack, JobID: id, Value: op.Value, Node: addr}
	c.call(&ack, addr, c.o.Slack, "ACKJOB", id)
	c.rec.Add(ack)
}

// call runs one command on addr within timeout and fills in op's times and
// outcome. The reply is nil unless the node answered.
func (c *client) call(op *Op, addr string, timeout time.Duration, args ...string) *bench.Reply {
	start := time.Now()
	op.Start = c.rec.Since(start)
	r, out, err := c.roundTrip(addr, timeout, args...)
	op.End = c.rec.Since(time.Now())
	op.Outcome = out
	if err != nil {
		op.Error = err.Error()
	}
	if out == Fail && r == nil {
		// Unreachable node: do not spin on it.
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

func (c *client) roundTrip(addr string, timeout time.Duration, args ...string) (*bench.Reply, Outcome, error) {
	conn := c.conns[addr]
	if conn == nil {
		var err error
		if conn, err = bench.Dial(addr, min(timeout, time.Second)); err != nil {
			return nil, Fail, fmt.Errorf("dial: %w", err)
		}
		c.conns[addr] = conn
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	r, err := conn.Do(args...)
	if err != nil {
		conn.Close()
		delete(c.conns, addr)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, Unknown, errors.New("timeout")
		}
		return nil, Unknown, err
	}
	if err := r.Err(); err != nil {
		return r, Fail, err
	}
	return r, OK, nil
}
