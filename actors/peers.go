package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------ Peer messages --------------------------------
//
// A message from another node arrives at the node actor (remoting addresses
// every node's actor "node"). The Bus sees it first and keeps the
// membership messages; a job message is routed like a client command, to
// the queue actor that owns the job (by ID) or the queue (by name), which
// steps its core (peers_core.go). Job messages from nodes the membership
// does not know are ignored, as in Disque: a node forgotten by the cluster
// must not resurrect jobs. A message about a job nobody here knows is
// answered by the node actor itself where the protocol needs an answer
// (SETACK: GOTACK known=0), and dropped otherwise.

// peerMsg is a peer's message on its way to a queue actor.
type peerMsg struct {
	from string
	msg  proto.Message
}

// dummyQueue owns the dummy acks (SPEC.md §5.3): acked records of jobs this
// node never held, which belong to no queue. No client can address it in
// practice, and it never becomes a visible queue.
const dummyQueue = "\x00godisque:dummy-acks"

// fromOf is the sender of a job message, nil for anything else.
func fromOf(msg proto.Message) *protocol.Peer {
	if m, ok := msg.(protocol.Sent); ok {
		return m.Sender()
	}
	return nil
}

// tell sends msg to nodes, stamped with this node as its sender.
func (n *Node) tell(to []string, msg proto.Message) {
	if n.bus == nil || len(to) == 0 {
		return
	}
	if m, ok := msg.(protocol.Sent); ok {
		m.SetSender(n.bus.Self())
	}
	me := n.ID()
	for _, id := range to {
		if id != me {
			n.bus.Send(id, msg)
		}
	}
}

// onPeer is the node actor's handling of one peer message.
func (a *nodeActor) onPeer(ctx actor.Context, msg proto.Message) {
	n := a.node
	if n.bus == nil || n.bus.Receive(msg) {
		return
	}
	from := fromOf(msg)
	if from == nil || !n.bus.Known(from.NodeId) || from.NodeId == n.ID() {
		return
	}
	if n.loading.Load() || n.stopped.Load() {
		return // the peer re-sends; a loading node must not answer half-known
	}
	byID := func(id string) {
		if j, ok := n.dir.Get(id); ok {
			a.toQueue(ctx, j.Queue, false, from.NodeId, msg)
			return
		}
		if sa, ok := msg.(*protocol.SetAck); ok {
			// SPEC.md §12: an unknown job is answered, never recorded.
			n.tell([]string{from.NodeId}, &protocol.GotAck{Id: sa.Id, Known: false})
		}
	}
	switch m := msg.(type) {
	case *protocol.ReplJob:
		if m.Job == nil || n.leaving.Load() || n.memLevel() >= 1 {
			return // no GOTJOB: the sender tries other nodes
		}
		a.toQueue(ctx, m.Job.Queue, true, from.NodeId, msg)
	case *protocol.YourJobs:
		byQueue := make(map[string][]*protocol.Job)
		var order []string
		for _, j := range m.Jobs {
			if j == nil {
				continue
			}
			if _, seen := byQueue[j.Queue]; !seen {
				order = append(order, j.Queue)
			}
			byQueue[j.Queue] = append(byQueue[j.Queue], j)
		}
		for _, q := range order {
			a.toQueue(ctx, q, true, from.NodeId, &protocol.YourJobs{From: m.From, Jobs: byQueue[q]})
		}
	case *protocol.NeedJobs:
		a.toQueue(ctx, m.Queue, false, from.NodeId, msg)
	case *protocol.PauseMsg:
		a.toQueue(ctx, m.Queue, m.Flags&(PauseIn|PauseOut) != 0, from.NodeId, msg)
	case *protocol.GotJob:
		byID(m.Id)
	case *protocol.EnqueueJob:
		byID(m.Id)
	case *protocol.Queued:
		byID(m.Id)
	case *protocol.SetAck:
		byID(m.Id)
	case *protocol.WillQueue:
		byID(m.Id)
	case *protocol.GotAck:
		byID(m.Id)
	case *protocol.DelJobMsg:
		byID(m.Id)
	case *protocol.WorkingMsg:
		byID(m.Id)
	}
}

// toQueue hands a peer message to the queue actor of name; without create,
// a queue that has no actor ignores it.
func (a *nodeActor) toQueue(ctx actor.Context, name string, create bool, from string, msg proto.Message) {
	if _, ok := a.node.queues.get(name); !ok && !create {
		return
	}
	a.deliver(ctx, name, &request{msg: &peerMsg{from: from, msg: msg}})
}

// onPeer is the queue actor's step for one peer message.
func (q *Queue) onPeer(now int64, from string, msg proto.Message) {
	switch m := msg.(type) {
	case *protocol.ReplJob:
		if q.ReplJob(now, from, m.Job, m.Noreply) {
			q.send([]string{from}, &protocol.GotJob{Id: m.Job.Id})
		}
	case *protocol.GotJob:
		q.GotJob(now, from, m.Id)
	case *protocol.EnqueueJob:
		q.EnqueueJob(now, m.Id, m.Delay)
	case *protocol.Queued:
		q.Queued(now, from, m, false)
	case *protocol.WorkingMsg:
		q.Queued(now, from, &protocol.Queued{Id: m.Id}, true)
	case *protocol.WillQueue:
		q.WillQueue(now, from, m.Id)
	case *protocol.SetAck:
		q.SetAck(now, from, m.Id, m.MayHave)
	case *protocol.GotAck:
		q.GotAck(now, from, m.Id, m.Known)
	case *protocol.DelJobMsg:
		q.DelJobMsg(m.Id)
	case *protocol.NeedJobs:
		q.NeedJobs(now, from, m.Count)
	case *protocol.YourJobs:
		q.YourJobs(now, from, m.Jobs)
	case *protocol.PauseMsg:
		q.PauseMsg(now, m.Flags)
	default:
		panic(fmt.Sprintf("actors: peer message %T reached a queue", msg))
	}
}
