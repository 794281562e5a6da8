package cluster

import (
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol"
)

// -------------------------------- Membership ---------------------------------
//
// Members is the node table of SPEC.md §9 as a pure state machine: no
// goroutines, no clock, no sockets. Every input takes `now` (unix ms) and
// returns the messages it wants sent (Send effects); Cluster (cluster.go)
// owns one, feeds it the clock's ticks and the peers' messages, and carries
// the effects out through the Link. Randomness (which nodes to gossip
// about, which to ping, temporary handshake IDs) comes from a generator
// seeded in MembersOptions, so a test replays exactly.
//
// The algorithm is Disque's (cluster.c), with messages instead of links:
//
//   - Joining. Meet(addr) adds a node in HANDSHAKE with a random temporary
//     ID, and sends it MEET, again every resend interval while no answer
//     comes (the bus may lose messages, where Disque's TCP link would not).
//     The first PONG whose sender advertises that address renames the node
//     to the sender's real ID and ends the handshake. A handshake that does
//     not complete within max(node_timeout, 1 s) is dropped. A MEET from an
//     unknown sender adds the sender as a handshake node, which we ping.
//   - Gossip. Every PING, PONG and MEET carries max(3, N/10) entries (at
//     most the other nodes but the receiver), failing nodes first. An
//     unknown node in the gossip of a known sender (or of a MEET) starts a
//     handshake, unless its ID was forgotten less than 60 s ago: a chain of
//     MEETs becomes a full mesh.
//   - Pinging, every tick of 100 ms: every 10th tick the node with the
//     oldest PONG among 5 random ones; any node whose last PONG is older
//     than node_timeout/2 and that has no PING in flight; a PING in flight
//     is sent again every resend interval (Disque reconnects the link).
//   - Failure. A PING unanswered for node_timeout makes the node PFAIL
//     (`fail?`). Gossip entries with PFAIL or FAIL are failure reports,
//     valid 2×node_timeout; PFAIL plus reports from a majority (size/2+1,
//     myself counted) makes it FAIL, and a Fail message tells everybody. A
//     PONG from the node clears both.
//   - Identity. A known node that comes back with a new incarnation or a
//     new address is updated in place. A message from another ID at the
//     address of a known node means that node is gone from there: it gets
//     NOADDR (Disque's "PONG contains mismatching sender ID").
//
// Failure detection is advisory: it only steers replica choice and HELLO
// priorities (DESIGN.md, "The cluster").

// Flags are a node's state bits in the table.
type Flags uint16

// The flags. CLUSTER NODES prints them in Disque's order (flagNames).
const (
	FlagMyself    Flags = 1 << iota // this node
	FlagPFail                       // no PONG within node_timeout (fail?)
	FlagFail                        // a majority agrees it is failing
	FlagHandshake                   // met, not yet answered: its ID is temporary
	FlagNoAddr                      // its address now answers with another ID
	FlagLeaving                     // CLUSTER LEAVING yes, as it advertises
	FlagMeet                        // a handshake we started: we send MEET, not PING
)

// flagNames are the flags CLUSTER NODES shows, in Disque's order. MEET is
// internal: Disque never prints it.
var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagMyself, "myself"}, {FlagPFail, "fail?"}, {FlagFail, "fail"},
	{FlagHandshake, "handshake"}, {FlagNoAddr, "noaddr"}, {FlagLeaving, "leaving"},
}

// String is the flags as CLUSTER NODES prints them: comma separated, or
// "noflags".
func (f Flags) String() string {
	var parts []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "noflags"
	}
	return strings.Join(parts, ",")
}

// parseFlags reads a CLUSTER NODES flags field; unknown names are ignored
// (a newer node's file).
func parseFlags(s string) Flags {
	var f Flags
	for _, name := range strings.Split(s, ",") {
		for _, n := range flagNames {
			if n.name == name {
				f |= n.f
			}
		}
	}
	return f
}

