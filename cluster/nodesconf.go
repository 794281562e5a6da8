// Package cluster is the node's membership: who the other nodes are, how to
// reach them, and nodes.conf, where a node keeps its own ID and its peers
// across restarts (SPEC.md §9).
package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/godisque/godisque/protocol"
)

// ---------------------------------- nodes.conf -------------------------------
//
// The file has CLUSTER NODES' line format, one node a line:
//
//	<id> <ip>:<port>[@<busport>] <flags> <ping_sent> <pong_recv> <connected|disconnected>
//
// with `myself` among the flags of the node's own line. We write the bus
// port after an @ (Redis 4's form), since cluster-bus-port may make it
// other than port+10000; a line without one (Disque's) means port+10000.
// Blank lines and a `vars ...` line are skipped.
//
// The file is locked (flock) for the lifetime of the process, so two nodes
// never share one. Disque rewrites it in place (padded, then truncated); we
// write a new file and rename it over the old one, so that a crash at any
// moment leaves one whole version. The new file is locked before the
// rename, and a process that locked the old one checks, after locking,
// that the path still names the file it holds.

// ErrLocked says another process holds the file.
var ErrLocked = errors.New("cluster: nodes.conf is used by another node")

// NodesConf is an open, locked nodes.conf.
type NodesConf struct {
	path   string
	mu     sync.Mutex // guards f and closed; held by Write
	f      *os.File
	closed bool
	// Myself is this node's ID, read from the file or made for it.
	Myself string
	// IPKnown says the file shows our IP: another node met us once.
	IPKnown bool
	// Peers are the other nodes the file remembers (handshakes excluded).
	Peers []Member
}

// OpenNodesConf opens (creating it if needed) and locks path, and reads it.
// When the file names no node as myself, a new ID is made from rnd and
// written with the client port.
func OpenNodesConf(path string, port int, rnd io.Reader) (*NodesConf, error) {
	f, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	nc := &NodesConf{path: path, f: f}
	data, err := io.ReadAll(f)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: read %s: %w", path, err)
	}
	me, peers, err := ParseNodesConf(data)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: %s: %w", path, err)
	}
	nc.Myself, nc.IPKnown, nc.Peers = me.ID, me.IP != "", peers
	if nc.Myself == "" {
		if nc.Myself, err = protocol.NewNodeID(rnd); err != nil {
			nc.Close()
			return nil, err
		}
		line := fmt.Sprintf("%s :%d myself 0 0 connected\n", nc.Myself, port)
		if err := nc.Write(line); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return nc, nil
}

// lockFile opens path and takes its lock, making sure the locked file is
// still the one the path names (another node may have just replaced it).
func lockFile(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("cluster: open %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			return nil, fmt.Errorf("%w (%s): %v", ErrLocked, path, err)
		}
		held, err1 := f.Stat()
		named, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			return f, nil
		}
		f.Close() // replaced meanwhile: lock the new one
	}
}

// ParseNodesConf reads a nodes.conf: the line flagged myself (a zero Member
// when there is none) and the other nodes, handshakes excluded.
func ParseNodesConf(data []byte) (myself Member, peers []Member, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] == "vars" {
			continue
		}
		n, err := parseLine(sc.Text())
		if err != nil {
			return Member{}, nil, fmt.Errorf("line %d: %v", line, err)
		}
		switch {
		case n.Flags&FlagMyself != 0:
			if myself.ID != "" {
				return Member{}, nil, fmt.Errorf("line %d: a second node flagged myself", line)
			}
			myself = n
		case n.Flags&FlagHandshake == 0:
			peers = append(peers, n)
		}
	}
	return myself, peers, sc.Err()
}

// Write replaces the file's content with text, atomically and fsync'd,
// keeping the lock.
func (nc *NodesConf) Write(text string) error {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	fail := func(err error) error { return fmt.Errorf("cluster: save %s: %w", nc.path, err) }
	if nc.closed {
		return fail(os.ErrClosed) // the lock is gone: another node may own the file now
	}
	tmp := nc.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fail(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fail(err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fail(err)
	}
	if err := os.Rename(tmp, nc.path); err != nil {
		f.Close()
		return fail(err)
	}
	if d, err := os.Open(filepath.Dir(nc.path)); err == nil {
		_ = d.Sync() // the rename itself reaches the disk
		d.Close()
	}
	old := nc.f
	nc.f = f
	return old.Close()
}

// Path is the file's path.
func (nc *NodesConf) Path() string { return nc.path }

// Close releases the lock; later writes fail.
func (nc *NodesConf) Close() error {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.closed {
		return nil
	}
	nc.closed = true
	return nc.f.Close()
}
