package gateway

import (
	"fmt"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------ A broken node -----------------------------------
//
// The chaos playground claims that it catches a cluster that loses jobs. A
// claim like that needs a cluster that does lose them, on purpose: a
// Breakage is a deliberate bug a node can be started with, for testing
// only. cmd/disque-server reads it from the environment variable
// GODISQUE_CHAOS_BROKEN, which no configuration file or command can set;
// an unset variable is a correct node.

// Breakage names a deliberate bug. The zero value is none.
type Breakage string

// The deliberate bugs.
const (
	// AckBeforeReplication answers ADDJOB as soon as the receiving node
	// holds the job, without replicating it, whatever REPLICATE asked
	// for: the client believes its job has n copies when it has one, and
	// the job dies with that node's memory (kill -9 without an AOF).
	AckBeforeReplication Breakage = "ack-before-replication"
)

// ParseBreakage reads a Breakage; "" is none.
func ParseBreakage(s string) (Breakage, error) {
	switch b := Breakage(s); b {
	case "", AckBeforeReplication:
		return b, nil
	}
	return "", fmt.Errorf("gateway: unknown breakage %q (known: %s)", s, AckBeforeReplication)
}

// breakTable changes the command table of a broken node: ADDJOB no longer
// joins pipelined batches, so that every ADDJOB goes through cmdADDJOB and
// breakAdd.
func (s *Server) breakTable() {
	if s.opts.Broken == AckBeforeReplication {
		s.table["addjob"].batch = nil
	}
}

// breakAdd applies the node's Breakage to a parsed ADDJOB.
func (s *Server) breakAdd(m *protocol.AddJob) {
	if s.opts.Broken == AckBeforeReplication {
		m.Replicate = 1
		m.Async = false
	}
}
