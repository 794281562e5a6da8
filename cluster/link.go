package cluster

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogo/protobuf/proto"
	"go.uber.org/zap"

	"github.com/godisque/godisque/actors"
)

// --------------------------------- The Link ----------------------------------
//
// Every message a node sends to another node goes through its one Link
// (DESIGN.md, "The cluster"). The Link hands messages to a Transport, the
// real one over protoactor remoting (remote.go) or the in-process MemNetwork
// (memnet.go), and on the way applies the faults that tests and the chaos
// playground ask for:
//
//   - Block and BlockAddr cut this node off from some destinations: every
//     message to them is lost. A partition is every node blocking the nodes
//     of the other side; whoever makes it (the test harness, the chaos
//     playground over DEBUG LINK) tells every node.
//   - Drop loses each message with a probability, Dup sends it twice.
//   - Delay and Jitter hold each message Delay ± Jitter on the node's Clock
//     before it leaves. Delayed messages may overtake one another, as on a
//     real network: with Jitter there is no order between them, and even
//     with a fixed Delay two timers due at the same instant fire in any
//     order. Messages that are not delayed keep the Transport's order.
//
// Faults are applied on the sending side only, and per destination: a node
// can be made deaf to some peers and not others, and two nodes can disagree
// about a partition, which is exactly the asymmetric failure Disque's
// protocol must survive.
//
// Blocking is by node ID. A node in handshake (CLUSTER MEET to an address
// whose ID is not known yet) is sent to with an empty ID; BlockAddr blocks by
// bus address "host:busport" and catches those too. A message is lost if
// its ID or its address is blocked.
//
// The randomness of Drop, Dup and Jitter comes from one PCG seeded by
// LinkOptions.Seed, so a chaos run with the same seed and the same order of
// sends makes the same choices. The Link is safe for concurrent use; while
// no fault is set, Send takes no lock.
//
// Ownership. A caller hands msg over with Send and must not change it after;
// the Link does not change it either. A duplicate is the same message sent
// twice: the Transport serialises each send, so the receiver gets two
// separate copies.

// Transport carries messages to the node actor of a node, by bus address
// "host:busport".
type Transport interface {
	// Send queues msg, a gogo message of package protocol, for the node
	// at addr and returns: it must never block the caller for long (a dead
	// address must not stall it). Delivery is at most once. Send after
	// Close does nothing.
	Send(addr string, msg proto.Message)
	// Close stops the transport; queued messages may be lost.
	Close() error
}

// LinkOptions configures a Link.
type LinkOptions struct {
	// Self returns this node's ID (it changes on CLUSTER RESET HARD); the
	// Link names itself with it in Status and in its logs. nil: unnamed.
	Self func() string
	// Clock arms the timers of delayed messages, so that a chaos replay
	// can run the Link on a skewed or manual clock. nil: the real clock.
	Clock actors.Clock
	// Seed seeds the randomness of the faults (math/rand/v2 PCG).
	Seed uint64
	// Logger receives fault changes at Info; nil discards them.
	Logger *zap.Logger
}

// Faults are the random faults applied to every message, whatever its
// destination. The zero value is a healthy link.
type Faults struct {
	Drop float64 // probability, 0..1, that a message is lost
	Dup  float64 // probability, 0..1, that a message is sent twice
	// Every message (and each copy of a duplicate) waits a duration drawn
	// uniformly in [Delay-Jitter, Delay+Jitter], and at least 0.
	Delay, Jitter time.Duration
}

// Link is a node's way to the other nodes; see the chapter comment.
type Link struct {
	t     Transport
	self  func() string
	clock actors.Clock
	log   *zap.Logger

	rules   atomic.Pointer[rules] // read by Send without a lock
	closed  atomic.Bool
	sent    atomic.Uint64
	dropped atomic.Uint64

	mu      sync.Mutex // guards rnd, pending, nextID and writes of rules
	rnd     *rand.Rand
	pending map[uint64]actors.Timer // delayed messages not yet sent; nil while arming
	nextID  uint64
}

// rules is one immutable set of faults; changes swap in a new one.
type rules struct {
	faults Faults
	ids    map[string]struct{} // blocked node IDs
	addrs  map[string]struct{} // blocked bus addresses
}

