package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------- The simulation ------------------------------
//
// sim joins Members cores by a synchronous in-test network with a manual
// clock (raft_test.go's network, STYLE.md §10b): tick advances every core
// by 100 ms and delivers every message until none is left. Nodes can be
// killed (their messages and the messages to them vanish) and revived.

const simTimeout = 1000 // ms, cluster-node-timeout of the simulated nodes

type sim struct {
	t     *testing.T
	now   int64
	nodes map[string]*Members // by bus address
	dead  map[string]bool
	queue []Send
	sent  []Send // every message ever sent, for assertions
	cut   func(from, to string) bool
}

func newSim(t *testing.T) *sim {
	return &sim{t: t, now: 1_000_000, nodes: map[string]*Members{}, dead: map[string]bool{}}
}

// simID is the node ID of the i-th node: 40 hex characters.
func simID(i int) string { return fmt.Sprintf("%040x", 0xa000+i) }

func simAddr(i int) string { return fmt.Sprintf("10.0.0.%d:17711", i) }

// add makes node i (ID simID(i), bus address simAddr(i), client port 7711).
func (s *sim) add(i int) *Members {
	m := NewMembers(MembersOptions{ID: simID(i), Incarnation: fmt.Sprintf("inc-%d", i), Addr: simAddr(i),
		Port: 7711, NodeTimeout: simTimeout, Seed: uint64(i)})
	s.nodes[simAddr(i)] = m
	return m
}

func (s *sim) send(from string, out []Send) {
	for _, o := range out {
		if s.dead[from] || (s.cut != nil && s.cut(from, o.Addr)) {
			continue
		}
		s.queue = append(s.queue, o)
		s.sent = append(s.sent, o)
	}
}

// run delivers messages until there are none (and at most a bound, so a
// storm fails the test instead of hanging it).
func (s *sim) run() {
	for i := 0; len(s.queue) > 0; i++ {
		if i > 100_000 {
			s.t.Fatal("message storm")
		}
		o := s.queue[0]
		s.queue = s.queue[1:]
		m := s.nodes[o.Addr]
		if m == nil || s.dead[o.Addr] {
			continue
		}
		switch msg := o.Msg.(type) {
		case *protocol.Gossip:
			s.send(o.Addr, m.Gossip(s.now, msg))
		case *protocol.Fail:
			m.Fail(s.now, msg)
		default:
			s.t.Fatalf("unexpected message %T", msg)
		}
	}
}

// tick advances the clock by n ticks, ticking every live core each time.
func (s *sim) tick(n int) {
	for ; n > 0; n-- {
		s.now += TickMs
		addrs := make([]string, 0, len(s.nodes))
		for a := range s.nodes {
			addrs = append(addrs, a)
		}
		slices.Sort(addrs)
		for _, a := range addrs {
			if !s.dead[a] {
				s.send(a, s.nodes[a].Tick(s.now))
			}
		}
		s.run()
	}
}

// meet is CLUSTER MEET on node i towards node j.
func (s *sim) meet(i, j int) {
	s.send(simAddr(i), s.nodes[simAddr(i)].Meet(s.now, simAddr(j), 7711))
	s.run()
}

// member is what m knows of id, and whether it knows it at all.
func member(m *Members, id string) (Member, bool) {
	for _, n := range m.List() {
		if n.ID == id {
			return n, true
		}
	}
	return Member{}, false
}

func handshakes(m *Members) int {
	k := 0
	for _, n := range m.List() {
		if n.Flags&FlagHandshake != 0 {
			k++
		}
	}
	return k
}

