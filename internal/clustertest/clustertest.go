// Package clustertest runs a cluster of godisque nodes inside one test
// process, for tests of what several nodes do together.
//
// Each node is a real disque.Node: its own actor system, its own RESP port
// on 127.0.0.1 (with a go-redis client), its own directory (nodes.conf,
// the append-only file when enabled). The nodes talk over one
// cluster.MemNetwork instead of protoactor remoting, which cannot run twice
// in one process under the race detector. Start joins them the way an
// operator would, by CLUSTER MEET in a chain, and returns once every node
// knows every other one (and has written them to its nodes.conf).
//
//	c := clustertest.Start(t, 3)
//	id := c.Do(0, "ADDJOB", "q", "body", 0)
//	c.Kill(0)                 // abrupt: off the network, then stopped
//	c.WaitFailing(1, 0)       // node 1 sees node 0 as fail? or fail
//	c.Restart(0)              // same ID, same ports, from its nodes.conf
//	c.Partition([]int{0}, []int{1, 2})
//	c.Heal()
//
// Everything that waits polls with a generous deadline (Options.Wait):
// the machines tests run on are shared and noisy, and a fixed sleep is
// either too short or too slow.
package clustertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/cluster"
	"github.com/godisque/godisque/config"
)

// Options tune a test cluster. The zero value is fine.
type Options struct {
	// NodeTimeout is cluster-node-timeout; 0 is 1 s. Failure detection
	// takes about one to two of them, so short is fast, but too short
	// makes a loaded machine see false failures.
	NodeTimeout time.Duration
	// Wait bounds every wait of the harness (the mesh, a restart, a
	// condition); 0 is 30 s.
	Wait time.Duration
	// Config adjusts node i's configuration before it starts (appendonly,
	// maxmemory...). Dir, Port and cluster-node-timeout are already set.
	Config func(i int, c *config.Config)
	// Logger receives every node's logs, each named "node<i>"; nil
	// discards them.
	Logger *zap.Logger
	// NoMesh leaves the nodes unjoined: each starts alone, and the test
	// meets them itself.
	NoMesh bool
}

// Option changes Options.
type Option func(*Options)

// WithNodeTimeout sets cluster-node-timeout.
func WithNodeTimeout(d time.Duration) Option { return func(o *Options) { o.NodeTimeout = d } }

// WithWait sets the deadline of every wait.
func WithWait(d time.Duration) Option { return func(o *Options) { o.Wait = d } }

// WithConfig adjusts each node's configuration.
func WithConfig(f func(i int, c *config.Config)) Option { return func(o *Options) { o.Config = f } }

// WithLogger sends the nodes' logs to l.
func WithLogger(l *zap.Logger) Option { return func(o *Options) { o.Logger = l } }

// WithoutMesh starts the nodes alone.
func WithoutMesh() Option { return func(o *Options) { o.NoMesh = true } }

// Cluster is a running test cluster.
type Cluster struct {
	t     testing.TB
	opts  Options
	net   *cluster.MemNetwork
	nodes []*Node
}

// Node is one node of a test cluster. Its fields stay the same across
// Kill and Restart.
type Node struct {
	Index   int
	ID      string // the node ID (kept across restarts)
	Addr    string // RESP address, 127.0.0.1:port
	Port    int    // RESP port
	BusAddr string // address on the MemNetwork, 127.0.0.1:port+10000
	Dir     string // data directory: nodes.conf and the append-only file
	// Client is a go-redis client (RESP2) of the node. It survives Kill and
	// Restart: while the node is down its commands fail.
	Client *redis.Client

	node   *disque.Node // nil while killed
	starts int
}

// Node is the running disque.Node, for its typed API (Ask, AddJob...) and
// its Cluster; nil while killed.
func (n *Node) Node() *disque.Node { return n.node }

// Alive tells whether the node runs.
func (n *Node) Alive() bool { return n.node != nil }

