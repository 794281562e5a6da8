package actors

import (
	"context"
	cryptorand "crypto/rand"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gogo/protobuf/proto"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"

	"github.com/godisque/godisque/protocol"
)

// ---------------------------------- The node ---------------------------------
//
// Node is one running godisque node: its actor system, the node actor (the
// well-known "node", root supervisor of the queue actors), the two shared
// tables and the facade every local caller uses. The facade routes a
// command straight to the queue actor that owns it (by queue name through
// the queue table, by job ID through the Directory) and waits for the
// answer on a channel, so the hot path costs one mailbox hop and no future.
// Remote embedders send the same protocol messages to the node actor, which
// answers them through the same facade.

// Options configures a node's actors. Libraries take options, never flags.
type Options struct {
	// NodeID is the node's 40-hex-character identity (protocol.NewNodeID).
	NodeID string
	// Seed makes job IDs and requeue jitter reproducible (chaos replays).
	Seed uint64
	// Clock is where actors read time and arm timers; nil is the real clock.
	Clock Clock
	// Logger receives the node's logs; nil discards them. protoactor's own
	// logs are routed into it at Warn.
	Logger *zap.Logger
	// Limits reads the live memory settings (CONFIG SET changes them).
	Limits func() Limits
	// System is an actor system to live in; nil makes a new one.
	System *actor.ActorSystem
	// Persist reads the live append-only-file settings; nil: in memory.
	Persist func() PersistOptions
	// LoadLater leaves the append-only file to a later call of Load, so a
	// server can listen (answering -LOADING) while it loads. The node counts
	// as loading from Start until Load returns.
	LoadLater bool
	// Bus connects the node to its cluster; nil: the node is alone.
	Bus Bus
}

// Limits are the memory settings of SPEC.md §14.
type Limits struct {
	MaxMemory int64  // bytes; 0 keeps the node at level 2, as in Disque
	Policy    string // "acks" (evict acked jobs) or "noeviction"
}

// Errors the node answers (SPEC.md §6).
var (
	errNoRepl     = &protocol.Error{Text: "NOREPL Not enough reachable nodes for the requested replication level"}
	errNoReplLeav = &protocol.Error{Text: "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm leaving the cluster"}
	errNoReplOOM  = &protocol.Error{Text: "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm out of memory"}
	errOOM        = &protocol.Error{Text: "OOM command not allowed when used memory > 'maxmemory'."}
	errRetryRepl  = &protocol.Error{Text: "ERR With RETRY set to 0 please explicitly set  REPLICATE to 1 (at-most-once delivery)"}
	errDelayTTL   = &protocol.Error{Text: "ERR The specified DELAY is greater than TTL. Job refused since would never be delivered"}
	errStopped    = &protocol.Error{Text: "ERR the node is shutting down"}
	// RETRY and DELAY are kept in 32 bits, as in Disque; larger values are
	// refused rather than silently truncated (RETRY 2^32 must not become
	// an at-most-once RETRY 0).
	errRetryRange = &protocol.Error{Text: "ERR RETRY time must be a non negative number"}
	errDelayRange = &protocol.Error{Text: "ERR DELAY time must be a non negative number"}
)

// Node is a running node; see the chapter comment.
type Node struct {
	ident  atomic.Pointer[identity]
	clock  Clock
	log    *zap.Logger
	limits func() Limits
	sys    *actor.ActorSystem
	ownSys bool
	pid    *actor.PID
	bus    Bus // nil: alone

	dir    *Directory
	queues *shardedMap[*queueRef]
	mem    Memory

	seed      uint64
	spawned   atomic.Uint64 // queue actors ever spawned: seeds their rand
	lastCtime atomic.Int64
	visible   atomic.Int64 // Disque-visible queue objects
	blocked   atomic.Int64 // blocked GETJOB clients, once per client
	leaving   atomic.Bool
	stopped   atomic.Bool
	halted    chan struct{} // closed once Stop is done: nobody waits on a queue after
	loading   atomic.Bool
	lastEvict atomic.Int64

	// The append-only file (persist.go).
	persistOpts func() PersistOptions
	aofPID      *actor.PID
	durable     atomic.Bool // cores emit records only while the log is on
	aofErr      atomic.Pointer[protocol.Error]
	aofStatus   atomic.Pointer[AOFStatus]
}

