package main

// A cluster of real processes (SPEC.md §9-13, DESIGN.md "The cluster"):
// three disque-server binaries on loopback, talking over protoactor
// remoting, joined by CLUSTER MEET as an operator would. One of them binds
// every interface and is met at 127.0.0.1, an address it does not
// advertise when the machine has another one (the message loop of
// cluster/remote.go, "Our own addresses"). A job replicated to the three is
// seen by SHOW on each; a node killed with SIGKILL is seen failing by the
// others, comes back on its own from its nodes.conf (no MEET), and has its
// copy again when it keeps an append-only file; a job added on one node is
// consumed on another (federation); an ACKJOB on one node removes the
// copies everywhere.
//
// Every wait polls with a generous deadline: the machines tests run on are
// shared, and a fixed sleep is either too short or too slow.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	clusterNodeTimeout = 1000             // ms: failures are seen within a few seconds
	clusterPatience    = 30 * time.Second // for anything to happen
)

// clusterNode is one node of the cluster: its port and directory, and its
// current process.
type clusterNode struct {
	*proc
	name string
	port int
	dir  string
	args []string // after --port and --dir
	rdb  *redis.Client
	id   string
}

// freePortPair finds a client port p with p and its bus port p+10000 both
// free, below the ephemeral range (32768 and up on Linux) so that no
// outgoing connection takes one while its node is down. Every node opens
// its bus port, even alone: a crash test's node needs the pair too.
func freePortPair(t *testing.T, rng *rand.Rand, used map[int]bool) int {
	t.Helper()
	for range 200 {
		p := 12000 + rng.IntN(10000)
		if used[p] || used[p+10000] || !portFree(p) || !portFree(p+10000) {
			continue
		}
		used[p] = true
		return p
	}
	t.Fatal("no free pair of ports")
	return 0
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(p))) // every interface: a node may bind them all
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func newClusterNode(t *testing.T, name string, port int, args ...string) *clusterNode {
	n := &clusterNode{proc: newProc(t), name: name, port: port, dir: t.TempDir(), args: args}
	n.rdb = redis.NewClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Protocol: 2,
		MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 5 * time.Second})
	t.Cleanup(func() { n.rdb.Close() })
	n.reapOnCleanup(name, 40)
	return n
}

// start runs the binary and waits until the node answers PING.
func (n *clusterNode) start() {
	n.t.Helper()
	fmt.Fprintf(n.out, "----- %s starts -----\n", n.name)
	args := append([]string{"--port", strconv.Itoa(n.port), "--dir", n.dir,
		"--cluster-node-timeout", strconv.Itoa(clusterNodeTimeout)}, n.args...)
	n.launch(n.name, args, clusterPatience, func() error { return n.rdb.Ping(context.Background()).Err() })
	id, err := n.rdb.Do(context.Background(), "CLUSTER", "MYID").Text()
	if err != nil {
		n.t.Fatalf("%s: CLUSTER MYID: %v", n.name, err)
	}
	if n.id != "" && id != n.id {
		n.t.Fatalf("%s came back as %s, was %s", n.name, id, n.id)
	}
	n.id = id
}

// do runs a command; an error fails the test.
func (n *clusterNode) do(args ...any) any {
	n.t.Helper()
	v, err := n.rdb.Do(context.Background(), args...).Result()
	if err != nil {
		n.t.Fatalf("%s: %v: %v", n.name, args, err)
	}
	return v
}

// peers is CLUSTER NODES as node ID -> "flags link".
func (n *clusterNode) peers() (map[string]string, error) {
	text, err := n.rdb.Do(context.Background(), "CLUSTER", "NODES").Text()
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if f := strings.Fields(l); len(f) >= 6 {
			m[f[0]] = f[2] + " " + f[5]
		}
	}
	return m, nil
}

