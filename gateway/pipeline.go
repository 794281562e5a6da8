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
// commit. When a batchable command (ADDJOB, GETJOB on one queue, ACKJOB or
// FASTACK of one ID) has more commands behind it, the run of batchable
// commands that follows it is taken from redcon's pipeline and handed to the
// node in one AskBatch: one message per queue actor. Replies are written in
// order; the commands after the run are dispatched as usual (and may batch
// again). Admission (auth,
// MISCONF, OOM) is decided once for the run: the same connection state holds
// for all of it. A command whose arguments are wrong does not join: it ends
// the run and gets its error in order.
//
// A consumer's pipeline of blocking GETJOBs on one queue batches too, as a
// run of GETJOBs on that queue only: each is first tried without blocking,
// as cmdGETJOB does alone. The replies go out up to the first one that
// found no job; it and the GETJOBs behind it then run one by one (that one
// blocks, watching the socket), and whatever a later try took in the
// meantime goes back to the head of the queue. A blocking GETJOB never
// shares a run with other commands, so none of them can run before it
// would have returned.

// maxBatch bounds one batch, so a huge pipeline still interleaves with other
// clients' commands at its queue actors.
const maxBatch = 512

func batchADDJOB(b *batchBufs, args [][]byte) (proto.Message, bool) {
	m := reuse(&b.adds)
	return m, parseADDJOBInto(m, args) == nil
}

func batchGETJOB(b *batchBufs, args [][]byte) (proto.Message, bool) {
	m := reuse(&b.gets)
	err := parseGETJOBInto(m, args)
	return m, err == nil && len(m.Queues) == 1
}

// getQueue is the queue of a batched GETJOB, and whether it may block.
func getQueue(m proto.Message) (queue string, isGet, blocking bool) {
	if g, ok := m.(*protocol.GetJob); ok {
		return g.Queues[0], true, !g.Nohang
	}
	return "", false, false
}

// batchACKJOB batches an ACKJOB of one well-formed ID; several IDs, or a
// bad one, run alone. batchFASTACK is the same for FASTACK.
func batchACKJOB(b *batchBufs, args [][]byte) (proto.Message, bool) {
	m := reuse(&b.acks)
	return m, oneID(&m.Ids, args)
}

func batchFASTACK(b *batchBufs, args [][]byte) (proto.Message, bool) {
	m := reuse(&b.fastAcks)
	return m, oneID(&m.Ids, args)
}

// oneID sets *ids to the one ID of args, if args has one well-formed ID.
func oneID(ids *[]string, args [][]byte) bool {
	if len(args) != 2 || !validJobID(args[1]) {
		return false
	}
	*ids = append((*ids)[:0], string(args[1]))
	return true
}

// batchBufs is a connection's reusable room for its batches: the requests
// and the messages they point to. A batch is done with all of them before
// runBatch returns (the node copies what it keeps), so the next batch
// overwrites them: no allocation per command for the batch itself.
type batchBufs struct {
	reqs     []proto.Message
	cmds     []*command
	args     [][][]byte
	adds     []protocol.AddJob
	gets     []protocol.GetJob
	acks     []protocol.AckJob
	fastAcks []protocol.FastAck
	// probes are the indexes of the blocking GETJOBs of the batch, tried
	// without blocking.
	probes []int
}

// reuse returns the next unused message of *pool, growing it when full
// (messages handed out before a growth stay where they are).
func reuse[M any](pool *[]M) *M {
	p := *pool
	if len(p) == cap(p) {
		p = append(p, *new(M))[:len(p)]
	}
	p = p[:len(p)+1]
	*pool = p
	return &p[len(p)-1]
}

