package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/godisque/godisque/bench"
)

// ------------------------------ The cluster driver -----------------------------
//
// A Cluster is N disque-server processes on loopback ports, each with its
// own directory (nodes.conf, the append-only file, server.log across its
// lives), started from a binary, joined with CLUSTER MEET and driven from
// outside as an operator would: signals for the process faults (SIGKILL,
// SIGSTOP, SIGCONT), and the RESP commands DEBUG LINK and DEBUG CLOCK-SKEW
// for the others. Nothing here knows the node's code: any server that
// speaks those commands can be put through the playground.

// ClusterOptions configure a Cluster.
type ClusterOptions struct {
	// Server is the disque-server binary.
	Server string
	// Nodes is how many processes.
	Nodes int
	// Dir holds one directory per node, n1, n2...
	Dir string
	// NodeTimeout is cluster-node-timeout: how soon a silent peer is
	// suspected. Short makes the cluster react within the faults.
	NodeTimeout time.Duration
	// AOF is the appendfsync policy (always, everysec, no), or "" to run
	// without an append-only file: a killed node then comes back empty.
	AOF string
	// Env is added to each server's environment.
	Env []string
	// Logf reports progress; nil is silent.
	Logf func(format string, args ...any)
}

// Proc is one node: its port, directory and current process.
type Proc struct {
	Index int
	Port  int
	Dir   string
	ID    string // the node ID, the same across restarts (nodes.conf)

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
	lives  int
}

// Name is the node's name in reports: n1, n2...
func (p *Proc) Name() string { return nodeName(p.Index) }

// Addr is the node's RESP address.
func (p *Proc) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// Running tells whether the process is alive (paused or not).
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

func (p *Proc) runningLocked() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Answering tells whether the node can answer now: alive and not paused.
func (p *Proc) Answering() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked() && !p.paused
}

// Cluster is the running nodes.
type Cluster struct {
	opts  ClusterOptions
	Procs []*Proc
}

