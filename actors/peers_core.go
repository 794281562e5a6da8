package actors

import (
	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol"
)

// ----------------------------- The cluster protocol ---------------------------
//
// What a queue core does with the other nodes of its cluster (SPEC.md
// §10-§13): replication of new jobs (REPLJOB/GOTJOB), the requeue
// negotiation (WILLQUEUE/QUEUED/WORKING), the garbage collection of
// acknowledged jobs (SETACK/GOTACK/DELJOB) and federation (NEEDJOBS/
// YOURJOBS). As everywhere in the core, nothing here sends: messages go to
// the outbox as Send effects, which the queue actor stamps with the node's
// identity and hands to the Bus. Every exchange tolerates loss: the side
// that waits re-sends on its own schedule (replication every 50 ms, GC with
// back-off, federation with back-off), because the Link is at-most-once.

// Peers is the core's read-only view of the cluster. nil: the node is alone.
type Peers interface {
	Reachable() []string // other nodes replication may use now
	Others() []string    // every other known node
	Size() int           // known nodes, myself included
}

// Send is a message for other nodes, by node ID.
type Send struct {
	To  []string
	Msg proto.Message
}

// AddDone answers a synchronously replicated ADDJOB that was waiting: Err
// nil means the job's ID.
type AddDone struct {
	ID  string
	Err *protocol.Error
}

func (Send) effect()    {}
func (AddDone) effect() {}

// Errors of a replicated ADDJOB (SPEC.md §5.1).
var (
	errReplTimeout = &protocol.Error{Text: "NOREPL Timeout reached before replicating to the requested number of nodes"}
	errReplRemoved = &protocol.Error{Text: "NOREPL job removed (expired?) before the requested replication level was achieved"}
)

// Tunables of SPEC.md §10-§13.
const (
	replRetryMs      = 50      // one more replication target this often while waiting
	gcFirstMs        = 1000    // first ack GC retry
	gcMaxMs          = 180_000 // longest ack GC back-off
	needBcastMs      = 2000    // NEEDJOBS broadcast back-off base
	needBcastMaxMs   = 30_000
	needAdhocMs      = 25 // ad-hoc NEEDJOBS back-off base
	needAdhocMaxMs   = 2000
	respondersWindow = 5000 // a responder counts this long after it last sent jobs
	waiterCronMs     = 1000 // a blocked client asks for jobs this often
)

func (q *Queue) peers() Peers { return q.env.Peers }

func (q *Queue) clustered() bool { return q.env.Peers != nil && q.env.Peers.Size() > 1 }

func (q *Queue) me() string { return q.env.NodeID() }

// send queues msg for every node of to but myself; a node alone sends
// nothing.
func (q *Queue) send(to []string, msg proto.Message) {
	if q.env.Peers == nil {
		return
	}
	me := q.me()
	var list []string
	for _, n := range to {
		if n != me && n != "" {
			list = append(list, n)
		}
	}
	if len(list) > 0 {
		q.emit(Send{To: list, Msg: msg})
	}
}

// addDelivered adds a node to a job's nodes_delivered, keeping the memory
// books right (the list is part of the job's cost) and never writing into
// a backing array another job may share.
func (q *Queue) addDelivered(j *Job, id string) bool {
	return q.addDeliveredAll(j, []string{id}) > 0
}

// addDeliveredAll is addDelivered for several nodes: the list grows once,
// to its exact new length. It returns how many were new.
func (q *Queue) addDeliveredAll(j *Job, ids []string) int {
	old := j.Delivered()
	isNew := func(i int) bool {
		id := ids[i]
		return id != "" && !containsNode(old, id) && !containsNode(ids[:i], id)
	}
	k := 0
	for i := range ids {
		if isNew(i) {
			k++
		}
	}
	if k == 0 {
		return 0
	}
	registered := j.heapIdx >= 0
	if registered {
		q.env.Mem.Add(-j.cost())
	}
	grown := append(make([]string, 0, len(old)+k), old...)
	for i, id := range ids {
		if isNew(i) {
			grown = append(grown, id)
		}
	}
	j.shareDelivered(q.names.list(grown))
	if registered {
		q.env.Mem.Add(j.cost())
	}
	return k
}

// Disque's nodes_confirmed of a job (SPEC.md §12): the nodes that
// confirmed holding a copy while the job waits for its replication, or the
// ack while an acked job is collected. It lives beside the job, not in it:
// most jobs never have one, and every resting job would pay for the field.