func (r *rules) blocks(id, addr string) bool {
	if id != "" {
		if _, ok := r.ids[id]; ok {
			return true
		}
	}
	_, ok := r.addrs[addr]
	return ok
}

// NewLink makes a Link that sends through t. The Link owns t: Close closes it.
func NewLink(t Transport, o LinkOptions) *Link {
	l := &Link{
		t: t, self: o.Self, clock: o.Clock, log: o.Logger,
		rnd:     rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		pending: make(map[uint64]actors.Timer),
	}
	if l.self == nil {
		l.self = func() string { return "" }
	}
	if l.clock == nil {
		l.clock = actors.SystemClock{}
	}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	l.rules.Store(&rules{})
	return l
}

// Send hands msg to the node toID at bus address addr, unless a fault loses
// it. toID is "" for a node in handshake, known only by its address.
func (l *Link) Send(toID, addr string, msg proto.Message) {
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	r := l.rules.Load()
	if r.blocks(toID, addr) {
		l.dropped.Add(1)
		return
	}
	f := r.faults
	if f == (Faults{}) {
		l.sent.Add(1)
		l.t.Send(addr, msg)
		return
	}

	// Draw every random choice of this message under one lock, in a fixed
	// order, so that a seed replays.
	var delays [2]time.Duration
	l.mu.Lock()
	lost := f.Drop > 0 && l.rnd.Float64() < f.Drop
	copies := 1
	if !lost && f.Dup > 0 && l.rnd.Float64() < f.Dup {
		copies = 2
	}
	for i := 0; !lost && i < copies; i++ {
		delays[i] = l.delay(f)
	}
	l.mu.Unlock()

	if lost {
		l.dropped.Add(1)
		return
	}
	for _, d := range delays[:copies] {
		if d <= 0 {
			l.sent.Add(1)
			l.t.Send(addr, msg)
			continue
		}
		l.later(d, toID, addr, msg)
	}
}

// delay draws one message's wait. l.mu must be held.
func (l *Link) delay(f Faults) time.Duration {
	d := f.Delay
	if f.Jitter > 0 {
		d += time.Duration(l.rnd.Int64N(2*int64(f.Jitter)+1)) - f.Jitter
	}
	return max(d, 0)
}

// later sends msg after d on the Link's clock. A delayed message is still
// in flight: if its destination is blocked meanwhile it is lost, as a
// packet on a cable that is cut; Close loses it too.
func (l *Link) later(d time.Duration, toID, addr string, msg proto.Message) {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		l.dropped.Add(1)
		return
	}
	id := l.nextID
	l.nextID++
	l.pending[id] = nil // armed below, without the lock: a clock may fire at once
	l.mu.Unlock()

	tm := l.clock.AfterFunc(d, func() {
		l.mu.Lock()
		_, ok := l.pending[id]
		delete(l.pending, id)
		l.mu.Unlock()
		if !ok {
			return // Close took it
		}
		if l.rules.Load().blocks(toID, addr) {
			l.dropped.Add(1)
			return
		}
		l.sent.Add(1)
		l.t.Send(addr, msg)
	})

	l.mu.Lock()
	if _, ok := l.pending[id]; ok {
		l.pending[id] = tm
	} else if l.closed.Load() {
		tm.Stop() // Close came while it was being armed
	}
	l.mu.Unlock()
}

// Close stops the Link: delayed messages are lost, later sends too, and
// the Transport is closed.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed.Swap(true) {
		l.mu.Unlock()
		return nil
	}
	for id, tm := range l.pending {
		if tm != nil {
			tm.Stop()
		}
		delete(l.pending, id)
		l.dropped.Add(1)
	}
	l.mu.Unlock()
	return l.t.Close()
}

// ------------------------------ Fault control --------------------------------

// SetFaults sets the random faults of every destination. Probabilities are
// clamped to 0..1 and durations to 0 and above.
func (l *Link) SetFaults(f Faults) {
	f.Drop = min(max(f.Drop, 0), 1)
	f.Dup = min(max(f.Dup, 0), 1)
	f.Delay = max(f.Delay, 0)
	f.Jitter = max(f.Jitter, 0)
	l.update(func(r *rules) { r.faults = f })
	l.log.Info("link: faults set", zap.Float64("drop", f.Drop), zap.Float64("dup", f.Dup),
		zap.Duration("delay", f.Delay), zap.Duration("jitter", f.Jitter))
}

