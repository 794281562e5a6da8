// Command localcluster is `make cluster`: a cluster of disque-server
// processes on this machine, in the foreground until Ctrl-C.
//
//	localcluster [-server bin/disque-server] [-bind 127.0.0.1]
//	             [-ports 7711,7712,7713] [-dir tmp/cluster] [-- server args...]
//
// Each node runs with --bind, --port and --dir DIR/<port> (its nodes.conf
// and server.log), then the server args. DIR/<port> is emptied first:
// every run is a new cluster with new node IDs, and what a run leaves (the
// logs) stays until the next one.
//
// The nodes join by cluster-seeds, with no command sent: each is given
// the bus addresses of the others (port + 10000), meets them at start, and
// the gossip makes a full mesh. localcluster waits for it, prints CLUSTER
// NODES as the first node sees it, and waits.
//
// The nodes run in a process group of their own, so a Ctrl-C in the
// terminal reaches only localcluster, which stops them (SIGTERM, SIGKILL
// after 10 s) and waits for them; on Linux the kernel also kills them
// should localcluster die first (parent-death signal). A node that exits
// meanwhile (a kill -9, to watch a failure) is reported with the command
// that starts it again; it comes back with its node ID and peers from its
// nodes.conf, but runs on its own from then on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/godisque/godisque/bench"
	"github.com/godisque/godisque/config"
)

// Patience.
const (
	startWait = 30 * time.Second // for a node to answer PING, and for the mesh
	stopWait  = 10 * time.Second // for a node to stop on SIGTERM
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// node is one disque-server process.
type node struct {
	port   int
	dir    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
}

func (n *node) addr(bind string) string { return net.JoinHostPort(bind, strconv.Itoa(n.port)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("localcluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "bin/disque-server", "the disque-server binary")
	bind := fs.String("bind", "127.0.0.1", "the address every node binds")
	portList := fs.String("ports", "7711,7712,7713", "the client ports, one node each (bus port: port + 10000)")
	dir := fs.String("dir", "tmp/cluster", "where each node's directory goes (emptied first)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ports, err := parsePorts(*portList)
	if err != nil {
		fmt.Fprintln(stderr, "localcluster:", err)
		return 2
	}
	nodes := make([]*node, len(ports))
	for i, p := range ports {
		var seeds []string
		for _, q := range ports {
			if q != p {
				seeds = append(seeds, net.JoinHostPort(*bind, strconv.Itoa(q+config.BusPortOffset)))
			}
		}
		n := &node{port: p, dir: filepath.Join(*dir, strconv.Itoa(p))}
		n.args = append([]string{"--bind", *bind, "--port", strconv.Itoa(p), "--dir", n.dir,
			"--cluster-seeds"}, seeds...)
		n.args = append(n.args, fs.Args()...)
		nodes[i] = n
	}

	// Signals first: a Ctrl-C during the start must still stop what started.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()

	defer stopAll(nodes, stdout)
	for _, n := range nodes {
		if err := start(ctx, *server, n, *bind); err != nil {
			fmt.Fprintf(stderr, "localcluster: node %d: %v\n", n.port, err)
			return 1
		}
	}
	text, err := waitMesh(ctx, nodes, *bind)
	if err != nil {
		fmt.Fprintln(stderr, "localcluster:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d nodes joined; CLUSTER NODES on %s:\n%s\n", len(nodes), nodes[0].addr(*bind), text)
	for _, n := range nodes {
		fmt.Fprintf(stdout, "  %s  pid %d  log %s\n", n.addr(*bind), n.cmd.Process.Pid, filepath.Join(n.dir, "server.log"))
	}
	fmt.Fprintln(stdout, "Try: redis-cli -p "+strconv.Itoa(nodes[0].port)+" ADDJOB q hello 0 REPLICATE "+strconv.Itoa(min(3, len(nodes))))
	fmt.Fprintln(stdout, "Ctrl-C stops the cluster.")

	// Until Ctrl-C, report the nodes that exit.
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-n.exited:
				fmt.Fprintf(stdout, "node %s exited (%v); to start it again (it then runs on its own):\n  %s %s >>%s 2>&1 &\n",
					n.addr(*bind), n.cmd.ProcessState, *server, shellArgs(n.args), filepath.Join(n.dir, "server.log"))
			case <-ctx.Done():
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
	fmt.Fprintln(stdout, "\nstopping the cluster")
	return 0
}

// parsePorts reads "7711,7712,7713".
func parsePorts(s string) ([]int, error) {
	var ports []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 1 || p > config.MaxPortWithDerivedBus || seen[p] {
			return nil, fmt.Errorf("bad port %q in -ports %q", f, s)
		}
		seen[p] = true
		ports = append(ports, p)
	}
	return ports, nil
}

// start empties the node's directory, starts it and waits until it answers
// PING.
func start(ctx context.Context, server string, n *node, bind string) error {
	if err := os.RemoveAll(n.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(n.dir, 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(n.dir, "server.log"))
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	n.cmd = exec.Command(server, n.args...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	n.cmd.SysProcAttr = procAttr()
	if err := n.cmd.Start(); err != nil {
		return err
	}
	n.exited = make(chan struct{})
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	deadline := time.Now().Add(startWait)
	for {
		if r, err := do(n.addr(bind), "PING"); err == nil && r.Err() == nil {
			return nil
		}
		select {
		case <-n.exited:
			return fmt.Errorf("exited at start (%v): port taken? see %s", n.cmd.ProcessState, filepath.Join(n.dir, "server.log"))
		case <-ctx.Done():
			return errors.New("interrupted")
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %v; see %s", startWait, filepath.Join(n.dir, "server.log"))
		}
	}
}

// waitMesh waits until every node knows all the others, connected, and
// returns CLUSTER NODES of the first.
func waitMesh(ctx context.Context, nodes []*node, bind string) (string, error) {
	deadline := time.Now().Add(startWait)
	for {
		why := ""
		var first string
		for i, n := range nodes {
			r, err := do(n.addr(bind), "CLUSTER", "NODES")
			if err == nil {
				err = r.Err()
			}
			if err != nil {
				why = fmt.Sprintf("CLUSTER NODES of %d: %v", n.port, err)
				break
			}
			text := strings.TrimSpace(string(r.Str))
			if i == 0 {
				first = text
			}
			lines := strings.Split(text, "\n")
			connected := 0
			for _, l := range lines {
				if f := strings.Fields(l); len(f) >= 6 && f[2] == "noflags" && f[5] == "connected" {
					connected++
				}
			}
			if len(lines) != len(nodes) || connected != len(nodes)-1 {
				why = fmt.Sprintf("node %d knows %d nodes, %d of them connected, of %d", n.port, len(lines), connected, len(nodes))
				break
			}
		}
		if why == "" {
			return first, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no full mesh within %v: %s", startWait, why)
		}
		select {
		case <-ctx.Done():
			return "", errors.New("interrupted")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// do sends one command on a connection of its own.
func do(addr string, args ...string) (*bench.Reply, error) {
	conn, err := bench.Dial(addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	return conn.Do(args...)
}

// stopAll sends SIGTERM to every running node and waits for them, with
// SIGKILL for any still there after stopWait.
func stopAll(nodes []*node, stdout io.Writer) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n == nil || n.exited == nil {
			continue
		}
		select {
		case <-n.exited:
			continue
		default:
		}
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-n.exited:
			case <-time.After(stopWait):
				fmt.Fprintf(stdout, "node %d did not stop within %v: killing it\n", n.port, stopWait)
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}()
	}
	wg.Wait()
}

// shellArgs quotes args for a shell command line.
func shellArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
