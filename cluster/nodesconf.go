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
	"strings"
	"syscall"

	"github.com/godisque/godisque/protocol"
)

// ---------------------------------- nodes.conf -------------------------------
//
// The file has CLUSTER NODES' line format, one node a line:
//
//	<id> <ip>:<port> <flags> <ping_sent> <pong_recv> <connected|disconnected>
//
// with `myself` among the flags of the node's own line. It is locked
// (flock) for the lifetime of the process, so two nodes never share one.

// ErrLocked says another process holds the file.
var ErrLocked = errors.New("cluster: nodes.conf is used by another node")

// NodesConf is an open, locked nodes.conf.
type NodesConf struct {
	path string
	f    *os.File
	// Myself is this node's ID, read from the file or made for it.
	Myself string
}

// OpenNodesConf opens (creating it if needed) and locks path. When the file
// names no node as myself, a new ID is made from rnd and written.
func OpenNodesConf(path string, port int, rnd io.Reader) (*NodesConf, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cluster: open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (%s): %v", ErrLocked, path, err)
	}
	nc := &NodesConf{path: path, f: f}
	data, err := io.ReadAll(f)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: read %s: %w", path, err)
	}
	nc.Myself, err = parseMyself(data)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: %s: %w", path, err)
	}
	if nc.Myself == "" {
		if nc.Myself, err = protocol.NewNodeID(rnd); err != nil {
			nc.Close()
			return nil, err
		}
		if err := nc.Save(port); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return nc, nil
}

func parseMyself(data []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] == "vars" {
			continue
		}
		if len(f) < 3 {
			return "", fmt.Errorf("line %d: want at least 3 fields, got %q", line, sc.Text())
		}
		for _, flag := range strings.Split(f[2], ",") {
			if flag == "myself" {
				if !protocol.ValidNodeID(f[0]) {
					return "", fmt.Errorf("line %d: invalid node ID %q", line, f[0])
				}
				return f[0], nil
			}
		}
	}
	return "", sc.Err()
}

// Save rewrites the file with this node's line, in place and fsync'd.
func (nc *NodesConf) Save(port int) error {
	line := fmt.Sprintf("%s :%d myself 0 0 connected\n", nc.Myself, port)
	if err := nc.f.Truncate(0); err != nil {
		return fmt.Errorf("cluster: save %s: %w", nc.path, err)
	}
	if _, err := nc.f.WriteAt([]byte(line), 0); err != nil {
		return fmt.Errorf("cluster: save %s: %w", nc.path, err)
	}
	return nc.f.Sync()
}

// Close releases the lock.
func (nc *NodesConf) Close() error { return nc.f.Close() }
