package cluster

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogo/protobuf/proto"
	"go.uber.org/zap"

	"github.com/godisque/godisque/actors"
	"github.com/godisque/godisque/protocol"
)

// -------------------------------- The Cluster --------------------------------
//
// Cluster is a node's membership at work: it owns the Members table (the
// pure core, members.go) and the Link, and implements actors.Bus.
//
//   - Time: a timer on the injected Clock ticks the core every 100 ms
//     (Disque's clusterCron); every input is stepped with the clock's now.
//   - Input: the node actor gives Receive every peer message first. Gossip
//     and Fail are membership and stay here; any other message only tells
//     us its sender is alive as it says (LEAVING flag, incarnation,
//     address).
//   - Output: the core's Send effects go out through the Link, after the
//     lock is released.
//   - Reads: Reachable, Others, Size and Known are asked on every ADDJOB,
//     from many goroutines. They read an immutable snapshot swapped in
//     (atomically) whenever the table changed, never the lock.
//   - nodes.conf: rewritten by the tick after any change of the table, by
//     SaveConfig, and by Close.
//
// Locks: mu guards the core and is never held while sending or writing;
// saveMu orders the writes of nodes.conf and is taken before mu; tickMu is
// held by a tick for its whole run, so that Close can wait for one in
// progress.

// Options configures a Cluster.
type Options struct {
	// ID returns this node's ID now (CLUSTER RESET HARD changes it).
	ID func() string
	// Addr is the bus address peers reach this node at, "host:busport".
	Addr string
	// Port is the client (RESP) port, as HELLO and CLUSTER NODES show it.
	Port int
	// NodeTimeout reads cluster-node-timeout (CONFIG SET changes it); nil
	// is 15 s.
	NodeTimeout func() time.Duration
	// Leaving reads this node's LEAVING flag; nil is never.
	Leaving func() bool
	// Transport carries the messages; the Cluster's Link owns it (Close
	// closes it).
	Transport Transport
	// Clock is where the Cluster reads the time and arms its tick; nil is
	// the real clock.
	Clock actors.Clock
	// Seed seeds the core's and the Link's randomness; 0 picks one.
	Seed uint64
	// Incarnation names this process's life of the node; "" makes a random
	// one. A peer seeing a new one knows the node restarted.
	Incarnation string
	// Conf is the node's nodes.conf: its peers are loaded at start and it
	// is rewritten on every change. nil: nothing is kept.
	Conf *NodesConf
	// Seeds are bus addresses ("host:port") to meet at start
	// (cluster-seeds), and again every handshake timeout for as long as
	// this node knows no other node: a seed may start after us.
	Seeds []string
	// Logger receives membership changes at Info; nil discards them.
	Logger *zap.Logger
}

// Cluster is a node's membership; see the chapter comment.
type Cluster struct {
	opts  Options
	link  *Link
	clock actors.Clock
	log   *zap.Logger
	conf  *NodesConf

	tickMu sync.Mutex // held by a running tick
	saveMu sync.Mutex // orders nodes.conf writes; taken before mu
	mu     sync.Mutex // guards everything below
	core   *Members
	timer  actors.Timer
	closed bool
	saved  uint64 // core version in nodes.conf
	saveOK bool   // the last write worked (log a failure once)
	seeds  []string
	seedAt int64           // unix ms: when to meet the seeds (again), if still alone
	warned map[string]bool // seeds whose name did not resolve, logged once

	snap     atomic.Pointer[snapshot]
	received atomic.Uint64
}

// snapshot is what the lock-free readers see: immutable once published.
type snapshot struct {
	version   uint64
	self      *protocol.Peer
	reachable []string
	others    []string
	size      int
	peers     map[string]*protocol.Peer // known nodes (not handshakes) as they told us
	list      []Member                  // for change logs
}

