package cluster

import (
	"bytes"
	cryptorand "crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol"
)

// --------------------------------- nodes.conf --------------------------------

func TestNodesConfLockAndRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.conf")
	rnd := bytes.NewReader(bytes.Repeat([]byte{0xab}, 20))
	nc, err := OpenNodesConf(path, 7711, rnd)
	if err != nil {
		t.Fatal(err)
	}
	if nc.Myself != strings.Repeat("ab", 20) || len(nc.Peers) != 0 || nc.IPKnown {
		t.Fatalf("new file: %+v", nc)
	}
	if data, _ := os.ReadFile(path); string(data) != nc.Myself+" :7711 myself 0 0 connected\n" {
		t.Fatalf("new file content %q", data)
	}
	if _, err := OpenNodesConf(path, 7711, rnd); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	peer := strings.Repeat("cd", 20)
	text := nc.Myself + " 10.0.0.1:7711@17711 myself 0 0 connected\n" +
		peer + " 10.0.0.2:7712@17712 fail? 5 6 disconnected\n"
	if err := nc.Write(text); err != nil {
		t.Fatal(err)
	}
	// The lock follows the new file.
	if _, err := OpenNodesConf(path, 7711, rnd); !errors.Is(err, ErrLocked) {
		t.Fatalf("open after a write: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != text {
		t.Fatalf("content %q", data)
	}
	if err := nc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Write(text); err == nil {
		t.Fatal("a write after Close must fail: the lock is gone")
	}
	nc2, err := OpenNodesConf(path, 9999, rnd)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	want := Member{ID: peer, IP: "10.0.0.2", Addr: "10.0.0.2:17712", Port: 7712, Flags: FlagPFail}
	if nc2.Myself != nc.Myself || !nc2.IPKnown || len(nc2.Peers) != 1 || nc2.Peers[0] != want {
		t.Fatalf("reopened: %+v", nc2)
	}

	bad := filepath.Join(t.TempDir(), "nodes.conf")
	if err := os.WriteFile(bad, []byte("garbage here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenNodesConf(bad, 7711, rnd); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("corrupted file: %v", err)
	}
}

// ------------------------ Clusters over a MemNetwork -------------------------

// testNode is a Cluster joined to a MemNetwork, its messages handed straight
// to Receive (the node actor does that in a real node).
type testNode struct {
	id, addr string
	conf     *NodesConf
	cl       *Cluster
}

func startTestNode(t *testing.T, net *MemNetwork, dir, addr string, seeds ...string) *testNode {
	t.Helper()
	conf, err := OpenNodesConf(filepath.Join(dir, "nodes.conf"), 7711, cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var cl atomic.Pointer[Cluster]
	tr := net.Join(addr, func(m any) {
		if c, msg := cl.Load(), m.(proto.Message); c != nil {
			c.Receive(msg)
		}
	})
	id := conf.Myself
	c := New(Options{ID: func() string { return id }, Addr: addr, Port: 7711, Transport: tr, Conf: conf,
		NodeTimeout: func() time.Duration { return 300 * time.Millisecond }, Seeds: seeds})
	cl.Store(c)
	n := &testNode{id: id, addr: addr, conf: conf, cl: c}
	t.Cleanup(n.stop)
	return n
}

func (n *testNode) stop() {
	_ = n.cl.Close()
	_ = n.conf.Close()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func knows(n *testNode, others ...*testNode) bool {
	r := n.cl.Reachable()
	for _, o := range others {
		found := false
		for _, id := range r {
			found = found || id == o.id
		}
		if !found {
			return false
		}
	}
	return n.cl.Size() == len(others)+1
}

// A node killed and started again from its nodes.conf rejoins by itself:
// nobody meets it.
func TestClusterRestartRejoinsFromNodesConf(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	addrs := []string{"127.0.0.1:20001", "127.0.0.1:20002", "127.0.0.1:20003"}
	a := startTestNode(t, net, dirs[0], addrs[0])
	b := startTestNode(t, net, dirs[1], addrs[1])
	c := startTestNode(t, net, dirs[2], addrs[2])
	if err := a.cl.MeetAddr(addrs[1], 7711); err != nil {
		t.Fatal(err)
	}
	if err := b.cl.MeetAddr(addrs[2], 7711); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a full mesh", func() bool { return knows(a, b, c) && knows(b, a, c) && knows(c, a, b) })
	waitUntil(t, "c's nodes.conf to list a and b", func() bool {
		data, _ := os.ReadFile(filepath.Join(dirs[2], "nodes.conf"))
		return strings.Contains(string(data), a.id) && strings.Contains(string(data), b.id)
	})
	oldInc := c.cl.Self().Incarnation

	net.Leave(addrs[2]) // killed
	c.stop()
	waitUntil(t, "a to see c failing", func() bool { return !knows(a, b, c) && a.cl.Size() == 3 })

	c2 := startTestNode(t, net, dirs[2], addrs[2])
	if c2.id != c.id || c2.cl.Self().Incarnation == oldInc {
		t.Fatalf("restarted node: ID %s (was %s), incarnation %s (was %s)", c2.id, c.id, c2.cl.Self().Incarnation, oldInc)
	}
	waitUntil(t, "the restarted node to rejoin", func() bool { return knows(a, b, c2) && knows(b, a, c2) && knows(c2, a, b) })
	for _, n := range []*testNode{a, b} {
		for _, m := range n.cl.Members() {
			if m.ID == c.id && m.Incarnation != c2.cl.Self().Incarnation {
				t.Fatalf("%s still has incarnation %s", n.id, m.Incarnation)
			}
		}
	}
	if sent, received := a.cl.Stats(); sent == 0 || received == 0 {
		t.Fatalf("stats %d %d", sent, received)
	}
	if info := a.cl.Info(); !strings.Contains(info, "cluster_known_nodes:3\r\ncluster_reachable_nodes:2\r\ncluster_size:3\r\n") {
		t.Fatalf("CLUSTER INFO:\n%s", info)
	}
}

// The Bus reads: copies for the caller, myself known, unknown IDs dropped.
func TestClusterBusReads(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	a := startTestNode(t, net, t.TempDir(), "127.0.0.1:20011")
	b := startTestNode(t, net, t.TempDir(), "127.0.0.1:20012")
	if err := a.cl.Meet("127.0.0.1", 10012); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a mesh", func() bool { return knows(a, b) && knows(b, a) })
	r := a.cl.Reachable()
	r[0] = "changed"
	if a.cl.Reachable()[0] != b.id || !a.cl.Known(a.id) || !a.cl.Known(b.id) || a.cl.Known(strings.Repeat("0", 40)) {
		t.Fatal("Reachable/Known")
	}
	if len(a.cl.Others()) != 1 || a.cl.Size() != 2 {
		t.Fatal("Others/Size")
	}
	if self := a.cl.Self(); self.NodeId != a.id || self.Address != "127.0.0.1:20011" || self.Port != 7711 || self.Incarnation == "" {
		t.Fatalf("Self %+v", self)
	}
	if !a.cl.Receive(&protocol.Fail{}) || a.cl.Receive(&protocol.GotJob{From: &protocol.Peer{NodeId: b.id}}) {
		t.Fatal("Receive must keep Fail and pass job messages on")
	}
	for _, bad := range []struct {
		ip   string
		port int
	}{{"localhost", 7711}, {"1.2.3", 7711}, {"127.0.0.1", 0}, {"127.0.0.1", 55536}, {"::1", -1}} {
		if err := a.cl.Meet(bad.ip, bad.port); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("MEET %s %d: %v", bad.ip, bad.port, err)
		}
	}
	if err := a.cl.Forget(b.id); err != nil || a.cl.Size() != 1 {
		t.Fatalf("FORGET: %v, size %d", err, a.cl.Size())
	}
	if err := a.cl.Forget(b.id); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("FORGET again: %v", err)
	}
	if err := a.cl.SaveConfig(); err != nil {
		t.Fatal(err)
	}
}

// A seed that starts after us is met all the same: seeds are met again
// while the node knows nobody.
func TestClusterSeedsRetriedWhileAlone(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	a := startTestNode(t, net, t.TempDir(), "127.0.0.1:20021", "127.0.0.1:20022", "no-port", "127.0.0.1:0")
	time.Sleep(1500 * time.Millisecond) // longer than the handshake timeout (1 s): the first MEET is gone
	if a.cl.Size() != 1 {
		t.Fatal("met a seed that is not there")
	}
	b := startTestNode(t, net, t.TempDir(), "127.0.0.1:20022")
	waitUntil(t, "the seed to be met", func() bool { return knows(a, b) && knows(b, a) })
}
