package cluster

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/actors"
	"github.com/godisque/godisque/protocol"
)

// ------------------------------- Test doubles --------------------------------

// fakeTransport records what the Link hands it.
type fakeTransport struct {
	mu     sync.Mutex
	got    []sentMsg
	closed bool
}

type sentMsg struct {
	addr string
	msg  proto.Message
}

func (t *fakeTransport) Send(addr string, msg proto.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		t.got = append(t.got, sentMsg{addr, msg})
	}
}

func (t *fakeTransport) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	return nil
}

func (t *fakeTransport) sent() []sentMsg {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.got)
}

// ns returns the Count values sent to addr ("" for any), in order.
func (t *fakeTransport) ns(addr string) []int64 {
	var out []int64
	for _, s := range t.sent() {
		if addr == "" || s.addr == addr {
			out = append(out, s.msg.(*protocol.Count).N)
		}
	}
	return out
}

// manualClock is an actors.Clock that moves only when told.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	c       *manualClock
	at      time.Time
	f       func()
	stopped bool
}

func newManualClock() *manualClock { return &manualClock{now: time.Unix(1_700_000_000, 0)} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) actors.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

// Advance moves the clock by d and runs the timers that come due, in time
// order, on the caller's goroutine.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*manualTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *manualTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f()
	}
}