// Start builds the node's actors.
func Start(opts Options) (*Node, error) {
	if !protocol.ValidNodeID(opts.NodeID) {
		return nil, fmt.Errorf("actors: invalid node ID %q", opts.NodeID)
	}
	n := &Node{
		clock: opts.Clock, log: opts.Logger, limits: opts.Limits, persistOpts: opts.Persist,
		dir: NewDirectory(), queues: newShardedMap(func(r *queueRef) string { return r.name }), seed: opts.Seed,
		halted: make(chan struct{}), bus: opts.Bus,
	}
	if n.clock == nil {
		n.clock = SystemClock{}
	}
	if n.log == nil {
		n.log = zap.NewNop()
	}
	if n.limits == nil {
		n.limits = func() Limits { return Limits{MaxMemory: 1 << 30, Policy: "acks"} }
	}
	n.setIdentity(opts.NodeID)
	n.sys = opts.System
	if n.sys == nil {
		n.sys = actor.NewActorSystem(actor.WithLoggerFactory(ProtoactorLogger(n.log)))
		n.ownSys = true
	}
	props := actor.PropsFromProducer(func() actor.Actor { return &nodeActor{node: n} },
		actor.WithSupervisor(actor.NewOneForOneStrategy(10, time.Second, n.decide)))
	pid, err := n.sys.Root.SpawnNamed(props, "node")
	if err != nil {
		return nil, fmt.Errorf("actors: spawn node actor: %w", err)
	}
	n.pid = pid
	aofProps := actor.PropsFromProducer(func() actor.Actor { return &aofActor{node: n} })
	if n.aofPID, err = n.sys.Root.SpawnNamed(aofProps, "aof"); err != nil {
		n.Stop()
		return nil, fmt.Errorf("actors: spawn aof actor: %w", err)
	}
	n.loading.Store(true) // until Load is done
	if !opts.LoadLater {
		if err := n.Load(); err != nil {
			n.Stop()
			return nil, err
		}
	}
	return n, nil
}

// Load replays the append-only file and opens it for writing (Start does it
// unless Options.LoadLater). While it runs, Loading is true.
func (n *Node) Load() error {
	n.loading.Store(true) // already so since Start; kept for a second call
	defer n.loading.Store(false)
	if err := n.loadAOF(); err != nil {
		return err
	}
	return n.openAOF()
}

// Loading tells whether the node is loading its append-only file: Disque
// answers -LOADING to most commands meanwhile.
func (n *Node) Loading() bool { return n.loading.Load() }

// ProtoactorLogger routes protoactor's slog output into zap at Warn and
// above: the library is noisy at Info (PROTOACTOR.md §1.8).
func ProtoactorLogger(z *zap.Logger) func(*actor.ActorSystem) *slog.Logger {
	core, err := zapcore.NewIncreaseLevelCore(z.Core(), zapcore.WarnLevel)
	if err != nil {
		core = z.Core() // already at Warn or above
	}
	return func(*actor.ActorSystem) *slog.Logger {
		return slog.New(zapslog.NewHandler(core)).With("lib", "protoactor")
	}
}

// decide is the node actor's supervision of queue actors: a crash resumes
// the actor with its state, because restarting would build an empty queue and
// strand its records (PROTOACTOR.md §1.4). The queue actor already turns a
// panic in a command into an error reply; this is the second line.
func (n *Node) decide(reason any) actor.Directive {
	n.log.Error("queue actor crashed, resuming it", zap.Any("reason", reason))
	return actor.ResumeDirective
}

