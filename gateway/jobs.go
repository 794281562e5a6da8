package gateway

import (
	"time"

	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol"
)

// ---------------------------------- Job commands -----------------------------
//
// ADDJOB GETJOB ACKJOB FASTACK NACK WORKING SHOW DELJOB ENQUEUE DEQUEUE.
// Each handler: >> Args (a pure parser), >> Operation (ask the node),
// >> Response (the exact RESP shape of SPEC.md §5).

func (s *Server) jobCommands() []*command {
	return []*command{
		{name: "addjob", arity: -4, flags: []string{"write", "denyoom", "fast"}, fn: s.cmdADDJOB, batch: batchADDJOB},
		{name: "getjob", arity: -2, flags: []string{"write", "fast"}, fn: s.cmdGETJOB, batch: batchGETJOB},
		{name: "ackjob", arity: -1, flags: []string{"write", "fast"}, fn: idList(s, parseACKJOB), batch: batchACKJOB},
		{name: "fastack", arity: -1, flags: []string{"write", "fast"}, fn: idList(s, parseFASTACK), batch: batchFASTACK},
		{name: "nack", arity: -1, flags: []string{"write", "denyoom", "fast"}, fn: idList(s, parseNACK)},
		{name: "enqueue", arity: -1, flags: []string{"write", "denyoom", "fast"}, fn: idList(s, parseENQUEUE)},
		{name: "dequeue", arity: -1, flags: []string{"write", "fast"}, fn: idList(s, parseDEQUEUE)},
		{name: "deljob", arity: -1, flags: []string{"write", "fast"}, fn: idList(s, parseDELJOB)},
		{name: "working", arity: 2, flags: []string{"write", "fast"}, fn: idList(s, parseWORKING)},
		{name: "show", arity: 2, flags: []string{"readonly", "fast"}, fn: idList(s, parseSHOW)},
		{name: "loadjob", arity: 2, flags: []string{"write"}, fn: s.cmdLOADJOB},
	}
}

// ADDJOB queue body ms-timeout [REPLICATE n] [DELAY sec] [RETRY sec] [TTL sec] [MAXLEN n] [ASYNC]
func (s *Server) cmdADDJOB(c *client, args [][]byte) {
	// >> Args
	m, err := parseADDJOB(args)
	if err != nil {
		c.err(err)
		return
	}
	s.breakAdd(m) // nothing, unless the node is broken on purpose
	// >> Operation. An ADDJOB that may wait for its replication is
	// abandoned if the client disconnects meanwhile: the node cleans the
	// job up as on a timeout, and nobody is answered (SPEC.md §5.1).
	if m.Async || !s.node.Clustered() {
		c.reply(s.node.Ask(c.ctx, m))
		return
	}
	c.waitBegin(addJobGrace)
	r := s.node.Ask(c.ctx, m)
	if c.waitEnd() {
		return
	}
	// >> Response: the ID as a status reply, or an error.
	c.reply(r)
}

// addJobGrace is how long a replicated ADDJOB runs before the gateway
// watches for its client's disconnection: longer than a replication takes
// when every node answers, so that only the ones that wait pay for it.
const addJobGrace = 10 * time.Millisecond

// GETJOB [NOHANG] [TIMEOUT ms] [COUNT n] [WITHCOUNTERS] FROM q1 [q2 ...]
func (s *Server) cmdGETJOB(c *client, args [][]byte) {
	// >> Args
	m, err := parseGETJOB(args)
	if err != nil {
		c.err(err)
		return
	}
	// >> Operation. Most GETJOBs find a job at once: try without blocking
	// first, and pay for watching the socket (a goroutine and several
	// syscalls) only when this connection is about to block until a job,
	// the timeout, or the client's disconnection.
	if !m.Nohang {
		probe := *m
		probe.Nohang = true
		r := s.node.Ask(c.ctx, &probe)
		if jobs, ok := r.(*protocol.Jobs); !ok || len(jobs.Jobs) > 0 {
			s.getjobReply(c, m, r)
			return
		}
	}
	if m.Nohang {
		s.getjobReply(c, m, s.node.Ask(c.ctx, m))
		return
	}
	ctx, stop := c.watchDisconnect()
	r := s.node.Ask(ctx, m)
	gone := stop()
	if jobs, ok := r.(*protocol.Jobs); ok && gone && len(jobs.Jobs) > 0 {
		// The client left while the job was on its way: nobody would read
		// it, so it goes back to the head of its queue.
		for _, j := range jobs.Jobs {
			s.node.GiveBack(j)
		}
		return
	}
	s.getjobReply(c, m, r)
}

// getjobReply writes GETJOB's answer: jobs, or a null multibulk.
func (s *Server) getjobReply(c *client, m *protocol.GetJob, r any) {
	if jobs, ok := r.(*protocol.Jobs); ok {
		c.append(func(b []byte) []byte { return appendJobs(b, jobs, m.Withcounters, true) })
		return
	}
	c.reply(r)
}

// idList makes the handler of a command whose arguments are job IDs:
// ACKJOB FASTACK NACK ENQUEUE DEQUEUE DELJOB (all validated first, SPEC.md
// §3) and WORKING SHOW (one ID).
func idList[M proto.Message](s *Server, parse func([][]byte) (M, error)) func(*client, [][]byte) {
	return func(c *client, args [][]byte) {
		m, err := parse(args)
		if err != nil {
			c.err(err)
			return
		}
		c.reply(s.node.Ask(c.ctx, m))
	}
}

// LOADJOB is only valid inside the append-only file.
func (s *Server) cmdLOADJOB(c *client, args [][]byte) { c.err(ErrLoadJob) }