// Member is what the table knows of one node (a copy).
type Member struct {
	ID   string // its node ID; a temporary random one while in handshake
	Addr string // host:busport of its node actor; "" when NOADDR
	// IP is the host shown by CLUSTER NODES and HELLO: Addr's host, and
	// for myself "" until another node has met us (SPEC.md §5.16).
	IP           string
	Port         int    // client port; 0 when not known yet
	Incarnation  string // random per process start of that node
	Flags        Flags
	PingSent     int64 // unix ms of the oldest unanswered PING; 0: none
	PongReceived int64 // unix ms of the last PONG; 0: never
}

// Connected is CLUSTER NODES' last field: myself, or a node that answered
// and is not failing (we have no links, so this stands for Disque's "has a
// connected link").
func (m Member) Connected() bool {
	if m.Flags&FlagMyself != 0 {
		return true
	}
	return m.PongReceived > 0 && m.Flags&(FlagHandshake|FlagNoAddr|FlagPFail|FlagFail) == 0
}

// Priority is HELLO's priority for the node (SPEC.md §5.16): 1 normal; 5
// with no working bus link (handshake, no address, never answered); 10
// PFAIL; 100 FAIL or LEAVING. Later rules override earlier ones.
func (m Member) Priority() int {
	p := 1
	if m.Flags&FlagMyself == 0 && (m.Flags&(FlagHandshake|FlagNoAddr) != 0 || m.PongReceived == 0) {
		p = 5
	}
	if m.Flags&FlagPFail != 0 {
		p = 10
	}
	if m.Flags&(FlagFail|FlagLeaving) != 0 {
		p = 100
	}
	return p
}

// Send is an effect: a message the core wants sent.
type Send struct {
	To   string // node ID; "" for a node in handshake (its ID is not known)
	Addr string // host:busport
	Msg  proto.Message
}

// Errors of the membership commands.
var (
	ErrUnknownNode    = errors.New("cluster: unknown node")
	ErrForgetMyself   = errors.New("cluster: a node can't forget itself")
	ErrInvalidAddress = errors.New("cluster: invalid node address")
)

// Timing constants (Disque's cluster.h), in milliseconds or ticks.
const (
	TickMs             = 100    // the cron period
	BlacklistMs        = 60_000 // a forgotten ID can't come back by gossip for this long
	randomPingTicks    = 10     // ping a random node every 10 ticks
	randomPingSample   = 5      // among this many
	minHandshakeMs     = 1000   // handshake timeout floor
	failReportValidity = 2      // × node_timeout
	maxResendMs        = 1000   // resend interval ceiling
	minResendMs        = TickMs // and floor
	defaultNodeTimeout = 15_000 // cluster-node-timeout's default
	gossipMin          = 3      // gossip entries per message, at least
	gossipFraction     = 10     // or N/10
)

// Ports.
const (
	BusPortOffset = 10_000 // Disque's bus port: client port + 10000
	MaxClientPort = 55_535 // so that port+10000 is a TCP port
	maxPort       = 65_535
	tempIDBytes   = 20 // a temporary ID has 40 hex characters, like a node ID
	unknownPort   = 0  // client port not known yet
)

// MembersOptions configures a Members.
type MembersOptions struct {
	ID          string // this node's ID
	Incarnation string // this process's incarnation ID
	Addr        string // this node's bus address, host:busport
	Port        int    // this node's client port
	NodeTimeout int64  // cluster-node-timeout, ms; 0 is 15000
	Seed        uint64 // seeds the generator
}

// node is one entry of the table.
type node struct {
	Member
	created  int64            // when the handshake started
	lastSend int64            // when we last sent it a PING or MEET
	reports  map[string]int64 // failure reports: reporter ID -> when
}

// Members is the node table; see the chapter comment. It is not safe for
// concurrent use.
type Members struct {
	self      Member
	ipKnown   bool // another node met us: our IP is shown
	timeout   int64
	rnd       *rand.Rand
	nodes     map[string]*node // every other node, handshakes included, by ID
	blacklist map[string]int64 // forgotten IDs -> until when
	ticks     uint64
	version   uint64 // bumped by every change of the table
}