// mesh makes n nodes (1..n) and joins them by a chain of MEETs.
func (s *sim) mesh(n int) []*Members {
	ms := make([]*Members, n+1)
	for i := 1; i <= n; i++ {
		ms[i] = s.add(i)
	}
	for i := 1; i < n; i++ {
		s.meet(i, i+1)
	}
	s.tick(60)
	for i := 1; i <= n; i++ {
		if got := ms[i].Size(); got != n || handshakes(ms[i]) != 0 {
			s.t.Fatalf("node %d: size %d, %d handshakes; want a mesh of %d:\n%s", i, got, handshakes(ms[i]), n, NodesText(ms[i].List()))
		}
	}
	return ms
}

// -------------------------------- Handshakes ---------------------------------

func TestHandshakeCompletes(t *testing.T) {
	s := newSim(t)
	a, b := s.add(1), s.add(2)
	s.meet(1, 2)
	for _, c := range []struct {
		name string
		m    *Members
		peer string
	}{{"meeter", a, simID(2)}, {"met", b, simID(1)}} {
		n, ok := member(c.m, c.peer)
		if !ok || n.Flags != 0 || n.Addr == "" || n.Port != 7711 || n.PongReceived != s.now {
			t.Errorf("%s: peer %+v (known %v), want a known node with no flags that answered", c.name, n, ok)
		}
		if c.m.Size() != 2 || handshakes(c.m) != 0 || !slices.Equal(c.m.Reachable(), []string{c.peer}) {
			t.Errorf("%s: size %d, reachable %v:\n%s", c.name, c.m.Size(), c.m.Reachable(), NodesText(c.m.List()))
		}
	}
	// Both learnt their IP from being met.
	if a.List()[0].IP != "10.0.0.1" || b.List()[0].IP != "10.0.0.2" {
		t.Errorf("own IPs %q %q", a.List()[0].IP, b.List()[0].IP)
	}
	// Meeting again, or meeting myself, changes nothing.
	for _, addr := range []string{simAddr(2), simAddr(1)} {
		if out := a.Meet(s.now, addr, 7711); out != nil || a.Size() != 2 || handshakes(a) != 0 {
			t.Errorf("MEET %s again: %v, size %d", addr, out, a.Size())
		}
	}
}

func TestHandshakeTimesOut(t *testing.T) {
	for _, c := range []struct {
		name    string
		timeout int64
		limit   int64 // max(node_timeout, 1 s)
	}{{"short node timeout: 1 s floor", 300, 1000}, {"long node timeout", 3000, 3000}} {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			a := s.add(1)
			a.SetNodeTimeout(c.timeout)
			start := s.now
			s.send(simAddr(1), a.Meet(s.now, "10.9.9.9:17711", 7711)) // nobody there
			s.run()
			if handshakes(a) != 1 || a.Size() != 1 {
				t.Fatalf("after MEET: %s", NodesText(a.List()))
			}
			if l := a.List()[1]; l.Flags != FlagHandshake|FlagMeet || l.IP != "10.9.9.9" || l.Port != 7711 ||
				!strings.Contains(NodesText(a.List()), " 10.9.9.9:7711 handshake ") {
				t.Fatalf("handshake node %+v:\n%s", l, NodesText(a.List()))
			}
			meets := 0
			for s.now-start <= c.limit {
				s.tick(1)
				if s.now-start <= c.limit && handshakes(a) != 1 {
					t.Fatalf("handshake dropped after %d ms, before %d", s.now-start, c.limit)
				}
			}
			s.tick(1)
			if handshakes(a) != 0 || len(a.List()) != 1 {
				t.Fatalf("handshake still there after %d ms:\n%s", s.now-start, NodesText(a.List()))
			}
			for _, o := range s.sent {
				if g, ok := o.Msg.(*protocol.Gossip); ok && g.Meet && o.Addr == "10.9.9.9:17711" && o.To == "" {
					meets++
				}
			}
			if meets < 2 {
				t.Fatalf("MEET sent %d times: a lost MEET must be sent again", meets)
			}
		})
	}
}

