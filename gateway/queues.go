package gateway

import "github.com/godisque/godisque/protocol"

// --------------------------------- Queue commands ----------------------------
//
// QLEN QPEEK QSTAT PAUSE: questions about one local queue (SPEC.md
// §5.10-5.15). None of them creates a missing queue, except PAUSE with a
// state other than none.

func (s *Server) queueCommands() []*command {
	return []*command{
		{name: "qlen", arity: 2, flags: []string{"readonly", "fast"}, fn: idList(s, parseQLEN)},
		{name: "qstat", arity: 2, flags: []string{"readonly", "fast"}, fn: idList(s, parseQSTAT)},
		{name: "pause", arity: -3, flags: []string{"readonly", "fast"}, fn: idList(s, parsePAUSE)},
		{name: "qpeek", arity: 3, flags: []string{"readonly"}, fn: s.cmdQPEEK},
	}
}

// QPEEK queue count
func (s *Server) cmdQPEEK(c *client, args [][]byte) {
	m, err := parseQPEEK(args)
	if err != nil {
		c.err(err)
		return
	}
	r := s.node.Ask(c.ctx, m)
	if jobs, ok := r.(*protocol.Jobs); ok {
		// An empty peek is an empty array, not GETJOB's null.
		c.append(func(b []byte) []byte { return appendJobs(b, jobs, false, false) })
		return
	}
	c.reply(r)
}