// New starts a Cluster: it loads the peers of Conf and ticks until Close.
func New(o Options) *Cluster {
	c := &Cluster{opts: o, clock: o.Clock, log: o.Logger, conf: o.Conf, saveOK: true}
	if c.clock == nil {
		c.clock = actors.SystemClock{}
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	if c.opts.Incarnation == "" {
		var b [8]byte
		_, _ = cryptorand.Read(b[:])
		c.opts.Incarnation = hex.EncodeToString(b[:])
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64() // the runtime's ChaCha8, seeded by the OS
	}
	c.link = NewLink(o.Transport, LinkOptions{Self: o.ID, Clock: c.clock, Seed: seed ^ 0x5bd1e995, Logger: c.log})
	c.core = NewMembers(MembersOptions{
		ID: o.ID(), Incarnation: c.opts.Incarnation, Addr: o.Addr, Port: o.Port, Seed: seed,
	})
	c.sync()
	if c.conf != nil {
		c.core.Load(c.conf.Peers)
		if c.conf.IPKnown {
			c.core.SetIPKnown()
		}
		c.saved = c.core.Version() // the file says just that
	}
	for _, addr := range o.Seeds {
		if err := validBusAddr(addr, unknownPort); err != nil {
			c.log.Warn("cluster-seeds: not a bus address", zap.String("seed", addr))
			continue
		}
		c.seeds = append(c.seeds, addr)
	}
	c.publish()
	c.mu.Lock() // the tick may fire before the assignment is done
	c.timer = c.clock.AfterFunc(TickMs*time.Millisecond, c.tick)
	c.mu.Unlock()
	return c
}

// Link is the Link every message to a peer goes through (faults, stats).
func (c *Cluster) Link() *Link { return c.link }

// now is the clock's time in unix ms.
func (c *Cluster) now() int64 { return c.clock.Now().UnixMilli() }

// sync brings the core up to date with the live settings: node timeout,
// LEAVING flag, node ID. It reports whether LEAVING changed. c.mu is held.
func (c *Cluster) sync() (leavingChanged bool) {
	timeout := 15 * time.Second
	if c.opts.NodeTimeout != nil {
		timeout = c.opts.NodeTimeout()
	}
	c.core.SetNodeTimeout(timeout.Milliseconds())
	if c.opts.Leaving != nil {
		leavingChanged = c.core.SetLeaving(c.opts.Leaving())
	}
	if id := c.opts.ID(); id != c.core.MyID() {
		c.core.Reset(id) // CLUSTER RESET HARD: a new node knows nobody
	}
	return leavingChanged
}

// step runs f on the core under the lock, publishes the change and sends
// what f returned.
func (c *Cluster) step(f func(now int64) []Send) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.sync()
	out := f(c.now())
	c.publish()
	c.mu.Unlock()
	c.send(out)
}

func (c *Cluster) send(out []Send) {
	for _, s := range out {
		c.link.Send(s.To, s.Addr, s.Msg)
	}
}

// tick is the cron: it steps the core, re-arms itself and saves
// nodes.conf if the table changed.
func (c *Cluster) tick() {
	c.tickMu.Lock()
	defer c.tickMu.Unlock()
	seeds := c.dueSeeds() // resolved outside the lock: DNS may be slow
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	leavingChanged := c.sync()
	now := c.now()
	out := c.core.Tick(now)
	if leavingChanged {
		out = append(out, c.core.BroadcastPing(now)...)
	}
	for _, addr := range seeds {
		out = append(out, c.core.Meet(now, addr, unknownPort)...)
	}
	c.publish()
	c.timer = c.clock.AfterFunc(TickMs*time.Millisecond, c.tick)
	c.mu.Unlock()
	c.send(out)
	if err := c.save(false); err != nil {
		c.mu.Lock()
		report := c.saveOK
		c.saveOK = false
		c.mu.Unlock()
		if report {
			c.log.Error("cannot save the cluster config", zap.Error(err))
		}
	}
}

// dueSeeds are the seeds to meet at this tick, resolved: all of them at
// the first tick and then every handshake timeout, while this node knows no
// other node.
func (c *Cluster) dueSeeds() []string {
	c.mu.Lock()
	now := c.now()
	due := !c.closed && len(c.seeds) > 0 && c.core.Size() == 1 && now >= c.seedAt
	if due {
		c.seedAt = now + c.core.handshakeTimeout()
	}
	c.mu.Unlock()
	if !due {
		return nil
	}
	var out []string
	for _, seed := range c.seeds {
		addr, err := resolve(seed)
		if err != nil {
			if !c.warned[seed] {
				c.log.Warn("cluster-seeds: cannot resolve", zap.String("seed", seed), zap.Error(err))
				if c.warned == nil {
					c.warned = map[string]bool{}
				}
				c.warned[seed] = true // only the tick uses it, under tickMu
			}
			continue
		}
		out = append(out, addr)
	}
	return out
}

// resolve turns host:port into ip:port: a node is known by the address it
// advertises, an IP, so a handshake must be with an IP too.
func resolve(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); ip != nil {
		return net.JoinHostPort(ip.String(), port), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("%s has no address", host)
	}
	best := ips[0].IP
	for _, ip := range ips {
		if ip.IP.To4() != nil {
			best = ip.IP // IPv4 first, as nodes advertise
			break
		}
	}
	return net.JoinHostPort(best.String(), port), nil
}

