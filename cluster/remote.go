package cluster

import (
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
// "node" of each peer, PID{Address: "host:busport", Id: "node"}. The
// receiving side needs nothing here: remoting and protocol's bridge turn the
// carrier back into the gogo message and deliver it to the node actor.
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
	// "0.0.0.0", "::") needs AdvertisedHost.
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
		// WithDialOptions replaces remoting's defaults, insecure
		// credentials included.
		remote.WithDialOptions(
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithKeepaliveParams(keepalive.ClientParameters{
				Time: keepaliveTime, Timeout: keepaliveWait, PermitWithoutStream: true,
			}),
		),
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
	rem := remote.NewRemote(sys, remote.Configure(host, port, opts...))
	if err := start(rem); err != nil {
		return nil, fmt.Errorf("cluster: bus port: %w", err)
	}

	r := &Remote{sys: sys, rem: rem, log: o.Logger, queueLen: o.QueueLen, peers: make(map[string]*peer)}
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