func TestChainOfMeetsBecomesFullMesh(t *testing.T) {
	for _, n := range []int{2, 3, 5, 12} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := newSim(t)
			ms := s.mesh(n) // fails unless every node knows every other
			for i := 1; i <= n; i++ {
				if len(ms[i].Reachable()) != n-1 || len(ms[i].Others()) != n-1 {
					t.Fatalf("node %d: reachable %v", i, ms[i].Reachable())
				}
			}
		})
	}
}

// A MEET lost on the way is sent again, and the handshake still completes.
func TestHandshakeSurvivesLostMeet(t *testing.T) {
	s := newSim(t)
	a, _ := s.add(1), s.add(2)
	lost := 0
	s.cut = func(from, to string) bool {
		if from == simAddr(1) && lost < 2 {
			lost++
			return true
		}
		return false
	}
	s.meet(1, 2)
	if handshakes(a) != 1 {
		t.Fatal("the MEET was not lost")
	}
	s.tick(10)
	if !a.Known(simID(2)) || handshakes(a) != 0 {
		t.Fatalf("handshake did not complete:\n%s", NodesText(a.List()))
	}
}

// ------------------------------ Unknown senders ------------------------------

func TestGossipFromUnknownSendersIgnoredExceptMeet(t *testing.T) {
	stranger := &protocol.Peer{NodeId: simID(8), Incarnation: "x", Address: simAddr(8), Port: 7711}
	rumour := []*protocol.Peer{{NodeId: simID(9), Address: simAddr(9), Port: 7711}}
	for _, c := range []struct {
		name       string
		msg        *protocol.Gossip
		handshakes int // stranger and rumour, in handshake
		pong       bool
	}{
		{"PING", &protocol.Gossip{From: stranger, Known: rumour}, 0, true},
		{"PONG", &protocol.Gossip{From: stranger, Known: rumour, Pong: true}, 0, false},
		{"MEET", &protocol.Gossip{From: stranger, Known: rumour, Meet: true}, 2, true},
		{"no sender", &protocol.Gossip{Known: rumour, Meet: true}, 0, false},
		{"bad sender ID", &protocol.Gossip{From: &protocol.Peer{NodeId: "x", Address: simAddr(8)}, Known: rumour, Meet: true}, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			a := s.add(1)
			out := a.Gossip(s.now, c.msg)
			if a.Size() != 1 || handshakes(a) != c.handshakes {
				t.Fatalf("size %d, %d handshakes, want 1 and %d:\n%s", a.Size(), handshakes(a), c.handshakes, NodesText(a.List()))
			}
			pongs := 0
			for _, o := range out {
				if g := o.Msg.(*protocol.Gossip); g.Pong && o.Addr == simAddr(8) {
					pongs++
				}
			}
			if (pongs == 1) != c.pong {
				t.Fatalf("%d PONGs to the sender, want pong=%v", pongs, c.pong)
			}
		})
	}
}

// ------------------------------ Failure detection ----------------------------

func TestPFailAfterNodeTimeoutAndClearedWhenItAnswers(t *testing.T) {
	s := newSim(t)
	ms := s.mesh(2)
	a := ms[1]
	b := simID(2)
	s.dead[simAddr(2)] = true
	died := s.now
	for {
		s.tick(1)
		n, _ := member(a, b)
		if n.Flags&FlagPFail != 0 {
			// node_timeout after the first unanswered PING, which waited at
			// most node_timeout/2 plus a tick.
			if s.now-n.PingSent <= simTimeout || s.now-died > simTimeout*3/2+2*TickMs {
				t.Fatalf("PFAIL %d ms after the ping, %d ms after death", s.now-n.PingSent, s.now-died)
			}
			break
		}
		if s.now-died > 10*simTimeout {
			t.Fatal("never PFAIL")
		}
	}
	n, _ := member(a, b)
	if n.Priority() != 10 || n.Connected() || len(a.Reachable()) != 0 || a.Size() != 2 ||
		!strings.Contains(NodesText(a.List()), b+" 10.0.0.2:7711 fail? ") {
		t.Fatalf("PFAIL node: priority %d, reachable %v, size %d:\n%s", n.Priority(), a.Reachable(), a.Size(), NodesText(a.List()))
	}
	// Two nodes are no majority: fail? never becomes fail.
	s.tick(50)
	if n, _ := member(a, b); n.Flags&FlagFail != 0 || n.Flags&FlagPFail == 0 {
		t.Fatalf("a two-node cluster marked the dead node %s", n.Flags)
	}
	delete(s.dead, simAddr(2))
	s.tick(15) // the PING in flight is sent again within a second
	if n, _ := member(a, b); n.Flags != 0 || !slices.Equal(a.Reachable(), []string{b}) {
		t.Fatalf("back: flags %s, reachable %v", n.Flags, a.Reachable())
	}
}