// resolveTimeout bounds one DNS lookup of a seed or a MeetAddr.
const resolveTimeout = 2 * time.Second

// save writes nodes.conf if the table changed since the last write (or
// always, with force).
func (c *Cluster) save(force bool) error {
	if c.conf == nil {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	c.mu.Lock()
	v := c.core.Version()
	if !force && v == c.saved {
		c.mu.Unlock()
		return nil
	}
	text := ConfText(c.core.List())
	c.mu.Unlock()
	if err := c.conf.Write(text); err != nil {
		return err
	}
	c.mu.Lock()
	c.saved, c.saveOK = v, true
	c.mu.Unlock()
	return nil
}

// publish swaps in a new snapshot if the table changed, and logs what
// changed. c.mu is held.
func (c *Cluster) publish() {
	old := c.snap.Load()
	v := c.core.Version()
	if old != nil && old.version == v {
		return
	}
	s := &snapshot{
		version: v, self: c.core.Self(), reachable: c.core.Reachable(), others: c.core.Others(),
		size: c.core.Size(), peers: map[string]*protocol.Peer{}, list: c.core.List(),
	}
	for _, m := range s.list[1:] {
		if m.Flags&FlagHandshake == 0 {
			s.peers[m.ID] = peerOf(m)
		}
	}
	c.snap.Store(s)
	if old != nil {
		c.logChanges(old.list, s.list)
	}
}

// logChanges tells the operator about nodes that joined, went or changed
// their failure flags.
func (c *Cluster) logChanges(before, after []Member) {
	const watched = FlagPFail | FlagFail | FlagLeaving | FlagNoAddr
	was := map[string]Member{}
	for _, m := range before[1:] {
		if m.Flags&FlagHandshake == 0 {
			was[m.ID] = m
		}
	}
	for _, m := range after[1:] {
		if m.Flags&FlagHandshake != 0 {
			continue
		}
		p, ok := was[m.ID]
		delete(was, m.ID)
		switch {
		case !ok:
			c.log.Info("cluster: node joined", zap.String("node", m.ID), zap.String("addr", m.Addr))
		case p.Flags&watched != m.Flags&watched:
			c.log.Info("cluster: node flags changed", zap.String("node", m.ID),
				zap.String("from", p.Flags.String()), zap.String("to", m.Flags.String()))
		}
	}
	for id := range was {
		c.log.Info("cluster: node removed", zap.String("node", id))
	}
}

// Close stops the tick, saves nodes.conf a last time and closes the Link
// and its Transport. It does not close Conf (its owner does).
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	c.tickMu.Lock() // a tick in progress ends first
	c.tickMu.Unlock()
	err := c.save(false)
	if lerr := c.link.Close(); err == nil {
		err = lerr
	}
	return err
}

// --------------------------------- actors.Bus --------------------------------

var _ actors.Bus = (*Cluster)(nil)

// Send hands msg to the node with this ID; unknown IDs (and myself) are
// dropped.
func (c *Cluster) Send(to string, msg proto.Message) {
	p := c.snap.Load().peers[to]
	if p == nil || p.Address == "" {
		return
	}
	c.link.Send(to, p.Address, msg)
}

// Self is this node as peers see it. The value is shared: do not change it.
func (c *Cluster) Self() *protocol.Peer {
	s := c.snap.Load().self
	if c.opts.Leaving == nil {
		return s
	}
	// LEAVING may have changed since the last step: say it now.
	if leaving := c.opts.Leaving(); leaving != (s.Flags&uint32(protocol.NodeFlag_NODE_LEAVING) != 0) {
		p := *s
		p.Flags ^= uint32(protocol.NodeFlag_NODE_LEAVING)
		return &p
	}
	return s
}

// Reachable lists the other nodes replication may use now: known, not in
// handshake, not LEAVING, not failing (SPEC.md §9). The slice is the
// caller's.
func (c *Cluster) Reachable() []string { return slices.Clone(c.snap.Load().reachable) }

// Others lists every other known node, failing or not. The slice is the
// caller's.
func (c *Cluster) Others() []string { return slices.Clone(c.snap.Load().others) }

// Size is cluster_size: known nodes, myself and failing ones included,
// handshakes excluded.
func (c *Cluster) Size() int { return c.snap.Load().size }

// Known tells whether id is myself or a known node.
func (c *Cluster) Known(id string) bool {
	s := c.snap.Load()
	return s.peers[id] != nil || id == s.self.NodeId
}

