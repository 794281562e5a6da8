// Package disque embeds a godisque node in a Go program: Start one with a
// Config, talk to it with typed protocol messages (no RESP in between), or
// let it serve Disque clients on its RESP port. See example_test.go.
package disque

import (
	"context"
	cryptorand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gogo/protobuf/proto"
	"go.uber.org/zap"

	"github.com/godisque/godisque/actors"
	"github.com/godisque/godisque/cluster"
	"github.com/godisque/godisque/config"
	"github.com/godisque/godisque/gateway"
	"github.com/godisque/godisque/protocol"
)

// Config is everything a node is started with.
type Config struct {
	// Server holds the disque.conf directives (port, bind, dir, maxmemory,
	// requirepass...). nil means config.Default().
	Server *config.Config
	// ConfigPath is the file the directives came from, for CONFIG REWRITE;
	// "" when there is none.
	ConfigPath string
	// Listener, when set, is where the RESP gateway serves instead of
	// bind:port (tests pass a 127.0.0.1:0 listener).
	Listener net.Listener
	// NoGateway starts the node without a RESP port: an embedder talks to
	// it only through Ask and the typed helpers.
	NoGateway bool
	// NodeID overrides the ID kept in nodes.conf; "" reads it from there,
	// or makes one on first start.
	NodeID string
	// Clock is the node's time source; nil is the real clock, adjustable
	// at run time by DEBUG CLOCK-SKEW (actors.AdjustableClock).
	Clock actors.Clock
	// Seed makes job IDs and requeue jitter reproducible; 0 picks one.
	Seed uint64
	// Logger receives the node's logs; nil discards them.
	Logger *zap.Logger
	// Crash and Restart, when set, let DEBUG SEGFAULT/ASSERT/OOM end the
	// process and DEBUG RESTART/CRASH-AND-RECOVER replace it (see
	// gateway.Options). A program embedding a node leaves them nil.
	Crash   func(reason string)
	Restart func(graceful bool, delay time.Duration) error
	// Broken starts the node with a deliberate bug, for testing the chaos
	// playground's checker only (gateway.Breakage); "" is a correct node.
	Broken gateway.Breakage

	// The cluster bus (SPEC.md §9). A node with a RESP port is a member of
	// a cluster: it answers CLUSTER MEET and gossips with its peers. Its
	// bus carries the messages to the other nodes' node actors:
	//
	//   - with Network set, over that in-process MemNetwork, joined at
	//     BusAddr (tests run several nodes in one process this way);
	//   - else, when the node serves its configured port (no Listener) or
	//     BusAddr is set, over protoactor remoting listening on BusAddr,
	//     by default the bind address and cluster-bus-port (the client
	//     port + 10000 unless set);
	//   - else (a test's Listener and nothing more) nowhere: the node is
	//     alone, as it was before the cluster existed, and a CLUSTER MEET
	//     never completes.
	//
	// Network is the in-process network to join; nil: the real bus.
	Network *cluster.MemNetwork
	// BusAddr is the bus address, "host:port": on a Network, the node's
	// name there; otherwise where remoting listens. "" derives it from the
	// bind address and the bus port.
	BusAddr string
}

// DefaultConfig is an in-memory node on 127.0.0.1:7711.
func DefaultConfig() Config {
	c := config.Default()
	c.Bind = []string{"127.0.0.1"}
	return Config{Server: c}
}

// Node is a running node.
type Node struct {
	actors   *actors.Node
	gw       *gateway.Server
	ln       net.Listener
	settings *config.Store
	nodes    *cluster.NodesConf
	cluster  *cluster.Cluster // nil without a gateway
	etcd     *cluster.Etcd    // nil unless cluster-etcd-endpoints is set
	sys      *actor.ActorSystem
	ownSys   bool // sys was made here (for remoting): Stop shuts it down
	log      *zap.Logger

	stopOnce sync.Once
	done     chan struct{}
	served   chan error
}

