package cluster

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/godisque/godisque/protocol"
	"github.com/godisque/godisque/protocol/wire"
)

// ------------------------------ The peer process -----------------------------
//
// Remoting is tested against a peer node in a child process: this test
// binary, re-executed with peerEnv set. Two remoting actor systems in one
// process do not pass the race detector (protocol/bridge_test.go says why),
// so a process runs exactly one: TestRemote runs its body in a process of
// its own (remoteChildEnv), once per run (go test -count=N), and each peer
// is one more.
//
// The peer's "node" actor sends every message of disque.proto it receives
// back to the parent's "node" actor, through its own Remote; an *Unknown it
// reports as an Error. The child is started from init, before any test
// runs, so the package needs no TestMain.

const (
	peerEnv     = "GODISQUE_CLUSTER_TEST_PEER"      // the parent's bus address
	peerPortEnv = "GODISQUE_CLUSTER_TEST_PEER_PORT" // the port the peer listens on
	peerModeEnv = "GODISQUE_CLUSTER_TEST_PEER_MODE" // see the modes below

	remoteChildEnv = "GODISQUE_CLUSTER_TEST_REMOTE" // set in the process that runs TestRemote's body
)

// The modes of a peer.
const (
	peerLoopback   = ""            // bound to 127.0.0.1
	peerStartTaken = "start-taken" // see TestRemote/StartPanicIsAnError
	peerWildcard   = "wildcard"    // bound to 0.0.0.0, advertising 127.0.0.2
	peerLearn      = "learn"       // peerWildcard knowing none of its addresses but from connect responses
)

func init() {
	parent := os.Getenv(peerEnv)
	if parent == "" {
		return
	}
	port, _ := strconv.Atoi(os.Getenv(peerPortEnv))
	mode := os.Getenv(peerModeEnv)
	if mode == peerStartTaken {
		startTaken()
	}
	runPeer(parent, port, mode)
}

func quietSystem() *actor.ActorSystem {
	logger := slog.New(slog.DiscardHandler)
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
}

// runPeer is the child process: it prints its bus address and echoes until
// its stdin closes.
func runPeer(parent string, port int, mode string) {
	sys := quietSystem()
	o := RemoteOptions{Host: "127.0.0.1", Port: port, QueueLen: 1 << 16}
	if mode == peerWildcard || mode == peerLearn {
		o.Host, o.AdvertisedHost = "0.0.0.0", "127.0.0.2"
	}
	r, err := StartRemote(sys, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(2)
	}
	if mode == peerLearn {
		none := "none"
		r.self.port.Store(&none) // no address is claimed for being ours, but by connGuard
	}
	echo := actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		case *protocol.Unknown:
			r.Send(parent, &protocol.Error{Text: fmt.Sprintf("unknown kind=%d len=%d", uint32(m.Kind), m.Len)})
		case protocol.Message:
			r.Send(parent, m)
		default:
			r.Send(parent, &protocol.Error{Text: fmt.Sprintf("unexpected %T", m)})
		}
	})
	if _, err := sys.Root.SpawnNamed(echo, "node"); err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(2)
	}
	fmt.Println(r.Address())
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// startTaken makes protoactor's remote.Start meet a taken port, through
// start, and prints what start returned.
func startTaken() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(2)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	err = start(remote.NewRemote(quietSystem(), remote.Configure("127.0.0.1", port)))
	fmt.Println("start:", err)
	_ = ln.Close()
	os.Exit(0)
}

// peerProc is a running child.
type peerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
	out   *bufio.Reader
}

func startPeerProc(t *testing.T, parent string, port int, mode string) *peerProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &peerProc{cmd: exec.Command(exe)}
	p.cmd.Env = append(os.Environ(), peerEnv+"="+parent, peerPortEnv+"="+strconv.Itoa(port), peerModeEnv+"="+mode)
	p.cmd.Stderr = os.Stderr // race reports and panics of the peer show up
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	p.out = bufio.NewReader(stdout)
	line := make(chan string, 1)
	go func() {
		s, _ := p.out.ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case p.addr = <-line:
		if p.addr == "" {
			t.Fatal("the peer process exited before printing its address")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the peer process did not start within 20 s")
	}
	return p
}