func TestFailByMajorityReportsAndClearedWhenItAnswers(t *testing.T) {
	s := newSim(t)
	ms := s.mesh(3)
	c := simID(3)
	s.dead[simAddr(3)] = true
	s.sent = nil
	s.tick(60)
	for i := 1; i <= 2; i++ {
		n, _ := member(ms[i], c)
		if n.Flags != FlagFail || n.Priority() != 100 || len(ms[i].Reachable()) != 1 || ms[i].Size() != 3 {
			t.Fatalf("node %d: dead node flags %s, reachable %v:\n%s", i, n.Flags, ms[i].Reachable(), NodesText(ms[i].List()))
		}
		if !strings.Contains(NodesText(ms[i].List()), c+" 10.0.0.3:7711 fail ") {
			t.Fatalf("CLUSTER NODES:\n%s", NodesText(ms[i].List()))
		}
	}
	fails := 0
	for _, o := range s.sent {
		if f, ok := o.Msg.(*protocol.Fail); ok && f.NodeId == c && o.Addr != simAddr(3) {
			fails++
		}
	}
	if fails == 0 {
		t.Fatal("FAIL was never broadcast")
	}
	delete(s.dead, simAddr(3))
	s.tick(15)
	for i := 1; i <= 2; i++ {
		if n, _ := member(ms[i], c); n.Flags != 0 || len(ms[i].Reachable()) != 2 {
			t.Fatalf("node %d: came-back node flags %s", i, n.Flags)
		}
	}
}

// Failure reports expire: a PFAIL alone, with reports older than
// 2×node_timeout, is no majority.
func TestFailureReportsExpire(t *testing.T) {
	s := newSim(t)
	a := s.add(1)
	a.Load([]Member{{ID: simID(2), Addr: simAddr(2), Port: 7711}, {ID: simID(3), Addr: simAddr(3), Port: 7711}})
	report := func(from int) {
		a.Gossip(s.now, &protocol.Gossip{From: &protocol.Peer{NodeId: simID(from), Address: simAddr(from)},
			Known: []*protocol.Peer{{NodeId: simID(3), Address: simAddr(3), Flags: uint32(protocol.NodeFlag_NODE_PFAIL)}}})
	}
	report(2)                                       // before our own PFAIL,
	s.now += failReportValidity*simTimeout + TickMs // and too long before it
	for i := 0; i < 15; i++ {
		s.now += TickMs
		a.Tick(s.now) // nobody answers: 2 and 3 go PFAIL
	}
	if n, _ := member(a, simID(3)); n.Flags != FlagPFail {
		t.Fatalf("with an expired report: %s", n.Flags)
	}
	report(2)
	if n, _ := member(a, simID(3)); n.Flags != FlagFail {
		t.Fatalf("with a fresh report and our own PFAIL (2 of 3): %s", n.Flags)
	}
	// A Fail message about myself or from a stranger is ignored.
	a.Fail(s.now, &protocol.Fail{From: &protocol.Peer{NodeId: simID(2)}, NodeId: simID(1)})
	a.Fail(s.now, &protocol.Fail{From: &protocol.Peer{NodeId: simID(9)}, NodeId: simID(2)})
	if a.List()[0].Flags != FlagMyself {
		t.Fatal("a FAIL about myself was taken")
	}
	if n, _ := member(a, simID(2)); n.Flags&FlagFail != 0 {
		t.Fatal("a FAIL from a stranger was taken")
	}
	a.Fail(s.now, &protocol.Fail{From: &protocol.Peer{NodeId: simID(3)}, NodeId: simID(2)})
	if n, _ := member(a, simID(2)); n.Flags != FlagFail {
		t.Fatalf("a FAIL from a known node: %s", n.Flags)
	}
}

