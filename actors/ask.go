package actors

import (
	"context"
	"math"
	"time"

	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------- The facade ----------------------------------
//
// Ask answers one protocol request. It is what the RESP gateway, the
// embedder API and the node actor (for remote embedders) call. It takes
// ownership of req (the body of an AddJob is kept, not copied). The reply is
// the request's reply message or a *protocol.Error. Only GETJOB blocks;
// cancelling ctx (the client went away) unblocks it, and a job that was
// already on its way is put back at the head of its queue.

// Ask answers req; see the chapter comment.
func (n *Node) Ask(ctx context.Context, req proto.Message) proto.Message {
	if n.stopped.Load() {
		return errStopped
	}
	switch m := req.(type) {
	case *protocol.AddJob:
		return n.addJob(ctx, m)
	case *protocol.GetJob:
		return n.getJob(ctx, m)
	case *protocol.AckJob:
		r := n.byIDs(m.Ids, func(ids []string) any { return &protocol.AckJob{Ids: ids} })
		n.dummyAcks(m.Ids)
		return r
	case *protocol.FastAck:
		r := n.byIDs(m.Ids, func(ids []string) any { return &protocol.FastAck{Ids: ids} })
		n.fastAckUnknown(m.Ids)
		return r
	case *protocol.DelJob:
		return n.byIDs(m.Ids, func(ids []string) any { return &protocol.DelJob{Ids: ids} })
	case *protocol.Dequeue:
		return n.byIDs(m.Ids, func(ids []string) any { return &protocol.Dequeue{Ids: ids} })
	case *protocol.Nack:
		if err := n.CheckOOM(); err != nil {
			return err
		}
		return n.byIDs(m.Ids, func(ids []string) any { return &protocol.Nack{Ids: ids} })
	case *protocol.Enqueue:
		if err := n.CheckOOM(); err != nil {
			return err
		}
		return n.byIDs(m.Ids, func(ids []string) any { return &protocol.Enqueue{Ids: ids} })
	case *protocol.Working:
		if r, ok := n.byID(m.Id, m); ok {
			return r
		}
		return errNoJob
	case *protocol.Show:
		if r, ok := n.byID(m.Id, m); ok {
			return r
		}
		return &protocol.ShowReply{}
	case *protocol.Qlen:
		if r, ok := n.callQueue(m.Queue, false, m); ok {
			return r
		}
		return &protocol.Count{}
	case *protocol.Qpeek:
		if r, ok := n.callQueue(m.Queue, false, m); ok {
			return r
		}
		return &protocol.Jobs{}
	case *protocol.Qstat:
		if r, ok := n.callQueue(m.Queue, false, m); ok {
			return r
		}
		return &protocol.QueueInfo{}
	case *protocol.Pause:
		create := m.Replace && m.Flags != 0
		var reply proto.Message = &protocol.PauseReply{State: "none"}
		if r, ok := n.callQueue(m.Queue, create, m); ok {
			reply = r
		}
		if r, ok := reply.(*protocol.PauseReply); ok && m.Bcast && n.bus != nil {
			n.tell(n.bus.Others(), &protocol.PauseMsg{Queue: m.Queue, Flags: pauseFlags(r.State)})
		}
		return reply
	case *protocol.Qscan:
		return n.qscan(m)
	case *protocol.Jscan:
		return n.jscan(m)
	case *protocol.NodeStats:
		return n.Stats()
	case *protocol.Flush:
		n.Flush()
		return &protocol.Ok{}
	}
	return &protocol.Error{Text: "ERR unknown request"}
}

// --------------------------------- Routing -----------------------------------

// send delivers msg to the queue actor of name and returns where its answer
// will come. With create false a missing queue is not made: ok is false.
func (n *Node) send(name string, create bool, msg any) (done chan any, ok bool) {
	r := &request{msg: msg, done: make(chan any, 1)}
	for {
		ref, found := n.queues.get(name)
		if !found {
			if !create {
				return nil, false
			}
			sq := &spawnQueue{name: name, done: make(chan *queueRef, 1)}
			n.sys.Root.Send(n.pid, sq)
			ref = <-sq.done
		}
		if ref.acquire() {
			n.sys.Root.Send(ref.pid, r)
			ref.release()
			return r.done, true
		}
		// The actor is retiring and its table entry is about to go.
	}
}

func (n *Node) callQueue(name string, create bool, msg any) (proto.Message, bool) {
	done, ok := n.send(name, create, msg)
	if !ok {
		return nil, false
	}
	return asMessage(n.recv(done)), true
}

func asMessage(v any) proto.Message {
	if m, ok := v.(proto.Message); ok {
		return m
	}
	return &protocol.Error{Text: "ERR internal error, check server logs"}
}

// byID routes a one-ID command to the queue owning the job.
func (n *Node) byID(id string, msg any) (proto.Message, bool) {
	j, ok := n.dir.Get(id)
	if !ok {
		return nil, false
	}
	return n.callQueue(j.Queue, false, msg)
}

// byIDs splits an ID-list command by owning queue, sends one request per
// queue (all before waiting for any), and sums the counts. Unknown IDs are
// skipped: on a node alone they need nothing (no dummy acks, SPEC.md §5.3).
func (n *Node) byIDs(ids []string, mk func([]string) any) proto.Message {
	if len(ids) == 1 {
		if j, ok := n.dir.Get(ids[0]); ok {
			if r, ok := n.callQueue(j.Queue, false, mk(ids)); ok {
				return r
			}
		}
		return &protocol.Count{}
	}
	groups := make(map[string][]string)
	var order []string
	for _, id := range ids {
		j, ok := n.dir.Get(id)
		if !ok {
			continue
		}
		if _, seen := groups[j.Queue]; !seen {
			order = append(order, j.Queue)
		}
		groups[j.Queue] = append(groups[j.Queue], id)
	}
	pending := make([]chan any, 0, len(order))
	for _, q := range order {
		if done, ok := n.send(q, false, mk(groups[q])); ok {
			pending = append(pending, done)
		}
	}
	var total int64
	for _, done := range pending {
		if c, ok := n.recv(done).(*protocol.Count); ok {
			total += c.N
		}
	}
	return &protocol.Count{N: total}
}

// pauseFlags is the inverse of PauseName.
func pauseFlags(state string) uint32 {
	switch state {
	case "in":
		return PauseIn
	case "out":
		return PauseOut
	case "all":
		return PauseIn | PauseOut
	}
	return 0
}

// dummyAcks records, in a cluster, an ack for every at-least-once ID this
// node does not know (SPEC.md §5.3), so the ack reaches the nodes that hold
// the job. A node leaving the cluster makes none.
func (n *Node) dummyAcks(ids []string) {
	if n.clusterSize() < 2 || n.leaving.Load() {
		return
	}
	var unknown []string
	for _, id := range ids {
		if _, ok := n.dir.Get(id); !ok && !protocol.JobIDAtMostOnce(id) {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		if done, ok := n.send(dummyQueue, true, &opDummyAck{ids: unknown}); ok {
			n.recv(done)
		}
	}
}

// fastAckUnknown tells every node to delete the jobs FASTACK named that
// this node does not know (SPEC.md §5.4).
func (n *Node) fastAckUnknown(ids []string) {
	if n.bus == nil {
		return
	}
	for _, id := range ids {
		if _, ok := n.dir.Get(id); !ok {
			n.tell(n.bus.Others(), &protocol.DelJobMsg{Id: id})
		}
	}
}

// ---------------------------------- ADDJOB -----------------------------------

// Defaults of SPEC.md §4.
const (
	DefaultTTL      = 86400 // seconds
	maxDefaultRetry = 300   // seconds
)

// maxTTL is the longest TTL kept (about 35,000 years): beyond it the
// expiry time in milliseconds would overflow.
const maxTTL = 1 << 40

// DefaultRetry is the RETRY a job gets when none is given: ttl/10, 1..300 s.
func DefaultRetry(ttl int64) int64 {
	r := ttl / 10
	if r > maxDefaultRetry {
		r = maxDefaultRetry
	}
	if r < 1 {
		r = 1
	}
	return r
}

func (n *Node) nowMs() int64 { return n.clock.Now().UnixMilli() }

// nextCtime is a creation time strictly greater than the node's previous
// one (SPEC.md §5.1 step 9), so jobs of a node have unique ordered ctimes.
func (n *Node) nextCtime(nowMs int64) int64 {
	c := nowMs * 1_000_000
	for {
		last := n.lastCtime.Load()
		next := c
		if next <= last {
			next = last + 1
		}
		if n.lastCtime.CompareAndSwap(last, next) {
			return next
		}
	}
}

// addJob is ADDJOB (SPEC.md §5.1). The gateway has checked the syntax and the
// option ranges; the checks that need the node's state are here.
func (n *Node) addJob(ctx context.Context, m *protocol.AddJob) proto.Message {
	op, err := n.prepareAdd(m)
	if err != nil {
		return err
	}
	done, _ := n.send(m.Queue, true, op)
	return n.awaitAdd(ctx, m.Queue, op, done)
}

// awaitAdd waits for the answer of an ADDJOB sent to queue. One that waits
// for its replication is abandoned when ctx ends first (the client
// disconnected, an embedder gave up): the job is cleaned up as on a
// timeout, and the answer is then the timeout's NOREPL, or the ID if the
// replication won the race. The job is the queue actor's once sent: only
// its ID, which never changes, is read here.
func (n *Node) awaitAdd(ctx context.Context, queue string, op *opAdd, done chan any) proto.Message {
	if !op.cluster {
		return asMessage(n.recv(done))
	}
	select {
	case r := <-done:
		return asMessage(r)
	case <-n.halted:
		return errStopped
	case <-ctx.Done():
		n.send(queue, false, &opAbandon{id: op.job.ID})
		return asMessage(n.recv(done))
	}
}

// prepareAdd runs ADDJOB's node-level checks and builds the job; the queue
// actor does the rest (MAXLEN, PAUSED, registering).
func (n *Node) prepareAdd(m *protocol.AddJob) (*opAdd, *protocol.Error) {
	ttl := m.Ttl
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	ttl = min(ttl, maxTTL) // etime in ms must not overflow
	if m.Retry > math.MaxUint32 {
		return nil, errRetryRange
	}
	if m.Delay > math.MaxUint32 {
		return nil, errDelayRange
	}
	repl := int(m.Replicate)
	if repl == 0 {
		repl = min(3, n.clusterSize())
	}
	// SPEC.md §5.1 steps 3-4, on the effective REPLICATE: a bare RETRY 0
	// fails on any cluster of more than one node.
	retry := m.Retry
	if retry < 0 {
		retry = DefaultRetry(ttl)
	} else if retry == 0 && repl > 1 {
		return nil, errRetryRepl
	}
	if m.Delay >= ttl {
		return nil, errDelayTTL
	}
	level := n.memLevel()
	extrepl := level >= 1 || n.leaving.Load()
	additional := repl - 1
	if extrepl {
		additional = repl
	}
	if reach := n.reachable(); additional > reach {
		if err := n.CheckOOM(); err != nil {
			return nil, err // processCommand's OOM check comes before ADDJOB runs
		}
		switch {
		case extrepl && additional-1 == reach && n.leaving.Load():
			return nil, errNoReplLeav
		case extrepl && additional-1 == reach:
			return nil, errNoReplOOM
		}
		return nil, errNoRepl
	}
	if err := n.CheckOOM(); err != nil {
		return nil, err
	}
	now := n.nowMs()
	me := n.ident.Load()
	j := newJob(me.ids, ttl, retry, m.Body)
	j.Queue = m.Queue
	j.Ctime, j.Etime = n.nextCtime(now), now+ttl*1000
	j.Delay, j.Retry, j.Repl = uint32(m.Delay), uint32(retry), uint16(repl)
	j.shareDelivered(me.selfOnly)
	if m.Delay > 0 {
		j.Qtime = now + m.Delay*1000
	} else {
		j.Qtime = now + retry*1000
	}
	op := &opAdd{job: j, maxlen: m.Maxlen}
	// Other nodes are involved when the job needs copies elsewhere, or this
	// node cannot keep one (SPEC.md §5.1 steps 6 and 10).
	if extrepl || additional > 0 {
		op.cluster = true
		op.opts = AddOptions{Maxlen: m.Maxlen, TimeoutMs: m.TimeoutMs, Async: m.Async, External: extrepl}
	}
	return op, nil
}

// CheckOOM is SPEC.md §14 for the commands that may use memory: above 95%
// the node first tries to evict, then refuses. maxmemory 0 never refuses.
func (n *Node) CheckOOM() *protocol.Error {
	lim := n.limits()
	if lim.MaxMemory == 0 || Level(n.mem.Used(), lim.MaxMemory) < 2 {
		return nil
	}
	if lim.Policy != "noeviction" {
		n.evict()
		if Level(n.mem.Used(), lim.MaxMemory) < 2 {
			return nil
		}
	}
	return errOOM
}

// evict asks every queue to drop what SPEC.md §14 lets it drop (acked jobs,
// delivered at-most-once jobs), at most ten times a second.
func (n *Node) evict() {
	now := n.nowMs()
	last := n.lastEvict.Load()
	if now-last < 100 || !n.lastEvict.CompareAndSwap(last, now) {
		return
	}
	n.broadcast(&opEvict{})
}

// broadcast sends msg to every live queue actor and waits for the answers.
func (n *Node) broadcast(msg any) {
	var names []string
	n.queues.each(func(name string, _ *queueRef) { names = append(names, name) })
	pending := make([]chan any, 0, len(names))
	for _, name := range names {
		if done, ok := n.send(name, false, msg); ok {
			pending = append(pending, done)
		}
	}
	for _, done := range pending {
		n.recv(done)
	}
}

// ---------------------------------- GETJOB -----------------------------------

// getJob is GETJOB (SPEC.md §5.2): a non-blocking sweep of the queues, one
// job per queue per round, then, if nothing came and NOHANG is not set,
// block on every queue (duplicates ignored) until a job, the timeout, or
// ctx's end.
func (n *Node) getJob(ctx context.Context, m *protocol.GetJob) proto.Message {
	count := int(m.Count)
	if count <= 0 {
		count = 1
	}
	jobs, err := n.sweep(m.Queues, count)
	if err != nil {
		return err // the delivery could not be logged (MISCONF)
	}
	if jobs != nil && len(jobs.Jobs) > 0 {
		return jobs
	}
	if m.Nohang {
		return &protocol.Jobs{}
	}
	if n.leaving.Load() {
		return errLeaving
	}
	return n.block(ctx, dedupe(m.Queues), m)
}

func dedupe(names []string) []string {
	if len(names) < 2 {
		return names
	}
	seen := make(map[string]struct{}, len(names))
	out := names[:0:0]
	for _, q := range names {
		if _, ok := seen[q]; !ok {
			seen[q] = struct{}{}
			out = append(out, q)
		}
	}
	return out
}

// sweep takes up to count jobs the way Disque's GETJOB walks its argument
// list: round after round, one job from each listed queue (a queue listed
// twice gives two per round). Across actors that is done in two steps: ask
// every queue how many it could give (creating missing queues, as Disque
// does), plan the rounds, then take each queue's share in parallel and
// interleave the answers in the planned order.
func (n *Node) sweep(queues []string, count int) (*protocol.Jobs, *protocol.Error) {
	take := func(name string, k int) chan any {
		done, _ := n.send(name, true, &opTake{n: k})
		return done
	}
	var failed *protocol.Error
	result := func(v any) *Taken {
		switch r := v.(type) {
		case *opTake:
			return &r.Taken
		case *protocol.Error:
			failed = r
		}
		return nil
	}
	uniq := dedupe(queues)
	if len(uniq) == 1 {
		r := result(n.recv(take(uniq[0], count)))
		if r == nil {
			return nil, failed
		}
		return &r.Jobs, nil
	}
	left := make(map[string]int, len(uniq))
	pending := make([]chan any, len(uniq))
	for i, q := range uniq {
		pending[i] = take(q, 0)
	}
	for i, done := range pending {
		if r := result(n.recv(done)); r != nil {
			left[uniq[i]] = r.Available
		}
	}
	var plan []string // the queue of each job, in reply order
	for progress := true; progress && len(plan) < count; {
		progress = false
		for _, q := range queues {
			if len(plan) < count && left[q] > 0 {
				plan = append(plan, q)
				left[q]--
				progress = true
			}
		}
	}
	share := make(map[string]int, len(uniq))
	for _, q := range plan {
		share[q]++
	}
	got := make(map[string][]*protocol.JobItem, len(uniq))
	for i, q := range uniq {
		pending[i] = nil
		if share[q] > 0 {
			pending[i] = take(q, share[q])
		}
	}
	for i, done := range pending {
		if done != nil {
			if r := result(n.recv(done)); r != nil {
				got[uniq[i]] = r.Jobs.Jobs
			}
		}
	}
	if failed != nil {
		return nil, failed
	}
	items := make([]*protocol.JobItem, 0, len(plan))
	for _, q := range plan {
		// A queue may give fewer than planned if another client was faster.
		if list := got[q]; len(list) > 0 {
			items = append(items, list[0])
			got[q] = list[1:]
		}
	}
	return &protocol.Jobs{Jobs: items}, nil
}

// block waits on every queue for one job (SPEC.md §5.2).
func (n *Node) block(ctx context.Context, queues []string, m *protocol.GetJob) proto.Message {
	w := NewWaiter()
	w.WithCounters = m.Withcounters
	for _, q := range queues {
		n.send(q, true, &opBlock{w: w})
	}
	// Counted once the registrations are in every queue's mailbox: a kick
	// (FLUSHALL, LEAVING) sent after INFO shows the client is queued after
	// them and finds it.
	n.blocked.Add(1)
	defer n.blocked.Add(-1)
	if n.leaving.Load() && w.Claim() {
		// The node started leaving between GETJOB's check and now: its kick
		// may have passed the queues before this client was registered.
		for _, q := range queues {
			n.send(q, false, &opUnblock{w: w})
		}
		return errLeaving
	}
	var expired chan struct{}
	// A timeout beyond what a time.Duration holds (292 years) is forever.
	if m.TimeoutMs > 0 && m.TimeoutMs < math.MaxInt64/int64(time.Millisecond) {
		expired = make(chan struct{})
		t := n.clock.AfterFunc(time.Duration(m.TimeoutMs)*time.Millisecond, func() { close(expired) })
		defer t.Stop()
	}
	var wake Wake
	gone := false
	select {
	case wake = <-w.C:
	case <-expired:
		if !w.Claim() {
			wake = <-w.C // a queue won the race: its wake-up is on the way
		}
	case <-ctx.Done():
		gone = true
		if !w.Claim() {
			wake = <-w.C
		}
	}
	for _, q := range queues {
		if wake.Job == nil || q != wake.Job.Queue {
			n.send(q, false, &opUnblock{w: w})
		}
	}
	if gone && wake.Job != nil {
		// Nobody will read it: put it back where it was.
		n.send(wake.Job.Queue, true, &opGiveBack{id: wake.Job.Id})
		return &protocol.Jobs{}
	}
	if wake.Err != nil {
		return wake.Err
	}
	if wake.Job == nil {
		return &protocol.Jobs{}
	}
	return &protocol.Jobs{Jobs: []*protocol.JobItem{wake.Job}}
}

// --------------------------------- Node-wide ---------------------------------

// Stats is what INFO and HELLO report of the node.
func (n *Node) Stats() *protocol.NodeStatsReply {
	return &protocol.NodeStatsReply{
		NodeId: n.ID(), RegisteredJobs: n.dir.Len(), RegisteredQueues: n.visible.Load(),
		BlockedClients: n.blocked.Load(), UsedMemory: n.mem.Used(),
		MemoryLevel: int64(n.memLevel()), Leaving: n.leaving.Load(),
	}
}

// Flush deletes every job and queue (DEBUG FLUSHALL); blocked clients get
// an empty reply.
func (n *Node) Flush() { n.broadcast(&protocol.Flush{}) }

// MemoryChanged tells the queues the memory settings changed, so idle queues
// are evicted on the new level's schedule (CONFIG SET maxmemory).
func (n *Node) MemoryChanged() { n.broadcast(&opLevel{}) }

func (n *Node) kickAll(err *protocol.Error) { n.broadcast(&opKick{err: err}) }

// GiveBack puts a job handed to a client that vanished before reading it
// back at the head of its queue (the gateway calls it when a blocked
// client's FIN races the job).
func (n *Node) GiveBack(j *protocol.JobItem) {
	n.send(j.Queue, true, &opGiveBack{id: j.Id})
}

// ------------------------------ Pipelined batches ----------------------------

// AskBatch answers a run of pipelined requests with one message per queue
// actor instead of one per request (DESIGN.md, "The gateway"): a pipeline of
// 16 ADDJOBs to one queue costs one mailbox hop, one wake-up and, with the
// append-only file on, one group commit. Only ADDJOB, GETJOB NOHANG on a
// single queue and ACKJOB or FASTACK of one known job (sent to the job's
// queue) are batched; the replies come back in request order, and
// requests to the same queue run in the order given (requests to different
// queues are independent and run in parallel). Anything else is answered by
// Ask, one at a time, before the batch is sent.
func (n *Node) AskBatch(ctx context.Context, reqs []proto.Message) []proto.Message {
	out := make([]proto.Message, len(reqs))
	if n.stopped.Load() {
		for i := range out {
			out[i] = errStopped
		}
		return out
	}
	type group struct {
		idx []int
		ops []any
	}
	groups := make(map[string]*group)
	var order []string
	type soloReq struct {
		i     int
		queue string
		op    *opAdd
		done  chan any
	}
	var solo []soloReq
	add := func(queue string, i int, op any) {
		g := groups[queue]
		if g == nil {
			// Room for the whole batch in the first queue's group, the
			// usual case; a pipeline to many queues grows the others as
			// it goes (room for every request in every group was
			// quadratic: 6 MB for 512 ADDJOBs to 512 queues).
			size := 4
			if len(order) == 0 {
				size = len(reqs)
			}
			g = &group{idx: make([]int, 0, size), ops: make([]any, 0, size)}
			groups[queue] = g
			order = append(order, queue)
		}
		g.idx = append(g.idx, i)
		g.ops = append(g.ops, op)
	}
	// The IDs of batched ACKJOBs and FASTACKs, for what Ask does after them.
	var acked, fastAcked []string
	// byJob puts an ack of one known job in its queue's group.
	byJob := func(i int, op any, ids []string, batched *[]string) bool {
		if len(ids) != 1 {
			return false
		}
		j, ok := n.dir.Get(ids[0])
		if !ok {
			return false
		}
		add(j.Queue, i, op)
		*batched = append(*batched, ids[0])
		return true
	}
	for i, r := range reqs {
		switch m := r.(type) {
		case *protocol.AddJob:
			op, err := n.prepareAdd(m)
			if err != nil {
				out[i] = err
				continue
			}
			if op.cluster {
				// Its answer may wait for other nodes: sent on its own, so
				// the replications of a pipeline overlap.
				done, _ := n.send(m.Queue, true, op)
				solo = append(solo, soloReq{i, m.Queue, op, done})
				continue
			}
			add(m.Queue, i, op)
		case *protocol.GetJob:
			if m.Nohang && len(m.Queues) == 1 {
				add(m.Queues[0], i, &opTake{n: int(max(m.Count, 1))})
				continue
			}
			out[i] = n.Ask(ctx, r)
		case *protocol.AckJob:
			if !byJob(i, m, m.Ids, &acked) {
				out[i] = n.Ask(ctx, r)
			}
		case *protocol.FastAck:
			if !byJob(i, m, m.Ids, &fastAcked) {
				out[i] = n.Ask(ctx, r)
			}
		default:
			out[i] = n.Ask(ctx, r)
		}
	}
	pending := make([]chan any, len(order))
	for k, q := range order {
		pending[k], _ = n.send(q, true, &opBatch{ops: groups[q].ops})
	}
	for _, s := range solo {
		out[s.i] = n.awaitAdd(ctx, s.queue, s.op, s.done)
	}
	for k, q := range order {
		replies, _ := n.recv(pending[k]).([]any)
		for j, i := range groups[q].idx {
			var r any
			if j < len(replies) {
				r = replies[j]
			}
			if t, ok := r.(*opTake); ok {
				out[i] = &t.Jobs
			} else {
				out[i] = asMessage(r)
			}
		}
	}
	if len(acked) > 0 {
		n.dummyAcks(acked) // as Ask does after each ACKJOB
	}
	if len(fastAcked) > 0 {
		n.fastAckUnknown(fastAcked) // and after each FASTACK
	}
	return out
}