func (q *Queue) confirmedOf(j *Job) []string { return q.confirmed[j.ID] }

// setConfirmed replaces the list; nil forgets it.
func (q *Queue) setConfirmed(j *Job, ids []string) {
	if ids == nil {
		delete(q.confirmed, j.ID)
		if len(q.confirmed) == 0 && q.confPeak >= shrinkMin {
			// A map never shrinks: drop one that held a backlog once it
			// has drained (a small one is cheaper kept than made again).
			q.confirmed, q.confPeak = nil, 0
		}
		return
	}
	if q.confirmed == nil {
		q.confirmed = make(map[string][]string)
	}
	q.confirmed[j.ID] = ids
	q.confPeak = max(q.confPeak, len(q.confirmed))
}

func (q *Queue) addConfirmed(j *Job, id string) {
	if c := q.confirmedOf(j); !containsNode(c, id) {
		q.setConfirmed(j, append(c[:len(c):len(c)], id))
	}
}

// ------------------------------- Replication ---------------------------------

// replWait is an ADDJOB waiting for its job to reach repl copies.
type replWait struct {
	deadline int64 // 0: until the job expires
	next     int64 // when to add one more target
	external bool  // this node keeps no copy (LEAVING, memory)
}

// AddReplicated is ADDJOB's part for a job that needs other nodes (SPEC.md
// §5.1 step 10): ASYNC or synchronous, with or without a local copy. It
// answers (done true) at once, or later by an AddDone effect.
func (q *Queue) AddReplicated(now int64, j *Job, o AddOptions) (done bool, err *protocol.Error) {
	if err := q.admit(o.Maxlen); err != nil {
		return true, err
	}
	additional := int(j.Repl) - 1
	if o.External {
		additional = int(j.Repl)
		j.setDelivered(nil)
	}
	if o.Async {
		if o.External {
			// Never registered here: copies elsewhere, one of them queues it.
			targets := q.pickTargets(j, additional)
			j.shareDelivered(q.names.list(targets))
			q.send(targets, &protocol.ReplJob{Job: q.wireJob(now, j), Noreply: true})
			if len(targets) > 0 {
				pick := targets[q.env.Rand.IntN(len(targets))]
				q.send([]string{pick}, &protocol.EnqueueJob{Id: j.ID, Delay: j.Delay})
			}
			return true, nil
		}
		if err := q.Add(now, j, 0); err != nil {
			return true, err
		}
		q.replicate(now, j, additional, true)
		return true, nil
	}
	j.State = StateWaitRepl
	if !q.register(j) {
		return true, &protocol.Error{Text: "ERR Internal error creating the job, check server logs"}
	}
	if !o.External {
		q.setConfirmed(j, []string{q.me()})
	}
	w := &replWait{next: now + replRetryMs, external: o.External}
	if o.TimeoutMs > 0 {
		w.deadline = now + o.TimeoutMs
	}
	if q.waits == nil {
		q.waits = make(map[string]*replWait)
	}
	q.waits[j.ID] = w
	if q.replDue == 0 || w.next < q.replDue {
		q.replDue = w.next
	}
	q.replicate(now, j, additional, false)
	return false, nil
}

// AddOptions are ADDJOB's options the queue needs.
type AddOptions struct {
	Maxlen    int64
	TimeoutMs int64
	Async     bool
	External  bool
}

// pickTargets chooses up to n reachable nodes not yet in nodes_delivered,
// in random order (SPEC.md §10: Fisher-Yates over the reachable nodes).
func (q *Queue) pickTargets(j *Job, n int) []string {
	if n <= 0 || q.peers() == nil {
		return nil
	}
	cand := append([]string(nil), q.peers().Reachable()...)
	for i := len(cand) - 1; i > 0; i-- {
		k := q.env.Rand.IntN(i + 1)
		cand[i], cand[k] = cand[k], cand[i]
	}
	var out []string
	for _, c := range cand {
		if len(out) == n {
			break
		}
		if c != q.me() && !containsNode(j.Delivered(), c) {
			out = append(out, c)
		}
	}
	return out
}

// wireJob is the job as REPLJOB and YOURJOBS carry it: its time left to
// live instead of an absolute expiry, so that clocks need not agree.
func (q *Queue) wireJob(now int64, j *Job) *protocol.Job {
	p := j.ToProto()
	p.TtlMs = max(j.Etime-now, 1000)
	p.EtimeMs, p.QtimeMs = 0, 0
	p.Flags &^= uint32(flagDelivered)
	p.State = protocol.JobState_ACTIVE
	return p
}