// show is SHOW's state of a job on n, "" if n does not have it.
func (n *clusterNode) show(id string) (string, error) {
	v, err := n.rdb.Do(context.Background(), "SHOW", id).Slice()
	if err == redis.Nil {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for i := 0; i+1 < len(v); i += 2 {
		if v[i] == "state" {
			return fmt.Sprint(v[i+1]), nil
		}
	}
	return "", fmt.Errorf("SHOW %s has no state: %v", id, v)
}

// waitUntil polls cond until it holds; cond says why not meanwhile.
func waitUntil(t *testing.T, what string, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(clusterPatience)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%s)", what, clusterPatience, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sees tells whether n sees every other node of the list in the state
// want ("noflags connected", or "fail" for fail? or fail), and says what
// it sees.
func sees(n *clusterNode, others []*clusterNode, want string) (bool, string) {
	m, err := n.peers()
	if err != nil {
		return false, fmt.Sprintf("%s: CLUSTER NODES: %v", n.name, err)
	}
	for _, o := range others {
		if o == n {
			continue
		}
		got, ok := m[o.id]
		switch {
		case !ok:
			return false, fmt.Sprintf("%s does not know %s", n.name, o.name)
		case want == "fail" && !strings.HasPrefix(got, "fail"):
			return false, fmt.Sprintf("%s sees %s as %q", n.name, o.name, got)
		case want != "fail" && got != want:
			return false, fmt.Sprintf("%s sees %s as %q", n.name, o.name, got)
		}
	}
	return true, ""
}

func meshed(nodes []*clusterNode) (bool, string) {
	for _, n := range nodes {
		if ok, why := sees(n, nodes, "noflags connected"); !ok {
			return false, why
		}
	}
	return true, ""
}

// states is SHOW's state of id on each node.
func states(t *testing.T, nodes []*clusterNode, id string) []string {
	t.Helper()
	out := make([]string, len(nodes))
	for i, n := range nodes {
		s, err := n.show(id)
		if err != nil {
			t.Fatalf("%s: SHOW %s: %v", n.name, id, err)
		}
		out[i] = s
	}
	return out
}

func TestClusterOfProcesses(t *testing.T) {
	binary(t) // build first: its time is not the cluster's
	for _, aof := range []bool{false, true} {
		name := "InMemory"
		if aof {
			name = "AppendOnly"
		}
		t.Run(name, func(t *testing.T) { clusterOfProcesses(t, aof) })
	}
}

func clusterOfProcesses(t *testing.T, aof bool) {
	start := time.Now()
	rng := rand.New(rand.NewPCG(seed(t), 11))
	used := map[int]bool{}
	persist := []string{"--appendonly", "no"}
	if aof {
		persist = []string{"--appendonly", "yes", "--appendfsync", "always"}
	}
	loopback := append([]string{"--bind", "127.0.0.1"}, persist...)
	n1 := newClusterNode(t, "node1", freePortPair(t, rng, used), loopback...)
	n2 := newClusterNode(t, "node2", freePortPair(t, rng, used), loopback...)
	// node3 binds every interface: it advertises the machine's first
	// global address, if it has one, and is met at 127.0.0.1.
	n3 := newClusterNode(t, "node3", freePortPair(t, rng, used), persist...)
	nodes := []*clusterNode{n1, n2, n3}
	for _, n := range nodes {
		n.start()
	}
	for _, n := range nodes[1:] {
		n1.do("CLUSTER", "MEET", "127.0.0.1", n.port)
	}
	waitUntil(t, "the full mesh", func() (bool, string) { return meshed(nodes) })
	t.Logf("meshed after %v", time.Since(start).Round(time.Millisecond))

	// A job on the three.
	id := n1.do("ADDJOB", "q", "replicated", 0, "REPLICATE", 3, "RETRY", 60).(string)
	if s := states(t, nodes, id); s[0] != "queued" || s[1] == "" || s[2] == "" {
		t.Fatalf("SHOW on each node after ADDJOB REPLICATE 3: %q", s)
	}

	// node2 dies; the others see it failing.
	n2.kill()
	killed := time.Now()
	rest := []*clusterNode{n1, n3}
	for _, n := range rest {
		waitUntil(t, n.name+" to see node2 failing", func() (bool, string) {
			return sees(n, []*clusterNode{n2}, "fail")
		})
	}
	t.Logf("node2 seen failing by both after %v", time.Since(killed).Round(time.Millisecond))

	// It comes back by itself, from its nodes.conf.
	restarted := time.Now()
	n2.start()
	waitUntil(t, "node2 back in the mesh", func() (bool, string) { return meshed(nodes) })
	t.Logf("node2 back in the mesh %v after its start", time.Since(restarted).Round(time.Millisecond))
	switch s, err := n2.show(id); {
	case err != nil:
		t.Fatal(err)
	case aof && s == "":
		t.Error("node2 lost its copy of the job despite its append-only file")
	case !aof && s != "":
		t.Errorf("node2 in memory has the job after a kill -9 (%s)", s)
	}

	// Federation: a job that only node1 has is consumed on node3.
	fed := n1.do("ADDJOB", "fq", "federated", 0, "REPLICATE", 1).(string)
	v := n3.do("GETJOB", "TIMEOUT", 20000, "FROM", "fq")
	items, _ := v.([]any)
	if len(items) != 1 || items[0].([]any)[1] != fed || items[0].([]any)[2] != "federated" {
		t.Fatalf("GETJOB on node3 of node1's job: %v", v)
	}
	if n := n3.do("ACKJOB", fed).(int64); n != 1 {
		t.Errorf("ACKJOB of the federated job on node3: %d", n)
	}

	// An ACKJOB on node3 removes every copy of the replicated job.
	n3.do("ACKJOB", id)
	for _, job := range []string{id, fed} {
		waitUntil(t, "every copy of "+job+" gone", func() (bool, string) {
			s := states(t, nodes, job)
			return s[0] == "" && s[1] == "" && s[2] == "", fmt.Sprintf("SHOW states %q", s)
		})
	}
	t.Logf("the whole scenario took %v", time.Since(start).Round(time.Millisecond))
}