// kill ends the child at once, as a crash would.
func (p *peerProc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // in case it was stopped
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// peerUp reports remoting's state of a peer as the Remote follows it.
func (r *Remote) peerUp(addr string) (up, known bool) {
	r.mu.Lock()
	p := r.peers[addr]
	r.mu.Unlock()
	if p == nil {
		return false, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up, true
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// -------------------------------------- Tests --------------------------------

// TestRemote runs every remoting test on one Remote, in a process of its
// own.
func TestRemote(t *testing.T) {
	if os.Getenv(remoteChildEnv) == "" {
		runInChild(t)
		return
	}
	testRemote(t)
}

// runInChild runs t again in a child process (this test binary), with the
// subtests the -run pattern selects and remoteChildEnv set; the child's
// output becomes t's.
func runInChild(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := "^" + t.Name() + "$"
	if f := flag.Lookup("test.run"); f != nil {
		if _, sub, ok := strings.Cut(f.Value.String(), "/"); ok {
			run += "/" + sub
		}
	}
	args := []string{"-test.run=" + run, "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), remoteChildEnv+"=1")
	out := t.Output()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s in a process of its own: %v", t.Name(), err)
	}
}

func testRemote(t *testing.T) {
	sys := quietSystem()
	sink := make(chan any, 1<<16)
	_, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		default:
			sink <- m
		}
	}), "node")
	if err != nil {
		t.Fatal(err)
	}
	r, err := StartRemote(sys, RemoteOptions{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = r.Close()
		}
		sys.Shutdown()
	}()
	if !strings.HasPrefix(r.Address(), "127.0.0.1:") || strings.HasSuffix(r.Address(), ":0") {
		t.Fatalf("Address() = %q", r.Address())
	}
	drain := func() {
		for len(sink) > 0 {
			<-sink
		}
	}
	receive := func(t *testing.T, what string, within time.Duration) any {
		t.Helper()
		select {
		case m := <-sink:
			return m
		case <-time.After(within):
			t.Fatalf("timed out waiting for %s", what)
			return nil
		}
	}
	peer := startPeerProc(t, r.Address(), 0, peerLoopback)

	t.Run("InOrder", func(t *testing.T) {
		drain()
		job := &protocol.Job{Id: "D-1", Queue: "q", Body: []byte("body\x00\xff"), NodesDelivered: []string{idA, idB}}
		var sent []any
		for i := range 300 {
			var m protocol.Message
			switch i % 5 {
			case 0:
				m = &protocol.Count{N: int64(i)}
			case 1:
				m = &protocol.ReplJob{From: &protocol.Peer{NodeId: idA, Address: r.Address()}, Job: job}
			case 2:
				m = &protocol.SetAck{From: &protocol.Peer{NodeId: idA}, Id: fmt.Sprint("D-", i), MayHave: 3}
			case 3:
				m = &protocol.Ok{}
			case 4:
				m = &protocol.Gossip{Known: []*protocol.Peer{{NodeId: idB}, {NodeId: idC}}, Meet: true}
			}
			sent = append(sent, m)
			r.Send(peer.addr, m)
		}
		// A newer node's kind crosses as *Unknown and breaks nothing.
		r.Send(peer.addr, &wire.Carrier{Kind: 9999, Data: []byte("from the future")})
		sent = append(sent, &protocol.Error{Text: "unknown kind=9999 len=15"})
		r.Send(peer.addr, &protocol.Count{N: -1})
		sent = append(sent, &protocol.Count{N: -1})

		for i, want := range sent {
			got := receive(t, fmt.Sprintf("message %d, %T", i, want), 10*time.Second)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("message %d: got %T %v, want %v", i, got, got, want)
			}
		}
		if up, known := r.peerUp(peer.addr); !up || !known {
			t.Errorf("peer state: up %v, known %v", up, known)
		}
	})

	// A node is delivered what is sent to any of its addresses, not only to
	// the one it advertises; before, it sent such a message out again, to
	// itself, forever.
	t.Run("SentToItsOwnAlias", func(t *testing.T) {
		drain()
		alias := "localhost:" + strconv.Itoa(peerPortOf(t, r.Address()))
		r.Send(alias, &protocol.Count{N: 5})
		if got := receive(t, "the message to "+alias, 10*time.Second); !reflect.DeepEqual(got, &protocol.Count{N: 5}) {
			t.Errorf("got %v", got)
		}
	})

	t.Run("AnyAddressOfAWildcardNode", func(t *testing.T) {
		drain()
		p := startPeerProc(t, r.Address(), 0, peerWildcard)
		if !strings.HasPrefix(p.addr, "127.0.0.2:") {
			t.Fatalf("the wildcard peer advertises %q", p.addr)
		}
		hosts := []string{"127.0.0.2", "127.0.0.1", "localhost", "127.0.0.3"}
		if ip := globalIPv4(); ip != "" {
			hosts = append(hosts, ip) // an interface's
		}
		for i, host := range hosts {
			addr := net.JoinHostPort(host, strconv.Itoa(peerPortOf(t, p.addr)))
			r.Send(addr, &protocol.Count{N: int64(i)})
			if got := receive(t, "the echo of a message to "+addr, 10*time.Second); !reflect.DeepEqual(got, &protocol.Count{N: int64(i)}) {
				t.Errorf("to %s: got %v", addr, got)
			}
		}
	})

	t.Run("AddressLearnedFromConnectResponse", func(t *testing.T) {
		// The peer claims no address but its advertised one; its own
		// endpoint to 127.0.0.1 answers with its system ID, which is how
		// it learns that address is itself.
		drain()
		p := startPeerProc(t, r.Address(), 0, peerLearn)
		addr := "127.0.0.1:" + strconv.Itoa(peerPortOf(t, p.addr))
		for i := range 3 {
			r.Send(addr, &protocol.Count{N: int64(i)})
			if got := receive(t, "the echo of a message to "+addr, 10*time.Second); !reflect.DeepEqual(got, &protocol.Count{N: int64(i)}) {
				t.Errorf("message %d: got %v", i, got)
			}
		}
	})

	t.Run("DeadAddressDoesNotBlock", func(t *testing.T) {
		drain()
		dead := "127.0.0.1:" + strconv.Itoa(freePort(t))
		done := make(chan time.Duration, 1)
		go func() {
			start := time.Now()
			for i := range 1000 {
				r.Send(dead, &protocol.Count{N: int64(i)})
			}
			done <- time.Since(start)
		}()
		select {
		case d := <-done:
			t.Logf("1000 sends to a closed port returned in %v", d)
		case <-time.After(5 * time.Second):
			t.Fatal("1000 sends to a dead address did not return within 5 s")
		}
		// The dead peer holds up no one else: protoactor's writer for it
		// spends 10 s retrying, the live peer answers long before.
		r.Send(peer.addr, &protocol.Count{N: 77})
		if got := receive(t, "the live peer's answer", 5*time.Second); !reflect.DeepEqual(got, &protocol.Count{N: 77}) {
			t.Errorf("the live peer answered %v", got)
		}
	})

	t.Run("PeerRestarts", func(t *testing.T) {
		drain()
		port := freePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p := startPeerProc(t, r.Address(), port, peerLoopback)
		r.Send(addr, &protocol.Count{N: -1})
		if got := receive(t, "the first answer", 10*time.Second); !reflect.DeepEqual(got, &protocol.Count{N: -1}) {
			t.Fatalf("answer %v", got)
		}
		p.kill()
		waitFor(t, 10*time.Second, "the killed peer seen as down", func() bool {
			up, known := r.peerUp(addr)
			return known && !up
		})

		// While it is down the newest QueueLen messages wait; the oldest
		// are dropped.
		droppedBefore := r.Dropped()
		const n = 5000
		for i := range n {
			r.Send(addr, &protocol.Count{N: int64(i)})
		}
		if d := r.Dropped() - droppedBefore; d < n-defaultQueueLen-10 {
			t.Errorf("%d of %d messages dropped with a queue of %d", d, n, defaultQueueLen)
		}
		startPeerProc(t, r.Address(), port, peerLoopback)

		last := int64(-1)
		got := 0
		for last != n-1 {
			m := receive(t, fmt.Sprintf("message %d after the restart (had %d up to %d)", n-1, got, last), 30*time.Second)
			c, ok := m.(*protocol.Count)
			if !ok || c.N <= last {
				t.Fatalf("after %d came %v", last, m)
			}
			last = c.N
			got++
		}
		t.Logf("the restarted peer got %d messages, %d dropped", got, r.Dropped()-droppedBefore)
		// Only the probes sent while it was still down may be lost.
		if got < defaultQueueLen-20 || got > defaultQueueLen {
			t.Errorf("the restarted peer got %d messages, want about %d", got, defaultQueueLen)
		}
		if up, _ := r.peerUp(addr); !up {
			t.Error("the restarted peer is not seen as up")
		}
	})

	t.Run("HungPeerIsNoticed", func(t *testing.T) {
		if testing.Short() {
			t.Skip("takes keepalive's 15 s")
		}
		drain()
		p := startPeerProc(t, r.Address(), 0, peerLoopback)
		r.Send(p.addr, &protocol.Ok{})
		receive(t, "the first answer", 10*time.Second)
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		// The connection stays open and no RST comes: only gRPC
		// keepalive can tell (10 s idle, then 5 s for the ping's answer).
		start := time.Now()
		waitFor(t, 40*time.Second, "the hung peer seen as down", func() bool {
			r.Send(p.addr, &protocol.Count{N: 1})
			up, _ := r.peerUp(p.addr)
			return !up
		})
		t.Logf("the hung peer was noticed after %v", time.Since(start).Round(time.Second))
	})

	t.Run("PortTaken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		for _, taken := range []int{port, peerPortOf(t, r.Address())} {
			done := make(chan error, 1)
			go func() {
				_, err := StartRemote(quietSystem(), RemoteOptions{Host: "127.0.0.1", Port: taken})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "address already in use") {
					t.Errorf("StartRemote on taken port %d: %v", taken, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("StartRemote on taken port %d hangs", taken)
			}
		}
		_, err = StartRemote(quietSystem(), RemoteOptions{Host: "0.0.0.0", Port: port})
		if err == nil || !strings.Contains(err.Error(), "advertised host") {
			t.Errorf("StartRemote on 0.0.0.0 without an advertised host: %v", err)
		}
	})

	t.Run("StartPanicIsAnError", func(t *testing.T) {
		// The port can be taken between the probe and remote.Start; start
		// must then turn protoactor's panic into an error. Run in a child:
		// remote.Start writes a gRPC global that this process's remoting
		// reads.
		p := startPeerProc(t, "unused", 0, peerStartTaken)
		if !strings.HasPrefix(p.addr, "start: failed to listen") || !strings.Contains(p.addr, "address already in use") {
			t.Errorf("start on a taken port printed %q", p.addr)
		}
	})

	t.Run("Close", func(t *testing.T) {
		// A writer dialling a dead peer holds up protoactor's graceful
		// stop for 10 s; Close must not wait for it, and must free the port.
		r.Send("127.0.0.1:"+strconv.Itoa(freePort(t)), &protocol.Ok{})
		time.Sleep(200 * time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- r.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(8 * time.Second):
			t.Fatal("Close waited for the dead peer's connection attempts")
		}
		closed = true
		ln, err := net.Listen("tcp", r.Address())
		if err != nil {
			t.Errorf("the bus port is still taken after Close: %v", err)
		} else {
			ln.Close()
		}
		before := r.Dropped()
		r.Send(peer.addr, &protocol.Ok{})
		if r.Dropped() != before+1 {
			t.Error("a send after Close was not counted as dropped")
		}
		if err := r.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// globalIPv4 is an IPv4 address of an interface other than loopback, ""
// if there is none.
func globalIPv4() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
			return ipn.IP.String()
		}
	}
	return ""
}

