package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/godisque/godisque/internal/etcdtest"
)

// These tests run a real etcd (Debian's etcd-server puts it in
// /usr/bin/etcd) on free loopback ports, one server per test. They poll
// with generous deadlines: the machine is shared and noisy.

// ---------------------------------- Helpers ----------------------------------

// meetLog records the addresses a node's Meet was called with.
type meetLog struct {
	mu    sync.Mutex
	calls []string
}

func (m *meetLog) meet(addr string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, addr)
	return nil
}

// met reports whether every addr was met at least once.
func (m *meetLog) met(addrs ...string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range addrs {
		if !slices.Contains(m.calls, a) {
			return false
		}
	}
	return true
}

func (m *meetLog) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprint(m.calls)
}

// etcdNode is one Etcd under test with its fake membership.
type etcdNode struct {
	*Etcd
	addr  string
	id    atomic.Pointer[string]
	meets *meetLog
}

// startEtcdNode starts an Etcd for a node whose bus address is addr and
// whose ID is id; it is closed when the test ends.
func startEtcdNode(t *testing.T, s *etcdtest.Server, prefix, id, addr string) *etcdNode {
	t.Helper()
	n := &etcdNode{addr: addr, meets: &meetLog{}}
	n.id.Store(&id)
	e, err := StartEtcd(context.Background(), EtcdOptions{
		Endpoints: []string{s.URL},
		Prefix:    prefix,
		NodeID:    func() string { return *n.id.Load() },
		BusAddr:   addr,
		Meet:      n.meets.meet,
		Logger:    etcdTestLogger(t).Named(id),
	})
	if err != nil {
		t.Fatalf("StartEtcd %s: %v", id, err)
	}
	n.Etcd = e
	t.Cleanup(func() { _ = e.Close() })
	return n
}

// etcdTestLogger logs to the test's log until the test ends, and then
// drops what the etcd client's goroutines may still say.
func etcdTestLogger(t *testing.T) *zap.Logger {
	w := &etcdTestLog{t: t}
	t.Cleanup(func() { // runs after the Etcds' Close: registered before them
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zap.DebugLevel))
}

type etcdTestLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *etcdTestLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// etcdWait polls cond until it holds, failing the test after etcdtest.Patience.
func etcdWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(etcdtest.Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", etcdtest.Patience, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// etcdEntry reads one key: its value and lease, ok false if absent.
func etcdEntry(t *testing.T, c *clientv3.Client, key string) (value string, lease clientv3.LeaseID, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", 0, false
	}
	return string(resp.Kvs[0].Value), clientv3.LeaseID(resp.Kvs[0].Lease), true
}

// ----------------------------------- Tests -----------------------------------

