package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/gogo/protobuf/proto"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// --------------------------------- The Remote --------------------------------
//
// Remote is the real Transport: protoactor remoting (gRPC) to the actor
// "node" of each peer, PID{Address: "host:busport", Id: "node"}. On the
// receiving side remoting and protocol's bridge turn the carrier back into
// the gogo message and deliver it to the node actor, under any address the
// sender knows the node by (chapter "Our own addresses", at the end).
//
// What protoactor does with a peer that is not there (PROTOACTOR.md §2.4,
// and measured again for this file against the pinned version):
//
//   - Root.Send itself returns at once, dead peer or not: 1000 sends to a
//     closed port take about a millisecond. What stalls is the endpoint
//     writer: its Started handler dials up to 5 times, 2 s apart, while
//     its mailbox, a ring that grows without bound, collects everything
//     sent meanwhile; after the last try it publishes
//     EndpointTerminatedEvent and the collected messages become dead
//     letters. The next send starts a new 10-second cycle.
//   - A hung peer (SIGSTOPped, or a partition that sends no RST) keeps its
//     TCP connection, so without keepalive nothing ever notices and the
//     writer's ring grows forever. With the keepalive below the client
//     gives up after about 15 s (measured: 14 s) and the endpoint
//     terminates.
//
// So the memory a dead or hung peer can take is the real risk, not the
// caller's time. Each peer gets a bounded queue (RemoteOptions.QueueLen;
// when it is full the oldest message is dropped, counted, and logged at
// most once a second) drained by one goroutine, which watches the endpoint
// events of its address:
//
//   - up (at first, and after EndpointConnectedEvent): everything queued
//     goes to remoting at once;
//   - down (after EndpointTerminatedEvent): protoactor has forgotten the
//     endpoint, so the next send starts a new connection attempt, which
//     always ends in a Connected or a Terminated event. The goroutine waits
//     probeDelay, sends the oldest message alone as a probe, and waits for
//     that outcome; meanwhile new messages wait in the bounded queue. A
//     probe to a dead peer is lost, like any message in flight to it.
//
// While up, a peer that has just died or hung still takes what is sent
// until its endpoint terminates: at most 10 s (dead) or about 15 s (hung)
// of traffic in protoactor's ring, once per outage rather than forever.
//
// The price: protoactor alone keeps everything sent during a connect loop
// and delivers it if the peer comes back in time; here a peer that comes
// back gets the newest QueueLen messages, in order, and the older ones are
// lost, as they would be had it not come back.
//
// A peer nobody sent to for peerIdle, with an empty queue, is forgotten
// (its goroutine ends).

// RemoteOptions configures a Remote.
type RemoteOptions struct {
	// Host is the address the bus listens on. Peers must reach the node at
	// Host:Port unless AdvertisedHost is set, so a wildcard Host ("",
	// "0.0.0.0", "::") needs AdvertisedHost. Messages addressed to any
	// address of the node on Port are delivered to it, not only those to
	// the advertised one.
	Host string
	// Port is the bus port; 0 picks a free one.
	Port int
	// AdvertisedHost, when set, is the host peers reach this node at (NAT,
	// containers); the port stays Port's.
	AdvertisedHost string
	// Logger receives the transport's logs; nil discards them.
	Logger *zap.Logger
	// QueueLen bounds each peer's queue; 0 means 4096.
	QueueLen int
}

// Settings of the Remote.
const (
	defaultQueueLen = 4096
	writerQueueSize = 1024             // initial endpoint writer ring: the default costs 16 MB a peer (PROTOACTOR.md §2.1)
	keepaliveTime   = 10 * time.Second // ping a connection idle this long (gRPC's client minimum)
	keepaliveWait   = 5 * time.Second  // and close it if the ping is not answered within this
	probeDelay      = time.Second      // after an endpoint terminated, before the next probe
	probeTimeout    = 2 * time.Minute  // a probe with no outcome by then is presumed lost
	peerIdle        = time.Minute      // a peer with nothing to send this long is forgotten
	closeWait       = 2 * time.Second  // Close's patience with protoactor's graceful stop
)

// Remote is the protoactor remoting Transport; see the chapter comment.
type Remote struct {
	sys      *actor.ActorSystem
	rem      *remote.Remote
	self     *selfAddrs
	log      *zap.Logger
	queueLen int
	sub      *eventstream.Subscription
	dropped  atomic.Uint64

	mu     sync.Mutex // guards peers and closed; taken before a peer's mu
	peers  map[string]*peer
	closed bool
	wg     sync.WaitGroup // peer goroutines
}