// Start starts a node: its actors, and its RESP gateway unless NoGateway.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	sc := cfg.Server
	if sc == nil {
		sc = config.Default()
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	n := &Node{log: cfg.Logger, done: make(chan struct{}), served: make(chan error, 1)}
	var skewer gateway.Skewer // stays a nil interface with the embedder's clock
	if cfg.Clock == nil {
		adj := actors.NewAdjustableClock(nil)
		cfg.Clock, skewer = adj, adj
	}
	if n.log == nil {
		n.log = zap.NewNop()
	}
	n.settings = config.NewStore(sc, cfg.ConfigPath)
	id := cfg.NodeID
	if id == "" {
		nc, err := cluster.OpenNodesConf(sc.ClusterConfigPath(), sc.Port, cryptorand.Reader)
		if err != nil {
			return nil, err
		}
		n.nodes, id = nc, nc.Myself
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64() // the runtime's ChaCha8, seeded by the OS
	}
	if !cfg.NoGateway {
		if err := n.listen(cfg, sc); err != nil {
			n.closeNodesConf()
			return nil, err
		}
	}
	// The actors and the cluster need each other: the cluster reads the
	// node's ID and LEAVING flag, and delivers peer messages to its actor.
	var live atomic.Pointer[actors.Node]
	var bus actors.Bus // stays a nil interface without a cluster
	if !cfg.NoGateway {
		if err := n.startCluster(cfg, sc, id, seed, &live); err != nil {
			n.closeListener()
			n.closeNodesConf()
			return nil, err
		}
		bus = n.cluster
	}
	an, err := actors.Start(actors.Options{
		NodeID: id, Seed: seed, Clock: cfg.Clock, Logger: n.log, LoadLater: true, Bus: bus, System: n.sys,
		Limits: func() actors.Limits {
			c := n.settings.Load()
			return actors.Limits{MaxMemory: c.MaxMemory, Policy: string(c.MaxMemoryPolicy)}
		},
		Persist: func() actors.PersistOptions {
			c := n.settings.Load()
			return actors.PersistOptions{
				Enabled: c.AppendOnly, Path: c.AOFPath(), Fsync: string(c.AppendFsync),
				LoadTruncated: c.AOFLoadTruncated, EnqueueOnce: c.AOFEnqueueJobsOnce,
				RewritePercent: int64(c.AutoAOFRewritePercentage), RewriteMinBytes: c.AutoAOFRewriteMinSize,
			}
		},
	})
	if err != nil {
		n.stopCluster()
		n.shutdownSystem()
		n.closeListener()
		n.closeNodesConf()
		return nil, err
	}
	n.actors = an
	live.Store(an)
	if cfg.NoGateway {
		close(n.served)
		if err := n.load(sc); err != nil {
			return nil, err
		}
		return n, nil
	}
	n.ln = gateway.NewGuardListener(n.ln, gateway.Limits{})
	gwOpts := gateway.Options{
		Node: an, Settings: n.settings, Logger: n.log, Crash: cfg.Crash, Restart: cfg.Restart,
		Cluster: n.cluster, Link: n.cluster.Link(), Clock: skewer, Broken: cfg.Broken,
		Shutdown: func(rewriteAOF bool) error {
			if rewriteAOF {
				if err := an.Rewrite(true); err != nil {
					n.log.Error("SHUTDOWN REWRITE-AOF: rewrite failed", zap.Error(err))
					return err
				}
			}
			go func() { _ = n.Stop() }()
			return nil
		},
	}
	if n.nodes != nil {
		gwOpts.SaveConfig = n.cluster.SaveConfig
	}
	n.gw = gateway.New(gwOpts)
	go func() { n.served <- n.gw.Serve(n.ln) }()
	// The port is open while the append-only file loads: clients get
	// -LOADING rather than a refused connection (SPEC.md §2).
	if err := n.load(sc); err != nil {
		_ = n.Stop()
		return nil, err
	}
	n.log.Info("node started", zap.String("id", id), zap.String("addr", n.ln.Addr().String()),
		zap.String("bus", n.cluster.Self().Address))
	return n, nil
}

// listen opens the RESP port: the embedder's Listener, or bind:port.
func (n *Node) listen(cfg Config, sc *config.Config) error {
	n.ln = cfg.Listener
	if n.ln != nil {
		return nil
	}
	host := ""
	if len(sc.Bind) > 0 {
		host = sc.Bind[0]
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(sc.Port)))
	if err != nil {
		return fmt.Errorf("disque: listen: %w", err)
	}
	n.ln = ln
	return nil
}

func (n *Node) closeListener() {
	if n.ln != nil {
		_ = n.ln.Close()
	}
}

