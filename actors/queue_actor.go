package actors

import (
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/godisque/godisque/actors/aof"
	"github.com/godisque/godisque/protocol"
)

// ------------------------------- The queue actor -----------------------------
//
// One actor per queue name, a child of the node actor. It owns the Queue core
// and every job record of its name, decodes requests, steps the core with
// the time read from the node's Clock, and carries out the core's effects.
// It arms one timer, for the core's next tick.
//
// Retiring. When the core is Idle (no queue object, no record, no blocked
// client), the actor leaves the queue table so that an unused name costs
// nothing. A sender may have looked the actor up just before: the queueRef's
// in-flight guard makes that safe. Senders acquire() the ref around their
// Send; the actor retires only if it can close() the guard while nobody is
// in flight, so every message sent before the close is already in its
// mailbox. It then deletes its table entry and poisons itself; whatever it
// finds in its mailbox after that it hands back to the node actor, which
// routes it to a fresh actor for the same name. No request is lost.

// queueRef is a queue actor's entry in the queue table.
type queueRef struct {
	name     string
	pid      *actor.PID
	inflight atomic.Int64
}

const closedBias = math.MinInt64 / 2

func (r *queueRef) acquire() bool {
	if r.inflight.Add(1) < 0 {
		r.inflight.Add(-1)
		return false
	}
	return true
}

func (r *queueRef) release() { r.inflight.Add(-1) }

func (r *queueRef) close() bool { return r.inflight.CompareAndSwap(0, closedBias) }

// request is the local envelope: a command and where its answer goes. Local
// callers (the gateway, embedders in-process) wait on done instead of paying
// for a protoactor future (DESIGN.md, "The gateway").
type request struct {
	msg  any
	done chan any
}

// Internal queue operations that carry Go values no protobuf can.
type (
	opAdd struct {
		job    *Job
		maxlen int64
		// cluster: the job needs other nodes (REPLICATE > 1, ASYNC with
		// copies, or external replication); opts says how.
		cluster bool
		opts    AddOptions
	}
	// opDummyAck records acks of jobs this node does not know.
	opDummyAck struct{ ids []string }
	// deferred is the reply of an ADDJOB that waits for its replication:
	// the answer comes with an AddDone effect.
	deferred struct{ id string }
	// opTake asks for up to n jobs; the queue answers with the op itself,
	// its Taken filled in: one allocation for a GETJOB of one job.
	opTake struct {
		n int
		Taken
	}
	opBlock    struct{ w *Waiter }
	opUnblock  struct{ w *Waiter }
	opKick     struct{ err *protocol.Error }
	opTick     struct{ gen uint64 }
	opLevel    struct{}
	opEvict    struct{}
	opGiveBack struct{ id string }
	// opAbandon: the caller of a replicated ADDJOB stopped waiting.
	opAbandon struct{ id string }
	opRestore struct{ jobs []*Job }
	// opBatch is several operations of one pipeline, run in order; the
	// reply is the list of their replies.
	opBatch    struct{ ops []any }
	opSnapshot struct{}
	opShowMany struct{ ids []string }
)

type queueActor struct {
	node    *Node
	ref     *queueRef
	core    *Queue
	retired bool

	timer   Timer
	timerAt int64
	timerGn uint64

	adds map[string]chan any // ADDJOBs waiting for replication, by job ID
	out  outbound            // reused by carryOut when nothing waits for a commit
}

func (a *queueActor) now() int64 { return a.node.clock.Now().UnixMilli() }

// Receive is the actor's mailbox loop body.
func (a *queueActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started, *actor.Stopping, *actor.Restarting:
		return
	case *actor.Stopped:
		if a.timer != nil {
			a.timer.Stop()
		}
		return
	case *opTick:
		if m.gen != a.timerGn {
			return
		}
		a.timer, a.timerAt = nil, 0
		if a.retired {
			return
		}
	case *request:
		if a.retired {
			a.node.reroute(ctx, a.ref.name, m)
			return
		}
		reply := a.handle(ctx, m.msg)
		later := false
		if d, ok := reply.(*deferred); ok {
			if a.adds == nil {
				a.adds = make(map[string]chan any)
			}
			a.adds[d.id] = m.done
			later = true
		}
		done := m.done
		if later {
			done = nil // the answer comes with the replication
		}
		a.carryOut(ctx, a.core.Outbox(), done, reply) // done is nil for a peer's message
	default:
		// Remote peers and embedders address the node actor, never a queue.
		a.node.log.Warn("queue actor: unexpected message dropped", zap.String("type", fmt.Sprintf("%T", m)))
		return
	}
	if a.retired {
		return
	}
	now := a.now()
	next := a.core.Tick(now, a.node.memLevel())
	a.carryOut(ctx, a.core.Outbox(), nil, nil)
	if a.core.Idle() {
		a.retire(ctx)
		return
	}
	a.arm(ctx, now, next)
}