// StartRemote starts remoting on sys and returns the transport. A taken
// port is an error, not protoactor's panic. Should remote.Start itself fail
// (the port taken between this function's probe and the start), remoting
// has already registered itself with sys, which is then best discarded.
func StartRemote(sys *actor.ActorSystem, o RemoteOptions) (*Remote, error) {
	if o.QueueLen <= 0 {
		o.QueueLen = defaultQueueLen
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.AdvertisedHost == "" {
		if ip := net.ParseIP(o.Host); o.Host == "" || ip != nil && ip.IsUnspecified() {
			return nil, fmt.Errorf("cluster: bus host %q is no address peers can reach: set an advertised host", o.Host)
		}
	}
	// remote.Start panics when it cannot listen; find out first, and get
	// the port that peers will be told.
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("cluster: bus port: %w", err)
	}
	port := o.Port
	if port == 0 && o.AdvertisedHost != "" {
		port = ln.Addr().(*net.TCPAddr).Port // remoting must listen where it advertises
	}
	_ = ln.Close()

	host := o.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // remote.Config.Address joins with Sprintf("%v:%v")
	}
	opts := []remote.ConfigOption{
		remote.WithEndpointWriterQueueSize(writerQueueSize),
		remote.WithServerOptions(
			grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveWait}),
			// Peers ping every keepaliveTime; a stricter policy than that
			// would make the server hang up on them (GOAWAY too_many_pings).
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
				MinTime: keepaliveTime / 2, PermitWithoutStream: true,
			}),
		),
	}
	if o.AdvertisedHost != "" {
		opts = append(opts, remote.WithAdvertisedHost(net.JoinHostPort(o.AdvertisedHost, strconv.Itoa(port))))
	}
	self := newSelfAddrs(o.Host)
	guard := &connGuard{self: self, sysID: sys.ID, pending: map[string]*grpc.ClientConn{}}
	opts = append(opts, remote.WithDialOptions(append(dialOptions(), grpc.WithStreamInterceptor(guard.stream))...))
	// Ahead of remoting's own resolver, which claims every address.
	sys.ProcessRegistry.RegisterAddressResolver(self.resolver(sys))
	rem := remote.NewRemote(sys, remote.Configure(host, port, opts...))
	if err := start(rem); err != nil {
		return nil, fmt.Errorf("cluster: bus port: %w", err)
	}
	if _, p, err := net.SplitHostPort(sys.Address()); err == nil {
		self.port.Store(&p)
	}

	r := &Remote{sys: sys, rem: rem, self: self, log: o.Logger, queueLen: o.QueueLen, peers: make(map[string]*peer)}
	r.sub = sys.EventStream.SubscribeWithPredicate(r.endpointEvent, func(ev any) bool {
		switch ev.(type) {
		case *remote.EndpointConnectedEvent, *remote.EndpointTerminatedEvent:
			return true
		}
		return false
	})
	r.log.Info("cluster bus listening", zap.String("address", r.Address()))
	return r, nil
}

// dialOptions are the bus's gRPC client options but the stream
// interceptor. WithDialOptions replaces remoting's defaults, insecure
// credentials included.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time: keepaliveTime, Timeout: keepaliveWait, PermitWithoutStream: true,
		}),
	}
}

// start is remote.Start with its panic (the port was taken since the probe)
// turned into an error.
func start(rem *remote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", p)
			}
		}
	}()
	rem.Start()
	return nil
}

// Address is the bus address peers reach this node at, "host:port".
func (r *Remote) Address() string { return r.sys.Address() }

// Dropped counts the messages lost to full queues or sent after Close.
func (r *Remote) Dropped() uint64 { return r.dropped.Load() }

// Send queues msg for the node actor at addr and returns at once.
func (r *Remote) Send(addr string, msg proto.Message) {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			r.dropped.Add(1)
			return
		}
		p := r.peers[addr]
		if p == nil {
			p = r.newPeer(addr)
			r.peers[addr] = p
		}
		r.mu.Unlock()
		if p.push(msg) {
			return
		}
		// p retired between the lookup and the push: look again.
	}
}