// NewMembers makes a table that knows only this node.
func NewMembers(o MembersOptions) *Members {
	m := &Members{
		self:  Member{ID: o.ID, Incarnation: o.Incarnation, Addr: o.Addr, Port: o.Port, Flags: FlagMyself},
		rnd:   rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		nodes: map[string]*node{}, blacklist: map[string]int64{},
	}
	m.SetNodeTimeout(o.NodeTimeout)
	return m
}

// SetNodeTimeout changes cluster-node-timeout (CONFIG SET); ms, 0 is the
// default.
func (m *Members) SetNodeTimeout(ms int64) {
	if ms <= 0 {
		ms = defaultNodeTimeout
	}
	m.timeout = ms
}

// SetLeaving sets this node's LEAVING flag; it reports whether it changed.
func (m *Members) SetLeaving(on bool) bool {
	if (m.self.Flags&FlagLeaving != 0) == on {
		return false
	}
	m.self.Flags ^= FlagLeaving
	m.version++
	return true
}

// Version changes whenever the table does: the caller saves nodes.conf
// and refreshes its snapshot when it moved.
func (m *Members) Version() uint64 { return m.version }

// MyID is this node's ID.
func (m *Members) MyID() string { return m.self.ID }

func (m *Members) handshakeTimeout() int64 { return max(m.timeout, minHandshakeMs) }

// resendEvery is how long an unanswered PING or MEET waits before it is
// sent again: node_timeout/2 (Disque reconnects a link that waits that
// long), within 100 ms..1 s.
func (m *Members) resendEvery() int64 { return min(max(m.timeout/2, minResendMs), maxResendMs) }

// ------------------------------- Commands ------------------------------------

// Meet starts a handshake with the node at addr (host:busport) whose client
// port is port (0 if not known): CLUSTER MEET, or a seed. Meeting an
// address that is known or already in handshake, or our own, does nothing.
func (m *Members) Meet(now int64, addr string, port int) []Send {
	if _, _, err := net.SplitHostPort(addr); err != nil || addr == m.self.Addr {
		return nil
	}
	if m.hasAddr(addr) {
		return nil
	}
	n := m.startHandshake(now, addr, port, true)
	return []Send{m.ping(now, n)}
}

// Forget removes a node and blacklists its ID for 60 s, so gossip about it
// is ignored meanwhile (CLUSTER FORGET).
func (m *Members) Forget(now int64, id string) error {
	if id == m.self.ID {
		return ErrForgetMyself
	}
	if m.nodes[id] == nil {
		return ErrUnknownNode
	}
	m.blacklist[id] = now + BlacklistMs
	m.remove(id)
	return nil
}

// Reset forgets every other node (CLUSTER RESET); id is this node's ID
// from now on (a new one after RESET HARD). Nothing is blacklisted: the
// other nodes simply are no longer known.
func (m *Members) Reset(id string) {
	for other := range m.nodes {
		delete(m.nodes, other)
	}
	m.self.ID = id
	m.version++
}

// Load adds nodes remembered in nodes.conf: known nodes that will be pinged
// at the next tick. Lines for myself and for handshakes are skipped.
func (m *Members) Load(peers []Member) {
	for _, p := range peers {
		if p.Flags&(FlagMyself|FlagHandshake) != 0 || p.ID == m.self.ID || !protocol.ValidNodeID(p.ID) {
			continue
		}
		n := &node{Member: p}
		n.Flags &^= FlagMeet
		n.PingSent, n.PongReceived = 0, 0
		if n.Addr == "" {
			n.Flags |= FlagNoAddr
		}
		m.nodes[p.ID] = n
	}
	m.version++
}

// SetIPKnown says another node met us before (nodes.conf shows our IP).
func (m *Members) SetIPKnown() { m.ipKnown = true }

// ---------------------------------- Tick -------------------------------------