// Faults returns the random faults in force.
func (l *Link) Faults() Faults { return l.rules.Load().faults }

// Block loses every message to these node IDs until Unblock or Heal.
func (l *Link) Block(ids ...string) {
	l.update(func(r *rules) {
		for _, id := range ids {
			r.ids[id] = struct{}{}
		}
	})
	l.log.Info("link: blocked nodes", zap.Strings("ids", ids))
}

// Unblock undoes Block for these node IDs.
func (l *Link) Unblock(ids ...string) {
	l.update(func(r *rules) {
		for _, id := range ids {
			delete(r.ids, id)
		}
	})
	l.log.Info("link: unblocked nodes", zap.Strings("ids", ids))
}

// BlockAddr loses every message to these bus addresses ("host:busport"),
// whatever the node ID, handshakes included.
func (l *Link) BlockAddr(addrs ...string) {
	l.update(func(r *rules) {
		for _, a := range addrs {
			r.addrs[a] = struct{}{}
		}
	})
	l.log.Info("link: blocked addresses", zap.Strings("addrs", addrs))
}

// UnblockAddr undoes BlockAddr for these addresses.
func (l *Link) UnblockAddr(addrs ...string) {
	l.update(func(r *rules) {
		for _, a := range addrs {
			delete(r.addrs, a)
		}
	})
	l.log.Info("link: unblocked addresses", zap.Strings("addrs", addrs))
}

// Heal removes every fault and every block. Messages already delayed still
// arrive.
func (l *Link) Heal() {
	l.update(func(r *rules) { *r = rules{ids: map[string]struct{}{}, addrs: map[string]struct{}{}} })
	l.log.Info("link: healed")
}

// update swaps in a changed copy of the rules.
func (l *Link) update(change func(*rules)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.rules.Load()
	r := &rules{faults: old.faults, ids: maps.Clone(old.ids), addrs: maps.Clone(old.addrs)}
	if r.ids == nil {
		r.ids = map[string]struct{}{}
	}
	if r.addrs == nil {
		r.addrs = map[string]struct{}{}
	}
	change(r)
	l.rules.Store(r)
}

// Status describes the Link, one line per rule:
//
//	link <self-id> sent 1200 dropped 31
//	drop 0.05
//	dup 0.01
//	delay 100ms jitter 20ms
//	block <node-id>
//	blockaddr 127.0.0.1:17711
//
// with "no faults" as the second line of a healthy link, and "-" for the
// ID of a Link without Self. IDs and addresses are sorted.
func (l *Link) Status() string {
	r := l.rules.Load()
	sent, dropped := l.Stats()
	name := l.self()
	if name == "" {
		name = "-"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "link %s sent %d dropped %d\n", name, sent, dropped)
	f := r.faults
	if f == (Faults{}) && len(r.ids) == 0 && len(r.addrs) == 0 {
		b.WriteString("no faults\n")
	}
	if f.Drop > 0 {
		fmt.Fprintf(&b, "drop %g\n", f.Drop)
	}
	if f.Dup > 0 {
		fmt.Fprintf(&b, "dup %g\n", f.Dup)
	}
	if f.Delay > 0 || f.Jitter > 0 {
		fmt.Fprintf(&b, "delay %v jitter %v\n", f.Delay, f.Jitter)
	}
	for _, id := range slices.Sorted(maps.Keys(r.ids)) {
		fmt.Fprintf(&b, "block %s\n", id)
	}
	for _, a := range slices.Sorted(maps.Keys(r.addrs)) {
		fmt.Fprintf(&b, "blockaddr %s\n", a)
	}
	return b.String()
}

// Stats returns how many messages went to the Transport (each copy of a
// duplicate counts) and how many the Link lost (blocked, dropped, or still
// delayed or sent at Close).
func (l *Link) Stats() (sent, dropped uint64) { return l.sent.Load(), l.dropped.Load() }