// Stop stops the node's actors; blocked clients get an error.
func (n *Node) Stop() {
	if n.stopped.Swap(true) {
		return
	}
	n.kickAll(errStopped)
	if err := n.closeAOF(); err != nil {
		n.log.Error("aof: closing", zap.Error(err))
	}
	if n.aofPID != nil {
		_ = n.sys.Root.PoisonFuture(n.aofPID).Wait()
	}
	_ = n.sys.Root.PoisonFuture(n.pid).Wait()
	close(n.halted)
	if n.ownSys {
		n.sys.Shutdown()
	}
}

// recv waits for a queue actor's answer, or for the node to have stopped: a
// stopping actor drops the messages still in its mailbox without a word
// (PROTOACTOR.md §1.2), and a caller must not wait for them forever.
func (n *Node) recv(done chan any) any {
	select {
	case v := <-done:
		return v
	case <-n.halted:
		return errStopped
	}
}

// identity is who the node is: its ID and the job ID generator that
// stamps it into every job ID. CLUSTER RESET HARD swaps it.
type identity struct {
	id  string
	ids *protocol.IDGen
	// selfOnly is the nodes_delivered of a job created here, shared by all
	// of them (a job alone on this node needs no list of its own).
	selfOnly *[]string
}

func (n *Node) setIdentity(id string) {
	var seed [16]byte
	for i := range seed {
		seed[i] = byte(n.seed >> (8 * (i % 8)))
	}
	n.ident.Store(&identity{id: id, ids: protocol.NewIDGen(id, seed[:]), selfOnly: &[]string{id}})
}

// ID is the node ID.
func (n *Node) ID() string { return n.ident.Load().id }

// Reset is CLUSTER RESET (SPEC.md §5.18): every job and queue is deleted
// (blocked clients get an empty reply); hard also picks a new node ID.
// Alone, the node has no other nodes to forget.
func (n *Node) Reset(hard bool) error {
	if hard {
		id, err := protocol.NewNodeID(cryptorand.Reader)
		if err != nil {
			return fmt.Errorf("actors: new node ID: %w", err)
		}
		n.setIdentity(id)
	}
	n.Flush()
	return nil
}

// PID is the node actor, the address remote embedders and peers use.
func (n *Node) PID() *actor.PID { return n.pid }

// System is the node's actor system.
func (n *Node) System() *actor.ActorSystem { return n.sys }

// Directory is the node's job table.
func (n *Node) Directory() *Directory { return n.dir }

// Leaving tells whether the node is leaving the cluster.
func (n *Node) Leaving() bool { return n.leaving.Load() }

// SetLeaving sets the LEAVING flag (CLUSTER LEAVING yes|no). Clients blocked
// in GETJOB are answered -LEAVING at once.
func (n *Node) SetLeaving(on bool) {
	if n.leaving.Swap(on) != on && on {
		n.kickAll(errLeaving)
	}
}

// UsedMemory is the accounted memory (INFO used_memory).
func (n *Node) UsedMemory() int64 { return n.mem.Used() }

func (n *Node) memLevel() int { return Level(n.mem.Used(), n.limits().MaxMemory) }

// Clustered tells whether the node knows other nodes: only then can an
// ADDJOB wait for its replication.
func (n *Node) Clustered() bool { return n.clusterSize() > 1 }

// clusterSize is the number of known nodes, myself included, and
// reachable the number of other nodes replication may use.
func (n *Node) clusterSize() int {
	if n.bus == nil {
		return 1
	}
	return max(n.bus.Size(), 1)
}

func (n *Node) reachable() int {
	if n.bus == nil {
		return 0
	}
	return len(n.bus.Reachable())
}

func (n *Node) env() *Env {
	k := n.spawned.Add(1)
	e := &Env{
		NodeID: n.ID, Dir: n.dir, Mem: &n.mem,
		Rand:    rand.New(rand.NewPCG(n.seed, k)),
		Visible: func(d int) { n.visible.Add(int64(d)) },
		Durable: n.durable.Load,
		Leaving: n.leaving.Load,
	}
	if n.bus != nil {
		e.Peers = n.bus
	}
	return e
}

// ------------------------------ The node actor -------------------------------