// Tick is the cron, every TickMs: handshake timeouts and retries, pings,
// failure detection.
func (m *Members) Tick(now int64) []Send {
	m.ticks++
	var out []Send
	for id, until := range m.blacklist {
		if now > until {
			delete(m.blacklist, id)
		}
	}
	ids := m.sortedIDs()
	for _, id := range ids {
		n := m.nodes[id]
		if n.Flags&FlagHandshake == 0 {
			continue
		}
		switch {
		case now-n.created > m.handshakeTimeout():
			m.remove(id)
		case now-n.lastSend >= m.resendEvery():
			out = append(out, m.ping(now, n))
		}
	}
	if m.ticks%randomPingTicks == 0 {
		if n := m.randomPingTarget(); n != nil {
			out = append(out, m.ping(now, n))
		}
	}
	for _, id := range ids {
		n := m.nodes[id]
		if n == nil || n.Flags&(FlagHandshake|FlagNoAddr) != 0 {
			continue
		}
		switch {
		case n.PingSent == 0 && now-n.PongReceived > m.timeout/2:
			out = append(out, m.ping(now, n))
		case n.PingSent != 0 && now-n.lastSend >= m.resendEvery():
			out = append(out, m.ping(now, n))
		}
		if n.PingSent != 0 && now-n.PingSent > m.timeout && n.Flags&(FlagPFail|FlagFail) == 0 {
			n.Flags |= FlagPFail
			m.version++
		}
		m.expireReports(now, n)
		out = append(out, m.failIfNeeded(now, n)...)
	}
	return out
}

// randomPingTarget is the node with the oldest PONG among a few random
// ones that can be pinged and have no PING in flight.
func (m *Members) randomPingTarget() *node {
	var cands []*node
	for _, id := range m.sortedIDs() {
		n := m.nodes[id]
		if n.Flags&(FlagHandshake|FlagNoAddr) == 0 && n.PingSent == 0 {
			cands = append(cands, n)
		}
	}
	var best *node
	for i := 0; i < randomPingSample && len(cands) > 0; i++ {
		n := cands[m.rnd.IntN(len(cands))]
		if best == nil || n.PongReceived < best.PongReceived {
			best = n
		}
	}
	return best
}

// BroadcastPing pings every node that can be pinged: our LEAVING flag
// changed and they should hear it now.
func (m *Members) BroadcastPing(now int64) []Send {
	var out []Send
	for _, id := range m.sortedIDs() {
		if n := m.nodes[id]; n.Flags&(FlagHandshake|FlagNoAddr) == 0 {
			out = append(out, m.ping(now, n))
		}
	}
	return out
}

// -------------------------------- Messages -----------------------------------

// Gossip handles a PING, MEET or PONG from a peer.
func (m *Members) Gossip(now int64, g *protocol.Gossip) []Send {
	from := g.From
	if from == nil || !protocol.ValidNodeID(from.NodeId) || from.NodeId == m.self.ID {
		return nil
	}
	var out []Send
	m.noAddrOthersAt(from.NodeId, from.Address)
	sender := m.known(from.NodeId)
	if !g.Pong {
		if !m.ipKnown {
			m.ipKnown = true // somebody reached us: our address is the one they use
			m.version++
		}
		if sender == nil && g.Meet && from.Address != "" && !m.hasAddr(from.Address) {
			// Trust a MEET: add the sender, and what it knows.
			n := m.startHandshake(now, from.Address, int(from.Port), false)
			out = append(out, m.ping(now, n))
		}
		if sender == nil && g.Meet {
			out = append(out, m.gossipSection(now, nil, g.Known)...)
		}
		// Answer any PING, even from a stranger, as Disque does.
		to := ""
		if sender != nil {
			to = sender.ID
		}
		out = append(out, m.pong(to, from.Address))
	}
	if sender == nil && g.Pong {
		sender = m.completeHandshake(now, from)
	}
	if sender == nil {
		return out
	}
	m.updateSender(sender, from)
	if h := m.handshakeAt(from.Address); h != nil {
		m.remove(h.ID) // a handshake with a node we know already
	}
	if g.Pong {
		sender.PongReceived, sender.PingSent = now, 0
		if sender.Flags&(FlagPFail|FlagFail) != 0 {
			sender.Flags &^= FlagPFail | FlagFail
			m.version++
		}
	}
	return append(out, m.gossipSection(now, sender, g.Known)...)
}

