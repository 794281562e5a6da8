package cluster

import (
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/godisque/godisque/protocol"
	"github.com/godisque/godisque/protocol/wire"
)

// inbox collects what a MemNetwork node receives.
type inbox struct {
	mu  sync.Mutex
	got []any
	ch  chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 1)} }

func (b *inbox) deliver(m any) {
	b.mu.Lock()
	b.got = append(b.got, m)
	b.mu.Unlock()
	select {
	case b.ch <- struct{}{}:
	default:
	}
}

func (b *inbox) all() []any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]any(nil), b.got...)
}

// wait returns the inbox once it holds n messages, or fails after 5 s.
func (b *inbox) wait(t *testing.T, n int) []any {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		if got := b.all(); len(got) >= n {
			return got
		}
		select {
		case <-b.ch:
		case <-deadline:
			t.Fatalf("got %d messages, want %d", len(b.all()), n)
		}
	}
}

func TestMemNetworkCrossesAsBytes(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	a := net.Join("a:1", func(any) {})
	bIn := newInbox()
	net.Join("b:1", bIn.deliver)

	job := &protocol.ReplJob{
		From: &protocol.Peer{NodeId: idA, Address: "a:1"},
		Job:  &protocol.Job{Id: "D-1", Queue: "q", Body: []byte("body"), NodesDelivered: []string{idA, idB}},
	}
	a.Send("b:1", job)
	got := bIn.wait(t, 1)[0]
	if !reflect.DeepEqual(got, job) {
		t.Fatalf("arrived %T %v, want %v", got, got, job)
	}
	r := got.(*protocol.ReplJob)
	if r == job || r.Job == job.Job || &r.Job.Body[0] == &job.Job.Body[0] {
		t.Error("the receiver shares memory with the sender")
	}
	// What arrives is the sender's message as it was at Send.
	job.Job.Queue = "changed"
	if r.Job.Queue != "q" {
		t.Error("a change after Send reached the receiver")
	}
}

func TestMemNetworkUnknownKind(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	a := net.Join("a:1", func(any) {})
	bIn := newInbox()
	net.Join("b:1", bIn.deliver)

	a.Send("b:1", &wire.Carrier{Kind: 9999, Data: []byte("from the future")})
	a.Send("b:1", &protocol.Count{N: 1})
	got := bIn.wait(t, 2)
	u, ok := got[0].(*protocol.Unknown)
	if !ok || u.Kind != 9999 || u.Len != 15 {
		t.Errorf("an unknown kind arrived as %T %v, want *protocol.Unknown", got[0], got[0])
	}
	if !reflect.DeepEqual(got[1], &protocol.Count{N: 1}) {
		t.Errorf("after it came %T %v", got[1], got[1])
	}
}

// TestMemNetworkFIFOPerSender: three senders to one destination at once;
// each one's messages arrive in the order it sent them.
func TestMemNetworkFIFOPerSender(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	in := newInbox()
	net.Join("dst:1", in.deliver)
	const n = 2000
	var wg sync.WaitGroup
	for s, from := range []string{"a:1", "b:1", "c:1"} {
		tr := net.Join(from, func(any) {})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				tr.Send("dst:1", &protocol.Count{N: int64(s*1_000_000 + i)})
			}
		}()
	}
	wg.Wait()
	last := map[int64]int64{0: -1, 1: -1, 2: -1}
	for _, m := range in.wait(t, 3*n) {
		v := m.(*protocol.Count).N
		s, i := v/1_000_000, v%1_000_000
		if i != last[s]+1 {
			t.Fatalf("sender %d: message %d arrived after %d", s, i, last[s])
		}
		last[s] = i
	}
}

// TestMemNetworkSlowReceiver: a receiver stuck in deliver holds up nobody;
// its messages wait and then all arrive.
func TestMemNetworkSlowReceiver(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	release := make(chan struct{})
	in := newInbox()
	net.Join("slow:1", func(m any) {
		<-release
		in.deliver(m)
	})
	fastIn := newInbox()
	net.Join("fast:1", fastIn.deliver)
	a := net.Join("a:1", func(any) {})

	const n = 20000
	done := make(chan struct{})
	go func() {
		for i := range n {
			a.Send("slow:1", &protocol.Count{N: int64(i)})
		}
		a.Send("fast:1", &protocol.Ok{})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the sender was held up by a receiver that does not receive")
	}
	fastIn.wait(t, 1)
	close(release)
	got := in.wait(t, n)
	for i, m := range got {
		if m.(*protocol.Count).N != int64(i) {
			t.Fatalf("message %d is %v", i, m)
		}
	}
}

func TestMemNetworkLeave(t *testing.T) {
	net := NewMemNetwork()
	defer net.Close()
	aIn, bIn := newInbox(), newInbox()
	a := net.Join("a:1", aIn.deliver)
	b := net.Join("b:1", bIn.deliver)

	a.Send("b:1", &protocol.Count{N: 1})
	bIn.wait(t, 1)
	net.Leave("b:1")
	a.Send("b:1", &protocol.Count{N: 2}) // to a dead node: vanishes
	b.Send("a:1", &protocol.Count{N: 3}) // from a dead node: never leaves
	a.Send("nobody:1", &protocol.Count{N: 4})

	// b restarts at the same address: a new node, reachable again.
	bIn2 := newInbox()
	net.Join("b:1", bIn2.deliver)
	a.Send("b:1", &protocol.Count{N: 5})
	if got := bIn2.wait(t, 1); !reflect.DeepEqual(got, []any{&protocol.Count{N: 5}}) {
		t.Errorf("the restarted node got %v", got)
	}
	b.Send("a:1", &protocol.Count{N: 6}) // the old incarnation is still dead
	a.Send("a:1", &protocol.Ok{})        // a node can reach itself; this marks the end
	got := aIn.wait(t, 1)
	if !reflect.DeepEqual(got, []any{&protocol.Ok{}}) {
		t.Errorf("a got %v; a node that left must send nothing", got)
	}
	if got := bIn.all(); len(got) != 1 {
		t.Errorf("the node that left got %v after it left", got[1:])
	}
	// Joining an address that is taken replaces its node.
	bIn3 := newInbox()
	net.Join("b:1", bIn3.deliver)
	a.Send("b:1", &protocol.Count{N: 7})
	bIn3.wait(t, 1)
	if got := bIn2.all(); len(got) != 1 {
		t.Errorf("the replaced node still receives: %v", got)
	}
}

// TestMemNetworkNoLeaks: Close, Leave and a Transport's Close end every
// goroutine the network started.
func TestMemNetworkNoLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	net := NewMemNetwork()
	var trs []Transport
	for _, addr := range []string{"a:1", "b:1", "c:1", "d:1", "e:1"} {
		trs = append(trs, net.Join(addr, func(any) {}))
	}
	if runtime.NumGoroutine() < base+5 {
		t.Fatalf("joining 5 nodes started %d goroutines", runtime.NumGoroutine()-base)
	}
	for i := range 100 {
		trs[i%5].Send("c:1", &protocol.Count{N: int64(i)})
	}
	net.Leave("a:1")
	if err := trs[1].Close(); err != nil {
		t.Fatal(err)
	}
	trs[2].Send("b:1", &protocol.Ok{}) // to a closed transport's address
	net.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left over:\n%s", runtime.NumGoroutine()-base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