// Close stops every peer goroutine (queued messages are lost) and shuts
// remoting down. protoactor's graceful stop waits for every endpoint
// writer, and a writer dialling a dead peer sleeps through its retries for
// up to 10 s; after closeWait Close stops the gRPC server outright, so that
// the bus port is free when it returns, and lets the rest of protoactor's
// stop finish in the background.
func (r *Remote) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	peers := r.peers
	r.peers = nil
	r.mu.Unlock()
	for _, p := range peers {
		close(p.done)
	}
	r.wg.Wait()
	r.sys.EventStream.Unsubscribe(r.sub)
	stopped := make(chan struct{})
	go func() {
		r.rem.Shutdown(true)
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(closeWait):
		r.log.Warn("cluster bus: remoting is slow to stop (dialling a dead peer?); closing the port now")
		r.rem.Shutdown(false)
	}
	return nil
}

// endpointEvent follows remoting's view of each peer. It runs on the
// publisher's goroutine (an endpoint writer's): it must not block.
func (r *Remote) endpointEvent(ev any) {
	var addr string
	up := false
	switch e := ev.(type) {
	case *remote.EndpointConnectedEvent:
		addr, up = e.Address, true
	case *remote.EndpointTerminatedEvent:
		addr = e.Address
	default:
		return
	}
	r.mu.Lock()
	p := r.peers[addr]
	r.mu.Unlock()
	if p != nil {
		p.setUp(up)
	}
}

// ---------------------------------- A peer -----------------------------------

// peer is one destination address: its bounded queue and its goroutine.
type peer struct {
	r    *Remote
	addr string
	pid  *actor.PID
	wake chan struct{} // capacity 1
	done chan struct{} // closed by Close

	mu         sync.Mutex // guards everything below
	ring       []proto.Message
	head, n    int
	up         bool      // remoting's endpoint is (presumed) connected
	probeSent  time.Time // zero unless a probe awaits its outcome
	probeAt    time.Time // when down: not before this
	lastPush   time.Time
	retired    bool
	lostSince  uint64    // drops not yet logged
	lastLogged time.Time // last drop log line
}

// newPeer makes a peer and starts its goroutine. r.mu must be held.
func (r *Remote) newPeer(addr string) *peer {
	p := &peer{
		r: r, addr: addr, pid: actor.NewPID(addr, "node"),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		ring: make([]proto.Message, r.queueLen), up: true, lastPush: time.Now(),
	}
	r.wg.Add(1)
	go p.run()
	return p
}

// push queues msg, dropping the oldest when the queue is full. It answers
// false if the peer has retired.
func (p *peer) push(msg proto.Message) bool {
	p.mu.Lock()
	if p.retired {
		p.mu.Unlock()
		return false
	}
	now := time.Now()
	p.lastPush = now
	var logLost uint64
	if p.n == len(p.ring) {
		p.ring[p.head] = nil
		p.head = (p.head + 1) % len(p.ring)
		p.n--
		p.r.dropped.Add(1)
		p.lostSince++
		if now.Sub(p.lastLogged) >= time.Second {
			logLost, p.lostSince, p.lastLogged = p.lostSince, 0, now
		}
	}
	p.ring[(p.head+p.n)%len(p.ring)] = msg
	p.n++
	p.mu.Unlock()
	if logLost > 0 {
		p.r.log.Warn("cluster bus: peer queue full, dropped the oldest messages",
			zap.String("peer", p.addr), zap.Uint64("dropped", logLost), zap.Int("queue", len(p.ring)))
	}
	p.signal()
	return true
}

func (p *peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// setUp records an endpoint event of the peer's address.
func (p *peer) setUp(up bool) {
	p.mu.Lock()
	p.up = up
	p.probeSent = time.Time{}
	if !up {
		p.probeAt = time.Now().Add(probeDelay)
	}
	p.mu.Unlock()
	if up {
		p.r.log.Debug("cluster bus: peer connected", zap.String("peer", p.addr))
	} else {
		p.r.log.Info("cluster bus: peer unreachable, probing it", zap.String("peer", p.addr))
	}
	p.signal()
}

// take removes what may go to remoting now: everything while up, one probe
// while down and due. Otherwise it returns how long to sleep (0: until
// woken), or retire when the peer has been idle long enough.
func (p *peer) take(now time.Time) (batch []proto.Message, sleep time.Duration, retire bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		return nil, p.lastPush.Add(peerIdle).Sub(now), now.Sub(p.lastPush) >= peerIdle
	}
	count := p.n
	if !p.up {
		if !p.probeSent.IsZero() && now.Sub(p.probeSent) >= probeTimeout {
			p.probeSent = time.Time{} // lost without an event: probe again
		}
		switch {
		case !p.probeSent.IsZero():
			return nil, p.probeSent.Add(probeTimeout).Sub(now), false
		case now.Before(p.probeAt):
			return nil, p.probeAt.Sub(now), false
		}
		count, p.probeSent = 1, now
	}
	batch = make([]proto.Message, count)
	for i := range batch {
		batch[i], p.ring[p.head] = p.ring[p.head], nil
		p.head = (p.head + 1) % len(p.ring)
	}
	p.n -= count
	return batch, 0, false
}