// Receive takes the membership messages (Gossip, Fail: true) and notes the
// sender of any other (false).
func (c *Cluster) Receive(msg proto.Message) bool {
	c.received.Add(1)
	switch m := msg.(type) {
	case *protocol.Gossip:
		c.step(func(now int64) []Send { return c.core.Gossip(now, m) })
		return true
	case *protocol.Fail:
		c.step(func(now int64) []Send { c.core.Fail(now, m); return nil })
		return true
	}
	if from := senderOf(msg); from != nil && c.news(from) {
		c.step(func(int64) []Send { c.core.Observe(from); return nil })
	}
	return false
}

// news tells whether a known sender says something of itself that the
// table does not know yet.
func (c *Cluster) news(from *protocol.Peer) bool {
	p := c.snap.Load().peers[from.NodeId]
	if p == nil {
		return false
	}
	leaving := uint32(protocol.NodeFlag_NODE_LEAVING)
	return from.Incarnation != "" && from.Incarnation != p.Incarnation ||
		from.Address != "" && from.Address != p.Address ||
		from.Port != 0 && from.Port != p.Port ||
		from.Flags&leaving != p.Flags&leaving
}

// senderOf is the From of a job message.
func senderOf(msg proto.Message) *protocol.Peer {
	if m, ok := msg.(protocol.Sent); ok {
		return m.Sender()
	}
	return nil
}

// ---------------------------------- Commands ---------------------------------

// Meet is CLUSTER MEET ip port: a handshake with the node whose client port
// is port, on its bus port port+10000. ip must be an IPv4 or IPv6 literal
// and port 1..55535, else ErrInvalidAddress.
func (c *Cluster) Meet(ip string, port int) error {
	addr := net.ParseIP(ip)
	if addr == nil || port <= 0 || port > MaxClientPort {
		return ErrInvalidAddress
	}
	return c.MeetAddr(net.JoinHostPort(addr.String(), strconv.Itoa(port+BusPortOffset)), port)
}

// MeetAddr starts a handshake with the node at bus address addr
// ("host:busport"; CLUSTER MEET with an explicit bus port, or an
// embedder's seed). A host name is resolved first, which may block up to
// 2 s. port is its client port, 0 when not known (the handshake learns it).
func (c *Cluster) MeetAddr(addr string, port int) error {
	if err := validBusAddr(addr, port); err != nil {
		return err
	}
	ipAddr, err := resolve(addr)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidAddress, err)
	}
	c.step(func(now int64) []Send { return c.core.Meet(now, ipAddr, port) })
	return nil
}

func validBusAddr(addr string, port int) error {
	host, p, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return ErrInvalidAddress
	}
	if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > maxPort || port < 0 || port > maxPort {
		return ErrInvalidAddress
	}
	return nil
}

// Forget is CLUSTER FORGET: ErrUnknownNode, ErrForgetMyself, or the node is
// removed and its ID blacklisted for 60 s.
func (c *Cluster) Forget(id string) error {
	var err error
	c.step(func(now int64) []Send { err = c.core.Forget(now, id); return nil })
	return err
}

// Reset forgets every other node (CLUSTER RESET); the node ID is read again
// (RESET HARD made a new one).
func (c *Cluster) Reset() {
	c.step(func(int64) []Send { c.core.Reset(c.opts.ID()); return nil })
}

// SaveConfig writes nodes.conf now (CLUSTER SAVECONFIG).
func (c *Cluster) SaveConfig() error {
	if c.conf == nil {
		return fmt.Errorf("the node runs without a cluster config file")
	}
	return c.save(true)
}

// Members is every node, myself first, handshakes included.
func (c *Cluster) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sync()
	c.publish()
	return c.core.List()
}

// Nodes is CLUSTER NODES.
func (c *Cluster) Nodes() string { return NodesText(c.Members()) }

// Hello is HELLO's node ID and node list (SPEC.md §5.16).
func (c *Cluster) Hello() (myID string, nodes []HelloNode) {
	list := c.Members()
	return list[0].ID, Hello(list)
}

// Stats are the bus messages sent (to the transport) and received.
func (c *Cluster) Stats() (sent, received uint64) {
	sent, _ = c.link.Stats()
	return sent, c.received.Load()
}

// Info is CLUSTER INFO (SPEC.md §5.18), CRLF-terminated lines.
func (c *Cluster) Info() string {
	list := c.Members()
	s := c.snap.Load()
	sent, received := c.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "cluster_state:ok\r\ncluster_known_nodes:%d\r\ncluster_reachable_nodes:%d\r\n"+
		"cluster_size:%d\r\ncluster_stats_messages_sent:%d\r\ncluster_stats_messages_received:%d\r\n",
		len(list), len(s.reachable), s.size, sent, received)
	return b.String()
}