// handle steps the core for one request and returns the reply. A panic in
// the core is turned into an error reply and logged: the caller is answered
// and the actor keeps its state (supervision would otherwise throw it away).
func (a *queueActor) handle(ctx actor.Context, msg any) (reply any) {
	defer func() {
		if r := recover(); r != nil {
			a.node.log.Error("queue actor: command failed", zap.String("queue", a.ref.name),
				zap.String("command", fmt.Sprintf("%T", msg)), zap.Any("panic", r), zap.Stack("stack"))
			reply = &protocol.Error{Text: "ERR internal error, check server logs"}
		}
	}()
	now := a.now()
	q := a.core
	switch m := msg.(type) {
	case *opBatch:
		replies := make([]any, len(m.ops))
		for i, op := range m.ops {
			replies[i] = a.handle(ctx, op)
		}
		return replies
	case *opAdd:
		if m.cluster {
			done, err := q.AddReplicated(now, m.job, m.opts)
			switch {
			case err != nil:
				return err
			case !done:
				return &deferred{id: m.job.ID}
			}
			return &protocol.AddJobReply{Id: m.job.ID}
		}
		if err := q.Add(now, m.job, m.maxlen); err != nil {
			return err
		}
		return &protocol.AddJobReply{Id: m.job.ID}
	case *peerMsg:
		q.onPeer(now, m.from, m.msg)
		return nil
	case *opDummyAck:
		for _, id := range m.ids {
			minutes, _ := protocol.JobIDTTLMinutes(id)
			q.DummyAck(now, id, minutes)
		}
		return &protocol.Count{}
	case *opTake:
		q.TakeInto(now, m.n, &m.Taken)
		return m
	case *opBlock:
		q.Block(now, m.w)
		return nil
	case *opUnblock:
		q.Unblock(m.w)
		return nil
	case *opKick:
		q.Kick(m.err)
		return nil
	case *opLevel:
		return nil // the tick after every message applies the new level
	case *opEvict:
		return q.EvictForMemory()
	case *opGiveBack:
		return q.GiveBack(now, m.id)
	case *opAbandon:
		q.Abandon(m.id)
		return nil
	case *opShowMany:
		return q.ShowMany(now, m.ids)
	case *opRestore:
		k := 0
		for _, j := range m.jobs {
			if q.Restore(now, j) {
				k++
			}
		}
		return k
	case *opSnapshot:
		return q.Snapshot()
	case *protocol.AckJob:
		return &protocol.Count{N: q.Ack(now, m.Ids)}
	case *protocol.FastAck:
		return &protocol.Count{N: q.FastAck(m.Ids)}
	case *protocol.DelJob:
		return &protocol.Count{N: q.Del(m.Ids)}
	case *protocol.Nack:
		return &protocol.Count{N: q.Requeue(now, m.Ids, true)}
	case *protocol.Enqueue:
		return &protocol.Count{N: q.Requeue(now, m.Ids, false)}
	case *protocol.Dequeue:
		return &protocol.Count{N: q.Dequeue(m.Ids)}
	case *protocol.Working:
		n, err := q.Working(now, m.Id)
		if err != nil {
			return err
		}
		return &protocol.Count{N: n}
	case *protocol.Show:
		info := q.Show(now, m.Id)
		return &protocol.ShowReply{Found: info != nil, Job: info}
	case *protocol.Qlen:
		return &protocol.Count{N: int64(q.Len())}
	case *protocol.Qpeek:
		return &protocol.Jobs{Jobs: q.Peek(m.Count)}
	case *protocol.Qstat:
		if info := q.Stat(now); info != nil {
			return info
		}
		return &protocol.QueueInfo{}
	case *protocol.Pause:
		return &protocol.PauseReply{State: q.Pause(now, m.Flags, m.Replace)}
	case *protocol.Flush:
		q.Flush()
		return &protocol.Ok{}
	}
	a.node.log.Warn("queue actor: unknown message dropped", zap.String("type", fmt.Sprintf("%T", msg)))
	return &protocol.Error{Text: "ERR unknown request"}
}

