package gateway

import (
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/godisque/godisque/protocol"
)

// -------------------------------- DEBUG LINK ---------------------------------
//
// DEBUG LINK drives the faults of the node's cluster.Link at run time, so
// that another process (the chaos playground, a test harness) can partition,
// slow down or lossify a running cluster over plain RESP. Faults apply to
// what this node sends; a partition is every node told to block the nodes of
// the other side. A godisque extension: Disque has no such command.

// Errors of DEBUG LINK. Wrong arity and unknown subcommands get DEBUG's own
// error, naming "LINK <subcommand>" as the client sent it.
const (
	ErrNoLink          Error = "ERR this node has no cluster link"
	ErrLinkProbability Error = "ERR probability must be a number between 0 and 1"
	ErrLinkDelay       Error = "ERR delay and jitter must be integers of milliseconds between 0 and 3600000"
)

// errLinkAddr: BLOCKADDR or UNBLOCKADDR of something that is not host:port.
func errLinkAddr(addr string) Error {
	return Error("ERR Invalid bus address '" + addr + "', want host:port")
}

// maxLinkDelayMs bounds DELAY and its jitter: an hour.
const maxLinkDelayMs = 3_600_000

// linkOp is one parsed DEBUG LINK command.
type linkOp struct {
	verb          string   // the subcommand, lower case
	targets       []string // node IDs or bus addresses
	p             float64  // DROP, DUP
	delay, jitter time.Duration
}

// DEBUG LINK STATUS
// DEBUG LINK HEAL
// DEBUG LINK BLOCK node-id [node-id ...]
// DEBUG LINK UNBLOCK node-id [node-id ...]
// DEBUG LINK BLOCKADDR host:busport [host:busport ...]
// DEBUG LINK UNBLOCKADDR host:busport [host:busport ...]
// DEBUG LINK DROP probability
// DEBUG LINK DUP probability
// DEBUG LINK DELAY ms [jitter-ms]
//
// >> Args: node IDs are 40 lower-case hex characters; probabilities are
// numbers in 0..1; DELAY and its jitter are milliseconds, 0..3600000 (the
// jitter defaults to 0). A command with one bad argument changes nothing.
//
// >> Operation: STATUS reads Link.Status; HEAL removes every fault and
// block; BLOCK and UNBLOCK add and remove node IDs from the blocked set,
// BLOCKADDR and UNBLOCKADDR bus addresses (a node in handshake has no ID
// yet); DROP, DUP and DELAY each set one fault and keep the others.
//
// >> Response: STATUS a bulk string, one line per rule; the others +OK.
// A node started without a cluster link answers -ERR this node has no
// cluster link.
func (s *Server) debugLINK(c *client, args [][]byte) {
	op, err := parseDebugLink(args)
	if err != nil {
		c.err(err)
		return
	}
	l := s.opts.Link
	if l == nil {
		c.err(ErrNoLink)
		return
	}
	switch op.verb {
	case "status":
		c.conn.WriteBulkString(l.Status())
		return
	case "heal":
		l.Heal()
	case "block":
		l.Block(op.targets...)
	case "unblock":
		l.Unblock(op.targets...)
	case "blockaddr":
		l.BlockAddr(op.targets...)
	case "unblockaddr":
		l.UnblockAddr(op.targets...)
	case "drop", "dup", "delay":
		f := l.Faults()
		switch op.verb {
		case "drop":
			f.Drop = op.p
		case "dup":
			f.Dup = op.p
		default:
			f.Delay, f.Jitter = op.delay, op.jitter
		}
		l.SetFaults(f)
	}
	c.status("OK")
}

// parseDebugLink parses DEBUG LINK's arguments (args[0] is DEBUG).
func parseDebugLink(args [][]byte) (linkOp, error) {
	if len(args) < 3 {
		return linkOp{}, errUnknownDebug(string(args[1]))
	}
	op := linkOp{verb: lower(args[2])}
	rest := args[3:]
	arity := errUnknownDebug(string(args[1]) + " " + string(args[2]))
	switch op.verb {
	case "status", "heal":
		if len(rest) != 0 {
			return linkOp{}, arity
		}
	case "block", "unblock":
		if len(rest) == 0 {
			return linkOp{}, arity
		}
		for _, a := range rest {
			if !protocol.ValidNodeID(string(a)) {
				return linkOp{}, ErrInvalidNodeID
			}
			op.targets = append(op.targets, string(a))
		}
	case "blockaddr", "unblockaddr":
		if len(rest) == 0 {
			return linkOp{}, arity
		}
		for _, a := range rest {
			if !validBusAddr(string(a)) {
				return linkOp{}, errLinkAddr(string(a))
			}
			op.targets = append(op.targets, string(a))
		}
	case "drop", "dup":
		if len(rest) != 1 {
			return linkOp{}, arity
		}
		p, err := strconv.ParseFloat(string(rest[0]), 64)
		if err != nil || math.IsNaN(p) || p < 0 || p > 1 {
			return linkOp{}, ErrLinkProbability
		}
		op.p = p
	case "delay":
		if len(rest) < 1 || len(rest) > 2 {
			return linkOp{}, arity
		}
		ms := [2]int64{}
		for i, a := range rest {
			n, ok := parseLongLong(a)
			if !ok || n < 0 || n > maxLinkDelayMs {
				return linkOp{}, ErrLinkDelay
			}
			ms[i] = n
		}
		op.delay, op.jitter = time.Duration(ms[0])*time.Millisecond, time.Duration(ms[1])*time.Millisecond
	default:
		return linkOp{}, arity
	}
	return op, nil
}

// validBusAddr reports whether a is host:port with a host and a port in
// 1..65535.
func validBusAddr(a string) bool {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" || strings.ContainsAny(host, " \t") {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}