func (p *peer) run() {
	defer p.r.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		batch, sleep, retire := p.take(time.Now())
		for _, m := range batch {
			p.r.sys.Root.Send(p.pid, m)
		}
		if len(batch) > 0 {
			continue
		}
		if retire && p.retire() {
			return
		}
		if sleep <= 0 {
			sleep = peerIdle
		}
		timer.Reset(sleep)
		select {
		case <-p.wake:
		case <-timer.C:
		case <-p.done:
			return
		}
	}
}

// retire forgets an idle peer, unless a message came in the meantime.
func (p *peer) retire() bool {
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n > 0 || p.r.closed {
		return false
	}
	p.retired = true
	if p.r.peers[p.addr] == p {
		delete(p.r.peers, p.addr)
	}
	return true
}

var _ Transport = (*Remote)(nil)

// ------------------------------ Our own addresses ----------------------------
//
// protoactor delivers a message here only when its PID's address is the one
// the actor system advertises (ProcessRegistryValue.Get); any other address
// goes to remoting. The endpoint reader is no exception: a message that came
// in over the wire goes to Root.Send with the address its sender used. A
// node bound to every interface is reachable at several addresses
// (loopback, each interface's, the advertised one), and a peer that met it
// at 127.0.0.1 sends to PID{"127.0.0.1:busport", "node"}: the node took that
// for somebody else's address and sent the message out again, to itself,
// round and round at 80% of a core, and the handshake never completed.
//
// So StartRemote registers an address resolver ahead of remoting's, which
// claims every address of this node on its bus port:
//
//   - bound to one host: that host, and "localhost" if it is a loopback one;
//   - bound to every interface: "localhost", every loopback and unspecified
//     IP, and the addresses of the interfaces, looked at again (at most once
//     a second) when an IP on our port is not among them: interfaces come
//     and go.
//
// What this misses (a NAT's address, a host name) connGuard catches at the
// first round trip: the server of an endpoint answers the connect request
// with its actor system's ID, and an endpoint that answers with ours is this
// node, so its address is claimed from then on. A message sent there comes
// back once over the wire and is delivered here; so do the later ones sent
// to a PID that remoting had claimed before (protoactor keeps a PID's
// process in the PID): a detour, no longer a loop.

// ifaceLookEvery bounds how often an unknown IP on our port makes us list
// the interfaces again.
const ifaceLookEvery = time.Second

// selfAddrs knows the addresses of this node; see the chapter comment.
type selfAddrs struct {
	any      bool                   // bound to every interface
	host     string                 // else the bound host, an IP in canonical form if it is one
	loopback bool                   // the bound host is a loopback one
	port     atomic.Pointer[string] // the bus port, once remoting listens
	learned  sync.Map               // addresses that answered with our ID (connGuard)

	ifaces   atomic.Pointer[map[string]bool] // interface IPs (any only)
	mu       sync.Mutex                      // guards lookedAt; held while listing the interfaces
	lookedAt time.Time
}

func newSelfAddrs(host string) *selfAddrs {
	s := &selfAddrs{host: strings.ToLower(host)}
	if ip := net.ParseIP(host); ip != nil {
		s.any, s.host, s.loopback = ip.IsUnspecified(), ip.String(), ip.IsLoopback()
	} else {
		s.any, s.loopback = host == "", s.host == "localhost"
	}
	return s
}

// resolver is the address resolver: a PID at one of our addresses is the
// local process of its ID.
func (s *selfAddrs) resolver(sys *actor.ActorSystem) actor.AddressResolver {
	return func(pid *actor.PID) (actor.Process, bool) {
		if !s.owns(pid.Address) {
			return nil, false
		}
		if p, ok := sys.ProcessRegistry.GetLocal(pid.Id); ok {
			return p, true
		}
		return localByID{sys}, true
	}
}