// startCluster starts the bus transport Config describes and the Cluster
// on it. live is the node's actors once they exist: peer messages go to
// their node actor, which hands them to the Cluster first.
func (n *Node) startCluster(cfg Config, sc *config.Config, id string, seed uint64, live *atomic.Pointer[actors.Node]) error {
	port := sc.Port
	if a, ok := n.ln.Addr().(*net.TCPAddr); ok {
		port = a.Port // the port clients really reach (a test's listener)
	}
	busPort := sc.ClusterBusPort
	if busPort == 0 {
		busPort = port + config.BusPortOffset
	}
	bindHost := "127.0.0.1"
	if len(sc.Bind) > 0 {
		bindHost = sc.Bind[0]
	}
	deliver := func(msg any) {
		if an := live.Load(); an != nil {
			an.System().Root.Send(an.PID(), msg)
		}
	}
	addr := cfg.BusAddr
	var tr cluster.Transport
	switch {
	case cfg.Network != nil:
		if addr == "" {
			addr = net.JoinHostPort(bindHost, strconv.Itoa(busPort))
		}
		tr = cfg.Network.Join(addr, deliver)
	case cfg.Listener == nil || cfg.BusAddr != "":
		host, p := bindHost, busPort
		if len(sc.Bind) == 0 {
			host = "0.0.0.0" // like the client port: every interface
		}
		if addr != "" {
			h, ps, err := net.SplitHostPort(addr)
			if err != nil {
				return fmt.Errorf("disque: bus address %q: %w", addr, err)
			}
			if p, err = strconv.Atoi(ps); err != nil {
				return fmt.Errorf("disque: bus address %q: bad port", addr)
			}
			host = h
		}
		advertised := ""
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			advertised = advertisedHost()
		}
		n.sys = actor.NewActorSystem(actor.WithLoggerFactory(actors.ProtoactorLogger(n.log)))
		n.ownSys = true
		rem, err := cluster.StartRemote(n.sys, cluster.RemoteOptions{Host: host, Port: p, AdvertisedHost: advertised, Logger: n.log})
		if err != nil {
			n.sys.Shutdown()
			n.sys, n.ownSys = nil, false
			return fmt.Errorf("disque: %w", err)
		}
		addr, tr = rem.Address(), rem
	default:
		if addr == "" {
			addr = net.JoinHostPort(bindHost, strconv.Itoa(busPort))
		}
		tr = nowhere{}
	}
	n.cluster = cluster.New(cluster.Options{
		ID: func() string {
			if an := live.Load(); an != nil {
				return an.ID()
			}
			return id
		},
		Leaving: func() bool {
			an := live.Load()
			return an != nil && an.Leaving()
		},
		NodeTimeout: func() time.Duration { return n.settings.Load().NodeTimeout() },
		Addr:        addr, Port: port, Transport: tr, Clock: cfg.Clock, Seed: seed, Conf: n.nodes, Logger: n.log,
		Seeds: sc.ClusterSeeds,
	})
	if len(sc.ClusterEtcdEndpoints) > 0 {
		// Nodes registered in etcd are met like seeds; failure detection
		// stays with the gossip (membership is advisory).
		clu := n.cluster
		ed, err := cluster.StartEtcd(context.Background(), cluster.EtcdOptions{
			Endpoints: sc.ClusterEtcdEndpoints, Prefix: sc.ClusterEtcdPrefix,
			NodeID: func() string { return clu.Self().NodeId }, BusAddr: addr, Logger: n.log,
			Meet: func(a string) error { return clu.MeetAddr(a, 0) },
		})
		if err != nil {
			n.stopCluster()
			return fmt.Errorf("disque: cluster-etcd-endpoints: %w", err)
		}
		n.etcd = ed
	}
	return nil
}

// stopCluster closes the Cluster (and its transport) and the actor system
// made for remoting.
func (n *Node) stopCluster() {
	if n.etcd != nil {
		// First, so that the other nodes see this one leave at once.
		if err := n.etcd.Close(); err != nil {
			n.log.Warn("cluster: etcd close", zap.Error(err))
		}
		n.etcd = nil
	}
	if n.cluster != nil {
		if err := n.cluster.Close(); err != nil {
			n.log.Warn("cluster: close", zap.Error(err))
		}
	}
}

func (n *Node) shutdownSystem() {
	if n.ownSys {
		n.sys.Shutdown()
	}
}

// nowhere is the transport of a node with no bus: every message is lost.
type nowhere struct{}

func (nowhere) Send(string, proto.Message) {}
func (nowhere) Close() error               { return nil }

// advertisedHost is the address peers should reach a node bound to every
// interface at: the first global unicast IPv4 address, else loopback.
func advertisedHost() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// load replays the append-only file, then undoes the one-shot
// aof-enqueue-jobs-once.
func (n *Node) load(sc *config.Config) error {
	if err := n.actors.Load(); err != nil {
		if n.gw == nil {
			n.actors.Stop()
			n.shutdownSystem()
			n.closeNodesConf()
		}
		return err
	}
	if sc.AOFEnqueueJobsOnce {
		// A one-shot (SPEC.md §15): the jobs are back in their queues, so
		// the next start must not do it again.
		if err := n.settings.Update(func(c *config.Config) error { c.AOFEnqueueJobsOnce = false; return nil }); err == nil && n.settings.Path() != "" {
			if err := n.settings.Rewrite(); err != nil {
				n.log.Warn("cannot rewrite the config file after aof-enqueue-jobs-once", zap.Error(err))
			}
		}
	}
	return nil
}

func (n *Node) closeNodesConf() {
	if n.nodes != nil {
		_ = n.nodes.Close()
	}
}

