package gateway_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godisque/godisque/internal/clustertest"
)

// ------------------------------ CLUSTER, HELLO --------------------------------
//
// SPEC.md §5.16, §5.18 and §9, on three nodes in one process
// (internal/clustertest): what a client sees of the membership.

// nodeLines parses CLUSTER NODES into ID -> fields.
func nodeLines(t *testing.T, s string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("CLUSTER NODES does not end with a newline: %q", s)
	}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		f := strings.Split(line, " ")
		if len(f) != 6 {
			t.Fatalf("CLUSTER NODES line %q has %d fields, want 6", line, len(f))
		}
		out[f[0]] = f
	}
	return out
}

// clusterInfo parses CLUSTER INFO.
func clusterInfo(t *testing.T, c *clustertest.Cluster, i int) map[string]string {
	t.Helper()
	s := c.Do(i, "CLUSTER", "INFO").(string)
	out := map[string]string{}
	for _, l := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// hello parses HELLO into my ID and ID -> [ip, port, priority].
func hello(t *testing.T, c *clustertest.Cluster, i int) (string, map[string][3]string) {
	t.Helper()
	r := c.Do(i, "HELLO").([]any)
	if r[0] != int64(1) {
		t.Fatalf("HELLO version %v", r[0])
	}
	out := map[string][3]string{}
	for _, e := range r[2:] {
		f := e.([]any)
		out[f[0].(string)] = [3]string{f[1].(string), f[2].(string), f[3].(string)}
	}
	return r[1].(string), out
}

func TestClusterMeshSeenByClients(t *testing.T) {
	c := clustertest.Start(t, 3)
	for i := 0; i < 3; i++ {
		lines := nodeLines(t, c.Do(i, "CLUSTER", "NODES").(string))
		if len(lines) != 3 {
			t.Fatalf("node %d: CLUSTER NODES has %d lines", i, len(lines))
		}
		for j := 0; j < 3; j++ {
			f := lines[c.ID(j)]
			if f == nil {
				t.Fatalf("node %d does not list node %d", i, j)
			}
			flags := "noflags"
			if i == j {
				flags = "myself"
			}
			if f[1] != c.Addr(j) || f[2] != flags || f[5] != "connected" {
				t.Errorf("node %d shows node %d as %q, want %s %s ... connected", i, j, strings.Join(f, " "), c.Addr(j), flags)
			}
			if _, err := strconv.ParseInt(f[3], 10, 64); err != nil {
				t.Errorf("ping_sent %q", f[3])
			}
			if pong, _ := strconv.ParseInt(f[4], 10, 64); i != j && pong < time.Now().Add(-time.Hour).UnixMilli() {
				t.Errorf("node %d: pong_recv of node %d is %q, want a recent unix time in ms", i, j, f[4])
			}
		}
		info := clusterInfo(t, c, i)
		for k, want := range map[string]string{"cluster_state": "ok", "cluster_known_nodes": "3",
			"cluster_reachable_nodes": "2", "cluster_size": "3"} {
			if info[k] != want {
				t.Errorf("node %d: CLUSTER INFO %s:%s, want %s", i, k, info[k], want)
			}
		}
		for _, k := range []string{"cluster_stats_messages_sent", "cluster_stats_messages_received"} {
			if n, _ := strconv.Atoi(info[k]); n == 0 {
				t.Errorf("node %d: %s:%q, want messages", i, k, info[k])
			}
		}
		me, nodes := hello(t, c, i)
		if me != c.ID(i) || len(nodes) != 3 {
			t.Fatalf("node %d: HELLO %s %v", i, me, nodes)
		}
		for j := 0; j < 3; j++ {
			if got, want := nodes[c.ID(j)], [3]string{"127.0.0.1", strconv.Itoa(c.N(j).Port), "1"}; got != want {
				t.Errorf("node %d: HELLO entry of node %d = %v, want %v", i, j, got, want)
			}
		}
		if c.Do(i, "CLUSTER", "MYID") != c.ID(i) {
			t.Errorf("node %d: CLUSTER MYID", i)
		}
	}
}

func TestClusterMeetErrors(t *testing.T) {
	c := clustertest.Start(t, 2)
	port := strconv.Itoa(c.N(1).Port)
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"127.0.0.1", "abc"}, "ERR Invalid TCP port specified: abc"},
		{[]any{"127.0.0.1", "+7711"}, "ERR Invalid TCP port specified: +7711"},
		{[]any{"127.0.0.1", "7711.0"}, "ERR Invalid TCP port specified: 7711.0"},
		{[]any{"127.0.0.1", ""}, "ERR Invalid TCP port specified: "},
		{[]any{"localhost", "7711"}, "ERR Invalid node address specified: localhost:7711"},
		{[]any{"1.2.3", "7711"}, "ERR Invalid node address specified: 1.2.3:7711"},
		{[]any{"", "7711"}, "ERR Invalid node address specified: :7711"},
		{[]any{"127.0.0.1", "0"}, "ERR Invalid node address specified: 127.0.0.1:0"},
		{[]any{"127.0.0.1", "-1"}, "ERR Invalid node address specified: 127.0.0.1:-1"},
		{[]any{"127.0.0.1", "55536"}, "ERR Invalid node address specified: 127.0.0.1:55536"},
		{[]any{"::1", "99999999999"}, "ERR Invalid node address specified: ::1:99999999999"},
		// godisque's third argument, the bus port.
		{[]any{"127.0.0.1", "60000", "x"}, "ERR Invalid TCP port specified: x"},
		{[]any{"127.0.0.1", "60000", "0"}, "ERR Invalid node address specified: 127.0.0.1:60000"},
		{[]any{"127.0.0.1", "60000", "65536"}, "ERR Invalid node address specified: 127.0.0.1:60000"},
		{[]any{"127.0.0.1", "65536", "20000"}, "ERR Invalid node address specified: 127.0.0.1:65536"},
		{[]any{"127.0.0.1"}, "ERR Wrong CLUSTER subcommand or number of arguments"},
		{[]any{"127.0.0.1", "7711", "17711", "x"}, "ERR Wrong CLUSTER subcommand or number of arguments"},
	} {
		_, err := c.Try(0, append([]any{"CLUSTER", "MEET"}, tc.args...)...)
		if err == nil || err.Error() != tc.want {
			t.Errorf("CLUSTER MEET %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	before := c.Do(0, "CLUSTER", "NODES").(string)
	if len(nodeLines(t, before)) != 2 {
		t.Fatalf("a refused MEET added a node:\n%s", before)
	}
	// A node already known: +OK, nothing new.
	if r := c.Do(0, "CLUSTER", "MEET", "127.0.0.1", port); r != "OK" {
		t.Fatalf("MEET a known node: %v", r)
	}
	if n := len(nodeLines(t, c.Do(0, "CLUSTER", "NODES").(string))); n != 2 {
		t.Fatalf("MEET a known node: %d nodes", n)
	}
	// Nobody there: a handshake node shows, then goes after
	// max(node_timeout, 1 s).
	for _, args := range [][]any{{"::1", "7"}, {"127.0.0.1", "60000", "20000"}} {
		if r := c.Do(0, append([]any{"CLUSTER", "MEET"}, args...)...); r != "OK" {
			t.Fatalf("MEET %v: %v", args, r)
		}
	}
	nodes := c.Do(0, "CLUSTER", "NODES").(string)
	for _, want := range []string{` ::1:7 handshake \d+ 0 disconnected\n`, ` 127.0.0.1:60000 handshake \d+ 0 disconnected\n`} {
		if !regexp.MustCompile(want).MatchString(nodes) {
			t.Fatalf("CLUSTER NODES lacks %q:\n%s", want, nodes)
		}
	}
	info := clusterInfo(t, c, 0)
	if info["cluster_known_nodes"] != "4" || info["cluster_size"] != "2" || info["cluster_reachable_nodes"] != "1" {
		t.Fatalf("CLUSTER INFO with handshakes: %v", info)
	}
	if _, h := hello(t, c, 0); len(h) != 4 {
		t.Fatalf("HELLO lists handshakes too (SPEC.md §5.16): %v", h)
	}
	c.WaitFor("the handshakes to time out", func() bool {
		return len(nodeLines(t, c.Do(0, "CLUSTER", "NODES").(string))) == 2
	})
}

func TestClusterForget(t *testing.T) {
	c := clustertest.Start(t, 3)
	stranger := strings.Repeat("ab", 20)
	for _, tc := range []struct{ id, want string }{
		{"abc", "ERR Invalid node identifier"},
		{c.ID(0) + "0", "ERR Invalid node identifier"},
		{c.ID(0), "ERR I tried hard but I can't forget myself..."},
		{stranger, "ERR Unknown node " + stranger},
	} {
		if _, err := c.Try(0, "CLUSTER", "FORGET", tc.id); err == nil || err.Error() != tc.want {
			t.Errorf("CLUSTER FORGET %s: %v, want %q", tc.id, err, tc.want)
		}
	}
	if r := c.Do(0, "CLUSTER", "FORGET", c.ID(2)); r != "OK" {
		t.Fatalf("FORGET: %v", r)
	}
	if _, err := c.Try(0, "CLUSTER", "FORGET", c.ID(2)); err == nil || err.Error() != "ERR Unknown node "+c.ID(2) {
		t.Fatalf("FORGET twice: %v", err)
	}
	// Node 1 keeps gossiping about node 2, and node 2 keeps pinging node 0:
	// for 60 s node 0 does not take it back. Watch a few node timeouts.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		lines := nodeLines(t, c.Do(0, "CLUSTER", "NODES").(string))
		if len(lines) != 2 || lines[c.ID(2)] != nil {
			t.Fatalf("a forgotten node came back:\n%s", c.Do(0, "CLUSTER", "NODES"))
		}
		if info := clusterInfo(t, c, 0); info["cluster_size"] != "2" || info["cluster_reachable_nodes"] != "1" {
			t.Fatalf("CLUSTER INFO after FORGET: %v", info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, h := hello(t, c, 0); len(h) != 2 {
		t.Fatalf("HELLO after FORGET: %v", h)
	}
}

func TestClusterResetSoftAndHard(t *testing.T) {
	c := clustertest.Start(t, 3)
	old := c.ID(0)
	if r := c.Do(0, "CLUSTER", "RESET", "SOFT"); r != "OK" {
		t.Fatal(r)
	}
	lines := nodeLines(t, c.Do(0, "CLUSTER", "NODES").(string))
	if len(lines) != 1 || lines[old] == nil || lines[old][2] != "myself" {
		t.Fatalf("after RESET SOFT: %v", lines)
	}
	if info := clusterInfo(t, c, 0); info["cluster_known_nodes"] != "1" || info["cluster_size"] != "1" || info["cluster_reachable_nodes"] != "0" {
		t.Fatalf("CLUSTER INFO after RESET: %v", info)
	}
	// The others still ping it; it answers but adds nobody back.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if n := len(nodeLines(t, c.Do(0, "CLUSTER", "NODES").(string))); n != 1 {
			t.Fatalf("a reset node re-added %d nodes by itself", n-1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// MEET one node: gossip brings the other.
	c.Do(0, "CLUSTER", "MEET", "127.0.0.1", c.N(1).Port)
	c.WaitFor("node 0 to rejoin", func() bool { return clusterInfo(t, c, 0)["cluster_reachable_nodes"] == "2" })

	if r := c.Do(0, "CLUSTER", "RESET", "HARD"); r != "OK" {
		t.Fatal(r)
	}
	id := c.Do(0, "CLUSTER", "MYID").(string)
	if id == old || len(id) != 40 {
		t.Fatalf("RESET HARD kept ID %s", id)
	}
	lines = nodeLines(t, c.Do(0, "CLUSTER", "NODES").(string))
	if len(lines) != 1 || lines[id] == nil {
		t.Fatalf("after RESET HARD: %v", lines)
	}
	// The others reach the address of the old ID and find another ID there.
	c.WaitFor("node 1 to see the old ID without an address", func() bool {
		f := nodeLines(t, c.Do(1, "CLUSTER", "NODES").(string))[old]
		return f != nil && f[1] == ":0" && strings.Contains(f[2], "noaddr") && f[5] == "disconnected"
	})
	if r := c.Do(0, "CLUSTER", "SAVECONFIG"); r != "OK" {
		t.Fatal(r)
	}
	data, err := os.ReadFile(filepath.Join(c.N(0).Dir, "nodes.conf"))
	if err != nil || !strings.HasPrefix(string(data), id+" ") || strings.Contains(string(data), old) {
		t.Fatalf("nodes.conf after RESET HARD:\n%s", data)
	}
	c.Do(1, "CLUSTER", "MEET", "127.0.0.1", c.N(0).Port)
	c.WaitFor("the new ID to be met", func() bool {
		f := nodeLines(t, c.Do(1, "CLUSTER", "NODES").(string))[id]
		return f != nil && f[2] == "noflags" && clusterInfo(t, c, 0)["cluster_reachable_nodes"] == "2"
	})
}

func TestClusterSaveConfig(t *testing.T) {
	c := clustertest.Start(t, 3)
	if r := c.Do(1, "CLUSTER", "SAVECONFIG"); r != "OK" {
		t.Fatal(r)
	}
	data, err := os.ReadFile(filepath.Join(c.N(1).Dir, "nodes.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("%s 127.0.0.1:%d@%d myself ", c.ID(1), c.N(1).Port, c.N(1).Port+10000),
		fmt.Sprintf("%s 127.0.0.1:%d@%d noflags ", c.ID(0), c.N(0).Port, c.N(0).Port+10000),
		fmt.Sprintf("%s 127.0.0.1:%d@%d noflags ", c.ID(2), c.N(2).Port, c.N(2).Port+10000),
	}
	for _, w := range want {
		if !strings.Contains(string(data), w) {
			t.Errorf("nodes.conf lacks %q:\n%s", w, data)
		}
	}
}

// SPEC.md §9 [verified]: a stopped peer shows as fail? in CLUSTER NODES,
// HELLO gives it priority 10 and cluster_reachable_nodes drops. Two nodes
// are no majority, so it stays fail?.
func TestClusterStoppedPeerIsFailing(t *testing.T) {
	c := clustertest.Start(t, 2)
	c.Kill(1)
	c.WaitFlags(0, 1, "fail?")
	f := nodeLines(t, c.Do(0, "CLUSTER", "NODES").(string))[c.ID(1)]
	if f[5] != "disconnected" || f[3] == "0" {
		t.Fatalf("failing node line %q: want a ping in flight, disconnected", strings.Join(f, " "))
	}
	if _, h := hello(t, c, 0); h[c.ID(1)][2] != "10" || h[c.ID(0)][2] != "1" {
		t.Fatalf("HELLO priorities %v", h)
	}
	if info := clusterInfo(t, c, 0); info["cluster_reachable_nodes"] != "0" || info["cluster_size"] != "2" {
		t.Fatalf("CLUSTER INFO %v", info)
	}
	c.Restart(1)
	c.WaitFlags(0, 1, "noflags")
	if _, h := hello(t, c, 0); h[c.ID(1)][2] != "1" {
		t.Fatalf("HELLO priorities after the restart %v", h)
	}
}

// Three nodes: the two left agree (a majority), the peer becomes fail and
// HELLO gives it priority 100. It comes back by itself, from nodes.conf.
func TestClusterStoppedPeerFailsByMajority(t *testing.T) {
	c := clustertest.Start(t, 3)
	c.Kill(2)
	for _, i := range []int{0, 1} {
		c.WaitFailing(i, 2) // fail?, or already fail
	}
	for _, i := range []int{0, 1} {
		c.WaitFlags(i, 2, "fail")
		if _, h := hello(t, c, i); h[c.ID(2)][2] != "100" {
			t.Fatalf("node %d: HELLO priorities %v", i, h)
		}
		if info := clusterInfo(t, c, i); info["cluster_reachable_nodes"] != "1" || info["cluster_size"] != "3" || info["cluster_known_nodes"] != "3" {
			t.Fatalf("node %d: CLUSTER INFO %v", i, info)
		}
	}
	c.Restart(2) // nobody meets it: it rejoins from its nodes.conf
	for _, i := range []int{0, 1} {
		c.WaitFlags(i, 2, "noflags")
		if info := clusterInfo(t, c, i); info["cluster_reachable_nodes"] != "2" {
			t.Fatalf("node %d: CLUSTER INFO after the restart %v", i, info)
		}
	}
	if info := clusterInfo(t, c, 2); info["cluster_reachable_nodes"] != "2" {
		t.Fatalf("restarted node: CLUSTER INFO %v", info)
	}
}

// CLUSTER LEAVING is seen by the other nodes: flag leaving, HELLO priority
// 100, not reachable.
func TestClusterLeavingSeenByPeers(t *testing.T) {
	c := clustertest.Start(t, 3)
	c.Do(1, "CLUSTER", "LEAVING", "yes")
	for _, i := range []int{0, 2} {
		c.WaitFlags(i, 1, "leaving")
		if _, h := hello(t, c, i); h[c.ID(1)][2] != "100" {
			t.Fatalf("node %d: HELLO %v", i, h)
		}
		if info := clusterInfo(t, c, i); info["cluster_reachable_nodes"] != "1" || info["cluster_size"] != "3" {
			t.Fatalf("node %d: CLUSTER INFO %v", i, info)
		}
	}
	if f := nodeLines(t, c.Do(1, "CLUSTER", "NODES").(string))[c.ID(1)]; f[2] != "myself,leaving" {
		t.Fatalf("own flags %q", f[2])
	}
	c.Do(1, "CLUSTER", "LEAVING", "no")
	for _, i := range []int{0, 2} {
		c.WaitFlags(i, 1, "noflags")
	}
}