// carryOut executes the core's effects, then answers done with reply (when
// done is not nil). When the core logged records, the sends, the wake-ups
// and the answers wait for the aof actor's commit: nothing is told to a
// client or a peer before it is durable.
func (a *queueActor) carryOut(ctx actor.Context, effects []Effect, done chan any, reply any) {
	if len(effects) == 0 && done == nil {
		return
	}
	// Without records everything leaves now, through the actor's own
	// outbound (no allocation per message); with records, through a copy
	// that the aof actor releases after the commit.
	o := &a.out
	o.reset(a.node, done, reply)
	var recs []protocol.Message
	for _, e := range effects {
		switch e := e.(type) {
		case Deliver:
			o.wakes = append(o.wakes, e)
		case AddDone:
			if done, ok := a.adds[e.ID]; ok {
				delete(a.adds, e.ID)
				o.answers = append(o.answers, answer{e, done})
			}
		case Send:
			o.sends = append(o.sends, e)
		case Persist:
			recs = append(recs, e.Job)
		case Unpersist:
			recs = append(recs, aof.DelJob(e.ID))
		case MarkDelivered:
			recs = append(recs, aof.Delivered(e.ID))
		case MarkRequeued:
			recs = append(recs, aof.Requeued(e.ID))
		}
	}
	if len(recs) == 0 || a.node.aofPID == nil {
		o.release()
		o.reset(nil, nil, nil)
		return
	}
	later := o.detach()
	later.durable = true
	ctx.Send(a.node.aofPID, &aofAppend{recs: recs, after: later.release})
}

// answer is a waiting ADDJOB's reply, resolved by its replication.
type answer struct {
	AddDone
	done chan any
}

// outbound is what one step of a queue actor tells the world: peer
// messages, wake-ups of blocked GETJOBs, answers to ADDJOBs that waited for
// their replication, and the answer to the request itself. The release may
// run on the aof actor, so it holds everything it needs.
type outbound struct {
	node    *Node
	sends   []Send
	wakes   []Deliver
	answers []answer
	done    chan any
	reply   any
	durable bool // released after a commit: a failed log turns answers into errors
}

// reset empties o for a new step, keeping its slices' memory.
func (o *outbound) reset(n *Node, done chan any, reply any) {
	clear(o.sends)
	clear(o.wakes)
	clear(o.answers)
	*o = outbound{
		node: n, sends: o.sends[:0], wakes: o.wakes[:0], answers: o.answers[:0],
		done: done, reply: reply,
	}
}

// detach is a copy of o that owns its slices (o keeps its memory for the
// next step).
func (o *outbound) detach() *outbound {
	c := &outbound{node: o.node, done: o.done, reply: o.reply}
	c.sends = append(c.sends, o.sends...)
	c.wakes = append(c.wakes, o.wakes...)
	c.answers = append(c.answers, o.answers...)
	o.reset(nil, nil, nil)
	return c
}

func (o *outbound) release() {
	n := o.node
	for _, e := range o.sends {
		n.tell(e.To, e.Msg)
	}
	for _, d := range o.wakes {
		d.W.C <- d.Wake // buffered; exactly one claimer sends
	}
	for _, r := range o.answers {
		var reply any = &protocol.AddJobReply{Id: r.ID}
		if r.Err != nil {
			reply = r.Err
		}
		if o.durable {
			reply = n.afterCommit(reply)
		}
		r.done <- reply
	}
	if o.done != nil {
		reply := o.reply
		if o.durable {
			reply = n.afterCommit(reply)
		}
		o.done <- reply
	}
}

// arm keeps one timer at the core's next tick. A timer that fires early (its
// job was removed) just re-arms; a later deadline keeps the armed one.
func (a *queueActor) arm(ctx actor.Context, now, next int64) {
	if next == 0 || (a.timer != nil && a.timerAt <= next) {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timerGn++
	gen, self, root := a.timerGn, ctx.Self(), ctx.ActorSystem().Root
	a.timerAt = next
	d := time.Duration(next-now) * time.Millisecond
	if d < 0 {
		d = 0
	}
	a.timer = a.node.clock.AfterFunc(d, func() { root.Send(self, &opTick{gen: gen}) })
}

// retire leaves the queue table if no sender is in flight (see above).
func (a *queueActor) retire(ctx actor.Context) {
	if !a.ref.close() {
		return // someone is sending: their message will tick us again
	}
	a.retired = true
	a.node.queues.deleteIf(a.ref.name, func(r *queueRef) bool { return r == a.ref })
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	ctx.Poison(ctx.Self())
}