// replicate adds up to n new targets to a job's nodes_delivered and sends
// REPLJOB to every holder but myself (SPEC.md §10): those that confirmed
// already get it with NOREPLY, and only when the list grew, so that every
// holder learns the full list.
func (q *Queue) replicate(now int64, j *Job, n int, noreply bool) {
	added := q.pickTargets(j, n)
	q.addDeliveredAll(j, added)
	if len(j.Delivered()) == 0 {
		return
	}
	var ask, tell []string
	for _, id := range j.Delivered() {
		switch {
		case id == q.me():
		case containsNode(q.confirmedOf(j), id):
			if len(added) > 0 {
				tell = append(tell, id)
			}
		default:
			ask = append(ask, id)
		}
	}
	if noreply {
		ask, tell = nil, append(ask, tell...)
	}
	if len(ask) > 0 {
		q.send(ask, &protocol.ReplJob{Job: q.wireJob(now, j)})
	}
	if len(tell) > 0 {
		q.send(tell, &protocol.ReplJob{Job: q.wireJob(now, j), Noreply: true})
	}
}

// replicationTick re-sends for every waiting ADDJOB (one more target each
// 50 ms) and times out those past their deadline. It walks the waits only
// when one is due (replDue), not on every message the queue gets.
func (q *Queue) replicationTick(now int64) {
	if len(q.waits) == 0 || now < q.replDue {
		return
	}
	defer func() { q.replDue = q.nextReplication() }()
	for id, w := range q.waits {
		j := q.lookup(id)
		if j == nil || j.State != StateWaitRepl {
			delete(q.waits, id)
			continue
		}
		if w.deadline != 0 && now >= w.deadline {
			q.failAdd(j, errReplTimeout)
			continue
		}
		if now >= w.next {
			w.next = now + replRetryMs
			q.replicate(now, j, 1, false)
		}
	}
}

// nextReplication is the earliest instant replicationTick has work.
func (q *Queue) nextReplication() int64 {
	var at int64
	for _, w := range q.waits {
		t := w.next
		if w.deadline != 0 && w.deadline < t {
			t = w.deadline
		}
		if at == 0 || t < at {
			at = t
		}
	}
	return at
}

// Abandon is what happens to an ADDJOB whose caller stopped waiting for
// its replication (the client disconnected, an embedder's context ended):
// the same cleanup as a timeout (SPEC.md §5.1 step 10). It does nothing to
// a job that is no longer waiting; true when there was one to abandon.
func (q *Queue) Abandon(id string) bool {
	if _, waiting := q.waits[id]; !waiting {
		return false
	}
	j := q.lookup(id)
	if j == nil || j.State != StateWaitRepl {
		delete(q.waits, id)
		return false
	}
	q.failAdd(j, errReplTimeout)
	return true
}

// failAdd answers a waiting ADDJOB with err, deletes the job here and tells
// every node it was sent to (best effort).
func (q *Queue) failAdd(j *Job, err *protocol.Error) {
	delete(q.waits, j.ID)
	q.emit(AddDone{ID: j.ID, Err: err})
	q.send(j.Delivered(), &protocol.DelJobMsg{Id: j.ID})
	q.remove(j)
}

// replicated is jobReplicationAchieved (SPEC.md §5.1 step 11).
func (q *Queue) replicated(now int64, j *Job) {
	w := q.waits[j.ID]
	delete(q.waits, j.ID)
	q.emit(AddDone{ID: j.ID})
	j.State = StateActive
	if w != nil && w.external {
		var others []string
		for _, id := range q.confirmedOf(j) {
			if id != q.me() {
				others = append(others, id)
			}
		}
		if len(others) > 0 {
			pick := others[q.env.Rand.IntN(len(others))]
			q.send([]string{pick}, &protocol.EnqueueJob{Id: j.ID, Delay: j.Delay})
		}
		q.remove(j)
		return
	}
	q.setConfirmed(j, nil)
	if j.Delay == 0 {
		q.enqueue(now, j, false)
	} else {
		q.reschedule(j)
	}
	q.persist(j)
}

// GotJob is a GOTJOB: from confirms it holds the job.
func (q *Queue) GotJob(now int64, from, id string) {
	j := q.lookup(id)
	if j == nil || j.State != StateWaitRepl {
		return
	}
	q.addDelivered(j, from)
	q.addConfirmed(j, from)
	if len(q.confirmedOf(j)) >= int(j.Repl) {
		q.replicated(now, j)
	}
}