type (
	// spawnQueue asks the node actor for the queue actor of a name.
	spawnQueue struct {
		name string
		done chan *queueRef
	}
	// rerouted is a request a retired queue actor hands back.
	rerouted struct {
		name string
		req  *request
	}
)

type nodeActor struct{ node *Node }

func (a *nodeActor) Receive(ctx actor.Context) {
	n := a.node
	switch m := ctx.Message().(type) {
	case *spawnQueue:
		m.done <- a.queue(ctx, m.name)
	case *rerouted:
		a.deliver(ctx, m.name, m.req)
	case *protocol.Unknown:
		n.log.Warn("dropped a message of an unknown kind from a peer", zap.Uint32("kind", uint32(m.Kind)))
	case *protocol.Gossip, *protocol.Fail, *protocol.ReplJob, *protocol.GotJob, *protocol.EnqueueJob,
		*protocol.Queued, *protocol.SetAck, *protocol.WillQueue, *protocol.GotAck, *protocol.DelJobMsg,
		*protocol.NeedJobs, *protocol.YourJobs, *protocol.WorkingMsg, *protocol.PauseMsg:
		a.onPeer(ctx, m.(proto.Message))
	case *protocol.AddJob, *protocol.GetJob, *protocol.AckJob, *protocol.FastAck,
		*protocol.Nack, *protocol.Enqueue, *protocol.Dequeue, *protocol.DelJob,
		*protocol.Working, *protocol.Show, *protocol.Qlen, *protocol.Qpeek,
		*protocol.Qstat, *protocol.Pause, *protocol.Qscan, *protocol.Jscan,
		*protocol.NodeStats, *protocol.Flush:
		// A remote embedder's request: answer it through the facade, off
		// the node actor's thread since GETJOB may block.
		sender, root := ctx.Sender(), ctx.ActorSystem().Root
		req, _ := m.(proto.Message)
		if sender == nil || req == nil {
			return
		}
		go func() { root.Send(sender, n.Ask(context.Background(), req)) }()
	case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting, *actor.Terminated:
		// Lifecycle, and queue actors that retired.
	default:
		n.log.Warn("node actor: unexpected message dropped", zap.String("type", fmt.Sprintf("%T", m)))
	}
}

// queue returns the live queue actor of name, spawning it as a child.
func (a *nodeActor) queue(ctx actor.Context, name string) *queueRef {
	n := a.node
	if ref, ok := n.queues.get(name); ok {
		return ref
	}
	ref := &queueRef{name: name}
	core := NewQueue(name, n.env())
	ref.pid = ctx.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &queueActor{node: n, ref: ref, core: core}
	}, actor.WithMailbox(actor.UnboundedLockfree()), actor.WithDispatcher(inlineDispatcher)))
	n.queues.putIfAbsent(name, ref)
	return ref
}

// deliver sends req to the live queue actor of name, spawning one if
// needed, from the node actor itself (Node.send would wait on the node
// actor for the spawn, and deadlock).
func (a *nodeActor) deliver(ctx actor.Context, name string, req *request) {
	for {
		ref := a.queue(ctx, name)
		if ref.acquire() {
			ctx.Send(ref.pid, req)
			ref.release()
			return
		}
	}
}

func (n *Node) reroute(ctx actor.Context, name string, req *request) {
	ctx.Send(n.pid, &rerouted{name: name, req: req})
}

// inlineDispatcher runs a queue actor's mailbox on the goroutine that sends
// to it when the actor is idle (protoactor's synchronized dispatcher),
// instead of starting a goroutine per burst of messages: a gateway
// connection's, a timer's, the node actor's or the aof actor's. So a queue
// actor must never block in Receive (it only steps its core and hands its
// effects to channels with room, the bus and the aof actor); one that waited
// on another actor could wait on the very goroutine it runs on. The node
// and aof actors keep goroutines of their own: the aof actor waits on queue
// actors during a rewrite. The mailbox yields after 300 messages in a row.
var inlineDispatcher = actor.NewSynchronizedDispatcher(300)