// ------------------------------ FORGET and RESET -----------------------------

func TestForgetBlacklistsForAMinute(t *testing.T) {
	s := newSim(t)
	ms := s.mesh(3)
	a := ms[1]
	if err := a.Forget(s.now, simID(1)); err != ErrForgetMyself {
		t.Fatalf("forget myself: %v", err)
	}
	if err := a.Forget(s.now, simID(7)); err != ErrUnknownNode {
		t.Fatalf("forget a stranger: %v", err)
	}
	if err := a.Forget(s.now, simID(3)); err != nil {
		t.Fatal(err)
	}
	forgot := s.now
	if a.Known(simID(3)) || a.Size() != 2 {
		t.Fatalf("after FORGET:\n%s", NodesText(a.List()))
	}
	// Node 2 keeps gossiping about 3, and 3 keeps pinging us: ignored for
	// 60 s.
	for s.now-forgot < BlacklistMs-TickMs {
		s.tick(10)
		if _, ok := member(a, simID(3)); ok || handshakes(a) != 0 {
			t.Fatalf("node 3 came back %d ms after FORGET:\n%s", s.now-forgot, NodesText(a.List()))
		}
	}
	// Then gossip brings it back.
	s.tick(100)
	if !a.Known(simID(3)) {
		t.Fatalf("node 3 not re-learnt after the blacklist:\n%s", NodesText(a.List()))
	}
}

func TestReset(t *testing.T) {
	for _, hard := range []bool{false, true} {
		t.Run(fmt.Sprint("hard=", hard), func(t *testing.T) {
			s := newSim(t)
			ms := s.mesh(3)
			a := ms[1]
			id := simID(1)
			if hard {
				id = simID(11)
			}
			a.Reset(id)
			if a.Size() != 1 || len(a.List()) != 1 || a.MyID() != id || a.List()[0].Flags != FlagMyself {
				t.Fatalf("after RESET:\n%s", NodesText(a.List()))
			}
			s.tick(30) // the others still ping us: we answer, we don't add them
			if a.Size() != 1 {
				t.Fatalf("a reset node re-added nodes by itself:\n%s", NodesText(a.List()))
			}
			if hard {
				// The others find another ID at the old node's address.
				old, _ := member(ms[2], simID(1))
				if old.Flags&FlagNoAddr == 0 || !strings.Contains(NodesText(ms[2].List()), simID(1)+" :0 ") {
					t.Fatalf("the old ID is not noaddr:\n%s", NodesText(ms[2].List()))
				}
			}
			s.meet(1, 2)
			s.tick(30)
			if a.Size() != 3 {
				t.Fatalf("MEET after RESET:\n%s", NodesText(a.List()))
			}
		})
	}
}

// --------------------------------- Identity ----------------------------------

