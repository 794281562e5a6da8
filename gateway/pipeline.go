package gateway

import (
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/tidwall/redcon"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------ Pipelined batches ----------------------------
//
// A pipeline is a burst of commands read in one go. Run one by one, each
// ADDJOB would pay its own trip to its queue actor and back: a mailbox
// hop, two goroutine wake-ups, and with the append-only file on its own
// commit. When a batchable command (ADDJOB, GETJOB NOHANG on one queue) has
// more commands behind it, the run of batchable commands that follows it is
// taken from redcon's pipeline and handed to the node in one AskBatch: one
// message per queue actor. Replies are written in order; the commands after
// the run are dispatched as usual (and may batch again). Admission (auth,
// MISCONF, OOM) is decided once for the run: the same connection state holds
// for all of it. A command whose arguments are wrong does not join: it ends
// the run and gets its error in order.

// maxBatch bounds one batch, so a huge pipeline still interleaves with other
// clients' commands at its queue actors.
const maxBatch = 512

func batchADDJOB(args [][]byte) (proto.Message, bool) {
	m, err := parseADDJOB(args)
	return m, err == nil
}

func batchGETJOB(args [][]byte) (proto.Message, bool) {
	m, err := parseGETJOB(args)
	return m, err == nil && m.Nohang && len(m.Queues) == 1
}

// runBatch runs cmd and the batchable commands behind it; false when there
// is nothing to batch (cmd is then run alone by the caller).
func (s *Server) runBatch(c *client, cmd *command, first redcon.Command) bool {
	m, ok := cmd.batch(first.Args)
	if !ok {
		return false
	}
	next := c.conn.PeekPipeline()
	room := min(len(next)+1, maxBatch)
	reqs := append(make([]proto.Message, 0, room), m)
	cmds := append(make([]*command, 0, room), cmd)
	args := append(make([][][]byte, 0, room), first.Args)
	inBytes := 0
	for _, nx := range next {
		if len(reqs) == maxBatch || len(nx.Args) == 0 {
			break
		}
		ncmd := s.lookup(nx.Args[0])
		if ncmd == nil || ncmd.batch == nil ||
			(ncmd.arity > 0 && len(nx.Args) != ncmd.arity) || len(nx.Args) < -ncmd.arity {
			break
		}
		nm, ok := ncmd.batch(nx.Args)
		if !ok {
			break
		}
		reqs = append(reqs, nm)
		cmds = append(cmds, ncmd)
		args = append(args, nx.Args)
		inBytes += len(nx.Raw)
	}
	if len(reqs) == 1 {
		return false
	}
	rest := c.conn.ReadPipeline()[len(reqs)-1:]
	start := time.Now()
	s.stats.commands.Add(int64(len(reqs) - 1)) // dispatch counted the first
	s.stats.netIn.Add(int64(inBytes))
	for i := range reqs {
		s.feedMonitors(c, cmds[i], args[i])
	}
	// Replicated ADDJOBs of a client that leaves are abandoned, as
	// cmdADDJOB's are; the replies then go to a closed socket.
	clustered := s.node.Clustered()
	if clustered {
		c.waitBegin(addJobGrace)
	}
	replies := s.node.AskBatch(c.ctx, reqs)
	if clustered {
		c.waitEnd()
	}
	for i, r := range replies {
		if jobs, ok := r.(*protocol.Jobs); ok {
			g := reqs[i].(*protocol.GetJob)
			c.append(func(b []byte) []byte { return appendJobs(b, jobs, g.Withcounters, true) })
		} else {
			c.reply(r)
		}
	}
	d := time.Since(start)
	each := d / time.Duration(len(reqs))
	for i, cm := range cmds {
		cm.calls.Add(1)
		cm.usec.Add(each.Microseconds())
		s.record(cm, args[i], each)
	}
	c.lastCmd.Store(cmds[len(cmds)-1].name)
	c.lastAt.Store(time.Now().UnixMilli())
	for _, rc := range rest {
		s.dispatch(c.conn, rc)
	}
	return true
}