// pending is the number of armed timers.
func (c *manualClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

const (
	idA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	idB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	idC = "cccccccccccccccccccccccccccccccccccccccc"

	addrB = "127.0.0.1:17712"
	addrC = "127.0.0.1:17713"
)

func newTestLink(seed uint64) (*Link, *fakeTransport, *manualClock) {
	t, c := &fakeTransport{}, newManualClock()
	return NewLink(t, LinkOptions{Self: func() string { return idA }, Clock: c, Seed: seed}), t, c
}

func count(n int) *protocol.Count { return &protocol.Count{N: int64(n)} }

func checkStats(t *testing.T, l *Link, sent, dropped uint64) {
	t.Helper()
	if s, d := l.Stats(); s != sent || d != dropped {
		t.Errorf("Stats = sent %d dropped %d, want %d and %d", s, d, sent, dropped)
	}
}

// ------------------------------------ Tests ----------------------------------

func TestLinkHealthyPassesEverythingInOrder(t *testing.T) {
	l, tr, _ := newTestLink(1)
	for i := range 100 {
		l.Send(idB, addrB, count(i))
	}
	got := tr.ns(addrB)
	if len(got) != 100 || !slices.IsSorted(got) || got[99] != 99 {
		t.Fatalf("the transport got %v", got)
	}
	// The very message the caller handed over: the Link copies nothing.
	m := count(7)
	l.Send(idB, addrB, m)
	if s := tr.sent(); s[len(s)-1].msg != m {
		t.Error("the Link did not hand over the caller's message")
	}
	checkStats(t, l, 101, 0)
	if want := "link " + idA + " sent 101 dropped 0\nno faults\n"; l.Status() != want {
		t.Errorf("Status = %q, want %q", l.Status(), want)
	}
}

func TestLinkDropAll(t *testing.T) {
	l, tr, _ := newTestLink(1)
	l.SetFaults(Faults{Drop: 1})
	for i := range 50 {
		l.Send(idB, addrB, count(i))
	}
	if n := len(tr.sent()); n != 0 {
		t.Errorf("%d messages got through Drop 1", n)
	}
	checkStats(t, l, 0, 50)
}

// TestLinkDropHalf: Drop 0.5 loses about half, and the same seed loses the
// same ones (a chaos run replays).
func TestLinkDropHalf(t *testing.T) {
	const n = 10000
	run := func(seed uint64) []int64 {
		l, tr, _ := newTestLink(seed)
		l.SetFaults(Faults{Drop: 0.5})
		for i := range n {
			l.Send(idB, addrB, count(i))
		}
		s, d := l.Stats()
		if s+d != n || int(s) != len(tr.sent()) {
			t.Errorf("seed %d: sent %d + dropped %d != %d, or the transport got %d", seed, s, d, n, len(tr.sent()))
		}
		return tr.ns(addrB)
	}
	a := run(42)
	if len(a) < 4500 || len(a) > 5500 {
		t.Errorf("Drop 0.5 let %d of %d through", len(a), n)
	}
	if !slices.IsSorted(a) {
		t.Error("dropping reordered the survivors")
	}
	if b := run(42); !slices.Equal(a, b) {
		t.Error("the same seed dropped different messages")
	}
	if c := run(43); slices.Equal(a, c) {
		t.Error("another seed dropped exactly the same messages")
	}
}

func TestLinkDup(t *testing.T) {
	l, tr, _ := newTestLink(1)
	l.SetFaults(Faults{Dup: 1})
	for i := range 10 {
		l.Send(idB, addrB, count(i))
	}
	want := []int64{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9}
	if got := tr.ns(addrB); !slices.Equal(got, want) {
		t.Errorf("Dup 1 sent %v", got)
	}
	checkStats(t, l, 20, 0)

	// Dup 0.5 duplicates some, not all.
	l2, tr2, _ := newTestLink(7)
	l2.SetFaults(Faults{Dup: 0.5})
	for i := range 1000 {
		l2.Send(idB, addrB, count(i))
	}
	if n := len(tr2.sent()); n < 1350 || n > 1650 {
		t.Errorf("Dup 0.5 sent %d copies of 1000 messages", n)
	}
}

func TestLinkDelayUsesTheClock(t *testing.T) {
	l, tr, c := newTestLink(1)
	l.SetFaults(Faults{Delay: 100 * time.Millisecond})
	for i := range 5 {
		l.Send(idB, addrB, count(i))
	}
	if n := len(tr.sent()); n != 0 {
		t.Fatalf("%d delayed messages left before the clock moved", n)
	}
	c.Advance(99 * time.Millisecond)
	if n := len(tr.sent()); n != 0 {
		t.Fatalf("%d messages left after 99 ms of a 100 ms delay", n)
	}
	c.Advance(time.Millisecond)
	if got := tr.ns(addrB); len(got) != 5 {
		t.Fatalf("after 100 ms the transport got %v", got)
	}
	checkStats(t, l, 5, 0)
}

func TestLinkJitter(t *testing.T) {
	l, tr, c := newTestLink(3)
	l.SetFaults(Faults{Delay: 100 * time.Millisecond, Jitter: 50 * time.Millisecond})
	for i := range 200 {
		l.Send(idB, addrB, count(i))
	}
	c.Advance(49 * time.Millisecond)
	if n := len(tr.sent()); n != 0 {
		t.Fatalf("%d messages left before Delay-Jitter", n)
	}
	c.Advance(51 * time.Millisecond) // at Delay: some, not all
	if n := len(tr.sent()); n == 0 || n == 200 {
		t.Errorf("at Delay %d of 200 jittered messages had left", n)
	}
	c.Advance(50 * time.Millisecond) // at Delay+Jitter: all
	got := tr.ns(addrB)
	if len(got) != 200 {
		t.Fatalf("after Delay+Jitter the transport got %d messages", len(got))
	}
	if slices.IsSorted(got) {
		t.Error("200 jittered messages kept their order: no jitter was applied")
	}
}

func TestLinkBlockByID(t *testing.T) {
	l, tr, _ := newTestLink(1)
	l.Block(idB)
	l.Send(idB, addrB, count(1))
	l.Send(idC, addrC, count(2))
	l.Send("", addrB, count(3)) // a handshake to B's address: not blocked by ID
	if got := tr.ns(""); !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("with B blocked the transport got %v", got)
	}
	checkStats(t, l, 2, 1)
	if !strings.Contains(l.Status(), "block "+idB+"\n") {
		t.Errorf("Status does not list the block:\n%s", l.Status())
	}
	l.Unblock(idB)
	l.Send(idB, addrB, count(4))
	if got := tr.ns(addrB); !slices.Equal(got, []int64{3, 4}) {
		t.Errorf("after Unblock B got %v", got)
	}
	if strings.Contains(l.Status(), "block") {
		t.Errorf("Status still lists a block:\n%s", l.Status())
	}
}

func TestLinkBlockByAddress(t *testing.T) {
	l, tr, _ := newTestLink(1)
	l.BlockAddr(addrB)
	l.Send("", addrB, count(1))  // handshake
	l.Send(idB, addrB, count(2)) // known node at that address
	l.Send(idC, addrC, count(3))
	if got := tr.ns(""); !slices.Equal(got, []int64{3}) {
		t.Errorf("with %s blocked the transport got %v", addrB, got)
	}
	if !strings.Contains(l.Status(), "blockaddr "+addrB+"\n") {
		t.Errorf("Status does not list the address:\n%s", l.Status())
	}
	l.UnblockAddr(addrB)
	l.Send("", addrB, count(4))
	if got := tr.ns(addrB); !slices.Equal(got, []int64{4}) {
		t.Errorf("after UnblockAddr the transport got %v", got)
	}
}