// A node restarted with the same ID, a new incarnation and a new address,
// which remembers its peers (nodes.conf), is updated in place.
func TestRestartedNodeUpdatedInPlace(t *testing.T) {
	s := newSim(t)
	ms := s.mesh(3)
	s.dead[simAddr(3)] = true
	s.tick(40)
	if n, _ := member(ms[1], simID(3)); n.Flags != FlagFail {
		t.Fatalf("dead node: %s", n.Flags)
	}
	peers := ms[3].List()[1:]
	moved := "10.0.1.3:17711"
	b := NewMembers(MembersOptions{ID: simID(3), Incarnation: "inc-3b", Addr: moved, Port: 7712, NodeTimeout: simTimeout, Seed: 33})
	b.Load(peers)
	s.nodes[moved] = b
	s.tick(20)
	for i := 1; i <= 2; i++ {
		n, _ := member(ms[i], simID(3))
		if n.Addr != moved || n.Port != 7712 || n.Incarnation != "inc-3b" || n.Flags != 0 || ms[i].Size() != 3 {
			t.Fatalf("node %d sees the restarted node as %+v:\n%s", i, n, NodesText(ms[i].List()))
		}
	}
	if b.Size() != 3 || len(b.Reachable()) != 2 {
		t.Fatalf("the restarted node:\n%s", NodesText(b.List()))
	}
}

// The LEAVING flag travels with the sender, on every message.
func TestLeavingCopiedFromSender(t *testing.T) {
	s := newSim(t)
	ms := s.mesh(3)
	ms[2].SetLeaving(true)
	s.send(simAddr(2), ms[2].BroadcastPing(s.now))
	s.run()
	n, _ := member(ms[1], simID(2))
	if n.Flags != FlagLeaving || n.Priority() != 100 || slices.Contains(ms[1].Reachable(), simID(2)) ||
		ms[1].Size() != 3 || !strings.Contains(NodesText(ms[1].List()), " leaving ") {
		t.Fatalf("leaving node seen as %s, reachable %v", n.Flags, ms[1].Reachable())
	}
	if me := ms[2].List()[0]; me.Flags != FlagMyself|FlagLeaving || me.Priority() != 100 {
		t.Fatalf("myself leaving: %s", me.Flags)
	}
	// Any message of the node says it: a job message with the flag off.
	ms[1].Observe(&protocol.Peer{NodeId: simID(2), Address: simAddr(2)})
	if n, _ := member(ms[1], simID(2)); n.Flags != 0 {
		t.Fatalf("after a message without LEAVING: %s", n.Flags)
	}
}

// ---------------------------------- Gossip -----------------------------------

func TestGossipEntries(t *testing.T) {
	for _, c := range []struct {
		peers, failing, want int
	}{{1, 0, 0}, {2, 0, 1}, {3, 0, 2}, {10, 0, 3}, {30, 0, 3}, {49, 0, 5}, {99, 3, 10}} {
		t.Run(fmt.Sprint(c.peers), func(t *testing.T) {
			m := NewMembers(MembersOptions{ID: simID(0), Addr: simAddr(0), NodeTimeout: simTimeout})
			var peers []Member
			for i := 1; i <= c.peers; i++ {
				p := Member{ID: simID(i), Addr: simAddr(i), Port: 7711}
				if i <= c.failing {
					p.Flags = FlagPFail
				}
				peers = append(peers, p)
			}
			m.Load(peers)
			out := m.Tick(1_000_000) // pings every node: none answered yet
			if len(out) != c.peers {
				t.Fatalf("%d pings, want %d", len(out), c.peers)
			}
			for _, o := range out {
				g := o.Msg.(*protocol.Gossip)
				if len(g.Known) != c.want {
					t.Fatalf("%d entries to %s, want %d", len(g.Known), o.To, c.want)
				}
				failing := 0
				for _, e := range g.Known {
					if e.NodeId == o.To || e.NodeId == simID(0) {
						t.Fatalf("gossip to %s about %s", o.To, e.NodeId)
					}
					if e.Flags&uint32(protocol.NodeFlag_NODE_PFAIL) != 0 {
						failing++
					}
				}
				if want := min(c.failing, c.want); !slices.Contains([]string{simID(1), simID(2), simID(3)}, o.To) && failing != want {
					t.Fatalf("%d failing nodes in the gossip to %s, want %d first", failing, o.To, want)
				}
				if g.From.NodeId != simID(0) || g.Meet || g.Pong {
					t.Fatalf("ping %+v", g)
				}
			}
		})
	}
}