// Fail handles a Fail message: the sender saw a majority agree that the
// node failed.
func (m *Members) Fail(now int64, f *protocol.Fail) {
	if f.From == nil || m.known(f.From.NodeId) == nil {
		return
	}
	n := m.known(f.NodeId)
	if n == nil || n.Flags&FlagFail != 0 {
		return
	}
	n.Flags = n.Flags&^FlagPFail | FlagFail
	m.version++
}

// Observe notes the sender of any other message (a job message): its
// LEAVING flag, incarnation and address, if it is a known node.
func (m *Members) Observe(from *protocol.Peer) {
	if from == nil || from.NodeId == m.self.ID {
		return
	}
	if n := m.known(from.NodeId); n != nil {
		m.updateSender(n, from)
	}
}

// completeHandshake turns the handshake node the PONG answers into the
// sender: the one at the address the sender advertises. A node met at a
// loopback address may advertise another one of the same machine (it binds
// every interface): then the only loopback handshake with the same bus port
// is it, since on one machine the port alone names a node. The node keeps
// the address it advertises.
func (m *Members) completeHandshake(now int64, from *protocol.Peer) *node {
	h := m.handshakeAt(from.Address)
	if h == nil && !m.blacklisted(now, from.NodeId) {
		_, port, err := net.SplitHostPort(from.Address)
		if err != nil {
			return nil
		}
		for _, id := range m.sortedIDs() {
			n := m.nodes[id]
			host, p, err := net.SplitHostPort(n.Addr)
			if err != nil || p != port || n.Flags&FlagHandshake == 0 || !isLoopback(host) {
				continue
			}
			if h != nil {
				return nil // ambiguous
			}
			h = n
		}
	}
	if h == nil {
		return nil
	}
	delete(m.nodes, h.ID)
	h.ID = from.NodeId
	h.Addr = from.Address
	h.Flags &^= FlagHandshake | FlagMeet
	h.PongReceived, h.PingSent = now, 0
	m.nodes[h.ID] = h
	m.version++
	return h
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// updateSender takes what a known node says of itself.
func (m *Members) updateSender(n *node, from *protocol.Peer) {
	changed := false
	if from.Address != "" && from.Address != n.Addr {
		n.Addr = from.Address
		n.Flags &^= FlagNoAddr
		changed = true
	}
	if from.Port != 0 && int(from.Port) != n.Port {
		n.Port = int(from.Port)
		changed = true
	}
	if from.Incarnation != "" && from.Incarnation != n.Incarnation {
		n.Incarnation = from.Incarnation // restarted: same ID, new life
		changed = true
	}
	if leaving := from.Flags&uint32(protocol.NodeFlag_NODE_LEAVING) != 0; leaving != (n.Flags&FlagLeaving != 0) {
		n.Flags ^= FlagLeaving
		changed = true
	}
	if changed {
		m.version++
	}
}

// noAddrOthersAt marks NOADDR any known node other than id that we think
// lives at addr: a message from id proves it does not any more.
func (m *Members) noAddrOthersAt(id, addr string) {
	if addr == "" {
		return
	}
	for _, n := range m.nodes {
		if n.ID != id && n.Addr == addr && n.Flags&FlagHandshake == 0 {
			n.Addr, n.Port = "", unknownPort
			n.Flags |= FlagNoAddr
			n.PingSent = 0
			m.version++
		}
	}
}

// gossipSection reads the entries a peer sent: failure reports about known
// nodes (only from a known sender), handshakes with unknown ones.
func (m *Members) gossipSection(now int64, sender *node, known []*protocol.Peer) []Send {
	var out []Send
	for _, e := range known {
		if e == nil || !protocol.ValidNodeID(e.NodeId) || e.NodeId == m.self.ID {
			continue
		}
		n := m.known(e.NodeId)
		if n == nil {
			if m.nodes[e.NodeId] != nil || m.blacklisted(now, e.NodeId) || e.Address == "" || e.Address == m.self.Addr {
				continue
			}
			if !m.hasAddr(e.Address) {
				out = append(out, m.ping(now, m.startHandshake(now, e.Address, int(e.Port), false)))
			}
			continue
		}
		if sender == nil || n == sender {
			continue
		}
		if e.Flags&uint32(protocol.NodeFlag_NODE_PFAIL|protocol.NodeFlag_NODE_FAIL) != 0 {
			if n.reports == nil {
				n.reports = map[string]int64{}
			}
			n.reports[sender.ID] = now
			out = append(out, m.failIfNeeded(now, n)...)
		} else {
			delete(n.reports, sender.ID)
		}
		// A failing node seen elsewhere at another address may have moved:
		// meet the new address; the PONG will update it (Disque does too).
		if n.Flags&(FlagPFail|FlagFail) != 0 && e.Address != "" && e.Address != n.Addr && !m.hasAddr(e.Address) {
			out = append(out, m.ping(now, m.startHandshake(now, e.Address, int(e.Port), false)))
		}
	}
	return out
}

// failIfNeeded makes a PFAIL node FAIL when the failure reports and my own
// view reach a majority, and tells every other node.
func (m *Members) failIfNeeded(now int64, n *node) []Send {
	if n.Flags&FlagPFail == 0 || n.Flags&FlagFail != 0 {
		return nil
	}
	m.expireReports(now, n)
	if len(n.reports)+1 < m.Size()/2+1 {
		return nil
	}
	n.Flags = n.Flags&^FlagPFail | FlagFail
	m.version++
	var out []Send
	for _, id := range m.sortedIDs() {
		o := m.nodes[id]
		if o == n || o.Flags&(FlagHandshake|FlagNoAddr) != 0 {
			continue
		}
		out = append(out, Send{To: o.ID, Addr: o.Addr, Msg: &protocol.Fail{From: m.Self(), NodeId: n.ID}})
	}
	return out
}

func (m *Members) expireReports(now int64, n *node) {
	for id, at := range n.reports {
		if now-at > failReportValidity*m.timeout || m.known(id) == nil {
			delete(n.reports, id)
		}
	}
}

// ------------------------------ Building messages -----------------------------

// Self is this node as its messages' From: a new value every call.
func (m *Members) Self() *protocol.Peer {
	var flags uint32
	if m.self.Flags&FlagLeaving != 0 {
		flags |= uint32(protocol.NodeFlag_NODE_LEAVING)
	}
	return &protocol.Peer{NodeId: m.self.ID, Incarnation: m.self.Incarnation, Address: m.self.Addr,
		Port: uint32(m.self.Port), Flags: flags}
}

// ping makes a PING for n (a MEET for a handshake we started) and notes it
// as sent. A PING in flight keeps its first send time.
func (m *Members) ping(now int64, n *node) Send {
	g := &protocol.Gossip{From: m.Self(), Meet: n.Flags&FlagMeet != 0}
	to := n.ID
	if n.Flags&FlagHandshake != 0 {
		to = ""
	}
	g.Known = m.gossipFor(to)
	if n.PingSent == 0 {
		n.PingSent = now
	}
	n.lastSend = now
	return Send{To: to, Addr: n.Addr, Msg: g}
}

func (m *Members) pong(to, addr string) Send {
	return Send{To: to, Addr: addr, Msg: &protocol.Gossip{From: m.Self(), Pong: true, Known: m.gossipFor(to)}}
}

// gossipFor picks the entries of a message to node `to`: max(3, N/10) of
// the other known nodes but `to`, failing ones first, the rest at random.
func (m *Members) gossipFor(to string) []*protocol.Peer {
	var failing, rest []*node
	for _, id := range m.sortedIDs() {
		n := m.nodes[id]
		if id == to || n.Flags&(FlagHandshake|FlagNoAddr) != 0 {
			continue
		}
		if n.Flags&(FlagPFail|FlagFail) != 0 {
			failing = append(failing, n)
		} else {
			rest = append(rest, n)
		}
	}
	m.rnd.Shuffle(len(failing), func(i, j int) { failing[i], failing[j] = failing[j], failing[i] })
	m.rnd.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	pick := append(failing, rest...)
	want := min(max(gossipMin, m.Size()/gossipFraction), len(pick))
	out := make([]*protocol.Peer, 0, want)
	for _, n := range pick[:want] {
		out = append(out, peerOf(n.Member))
	}
	return out
}

// peerOf is a node as a gossip entry.
func peerOf(n Member) *protocol.Peer {
	var flags uint32
	if n.Flags&FlagLeaving != 0 {
		flags |= uint32(protocol.NodeFlag_NODE_LEAVING)
	}
	if n.Flags&FlagPFail != 0 {
		flags |= uint32(protocol.NodeFlag_NODE_PFAIL)
	}
	if n.Flags&FlagFail != 0 {
		flags |= uint32(protocol.NodeFlag_NODE_FAIL)
	}
	return &protocol.Peer{NodeId: n.ID, Incarnation: n.Incarnation, Address: n.Addr, Port: uint32(n.Port), Flags: flags}
}

// ------------------------------- The table -----------------------------------

func (m *Members) startHandshake(now int64, addr string, port int, meet bool) *node {
	var b [tempIDBytes]byte
	for {
		for i := range b {
			b[i] = byte(m.rnd.Uint32())
		}
		if id := hex.EncodeToString(b[:]); m.nodes[id] == nil && id != m.self.ID {
			n := &node{Member: Member{ID: id, Addr: addr, Port: port, Flags: FlagHandshake}, created: now}
			if meet {
				n.Flags |= FlagMeet
			}
			m.nodes[id] = n
			m.version++
			return n
		}
	}
}

func (m *Members) remove(id string) {
	delete(m.nodes, id)
	for _, n := range m.nodes {
		delete(n.reports, id)
	}
	m.version++
}

// known is a known node (not in handshake) by ID.
func (m *Members) known(id string) *node {
	if n := m.nodes[id]; n != nil && n.Flags&FlagHandshake == 0 {
		return n
	}
	return nil
}

// handshakeAt is the node in handshake at a bus address (there is at most
// one: a handshake starts only with an address nobody has).
func (m *Members) handshakeAt(addr string) *node {
	for _, n := range m.nodes {
		if n.Addr == addr && n.Flags&FlagHandshake != 0 {
			return n
		}
	}
	return nil
}

// hasAddr tells whether a node (known or in handshake) has this bus
// address.
func (m *Members) hasAddr(addr string) bool {
	if addr == "" {
		return false
	}
	for _, n := range m.nodes {
		if n.Addr == addr {
			return true
		}
	}
	return false
}

func (m *Members) blacklisted(now int64, id string) bool {
	until, ok := m.blacklist[id]
	return ok && now <= until
}

// sortedIDs are the other nodes' IDs in order: map order is random, and a
// seeded run must replay.
func (m *Members) sortedIDs() []string {
	ids := make([]string, 0, len(m.nodes))
	for id := range m.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// -------------------------------- Queries ------------------------------------

// Reachable lists the nodes replication may use: known, not myself, not in
// handshake, not LEAVING, not PFAIL or FAIL, with an address.
func (m *Members) Reachable() []string {
	var out []string
	for _, id := range m.sortedIDs() {
		if m.nodes[id].Flags&(FlagHandshake|FlagLeaving|FlagPFail|FlagFail|FlagNoAddr) == 0 {
			out = append(out, id)
		}
	}
	return out
}

// Others lists every other known node (not in handshake), failing or not.
func (m *Members) Others() []string {
	var out []string
	for _, id := range m.sortedIDs() {
		if m.nodes[id].Flags&FlagHandshake == 0 {
			out = append(out, id)
		}
	}
	return out
}

// Size is cluster_size: known nodes but handshakes, myself included.
func (m *Members) Size() int {
	size := 1
	for _, n := range m.nodes {
		if n.Flags&FlagHandshake == 0 {
			size++
		}
	}
	return size
}

// Known tells whether id is myself or a known node (not in handshake).
func (m *Members) Known(id string) bool { return id == m.self.ID || m.known(id) != nil }

// List is every node, myself first, then the others by ID, handshakes
// included.
func (m *Members) List() []Member {
	me := m.self
	me.IP = ""
	if m.ipKnown {
		me.IP = hostOf(me.Addr)
	}
	out := []Member{me}
	for _, id := range m.sortedIDs() {
		n := m.nodes[id].Member
		n.IP = hostOf(n.Addr)
		out = append(out, n)
	}
	return out
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

// ------------------------------ CLUSTER NODES --------------------------------

// NodesText is CLUSTER NODES (SPEC.md §5.18): one line per node,
//
//	<id> <ip>:<port> <flags> <ping_sent> <pong_recv> <connected|disconnected>
//
// where port is the client port.
func NodesText(list []Member) string {
	var b strings.Builder
	for _, n := range list {
		writeLine(&b, n, false)
	}
	return b.String()
}

// ConfText is nodes.conf: CLUSTER NODES' lines without handshakes, the
// address written ip:port@busport so that a node whose bus port is not
// port+10000 is found again after a restart.
func ConfText(list []Member) string {
	var b strings.Builder
	for _, n := range list {
		if n.Flags&FlagHandshake == 0 {
			writeLine(&b, n, true)
		}
	}
	return b.String()
}

func writeLine(b *strings.Builder, n Member, conf bool) {
	link := "disconnected"
	if n.Connected() {
		link = "connected"
	}
	b.WriteString(n.ID + " " + n.IP + ":" + strconv.Itoa(n.Port))
	if conf {
		if _, bus, err := net.SplitHostPort(n.Addr); err == nil {
			b.WriteString("@" + bus)
		}
	}
	b.WriteString(" " + n.Flags.String() + " " + strconv.FormatInt(n.PingSent, 10) + " " +
		strconv.FormatInt(n.PongReceived, 10) + " " + link + "\n")
}

// parseLine reads one nodes.conf (or CLUSTER NODES) line. The address is
// ip:port@busport, or Disque's ip:port with the bus on port+10000.
func parseLine(line string) (Member, error) {
	f := strings.Fields(line)
	if len(f) != 6 {
		return Member{}, errors.New("want 6 fields")
	}
	if !protocol.ValidNodeID(f[0]) {
		return Member{}, errors.New("invalid node ID " + strconv.Quote(f[0]))
	}
	n := Member{ID: f[0], Flags: parseFlags(f[2])}
	addr, bus, hasBus := strings.Cut(f[1], "@")
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return Member{}, errors.New("invalid address " + strconv.Quote(f[1]))
	}
	n.IP = addr[:i]
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > maxPort {
		return Member{}, errors.New("invalid port in " + strconv.Quote(f[1]))
	}
	n.Port = port
	busPort := port + BusPortOffset
	if hasBus {
		if busPort, err = strconv.Atoi(bus); err != nil || busPort <= 0 || busPort > maxPort {
			return Member{}, errors.New("invalid bus port in " + strconv.Quote(f[1]))
		}
	}
	if n.IP != "" && port != 0 && busPort <= maxPort {
		n.Addr = net.JoinHostPort(n.IP, strconv.Itoa(busPort))
	}
	return n, nil
}

// HelloNode is one entry of HELLO.
type HelloNode struct {
	ID, IP   string
	Port     int
	Priority int
}

// Hello is HELLO's node list (SPEC.md §5.16): every node, myself and
// handshakes included, with its priority.
func Hello(list []Member) []HelloNode {
	out := make([]HelloNode, 0, len(list))
	for _, n := range list {
		out = append(out, HelloNode{ID: n.ID, IP: n.IP, Port: n.Port, Priority: n.Priority()})
	}
	return out
}