// Start starts n nodes and, unless WithoutMesh, joins them into a full
// mesh. Everything is stopped when the test ends.
func Start(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c := &Cluster{t: t, net: cluster.NewMemNetwork()}
	for _, o := range opts {
		o(&c.opts)
	}
	if c.opts.NodeTimeout == 0 {
		c.opts.NodeTimeout = time.Second
	}
	if c.opts.Wait == 0 {
		c.opts.Wait = 30 * time.Second
	}
	if c.opts.Logger == nil {
		c.opts.Logger = zap.NewNop()
	}
	t.Cleanup(c.stop)
	for i := 0; i < n; i++ {
		ln := c.listen(0)
		port := ln.Addr().(*net.TCPAddr).Port
		nd := &Node{
			Index: i, Addr: ln.Addr().String(), Port: port, Dir: t.TempDir(),
			BusAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port+config.BusPortOffset)),
		}
		nd.Client = redis.NewClient(&redis.Options{Addr: nd.Addr, Protocol: 2, MaxRetries: -1})
		c.nodes = append(c.nodes, nd)
		c.start(nd, ln)
		nd.ID = nd.node.ID()
	}
	if !c.opts.NoMesh {
		for i := 1; i < n; i++ {
			c.Do(i-1, "CLUSTER", "MEET", "127.0.0.1", c.nodes[i].Port)
		}
		c.WaitMesh()
	}
	return c
}

// listen opens a loopback RESP port: port, or any free one with room for
// the bus port above it (Disque's port+10000 must be a TCP port, so CLUSTER
// MEET refuses client ports above 55535).
func (c *Cluster) listen(port int) net.Listener {
	c.t.Helper()
	var last error
	for try := 0; try < 100; try++ {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			last = err
			if port != 0 {
				time.Sleep(50 * time.Millisecond) // the old socket may linger a moment
			}
			continue
		}
		if p := ln.Addr().(*net.TCPAddr).Port; p <= cluster.MaxClientPort {
			return ln
		}
		ln.Close()
	}
	c.t.Fatalf("clustertest: no port to listen on (%d): %v", port, last)
	return nil
}

// start runs the node on its directory and ports.
func (c *Cluster) start(nd *Node, ln net.Listener) {
	c.t.Helper()
	cfg := config.Default()
	cfg.Dir = nd.Dir
	cfg.Port = nd.Port
	cfg.Bind = []string{"127.0.0.1"}
	cfg.ClusterNodeTimeout = c.opts.NodeTimeout.Milliseconds()
	if c.opts.Config != nil {
		c.opts.Config(nd.Index, cfg)
	}
	// Each start has its own seed: a restarted node must not make the job
	// IDs of its previous life again.
	nd.starts++
	n, err := disque.Start(context.Background(), disque.Config{
		Server: cfg, Listener: ln, Network: c.net, BusAddr: nd.BusAddr,
		Seed:   uint64(nd.Index+1)<<32 | uint64(nd.starts),
		Logger: c.opts.Logger.Named(fmt.Sprintf("node%d", nd.Index)),
	})
	if err != nil {
		ln.Close()
		c.t.Fatalf("clustertest: start node %d: %v", nd.Index, err)
	}
	nd.node = n
}

func (c *Cluster) stop() {
	for _, nd := range c.nodes {
		if nd.node != nil {
			_ = nd.node.Stop()
			nd.node = nil
		}
		_ = nd.Client.Close()
	}
	c.net.Close()
}

// ---------------------------------- Access -----------------------------------

// Len is the number of nodes, alive or not.
func (c *Cluster) Len() int { return len(c.nodes) }

// N is node i.
func (c *Cluster) N(i int) *Node { return c.nodes[i] }

// Nodes are all the nodes.
func (c *Cluster) Nodes() []*Node { return slices.Clone(c.nodes) }

// Client is node i's go-redis client.
func (c *Cluster) Client(i int) *redis.Client { return c.nodes[i].Client }

// Addr is node i's RESP address.
func (c *Cluster) Addr(i int) string { return c.nodes[i].Addr }

// ID is node i's node ID.
func (c *Cluster) ID(i int) string { return c.nodes[i].ID }

// Network is the MemNetwork the nodes talk over.
func (c *Cluster) Network() *cluster.MemNetwork { return c.net }

// Do sends a command to node i and returns its reply; an error reply or a
// failure fails the test.
func (c *Cluster) Do(i int, args ...any) any {
	c.t.Helper()
	v, err := c.nodes[i].Client.Do(context.Background(), args...).Result()
	if err != nil {
		c.t.Fatalf("clustertest: node %d: %v: %v", i, args, err)
	}
	return v
}

// Try sends a command to node i and returns its reply and error (redis.Nil
// for a null reply).
func (c *Cluster) Try(i int, args ...any) (any, error) {
	return c.nodes[i].Client.Do(context.Background(), args...).Result()
}

// ------------------------------- Kill, Restart -------------------------------