// StartCluster starts the nodes, joins them and waits for the full mesh.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	if o.Nodes < 1 {
		return nil, errors.New("chaos: a cluster needs a node")
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	c := &Cluster{opts: o}
	used := map[int]bool{}
	for i := range o.Nodes {
		p := &Proc{Index: i, Dir: filepath.Join(o.Dir, nodeName(i))}
		if err := os.MkdirAll(p.Dir, 0o755); err != nil {
			c.Stop()
			return nil, err
		}
		c.Procs = append(c.Procs, p)
		// A port taken between the probe and the server's listen: try
		// another one.
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			if p.Port, err = freePortPair(used); err != nil {
				break
			}
			used[p.Port] = true
			if err = c.start(ctx, p); err == nil {
				break
			}
		}
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("chaos: starting %s: %w", p.Name(), err)
		}
		r, err := c.Do(i, 5*time.Second, "CLUSTER", "MYID")
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("chaos: CLUSTER MYID of %s: %w", p.Name(), err)
		}
		p.ID = string(r.Str)
	}
	for i := 1; i < o.Nodes; i++ {
		if _, err := c.Do(0, 5*time.Second, "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(c.Procs[i].Port)); err != nil {
			c.Stop()
			return nil, fmt.Errorf("chaos: CLUSTER MEET %s: %w", c.Procs[i].Name(), err)
		}
	}
	if err := c.WaitMesh(ctx, 60*time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// freePortPair finds a client port p with p and its bus port p+10000 both
// free: p in 5000..9999, so that both are below the ephemeral range (32768
// on Linux, where no outgoing connection takes one while its node is down)
// and apart from the ports the crash tests of cmd/disque-server draw
// (20000 and up).
func freePortPair(used map[int]bool) (int, error) {
	for range 200 {
		p := 5000 + rand.IntN(5000)
		if used[p] || used[p+10000] {
			continue
		}
		if portFree(p) && portFree(p+10000) {
			return p, nil
		}
	}
	return 0, errors.New("chaos: no free pair of ports")
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// start runs the node's binary and waits until it answers PING.
func (c *Cluster) start(ctx context.Context, p *Proc) error {
	args := []string{
		"--port", strconv.Itoa(p.Port), "--bind", "127.0.0.1", "--dir", p.Dir,
		"--cluster-node-timeout", strconv.FormatInt(c.opts.NodeTimeout.Milliseconds(), 10),
	}
	if c.opts.AOF == "" {
		args = append(args, "--appendonly", "no")
	} else {
		args = append(args, "--appendonly", "yes", "--appendfsync", c.opts.AOF)
	}
	logf, err := os.OpenFile(filepath.Join(p.Dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own descriptor
	p.mu.Lock()
	p.lives++
	fmt.Fprintf(logf, "----- chaos: life %d of %s on port %d -----\n", p.lives, p.Name(), p.Port)
	cmd := exec.Command(c.opts.Server, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), c.opts.Env...)
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited, p.paused = cmd, exited, false
	p.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		if r, err := c.do(p.Addr(), time.Second, "PING"); err == nil && r.Err() == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("the server exited at start-up (%v); see %s", cmd.ProcessState, filepath.Join(p.Dir, "server.log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within 30 s; see %s", filepath.Join(p.Dir, "server.log"))
		}
	}
}

// Kill is kill -9: no shutdown code runs. It waits for the process to go.
func (c *Cluster) Kill(i int) error {
	p := c.Procs[i]
	p.mu.Lock()
	if !p.runningLocked() {
		p.mu.Unlock()
		return fmt.Errorf("%s is not running", p.Name())
	}
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-exited
	return nil
}

// Restart starts a killed node again, on the same port and directory: it
// comes back with its node ID and peers (nodes.conf), and with its jobs
// when it has an append-only file.
func (c *Cluster) Restart(ctx context.Context, i int) error {
	p := c.Procs[i]
	if p.Running() {
		return fmt.Errorf("%s is running", p.Name())
	}
	if err := c.start(ctx, p); err != nil {
		return fmt.Errorf("restarting %s: %w", p.Name(), err)
	}
	r, err := c.Do(i, 5*time.Second, "CLUSTER", "MYID")
	if err != nil {
		return fmt.Errorf("CLUSTER MYID of %s: %w", p.Name(), err)
	}
	if id := string(r.Str); id != p.ID {
		return fmt.Errorf("%s came back as %s, was %s (nodes.conf lost?)", p.Name(), id, p.ID)
	}
	return nil
}

// Pause stops the process (SIGSTOP): it keeps its sockets and memory and
// answers nothing until Resume.
func (c *Cluster) Pause(i int) error { return c.signal(i, syscall.SIGSTOP, true) }

// Resume continues a paused process (SIGCONT).
func (c *Cluster) Resume(i int) error { return c.signal(i, syscall.SIGCONT, false) }

func (c *Cluster) signal(i int, sig syscall.Signal, paused bool) error {
	p := c.Procs[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return fmt.Errorf("%s is not running", p.Name())
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	p.paused = paused
	return nil
}

// Do sends one command to node i on a connection of its own, within
// timeout. An error reply is returned as an error.
func (c *Cluster) Do(i int, timeout time.Duration, args ...string) (*bench.Reply, error) {
	r, err := c.do(c.Procs[i].Addr(), timeout, args...)
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

func (c *Cluster) do(addr string, timeout time.Duration, args ...string) (*bench.Reply, error) {
	conn, err := bench.Dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	return conn.Do(args...)
}

// WaitMesh waits until every node knows every other one, connected and
// with no failure flag, and counts them all reachable.
func (c *Cluster) WaitMesh(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var why string
	for {
		if why = c.meshProblem(); why == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: no full mesh within %v: %s", timeout, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// meshProblem is why the cluster is not a full mesh yet, "" when it is.
func (c *Cluster) meshProblem() string {
	n := len(c.Procs)
	for i, p := range c.Procs {
		if !p.Answering() {
			return p.Name() + " is down or paused"
		}
		r, err := c.Do(i, 2*time.Second, "CLUSTER", "NODES")
		if err != nil {
			return fmt.Sprintf("CLUSTER NODES of %s: %v", p.Name(), err)
		}
		lines := strings.Split(strings.TrimSpace(string(r.Str)), "\n")
		if len(lines) != n {
			return fmt.Sprintf("%s knows %d nodes of %d", p.Name(), len(lines), n)
		}
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) < 6 {
				return fmt.Sprintf("%s: odd CLUSTER NODES line %q", p.Name(), l)
			}
			if strings.Contains(f[2], "myself") {
				continue
			}
			if f[2] != "noflags" || f[5] != "connected" {
				return fmt.Sprintf("%s sees %s as %s %s", p.Name(), f[1], f[2], f[5])
			}
		}
		r, err = c.Do(i, 2*time.Second, "CLUSTER", "INFO")
		if err != nil {
			return fmt.Sprintf("CLUSTER INFO of %s: %v", p.Name(), err)
		}
		info := bench.ParseInfo(string(r.Str))
		if info["cluster_reachable_nodes"] != strconv.Itoa(n-1) {
			return fmt.Sprintf("%s reaches %s nodes of %d", p.Name(), info["cluster_reachable_nodes"], n-1)
		}
	}
	return ""
}

// Stop ends every process: SIGCONT for the paused ones, SIGTERM, and
// SIGKILL for those still there after a few seconds.
func (c *Cluster) Stop() {
	var wg sync.WaitGroup
	for _, p := range c.Procs {
		p.mu.Lock()
		if !p.runningLocked() {
			p.mu.Unlock()
			continue
		}
		cmd, exited := p.cmd, p.exited
		if p.paused {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			p.paused = false
		}
		p.mu.Unlock()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}()
	}
	wg.Wait()
}