// reset makes the buffers ready for the next batch, dropping the
// references the last one left (arguments, bodies) so that they do not
// outlive it. The pools stay within maxBatch+1 messages.
func (b *batchBufs) reset() {
	clear(b.reqs)
	clear(b.args)
	clear(b.adds)
	for i := range b.gets {
		b.gets[i] = protocol.GetJob{Queues: emptied(b.gets[i].Queues)}
	}
	for i := range b.acks {
		b.acks[i] = protocol.AckJob{Ids: emptied(b.acks[i].Ids)}
	}
	for i := range b.fastAcks {
		b.fastAcks[i] = protocol.FastAck{Ids: emptied(b.fastAcks[i].Ids)}
	}
	b.reqs, b.cmds, b.args = b.reqs[:0], b.cmds[:0], b.args[:0]
	b.adds, b.gets, b.acks, b.fastAcks = b.adds[:0], b.gets[:0], b.acks[:0], b.fastAcks[:0]
	b.probes = b.probes[:0]
}

// emptied is l cleared, with its room kept.
func emptied(l []string) []string {
	clear(l)
	return l[:0]
}

// runBatch runs cmd and the batchable commands behind it; false when there
// is nothing to batch (cmd is then run alone by the caller).
func (s *Server) runBatch(c *client, cmd *command, first redcon.Command) bool {
	b := &c.batch
	m, ok := cmd.batch(b, first.Args)
	if !ok {
		b.reset()
		return false
	}
	next := c.conn.PeekPipeline()
	reqs := append(b.reqs, m)
	cmds := append(b.cmds, cmd)
	args := append(b.args, first.Args)
	inBytes := 0
	// A run with a blocking GETJOB holds GETJOBs on one queue only.
	q0, allGets, blocking := getQueue(m)
	for _, nx := range next {
		if len(reqs) == maxBatch || len(nx.Args) == 0 {
			break
		}
		ncmd := s.lookup(nx.Args[0])
		if ncmd == nil || ncmd.batch == nil ||
			(ncmd.arity > 0 && len(nx.Args) != ncmd.arity) || len(nx.Args) < -ncmd.arity {
			break
		}
		nm, ok := ncmd.batch(b, nx.Args)
		if !ok {
			break
		}
		q, isGet, nb := getQueue(nm)
		allGets = allGets && isGet && q == q0
		blocking = blocking || nb
		if blocking && !allGets {
			break
		}
		reqs = append(reqs, nm)
		cmds = append(cmds, ncmd)
		args = append(args, nx.Args)
		inBytes += len(nx.Raw)
	}
	b.reqs, b.cmds, b.args = reqs, cmds, args // kept for the next batch
	if len(reqs) == 1 {
		b.reset()
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
	for i, r := range reqs {
		if g, ok := r.(*protocol.GetJob); ok && !g.Nohang {
			b.probes = append(b.probes, i)
			g.Nohang = true // tried without blocking first
		}
	}
	replies := s.node.AskBatch(c.ctx, reqs)
	if clustered {
		c.waitEnd()
	}
	// A blocking GETJOB that found no job ends what this batch answers.
	cut := len(reqs)
	for _, i := range b.probes {
		if jobs, ok := replies[i].(*protocol.Jobs); ok && len(jobs.Jobs) == 0 {
			cut = i
			break
		}
	}
	for i, r := range replies {
		jobs, isJobs := r.(*protocol.Jobs)
		switch {
		case i >= cut:
			if isJobs {
				for _, j := range jobs.Jobs {
					s.node.GiveBack(j) // taken by a try whose GETJOB runs again
				}
			}
		case isJobs:
			g := reqs[i].(*protocol.GetJob)
			c.append(func(b []byte) []byte { return appendJobs(b, jobs, g.Withcounters, true) })
		default:
			c.reply(r)
		}
	}
	d := time.Since(start)
	each := d / time.Duration(len(reqs))
	for i, cm := range cmds[:cut] {
		cm.calls.Add(1)
		cm.usec.Add(each.Microseconds())
		s.record(cm, args[i], each)
	}
	if cut > 0 {
		c.lastCmd.Store(cmds[cut-1].name)
		c.lastAt.Store(time.Now().UnixMilli())
	}
	// Counted and shown to MONITOR with the batch, the GETJOBs from the cut
	// on run alone, in order.
	for i := cut; i < len(reqs); i++ {
		s.call(c, cmds[i], args[i])
	}
	b.reset() // before the rest, which may batch again
	for _, rc := range rest {
		s.dispatch(c.conn, rc)
	}
	return true
}