// ReplJob is a REPLJOB (SPEC.md §10, receiver side). The node has checked
// the sender is known, its memory level and LEAVING. It answers whether to
// reply GOTJOB.
func (q *Queue) ReplJob(now int64, from string, p *protocol.Job, noreply bool) bool {
	if q.pause&PauseIn != 0 {
		return false // no GOTJOB: the sender tries elsewhere
	}
	if j, ok := q.env.Dir.Get(p.Id); ok {
		if j.Queue == q.Name {
			for _, id := range p.NodesDelivered {
				q.addDelivered(j, id)
			}
			q.addDelivered(j, from)
		}
		return !noreply
	}
	j := q.fromWire(now, from, p)
	j.Flags = flagBcastQueued
	if j.Retry > 0 {
		j.Flags |= flagBcastWillQueue
		j.Qtime = now + int64(j.Delay+j.Retry)*1000 + q.jitter()
	} else {
		j.Qtime = 0
	}
	if !q.register(j) {
		return false
	}
	q.persist(j)
	return !noreply
}

// fromWire is a job another node sent (REPLJOB, YOURJOBS) as a new record
// of this queue: active, its expiry re-based on this node's clock from the
// time it had left to live, and held by the sender and by me. The caller
// sets its flags and requeue time, and registers it.
func (q *Queue) fromWire(now int64, from string, p *protocol.Job) *Job {
	j := jobFromProto(p, &q.names)
	j.Queue = q.Name
	j.State = StateActive
	j.Flags = 0
	j.Etime = now + max(p.TtlMs, 1)
	q.addDeliveredAll(j, []string{from, q.me()}) // not registered yet: no accounting
	return j
}

// EnqueueJob is an ENQUEUE from a node that replicated externally: queue the
// job now, or after delay seconds.
func (q *Queue) EnqueueJob(now int64, id string, delay uint32) {
	j := q.lookup(id)
	if j == nil || (j.State != StateWaitRepl && j.State != StateActive) || q.pause&PauseIn != 0 {
		return
	}
	if j.State == StateWaitRepl {
		delete(q.waits, id)
		j.State = StateActive
	}
	j.Flags &^= flagBcastQueued // the first queueing is not a redelivery
	if delay == 0 {
		if j.Qtime == 0 {
			j.Qtime = now
		}
		q.enqueue(now, j, false)
		return
	}
	j.Qtime = now + int64(delay)*1000
	q.reschedule(j)
}

// -------------------------- Requeue negotiation ------------------------------

// WillQueue is a WILLQUEUE: the sender is about to requeue the job (SPEC.md
// §11). A holder that has it queued says so; one that has it acked tells
// the sender.
func (q *Queue) WillQueue(now int64, from, id string) {
	j := q.lookup(id)
	if j == nil {
		return
	}
	switch j.State {
	case StateActive, StateQueued:
		q.addDelivered(j, from)
		if j.State == StateQueued {
			q.send(j.Delivered(), &protocol.Queued{Id: j.ID})
		}
	case StateAcked:
		q.send([]string{from}, &protocol.SetAck{Id: j.ID, MayHave: uint32(len(j.Delivered()))})
	}
}

// Queued is a QUEUED or, working true, a WORKING from another node: the
// sender has the job queued (or a consumer is working on it), so this copy
// steps back and postpones its own requeue. Of two nodes that queued the
// job at once, the one that loses the per-job order of node IDs drops it.
func (q *Queue) Queued(now int64, from string, m *protocol.Queued, working bool) {
	j := q.lookup(m.Id)
	if j == nil {
		return
	}
	if j.State == StateAcked {
		q.send([]string{from}, &protocol.SetAck{Id: j.ID, MayHave: uint32(len(j.Delivered()))})
		return
	}
	if j.State == StateQueued && (working || compareNodes(from, q.me(), j.ID) > 0) {
		q.dequeue(j)
	}
	if j.Retry != 0 {
		j.Flags |= flagBcastWillQueue
		j.Qtime = q.retryAt(now, j)
	}
	if !working {
		if m.IncrNacks {
			j.Nacks++
		}
		if m.IncrDeliveries {
			j.AddDel++
		}
	}
	q.reschedule(j)
}