// Kill stops node i abruptly: it leaves the network first, so it says
// nothing more to anybody, then stops.
func (c *Cluster) Kill(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	if nd.node == nil {
		c.t.Fatalf("clustertest: node %d is not running", i)
	}
	c.net.Leave(nd.BusAddr)
	_ = nd.node.Stop()
	nd.node = nil
}

// Restart starts node i again after Kill, on the same directory and ports:
// it has the same ID (from its nodes.conf) and rejoins by itself, since its
// nodes.conf lists its peers. Restart waits until it knows every other
// running node and every running node reaches it again.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	if nd.node != nil {
		c.t.Fatalf("clustertest: node %d is running", i)
	}
	c.start(nd, c.listen(nd.Port))
	if id := nd.node.ID(); id != nd.ID {
		c.t.Fatalf("clustertest: node %d came back as %s, was %s", i, id, nd.ID)
	}
	c.WaitMesh()
}

// ---------------------------------- Faults -----------------------------------

// Partition cuts the nodes of a from the nodes of b, both ways: every
// message between the two sides is lost until Heal. Nodes in neither side
// keep talking to everybody.
func (c *Cluster) Partition(a, b []int) {
	c.t.Helper()
	for _, sides := range [][2][]int{{a, b}, {b, a}} {
		var ids, addrs []string
		for _, j := range sides[1] {
			ids = append(ids, c.nodes[j].ID)
			addrs = append(addrs, c.nodes[j].BusAddr)
		}
		for _, i := range sides[0] {
			if l := c.link(i); l != nil {
				l.Block(ids...)
				l.BlockAddr(addrs...)
			}
		}
	}
}

// Heal removes every fault of every running node's Link.
func (c *Cluster) Heal() {
	for i := range c.nodes {
		if l := c.link(i); l != nil {
			l.Heal()
		}
	}
}

// Link is node i's Link (faults, stats); nil while it is killed.
func (c *Cluster) Link(i int) *cluster.Link { return c.link(i) }

func (c *Cluster) link(i int) *cluster.Link {
	if n := c.nodes[i].node; n != nil && n.Cluster() != nil {
		return n.Cluster().Link()
	}
	return nil
}

// ---------------------------------- Waiting ----------------------------------

// WaitFor polls cond until it holds, failing the test with what after the
// deadline.
func (c *Cluster) WaitFor(what string, cond func() bool) {
	c.t.Helper()
	if err := poll(c.opts.Wait, cond); err != nil {
		c.t.Fatalf("clustertest: waited %v for %s", c.opts.Wait, what)
	}
}

func poll(within time.Duration, cond func() bool) error {
	deadline := time.Now().Add(within)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("timeout")
		}
		time.Sleep(delay)
	}
	return nil
}

// WaitMesh waits until every running node reaches every other running node
// (known, not failing) and has written them all to its nodes.conf.
func (c *Cluster) WaitMesh() {
	c.t.Helper()
	c.WaitFor("a full mesh of the running nodes", func() bool {
		for _, nd := range c.nodes {
			if nd.node == nil {
				continue
			}
			reach := nd.node.Cluster().Reachable()
			conf, _ := os.ReadFile(filepath.Join(nd.Dir, "nodes.conf"))
			for _, o := range c.nodes {
				if o == nd || o.node == nil {
					continue
				}
				if !slices.Contains(reach, o.ID) || !strings.Contains(string(conf), o.ID) {
					return false
				}
			}
		}
		return true
	})
}

// Flags is how node i's CLUSTER NODES shows node j's flags ("" when it
// does not list it).
func (c *Cluster) Flags(i, j int) string {
	c.t.Helper()
	nodes, _ := c.Do(i, "CLUSTER", "NODES").(string)
	for _, line := range strings.Split(nodes, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == c.nodes[j].ID {
			return f[2]
		}
	}
	return ""
}

// WaitFlags waits until node i's CLUSTER NODES shows node j with exactly
// these flags (comma separated, in Disque's order: "fail?", "fail",
// "noflags"...).
func (c *Cluster) WaitFlags(i, j int, flags string) {
	c.t.Helper()
	c.WaitFor(fmt.Sprintf("node %d to show node %d as %q", i, j, flags), func() bool { return c.Flags(i, j) == flags })
}

// WaitFailing waits until node i sees node j failing (fail? or fail).
func (c *Cluster) WaitFailing(i, j int) {
	c.t.Helper()
	c.WaitFor(fmt.Sprintf("node %d to see node %d failing", i, j), func() bool {
		f := c.Flags(i, j)
		return f == "fail?" || f == "fail"
	})
}