func TestLinkHeal(t *testing.T) {
	l, tr, _ := newTestLink(1)
	l.SetFaults(Faults{Drop: 1, Dup: 1, Delay: time.Second})
	l.Block(idB, idC)
	l.BlockAddr(addrB)
	l.Send(idC, addrC, count(1))
	l.Heal()
	if want := "link " + idA + " sent 0 dropped 1\nno faults\n"; l.Status() != want {
		t.Errorf("Status after Heal = %q, want %q", l.Status(), want)
	}
	l.Send(idB, addrB, count(2))
	l.Send(idC, addrC, count(3))
	if got := tr.ns(""); !slices.Equal(got, []int64{2, 3}) {
		t.Errorf("after Heal the transport got %v", got)
	}
}

// TestLinkInFlight: a delayed message is in flight. Blocking its destination
// loses it; healing does not; Close loses the rest.
func TestLinkInFlight(t *testing.T) {
	l, tr, c := newTestLink(1)
	l.SetFaults(Faults{Delay: time.Second})
	l.Send(idB, addrB, count(1))
	l.Send(idC, addrC, count(2))
	l.Block(idB)
	c.Advance(time.Second)
	if got := tr.ns(""); !slices.Equal(got, []int64{2}) {
		t.Errorf("after blocking B mid-flight the transport got %v", got)
	}
	checkStats(t, l, 1, 1)

	l.Unblock(idB)
	l.Send(idB, addrB, count(3))
	l.Heal()
	c.Advance(time.Second)
	if got := tr.ns(addrB); !slices.Equal(got, []int64{3}) {
		t.Errorf("a message delayed before Heal: B got %v", got)
	}

	l.SetFaults(Faults{Delay: time.Second})
	l.Send(idB, addrB, count(4))
	l.Send(idB, addrB, count(5))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !tr.closed {
		t.Error("Close did not close the transport")
	}
	if c.pending() != 0 {
		t.Errorf("%d timers still armed after Close", c.pending())
	}
	c.Advance(time.Hour)
	l.Send(idB, addrB, count(6))
	if got := tr.ns(addrB); !slices.Equal(got, []int64{3}) {
		t.Errorf("after Close B got %v", got)
	}
	checkStats(t, l, 2, 4) // 1 blocked in flight, 2 pending at Close, 1 after
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLinkSetFaultsClamps(t *testing.T) {
	l, _, _ := newTestLink(1)
	l.SetFaults(Faults{Drop: 3, Dup: -1, Delay: -time.Second, Jitter: 5 * time.Millisecond})
	want := "link " + idA + " sent 0 dropped 0\ndrop 1\ndelay 0s jitter 5ms\n"
	if l.Status() != want {
		t.Errorf("Status = %q, want %q", l.Status(), want)
	}
}

func TestLinkStatusLists(t *testing.T) {
	l := NewLink(&fakeTransport{}, LinkOptions{})
	l.SetFaults(Faults{Drop: 0.25, Dup: 0.125, Delay: 100 * time.Millisecond, Jitter: 20 * time.Millisecond})
	l.Block(idC, idB)
	l.BlockAddr(addrC, addrB)
	want := strings.Join([]string{
		"link - sent 0 dropped 0",
		"drop 0.25",
		"dup 0.125",
		"delay 100ms jitter 20ms",
		"block " + idB,
		"block " + idC,
		"blockaddr " + addrB,
		"blockaddr " + addrC,
	}, "\n") + "\n"
	if got := l.Status(); got != want {
		t.Errorf("Status =\n%s\nwant\n%s", got, want)
	}
}

// TestLinkConcurrent sends from many goroutines while the faults change; run
// with -race. Every message is either sent or counted as dropped.
func TestLinkConcurrent(t *testing.T) {
	tr := &fakeTransport{}
	l := NewLink(tr, LinkOptions{Seed: 9}) // the real clock
	const senders, each = 8, 500
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Send(idB, fmt.Sprintf("127.0.0.1:%d", 17000+s), count(i))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			switch i % 4 {
			case 0:
				l.SetFaults(Faults{Drop: 0.3, Dup: 0.3, Delay: time.Microsecond, Jitter: time.Microsecond})
			case 1:
				l.Block(idB)
			case 2:
				l.Unblock(idB)
				_ = l.Status()
			case 3:
				l.Heal()
			}
		}
	}()
	wg.Wait()
	// Delayed messages leave within microseconds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		sent, dropped := l.Stats()
		n := uint64(len(tr.sent()))
		if sent == n && sent+dropped >= senders*each {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent %d, dropped %d, transport got %d, of %d messages", sent, dropped, n, senders*each)
		}
		time.Sleep(time.Millisecond)
	}
}