// compareNodes is Disque's compareNodeIDsByJob: the two node IDs compared
// byte by byte after each byte i is XOR-ed with byte 11+i%24 of the job ID,
// a total order that differs from job to job so that no node always wins.
func compareNodes(a, b, jobID string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		var k byte
		if x := 11 + i%24; x < len(jobID) {
			k = jobID[x]
		}
		ca, cb := a[i]^k, b[i]^k
		if ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	return len(a) - len(b)
}

// ------------------------------ Ack collection -------------------------------

// SetAck is a SETACK (SPEC.md §12, receiver side, job known here).
func (q *Queue) SetAck(now int64, from, id string, mayHave uint32) {
	j := q.lookup(id)
	if j == nil {
		return
	}
	if j.State == StateWaitRepl {
		// Somebody acked it already: replication happened, whatever the count.
		w := q.waits[j.ID]
		delete(q.waits, j.ID)
		q.emit(AddDone{ID: j.ID})
		if w != nil && w.external {
			q.remove(j)
			return
		}
	}
	q.markAcked(now, j)
	if len(j.Delivered()) <= int(mayHave) {
		q.send([]string{from}, &protocol.GotAck{Id: j.ID, Known: true})
		q.reschedule(j)
		return
	}
	if mayHave == 0 {
		q.send([]string{from}, &protocol.GotAck{Id: j.ID, Known: true})
	}
	q.gc(now, j) // I know more owners than the sender: I take over
}

// markAcked turns a job acked here: out of the queue, its deletion logged,
// its first garbage-collection step due in a second (every holder of an
// acked copy runs the GC, so the ack survives the node that started it).
func (q *Queue) markAcked(now int64, j *Job) bool {
	if j.State == StateAcked {
		return false
	}
	if j.State == StateActive || j.State == StateQueued {
		q.unpersist(j)
	}
	q.dequeue(j)
	j.State = StateAcked
	q.setConfirmed(j, nil)
	j.Qtime = now + gcFirstMs + q.jitter()
	q.reschedule(j)
	return true
}

// GotAck is a GOTACK: from has (known) or had not the job acked.
func (q *Queue) GotAck(now int64, from, id string, known bool) {
	j := q.lookup(id)
	if j == nil || j.State != StateAcked {
		return
	}
	dummy := len(j.Delivered()) == 0
	if dummy && known {
		q.remove(j) // an owner took over
		return
	}
	if known || containsNode(j.Delivered(), from) {
		q.addDelivered(j, from)
		q.addConfirmed(j, from)
	}
	if dummy {
		q.addConfirmed(j, from)
		size := 1
		if q.peers() != nil {
			size = q.peers().Size()
		}
		if len(q.confirmedOf(j)) >= size {
			q.remove(j) // nobody knows the job
		}
		return
	}
	if q.allConfirmed(j) {
		q.send(j.Delivered(), &protocol.DelJobMsg{Id: j.ID})
		q.remove(j)
	}
}

func (q *Queue) allConfirmed(j *Job) bool {
	for _, n := range j.Delivered() {
		if !containsNode(q.confirmedOf(j), n) {
			return false
		}
	}
	return true
}

// DelJobMsg is a DELJOB from another node: the job is gone everywhere.
func (q *Queue) DelJobMsg(id string) {
	j := q.lookup(id)
	if j == nil {
		return
	}
	if j.State == StateActive || j.State == StateQueued {
		q.unpersist(j)
	}
	q.remove(j)
}

// DummyAck is ACKJOB of a job this node does not know, in a cluster: a
// body-less acked record with no holders, whose GC asks every node (SPEC.md
// §5.3). ttlMinutes comes from the ID.
func (q *Queue) DummyAck(now int64, id string, ttlMinutes int) {
	if _, known := q.env.Dir.Get(id); known {
		return
	}
	j := &Job{ID: id, Queue: q.Name, State: StateAcked, Ctime: now * 1_000_000,
		Etime: now + int64(ttlMinutes)*60_000, heapIdx: -1}
	if !q.register(j) {
		return
	}
	q.gc(now, j)
}

// -------------------------------- Federation ---------------------------------

// federation is a queue's NEEDJOBS state (SPEC.md §13).
type federation struct {
	bcastAt, adhocAt           int64
	bcastAttempt, adhocAttempt int
	responders                 map[string]int64 // node -> last time it sent jobs
	bucket                     int64            // start of the current 1 s import bucket
	cur, prev                  int64            // jobs imported in the current and previous bucket
	waiterCron                 int64            // next NEEDJOBS for blocked clients
}

// needJobs reasons.
const (
	needClientsWaiting = iota
	needReachedZero
)