// An endpoint writer's failed attempt leaves its connection behind; the
// guard closes it when the next attempt for the same address starts, and
// leaves the last one to the writer.
func TestConnGuardClosesAbandonedConnections(t *testing.T) {
	g := &connGuard{self: newSelfAddrs("127.0.0.1"), sysID: "me", pending: map[string]*grpc.ClientConn{}}
	dead := "127.0.0.1:" + strconv.Itoa(freePort(t))
	desc := &grpc.StreamDesc{StreamName: "Receive", ServerStreams: true, ClientStreams: true}
	var conns []*grpc.ClientConn
	for range 3 {
		cc, err := grpc.Dial(dead, append(dialOptions(), grpc.WithStreamInterceptor(g.stream))...)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, cc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = cc.NewStream(ctx, desc, "/remote.Remoting/Receive")
		cancel()
		if err == nil {
			t.Fatal("a stream to a closed port")
		}
	}
	for i, cc := range conns {
		if shut := cc.GetState() == connectivity.Shutdown; shut != (i < len(conns)-1) {
			t.Errorf("attempt %d: closed %v", i, shut)
		}
	}
	_ = conns[len(conns)-1].Close()
}

// The addresses a node claims for its own, bound to one host or to all.
func TestSelfAddrs(t *testing.T) {
	port := "17711"
	cases := []struct {
		host string
		own  []string
		not  []string
	}{
		{"127.0.0.1", []string{"127.0.0.1:17711", "localhost:17711", "LocalHost:17711"},
			[]string{"127.0.0.1:17712", "127.0.0.2:17711", "192.0.2.9:17711", "[::1]:17711", "bad"}},
		{"192.0.2.9", []string{"192.0.2.9:17711"}, []string{"127.0.0.1:17711", "localhost:17711"}},
		{"::1", []string{"[::1]:17711", "localhost:17711"}, []string{"127.0.0.1:17711"}},
		{"0.0.0.0", []string{"127.0.0.1:17711", "127.9.9.9:17711", "[::1]:17711", "localhost:17711",
			"0.0.0.0:17711", "[::]:17711", "[::ffff:127.0.0.1]:17711"},
			[]string{"127.0.0.1:17712", "192.0.2.250:17711", "example.com:17711"}},
	}
	if ip := globalIPv4(); ip != "" {
		cases[3].own = append(cases[3].own, net.JoinHostPort(ip, port))
	}
	for _, c := range cases {
		s := newSelfAddrs(c.host)
		if s.owns("127.0.0.1:17711") {
			t.Errorf("bound to %s: an address claimed before the port is known", c.host)
		}
		s.port.Store(&port)
		for _, a := range c.own {
			if !s.owns(a) {
				t.Errorf("bound to %s: %s is not claimed", c.host, a)
			}
		}
		for _, a := range c.not {
			if s.owns(a) {
				t.Errorf("bound to %s: %s is claimed", c.host, a)
			}
		}
		s.learn("192.0.2.250:1234")
		if !s.owns("192.0.2.250:1234") {
			t.Errorf("bound to %s: a learned address is not claimed", c.host)
		}
	}
}

func peerPortOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(errors.New("bad port in " + addr))
	}
	return n
}