// Nodes find each other: those already there by the list at start, those
// that come later by the watch. Nobody meets itself.
func TestEtcdDiscovery(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	c := s.NewClient()
	defer c.Close()
	const prefix = "/test/discovery/"
	a := startEtcdNode(t, s, prefix, "aaaa", "127.0.0.1:17001")
	b := startEtcdNode(t, s, prefix, "bbbb", "127.0.0.1:17002")
	// b listed a while starting: met before StartEtcd returned.
	if !b.meets.met(a.addr) {
		t.Fatalf("b did not meet a at start: %s", b.meets)
	}
	etcdWait(t, "a to meet b by the watch", func() bool { return a.meets.met(b.addr) })

	// A node that starts later meets both at once, and both meet it.
	late := startEtcdNode(t, s, prefix, "cccc", "127.0.0.1:17003")
	if !late.meets.met(a.addr, b.addr) {
		t.Fatalf("the late node did not meet a and b at start: %s", late.meets)
	}
	etcdWait(t, "a and b to meet the late node", func() bool {
		return a.meets.met(late.addr) && b.meets.met(late.addr)
	})

	for _, n := range []*etcdNode{a, b, late} {
		if n.meets.met(n.addr) {
			t.Errorf("%s met itself: %s", n.addr, n.meets)
		}
		if v, _, ok := etcdEntry(t, c, prefix+*n.id.Load()); !ok || v != n.addr {
			t.Errorf("key of %s = %q (present %v)", n.addr, v, ok)
		}
	}
	// Nothing else than the three nodes is under the prefix.
	resp, err := c.Get(context.Background(), prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 3 {
		t.Errorf("%d keys under the prefix, want 3", resp.Count)
	}
}

// Close revokes the lease: the key is gone when Close returns, not a TTL
// later, and the other node is not met again.
func TestEtcdCloseRevokes(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	c := s.NewClient()
	defer c.Close()
	const prefix = "/test/close/"
	startEtcdNode(t, s, prefix, "aaaa", "127.0.0.1:17001")
	b := startEtcdNode(t, s, prefix, "bbbb", "127.0.0.1:17002")
	if _, _, ok := etcdEntry(t, c, prefix+"bbbb"); !ok {
		t.Fatal("b's key is not there")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if v, _, ok := etcdEntry(t, c, prefix+"bbbb"); ok {
		t.Fatalf("b's key is still there after Close: %q", v)
	}
	if err := b.Close(); err != nil { // twice is harmless
		t.Errorf("second Close: %v", err)
	}
	if _, _, ok := etcdEntry(t, c, prefix+"aaaa"); !ok {
		t.Error("a's key went with b's")
	}
}

// Someone else revokes the node's lease (what a long network blip looks
// like to etcd): the key disappears, and comes back under a new lease by
// itself (protoactor-go #1133 is the bug where it does not).
func TestEtcdLeaseRevokedRegistersAgain(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	c := s.NewClient()
	defer c.Close()
	const prefix = "/test/revoked/"
	a := startEtcdNode(t, s, prefix, "aaaa", "127.0.0.1:17001")
	key := prefix + "aaaa"
	_, lease, ok := etcdEntry(t, c, key)
	if !ok || lease == 0 {
		t.Fatalf("a's key: present %v, lease %x", ok, lease)
	}
	if _, err := c.Revoke(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
	etcdWait(t, "a's key to come back under a new lease", func() bool {
		_, l, ok := etcdEntry(t, c, key)
		return ok && l != 0 && l != lease
	})
	if a.leaseLosses.Load() == 0 {
		t.Error("the key came back without the loss being noticed")
	}
	// It still watches: a node starting now is met.
	b := startEtcdNode(t, s, prefix, "bbbb", "127.0.0.1:17002")
	etcdWait(t, "a to meet b", func() bool { return a.meets.met(b.addr) })
}

// A key deleted by hand comes back under the same lease.
func TestEtcdDeletedKeyPutBack(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	c := s.NewClient()
	defer c.Close()
	const prefix = "/test/deleted/"
	a := startEtcdNode(t, s, prefix, "aaaa", "127.0.0.1:17001")
	key := prefix + "aaaa"
	_, lease, ok := etcdEntry(t, c, key)
	if !ok {
		t.Fatal("a's key is not there")
	}
	if resp, err := c.Delete(context.Background(), key); err != nil || resp.Deleted != 1 {
		t.Fatalf("delete: %v %v", err, resp)
	}
	etcdWait(t, "a's key to come back", func() bool {
		v, l, ok := etcdEntry(t, c, key)
		return ok && l == lease && v == a.addr
	})
}

// etcd dies and comes back on the same data directory: the node notices
// its lease is lost, registers again with a new one once etcd is back,
// lists, and watches again.
func TestEtcdRestartRegistersAgain(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	c := s.NewClient()
	defer c.Close()
	const prefix = "/test/restart/"
	a := startEtcdNode(t, s, prefix, "aaaa", "127.0.0.1:17001")
	key := prefix + "aaaa"
	_, lease, ok := etcdEntry(t, c, key)
	if !ok {
		t.Fatal("a's key is not there")
	}

	s.Kill()
	// The keepalive gives up a TTL after the last answer.
	etcdWait(t, "a to notice its lease is lost", func() bool { return a.leaseLosses.Load() > 0 })
	s.Restart()
	c = s.NewClient() // not one still backing off from the outage
	defer c.Close()

	// The old lease survives a restart for a while (etcd extends every
	// lease when it starts), then expires with nobody renewing it; only a
	// new registration keeps the key.
	etcdWait(t, "a's key under a new, live lease", func() bool {
		v, l, ok := etcdEntry(t, c, key)
		if !ok || l == lease || l == 0 || v != a.addr {
			return false
		}
		ttl, err := c.TimeToLive(context.Background(), l)
		return err == nil && ttl.TTL > 0
	})
	if ttl, err := c.TimeToLive(context.Background(), lease); err != nil {
		t.Fatal(err)
	} else if ttl.TTL > 0 {
		t.Errorf("the old lease %x is still alive (TTL %d s): not revoked", lease, ttl.TTL)
	}
	// Discovery works again both ways.
	b := startEtcdNode(t, s, prefix, "bbbb", "127.0.0.1:17002")
	if !b.meets.met(a.addr) {
		t.Errorf("b did not meet a: %s", b.meets)
	}
	etcdWait(t, "a to meet b after the restart", func() bool { return a.meets.met(b.addr) })
}

// CLUSTER RESET HARD gives the node a new ID: its key follows.
func TestEtcdNodeIDChangeMovesTheKey(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	c := s.NewClient()
	defer c.Close()
	const prefix = "/test/reset/"
	a := startEtcdNode(t, s, prefix, "aaaa", "127.0.0.1:17001")
	id := "a2a2"
	a.id.Store(&id)
	etcdWait(t, "the key to move to the new ID", func() bool {
		_, _, oldThere := etcdEntry(t, c, prefix+"aaaa")
		v, _, newThere := etcdEntry(t, c, prefix+"a2a2")
		return !oldThere && newThere && v == a.addr
	})
	// A node starting now sees one entry for a, under the new ID, and a
	// does not meet itself through its moved key.
	b := startEtcdNode(t, s, prefix, "bbbb", "127.0.0.1:17002")
	if !b.meets.met(a.addr) {
		t.Errorf("b did not meet a: %s", b.meets)
	}
	etcdWait(t, "a to meet b", func() bool { return a.meets.met(b.addr) })
	if a.meets.met(a.addr) {
		t.Errorf("a met itself: %s", a.meets)
	}
}

// An etcd that does not answer is an error from StartEtcd, within its dial
// timeout, not a hang.
func TestEtcdUnreachable(t *testing.T) {
	t.Parallel()
	endpoint := "http://" + etcdtest.FreeAddr(t) // nothing listens there
	type result struct {
		e   *Etcd
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		e, err := StartEtcd(context.Background(), EtcdOptions{
			Endpoints: []string{endpoint},
			NodeID:    func() string { return "aaaa" },
			BusAddr:   "127.0.0.1:17001",
			Meet:      func(string) error { t.Error("Meet called"); return nil },
		})
		done <- result{e, err}
	}()
	select {
	case r := <-done:
		if r.err == nil {
			_ = r.e.Close()
			t.Fatal("StartEtcd succeeded without etcd")
		}
		if !strings.Contains(r.err.Error(), endpoint) {
			t.Errorf("error does not name the endpoint: %v", r.err)
		}
		t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), r.err)
	case <-time.After(etcdtest.Patience):
		t.Fatalf("StartEtcd still hangs after %v", etcdtest.Patience)
	}
}

// Missing options are refused, even when etcd is there.
func TestEtcdOptionsRequired(t *testing.T) {
	t.Parallel()
	s := etcdtest.Start(t)
	ok := EtcdOptions{
		Endpoints: []string{s.URL},
		NodeID:    func() string { return "aaaa" },
		BusAddr:   "127.0.0.1:17001",
		Meet:      func(string) error { return nil },
	}
	for name, change := range map[string]func(o *EtcdOptions){
		"no endpoints": func(o *EtcdOptions) { o.Endpoints = nil },
		"no NodeID":    func(o *EtcdOptions) { o.NodeID = nil },
		"no BusAddr":   func(o *EtcdOptions) { o.BusAddr = "" },
		"no Meet":      func(o *EtcdOptions) { o.Meet = nil },
	} {
		o := ok
		o.Prefix = "/test/options/"
		change(&o)
		if e, err := StartEtcd(context.Background(), o); err == nil {
			_ = e.Close()
			t.Errorf("%s: no error", name)
		}
	}
}