// importRate is jobs imported per second over the last two buckets; 0 if
// nothing came for 5 s.
func (f *federation) importRate(now int64) int64 {
	if f.bucket == 0 || now-f.bucket > 5000 {
		return 0
	}
	span := max(50, now-(f.bucket-1000))
	return ((f.prev+f.cur)*1000 + span - 1) / span
}

func (f *federation) imported(now int64, n int64) {
	switch {
	case f.bucket == 0 || now-f.bucket >= 2000:
		f.bucket, f.prev, f.cur = now, 0, n
	case now-f.bucket >= 1000:
		f.bucket, f.prev, f.cur = now, f.cur, n
	default:
		f.cur += n
	}
}

// needJobs is needJobsForQueue: ask other nodes for jobs of this queue,
// broadcasting with back-off and asking recent responders more often.
func (q *Queue) needJobs(now int64, why int, leaving bool) {
	if !q.clustered() || leaving {
		return
	}
	f := &q.fed
	rate := f.importRate(now)
	if why == needReachedZero && rate == 0 {
		return
	}
	var responders []string
	for id, at := range f.responders {
		if now-at > respondersWindow {
			delete(f.responders, id)
			continue
		}
		responders = append(responders, id)
	}
	toFetch := int64(5)
	if len(responders) > 0 {
		toFetch = rate / int64(len(responders))
	}
	toFetch = min(max(toFetch, 5), 100)
	if now-f.bcastAt > backoff(needBcastMs, f.bcastAttempt, needBcastMaxMs) {
		f.bcastAt = now
		f.bcastAttempt++
		q.send(q.peers().Others(), &protocol.NeedJobs{Queue: q.Name, Count: 1})
	}
	if len(responders) > 0 && (why == needReachedZero ||
		now-f.adhocAt > backoff(needAdhocMs, f.adhocAttempt, needAdhocMaxMs)) {
		f.adhocAt = now
		f.adhocAttempt++
		q.send(responders, &protocol.NeedJobs{Queue: q.Name, Count: uint32(toFetch)})
	}
}

func backoff(base int64, attempt int, limit int64) int64 {
	d := base
	for i := 0; i < attempt && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// NeedJobs is a NEEDJOBS: ship some queued jobs to the node that asked,
// unless this node imports the queue itself or it is paused in output.
func (q *Queue) NeedJobs(now int64, from string, count uint32) {
	if q.queued.Len() == 0 || q.fed.importRate(now) > 0 || q.pause&PauseOut != 0 || count == 0 {
		return
	}
	n := int(count)
	if q.queued.Len() < 2*n {
		n = max(q.queued.Len()/2, 1)
	}
	msg := &protocol.YourJobs{}
	var gone []*Job
	for i := 0; i < n; i++ {
		j := q.pop(now)
		if j == nil {
			break
		}
		q.addDelivered(j, from)
		msg.Jobs = append(msg.Jobs, q.wireJob(now, j))
		if j.Retry == 0 {
			gone = append(gone, j)
		}
	}
	for _, j := range gone {
		q.unpersist(j)
		q.remove(j)
	}
	if len(msg.Jobs) > 0 {
		q.send([]string{from}, msg)
	}
}

// YourJobs is a YOURJOBS: jobs moved here from another node; they are
// queued at once and served to blocked clients.
func (q *Queue) YourJobs(now int64, from string, jobs []*protocol.Job) {
	var n int64
	for _, p := range jobs {
		j, known := q.env.Dir.Get(p.Id)
		if known && j.Queue != q.Name {
			continue
		}
		if !known {
			j = q.fromWire(now, from, p)
			j.Qtime = now
			if !q.register(j) {
				continue
			}
		}
		if j.State == StateAcked || j.State == StateWaitRepl {
			continue
		}
		j.Flags &^= flagBcastQueued // a move, not a redelivery
		if j.Qtime == 0 {
			j.Qtime = now // at most once: it may be queued once here
		}
		if q.enqueue(now, j, false) {
			n++
		}
	}
	f := &q.fed
	if f.responders == nil {
		f.responders = make(map[string]int64)
	}
	if _, seen := f.responders[from]; !seen {
		f.bcastAttempt = 0
	}
	f.responders[from] = now
	f.imported(now, n)
	f.adhocAttempt = 0
}

// PauseMsg is PAUSE ... BCAST from another node: the same pause state here.
func (q *Queue) PauseMsg(now int64, flags uint32) {
	q.Pause(now, flags, true)
}