// Stop closes the RESP port and every connection, then stops the actors.
// It is safe to call more than once.
func (n *Node) Stop() error {
	var err error
	n.stopOnce.Do(func() {
		if n.gw != nil {
			err = n.gw.Close()
		}
		if serr := <-n.served; serr != nil && err == nil {
			err = serr
		}
		n.stopCluster()
		n.actors.Stop()
		n.shutdownSystem()
		n.closeNodesConf()
		close(n.done)
	})
	return err
}

// Done is closed once the node has stopped (Stop, or a client's SHUTDOWN).
func (n *Node) Done() <-chan struct{} { return n.done }

// Addr is the RESP address, "" without a gateway.
func (n *Node) Addr() string {
	if n.ln == nil {
		return ""
	}
	return n.ln.Addr().String()
}

// ID is the node ID.
func (n *Node) ID() string { return n.actors.ID() }

// Cluster is the node's membership and bus, nil without a gateway.
func (n *Node) Cluster() *cluster.Cluster { return n.cluster }

// PID is the node actor: remote embedders send it protocol messages.
func (n *Node) PID() *actor.PID { return n.actors.PID() }

// System is the node's actor system.
func (n *Node) System() *actor.ActorSystem { return n.actors.System() }

// Settings is the node's live configuration.
func (n *Node) Settings() *config.Store { return n.settings }

// Ask sends any protocol request and returns its reply, or a
// *protocol.Error. GETJOB may block until ctx ends. An ADDJOB waiting for
// its replication when ctx ends is abandoned: the job is removed, here and
// from the nodes that got a copy, and the reply is the timeout's NOREPL
// (or the ID, if the replication was achieved first).
func (n *Node) Ask(ctx context.Context, req proto.Message) proto.Message {
	return n.actors.Ask(ctx, req)
}

// ------------------------------- Typed helpers -------------------------------

// ReplyError is an error reply, its text as a RESP client would see it
// (for example "NOREPL Timeout reached before replicating ...").
type ReplyError struct{ Text string }

func (e *ReplyError) Error() string { return e.Text }

func ask[R proto.Message](n *Node, ctx context.Context, req proto.Message) (R, error) {
	var zero R
	switch r := n.Ask(ctx, req).(type) {
	case *protocol.Error:
		return zero, &ReplyError{Text: r.Text}
	case R:
		return r, nil
	default:
		return zero, fmt.Errorf("disque: unexpected reply %T", r)
	}
}

// AddJob is ADDJOB; it returns the job ID. Leave Retry at -1 for the
// default, as protocol.AddJob documents. The job keeps a copy of req.Body:
// the caller may reuse its buffer at once.
func (n *Node) AddJob(ctx context.Context, req *protocol.AddJob) (string, error) {
	r, err := ask[*protocol.AddJobReply](n, ctx, req)
	if err != nil {
		return "", err
	}
	return r.Id, nil
}

// GetJob is GETJOB; no jobs (NOHANG, timeout) is an empty slice.
func (n *Node) GetJob(ctx context.Context, req *protocol.GetJob) ([]*protocol.JobItem, error) {
	r, err := ask[*protocol.Jobs](n, ctx, req)
	if err != nil {
		return nil, err
	}
	return r.Jobs, nil
}

// AckJob is ACKJOB; it returns how many jobs became acknowledged.
func (n *Node) AckJob(ctx context.Context, ids ...string) (int64, error) {
	return count(n, ctx, &protocol.AckJob{Ids: ids})
}

// FastAck is FASTACK.
func (n *Node) FastAck(ctx context.Context, ids ...string) (int64, error) {
	return count(n, ctx, &protocol.FastAck{Ids: ids})
}

// Nack is NACK.
func (n *Node) Nack(ctx context.Context, ids ...string) (int64, error) {
	return count(n, ctx, &protocol.Nack{Ids: ids})
}

// Working is WORKING; it returns the job's retry in seconds.
func (n *Node) Working(ctx context.Context, id string) (int64, error) {
	return count(n, ctx, &protocol.Working{Id: id})
}

// DelJob is DELJOB.
func (n *Node) DelJob(ctx context.Context, ids ...string) (int64, error) {
	return count(n, ctx, &protocol.DelJob{Ids: ids})
}

// Qlen is QLEN.
func (n *Node) Qlen(ctx context.Context, queue string) (int64, error) {
	return count(n, ctx, &protocol.Qlen{Queue: queue})
}

// Show is SHOW; an unknown job is (nil, nil).
func (n *Node) Show(ctx context.Context, id string) (*protocol.JobInfo, error) {
	r, err := ask[*protocol.ShowReply](n, ctx, &protocol.Show{Id: id})
	if err != nil || !r.Found {
		return nil, err
	}
	return r.Job, nil
}

func count(n *Node, ctx context.Context, req proto.Message) (int64, error) {
	r, err := ask[*protocol.Count](n, ctx, req)
	if err != nil {
		return 0, err
	}
	return r.N, nil
}