// ------------------------------- CLUSTER NODES -------------------------------

func TestNodesTextAndConfRoundTrip(t *testing.T) {
	a := NewMembers(MembersOptions{ID: simID(1), Addr: "127.0.0.1:17711", Port: 7711})
	if got, want := NodesText(a.List()), simID(1)+" :7711 myself 0 0 connected\n"; got != want {
		t.Fatalf("lone node: %q, want %q", got, want)
	}
	a.SetIPKnown()
	a.SetLeaving(true)
	a.Load([]Member{
		{ID: simID(2), Addr: "10.0.0.2:20000", Port: 7712, Flags: FlagPFail},
		{ID: simID(3), Addr: "[::1]:17713", Port: 7713, Flags: FlagFail | FlagLeaving},
		{ID: simID(4)},
	})
	a.Meet(5, "10.0.0.5:17715", 7715)
	conf := ConfText(a.List())
	for _, want := range []string{
		simID(1) + " 127.0.0.1:7711@17711 myself,leaving 0 0 connected\n",
		simID(2) + " 10.0.0.2:7712@20000 fail? 0 0 disconnected\n",
		simID(3) + " ::1:7713@17713 fail,leaving 0 0 disconnected\n",
		simID(4) + " :0 noaddr 0 0 disconnected\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("nodes.conf lacks %q:\n%s", want, conf)
		}
	}
	if strings.Contains(conf, "handshake") || !strings.Contains(NodesText(a.List()), " 10.0.0.5:7715 handshake 5 0 disconnected\n") {
		t.Fatalf("handshakes belong in CLUSTER NODES, not nodes.conf:\n%s\n%s", conf, NodesText(a.List()))
	}
	me, peers, err := ParseNodesConf([]byte("vars x y\n\n" + conf))
	if err != nil {
		t.Fatal(err)
	}
	if me.ID != simID(1) || me.IP != "127.0.0.1" || me.Flags != FlagMyself|FlagLeaving || len(peers) != 3 {
		t.Fatalf("myself %+v, %d peers", me, len(peers))
	}
	for i, want := range []Member{
		{ID: simID(2), IP: "10.0.0.2", Addr: "10.0.0.2:20000", Port: 7712, Flags: FlagPFail},
		{ID: simID(3), IP: "::1", Addr: "[::1]:17713", Port: 7713, Flags: FlagFail | FlagLeaving},
		{ID: simID(4), Flags: FlagNoAddr},
	} {
		if peers[i] != want {
			t.Errorf("peer %d: %+v, want %+v", i, peers[i], want)
		}
	}
	// Disque's own form: no @busport means port+10000.
	_, peers, err = ParseNodesConf([]byte(simID(2) + " 10.0.0.2:7712 noflags 0 0 connected\n"))
	if err != nil || len(peers) != 1 || peers[0].Addr != "10.0.0.2:17712" {
		t.Fatalf("Disque line: %+v %v", peers, err)
	}
	for _, bad := range []string{
		"x 10.0.0.2:7712 noflags 0 0 connected",
		simID(2) + " 10.0.0.2 noflags 0 0 connected",
		simID(2) + " 10.0.0.2:x noflags 0 0 connected",
		simID(2) + " 10.0.0.2:7712@x noflags 0 0 connected",
		simID(2) + " 10.0.0.2:7712 noflags 0 0",
		simID(1) + " :1 myself 0 0 connected\n" + simID(2) + " :2 myself 0 0 connected",
	} {
		if _, _, err := ParseNodesConf([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestFlagsString(t *testing.T) {
	for _, c := range []struct {
		f    Flags
		want string
	}{
		{0, "noflags"}, {FlagMeet, "noflags"}, {FlagMyself, "myself"}, {FlagPFail, "fail?"},
		{FlagMyself | FlagLeaving, "myself,leaving"},
		{FlagHandshake | FlagMeet, "handshake"},
		{FlagPFail | FlagFail | FlagHandshake | FlagNoAddr | FlagLeaving | FlagMyself, "myself,fail?,fail,handshake,noaddr,leaving"},
	} {
		if got := c.f.String(); got != c.want {
			t.Errorf("%d: %q, want %q", c.f, got, c.want)
		}
		if c.f&FlagMeet == 0 && c.f != 0 && parseFlags(c.want) != c.f {
			t.Errorf("parseFlags(%q) = %d, want %d", c.want, parseFlags(c.want), c.f)
		}
	}
}

func TestPriority(t *testing.T) {
	for _, c := range []struct {
		m    Member
		want int
	}{
		{Member{Flags: FlagMyself}, 1},
		{Member{Flags: FlagMyself | FlagLeaving}, 100},
		{Member{PongReceived: 1}, 1},
		{Member{}, 5},
		{Member{Flags: FlagHandshake}, 5},
		{Member{Flags: FlagNoAddr, PongReceived: 1}, 5},
		{Member{Flags: FlagPFail, PongReceived: 1}, 10},
		{Member{Flags: FlagFail, PongReceived: 1}, 100},
		{Member{Flags: FlagLeaving | FlagPFail, PongReceived: 1}, 100},
	} {
		if got := c.m.Priority(); got != c.want {
			t.Errorf("%s pong %d: %d, want %d", c.m.Flags, c.m.PongReceived, got, c.want)
		}
	}
}

// A node met at a loopback address may advertise another address of the
// same machine; on loopback the bus port alone names it. Elsewhere the
// address must match: many hosts share one bus port.
func TestHandshakeMatchesAdvertisedAddress(t *testing.T) {
	pong := func(addr string) *protocol.Gossip {
		return &protocol.Gossip{Pong: true, From: &protocol.Peer{NodeId: simID(2), Incarnation: "i", Address: addr, Port: 7712}}
	}
	for _, c := range []struct {
		name    string
		met     []string // handshakes started
		pongAt  string   // the address the PONG's sender advertises
		done    bool
		addrNow string
	}{
		{"same address", []string{"10.0.0.2:17712"}, "10.0.0.2:17712", true, "10.0.0.2:17712"},
		{"met on loopback", []string{"127.0.0.1:17712"}, "10.0.0.2:17712", true, "10.0.0.2:17712"},
		{"met on ::1", []string{"[::1]:17712"}, "10.0.0.2:17712", true, "10.0.0.2:17712"},
		{"another host", []string{"10.0.0.9:17712"}, "10.0.0.2:17712", false, ""},
		{"other port", []string{"127.0.0.1:17713"}, "10.0.0.2:17712", false, ""},
		{"ambiguous", []string{"127.0.0.1:17712", "[::1]:17712"}, "10.0.0.2:17712", false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := NewMembers(MembersOptions{ID: simID(1), Addr: simAddr(1), NodeTimeout: simTimeout})
			for _, addr := range c.met {
				a.Meet(1000, addr, 7712)
			}
			a.Gossip(1010, pong(c.pongAt))
			n, ok := member(a, simID(2))
			if ok != c.done || ok && (n.Addr != c.addrNow || n.Flags != 0 || n.Port != 7712) {
				t.Fatalf("known %v as %+v:\n%s", ok, n, NodesText(a.List()))
			}
			if want := len(c.met); c.done {
				want--
				if handshakes(a) != want {
					t.Fatalf("%d handshakes left, want %d", handshakes(a), want)
				}
			} else if handshakes(a) != want {
				t.Fatalf("%d handshakes left, want %d", handshakes(a), want)
			}
		})
	}
}