// owns tells whether addr, "host:port", is this node.
func (s *selfAddrs) owns(addr string) bool {
	if _, ok := s.learned.Load(addr); ok {
		return true
	}
	port := s.port.Load()
	host, p, err := net.SplitHostPort(addr)
	if port == nil || err != nil || p != *port {
		return false
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		host = strings.ToLower(host)
		return host == "localhost" && (s.any || s.loopback) || !s.any && host == s.host
	case !s.any:
		return ip.String() == s.host
	case ip.IsLoopback() || ip.IsUnspecified():
		return true
	}
	return s.isInterface(ip.String())
}

// isInterface tells whether ip is an address of one of the interfaces.
func (s *selfAddrs) isInterface(ip string) bool {
	if m := s.ifaces.Load(); m != nil && (*m)[ip] {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.ifaces.Load(); m != nil && time.Since(s.lookedAt) < ifaceLookEvery {
		return (*m)[ip]
	}
	s.lookedAt = time.Now()
	m := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				m[ipn.IP.String()] = true
			}
		}
	}
	s.ifaces.Store(&m)
	return m[ip]
}

// learn claims addr: an endpoint there answered with our ID.
func (s *selfAddrs) learn(addr string) { s.learned.Store(addr, true) }

// localByID is the process of a PID at one of our addresses whose actor is
// not there (yet, or any more): the resolver's answer stays cached in the
// PID, so it looks the actor up again at every message, and gives what it
// cannot deliver to the dead letters.
type localByID struct{ sys *actor.ActorSystem }

func (l localByID) get(pid *actor.PID) actor.Process {
	p, _ := l.sys.ProcessRegistry.GetLocal(pid.Id) // the dead letters if absent
	return p
}

func (l localByID) SendUserMessage(pid *actor.PID, m any)   { l.get(pid).SendUserMessage(pid, m) }
func (l localByID) SendSystemMessage(pid *actor.PID, m any) { l.get(pid).SendSystemMessage(pid, m) }
func (l localByID) Stop(pid *actor.PID)                     { l.get(pid).Stop(pid) }

// ---------------------------- Abandoned connections --------------------------
//
// protoactor's endpoint writer makes up to five attempts to reach a peer,
// each a new grpc.ClientConn, a Receive stream and the connect handshake. A
// failed attempt leaves its connection unclosed: the next attempt overwrites
// it, and only the last one is closed when the writer stops. gRPC keeps
// every abandoned connection redialling its address, with back-off, for the
// life of the process: measured, four more connections (and their
// goroutines) for every 11-second round of a dead peer, without end. Their
// goroutines also read gRPC's logger, which the next remote.Start in the
// process writes (the race of protocol/bridge_test.go).
//
// connGuard, the interceptor of every stream remoting opens, remembers for
// each address the connection of the attempt in progress until it connects.
// A new attempt for the same address means the previous one was abandoned:
// it closes it. It also reads the connect response: a server that answers
// with our own actor system's ID is this node (see Our own addresses).

// connGuard is the bus's stream interceptor; see the chapter comment.
type connGuard struct {
	self  *selfAddrs
	sysID string

	mu      sync.Mutex                  // guards pending
	pending map[string]*grpc.ClientConn // address -> the connection of an attempt not (yet) connected
}

func (g *connGuard) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	addr := cc.Target() // what the writer dialled (gRPC may add a scheme)
	if i := strings.Index(addr, ":///"); i >= 0 {
		addr = addr[i+len(":///"):]
	}
	g.mu.Lock()
	old := g.pending[addr]
	g.pending[addr] = cc
	g.mu.Unlock()
	if old != nil && old != cc {
		_ = old.Close() // abandoned; an error only says it was closed already
	}
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &guardedStream{ClientStream: cs, g: g, cc: cc, addr: addr}, nil
}

// guardedStream watches a stream's first message, the connect response.
type guardedStream struct {
	grpc.ClientStream
	g         *connGuard
	cc        *grpc.ClientConn
	addr      string
	connected atomic.Bool
}

func (s *guardedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || s.connected.Load() {
		return err
	}
	s.connected.Store(true)
	s.g.mu.Lock()
	if s.g.pending[s.addr] == s.cc {
		delete(s.g.pending, s.addr) // the writer owns it now
	}
	s.g.mu.Unlock()
	if r, ok := m.(*remote.RemoteMessage); ok && r.GetConnectResponse() != nil &&
		r.GetConnectResponse().GetMemberId() == s.g.sysID {
		s.g.self.learn(s.addr)
	}
	return nil
}
