package actors

import (
	"math"
	"slices"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------- Queue commands ------------------------------
//
// One method per client command that a queue answers, Disque's job.c and
// queue.c "commands" chapters. Each takes `now` in unix ms. The node facade
// (node.go) has already parsed and defaulted the arguments and routed IDs to
// the queue that owns them.

// Error replies the queue produces (SPEC.md §6).
var (
	errMaxlen  = &protocol.Error{Text: "MAXLEN Queue is already longer than the specified MAXLEN count"}
	errPaused  = &protocol.Error{Text: "PAUSED Queue paused in input, try later"}
	errNoJob   = &protocol.Error{Text: "NOJOB Job not known in the context of this node."}
	errTooLate = &protocol.Error{Text: "TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery."}
	errLeaving = &protocol.Error{Text: "LEAVING This node is leaving the cluster, please connect to a different one"}
)

// Add is the queue's part of ADDJOB (SPEC.md §5.1 steps 7-11, single copy):
// MAXLEN and PAUSED checks, then the job is registered, and queued now or
// scheduled for its delay. The caller built the job (ID, ctime, etime,
// qtime, retry, delay, repl, delivered).
func (q *Queue) Add(now int64, j *Job, maxlen int64) *protocol.Error {
	if err := q.admit(maxlen); err != nil {
		return err
	}
	j.State = StateActive
	if !q.register(j) {
		return &protocol.Error{Text: "ERR Internal error creating the job, check server logs"}
	}
	if j.Delay == 0 {
		q.enqueue(now, j, false) // creates the queue object; a delayed job does not
	}
	q.persist(j)
	return nil
}

// admit is ADDJOB's queue checks (SPEC.md §5.1 steps 7-8): MAXLEN against
// the local queue, then the input pause.
func (q *Queue) admit(maxlen int64) *protocol.Error {
	if maxlen > 0 && int64(q.queued.Len()) >= maxlen {
		return errMaxlen
	}
	if q.pause&PauseIn != 0 {
		return errPaused
	}
	return nil
}

// Take is GETJOB's non-blocking part for this queue: up to n jobs, oldest
// first, none when paused in output. n 0 only creates the queue object and
// reports how many jobs could be taken.
func (q *Queue) Take(now int64, n int) (items []*protocol.JobItem, available int) {
	var t Taken
	q.TakeInto(now, n, &t)
	return t.Jobs.Jobs, t.Available
}

// Taken is what a take gives: the items, in a GETJOB reply, and how many
// jobs stay queued. The first item and the list of one are stored in it,
// so that a GETJOB of one job needs no allocation beyond the Taken.
type Taken struct {
	Jobs      protocol.Jobs
	Available int
	first     [1]protocol.JobItem
	one       [1]*protocol.JobItem
}

// TakeInto is Take writing into t.
func (q *Queue) TakeInto(now int64, n int, t *Taken) {
	q.touch(now)
	t.Jobs.Jobs, t.Available = nil, 0
	if q.pause&PauseOut != 0 || q.queued.Len() == 0 {
		// Nothing to give: maybe other nodes have some (SPEC.md §13).
		q.needJobs(now, needClientsWaiting, q.leaving())
		return
	}
	if k := min(n, q.queued.Len()); k > 0 {
		block, items := t.first[:], t.one[:]
		if k > 1 {
			block, items = make([]protocol.JobItem, k), make([]*protocol.JobItem, k)
		}
		for i := range block {
			fill(&block[i], q.pop(now))
			items[i] = &block[i]
		}
		t.Jobs.Jobs = items
		if q.queued.Len() == 0 {
			q.needJobs(now, needReachedZero, q.leaving())
		}
	}
	t.Available = q.queued.Len()
}

// Block registers a blocked GETJOB. If a job is already there (it arrived
// between the caller's sweep and now), it is served at once.
func (q *Queue) Block(now int64, w *Waiter) {
	q.touch(now)
	q.waiters = append(q.waiters, w)
	q.blockedDelta(1)
	q.serveWaiters(now)
	if len(q.waiters) > 0 && q.fed.waiterCron == 0 {
		q.fed.waiterCron = now + waiterCronMs
	}
}

// Unblock forgets a waiter that was served elsewhere, timed out or left.
func (q *Queue) Unblock(w *Waiter) {
	for i, x := range q.waiters {
		if x == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			q.blockedDelta(-1)
			return
		}
	}
}

// Kick answers every blocked client with err (nil: an empty reply), as
// Disque does on LEAVING, DEBUG FLUSHALL and CLUSTER RESET.
func (q *Queue) Kick(err *protocol.Error) {
	if err == errLeaving {
		// ADDJOBs waiting for replication are kicked too, and cleaned up.
		for id := range q.waits {
			if j := q.lookup(id); j != nil {
				q.failAdd(j, errLeaving)
			}
		}
	}
	for _, w := range q.waiters {
		q.blockedDelta(-1)
		if w.Claim() {
			q.emit(Deliver{W: w, Wake: Wake{Err: err}})
		}
	}
	q.waiters = nil
}

// Ack is ACKJOB for this queue's IDs (SPEC.md §5.3). It returns how many
// jobs went from not acked to acked. On a node alone, an acked job whose
// every copy is confirmed is deleted at once (the GC step of §12).
func (q *Queue) Ack(now int64, ids []string) int64 {
	var n int64
	for _, id := range ids {
		j := q.lookup(id)
		if j == nil {
			continue
		}
		if j.State == StateWaitRepl {
			// Acked before its replication finished: its ADDJOB succeeds.
			delete(q.waits, j.ID)
			q.emit(AddDone{ID: j.ID})
		}
		if q.markAcked(now, j) {
			n++
		}
		q.gc(now, j)
	}
	return n
}

// gc is one ack garbage-collection step (SPEC.md §12, tryJobGC): with every
// node of nodes_delivered confirmed (always so for a job that never left
// this node), the job is deleted here; otherwise the holders not yet
// confirmed are sent SETACK (every node, for a dummy ack), and the step is
// tried again with a back-off of 1 s doubling to 180 s.
func (q *Queue) gc(now int64, j *Job) {
	dummy := len(j.Delivered()) == 0
	if q.confirmedOf(j) == nil && len(j.Delivered()) == 1 && j.Delivered()[0] == q.me() {
		q.remove(j) // it never left this node: nothing to confirm
		return
	}
	if q.confirmedOf(j) == nil {
		q.setConfirmed(j, []string{q.me()})
	}
	if !dummy && q.allConfirmed(j) {
		q.remove(j)
		return
	}
	if dummy && !q.clustered() {
		q.remove(j)
		return
	}
	if dummy {
		q.send(q.peers().Others(), &protocol.SetAck{Id: j.ID})
	} else {
		var ask []string
		for _, n := range j.Delivered() {
			if !containsNode(q.confirmedOf(j), n) {
				ask = append(ask, n)
			}
		}
		q.send(ask, &protocol.SetAck{Id: j.ID, MayHave: uint32(len(j.Delivered()))})
	}
	if q.gcBackoff == nil {
		q.gcBackoff = make(map[string]int64)
	}
	d := min(max(q.gcBackoff[j.ID]*2, gcFirstMs), gcMaxMs)
	q.gcBackoff[j.ID] = d
	j.Qtime = now + d + q.jitter()
	q.reschedule(j)
}

// FastAck is FASTACK (SPEC.md §5.4): delete every known job, whatever its
// state, and tell every node that may hold it.
func (q *Queue) FastAck(ids []string) int64 {
	for _, id := range ids {
		if j := q.lookup(id); j != nil {
			q.send(j.Delivered(), &protocol.DelJobMsg{Id: j.ID})
		}
	}
	return q.Del(ids)
}

// Del is DELJOB (SPEC.md §5.8): delete known jobs whatever their state. An
// ADDJOB waiting for the job's replication gets NOREPL, and the nodes it
// was sent to are told.
func (q *Queue) Del(ids []string) int64 {
	var n int64
	for _, id := range ids {
		j := q.lookup(id)
		if j == nil {
			continue
		}
		if j.State == StateWaitRepl {
			q.failAdd(j, errReplRemoved)
			n++
			continue
		}
		if j.State == StateActive || j.State == StateQueued {
			q.unpersist(j)
		}
		q.remove(j)
		n++
	}
	return n
}

// Requeue is NACK (nack true) and ENQUEUE (SPEC.md §5.6): queue every known
// active job now. It returns how many were queued.
func (q *Queue) Requeue(now int64, ids []string, nack bool) int64 {
	var n int64
	for _, id := range ids {
		j := q.lookup(id)
		if j == nil || j.State != StateActive {
			continue
		}
		if q.enqueue(now, j, nack) {
			n++
		}
	}
	return n
}

// Dequeue is DEQUEUE (SPEC.md §5.7): queued jobs become active, their
// requeue timer unchanged.
func (q *Queue) Dequeue(ids []string) int64 {
	var n int64
	for _, id := range ids {
		if j := q.lookup(id); j != nil && q.dequeue(j) {
			n++
		}
	}
	return n
}

// Working is WORKING (SPEC.md §5.5): postpone the next delivery by retry
// seconds and answer the retry. Unlike the original, an acked job answers
// NOJOB, as its README describes (DESIGN.md, "Decisions").
func (q *Queue) Working(now int64, id string) (int64, *protocol.Error) {
	j := q.lookup(id)
	if j == nil || j.State == StateAcked {
		return 0, errNoJob
	}
	life := j.Etime - j.ctimeMs()
	if elapsed := now - j.ctimeMs(); life > 0 && elapsed > life/2 {
		return 0, errTooLate
	}
	q.dequeue(j)
	j.Flags |= flagBcastWillQueue
	if j.Retry > 0 {
		j.Qtime = q.retryAt(now, j)
	}
	q.reschedule(j)
	q.send(j.Delivered(), &protocol.WorkingMsg{Id: j.ID})
	return int64(j.Retry), nil
}

// Show is SHOW (SPEC.md §5.9).
func (q *Queue) Show(now int64, id string) *protocol.JobInfo {
	j := q.lookup(id)
	if j == nil {
		return nil
	}
	return q.info(now, j)
}

func (q *Queue) info(now int64, j *Job) *protocol.JobInfo {
	ttl := (j.Etime - now) / 1000
	if ttl < 0 {
		ttl = 0
	}
	in := &protocol.JobInfo{
		Id: j.ID, Queue: j.Queue, HasQueue: j.Queue != dummyQueue, State: protocol.JobState(j.State),
		Repl: uint32(j.Repl), Ttl: ttl, Ctime: j.Ctime, Delay: j.Delay, Retry: j.Retry,
		Nacks: j.Nacks, AdditionalDeliveries: j.AddDel,
		NodesDelivered: append([]string{}, j.Delivered()...),
		NodesConfirmed: append([]string{}, q.confirmedOf(j)...),
		Body:           j.bodyBytes(), HasBody: true,
	}
	// Both are clamped at 0, as the original does for a time already due.
	if j.Qtime != 0 && j.State != StateAcked {
		in.NextRequeueWithin, in.HasNextRequeue = max(0, j.Qtime-now), true
	}
	if j.heapIdx >= 0 {
		in.NextAwakeWithin, in.HasNextAwake = max(0, j.awake-now), true
	}
	return in
}

// Peek is QPEEK (SPEC.md §5.11): oldest first for a positive count, newest
// first for a negative one. No state changes.
func (q *Queue) Peek(count int64) []*protocol.JobItem {
	var items []*protocol.JobItem
	want := count
	if want < 0 {
		want = -want
		if want < 0 { // -MinInt64 overflows; no queue is that long anyway
			want = math.MaxInt64
		}
	}
	visit := func(j *Job) bool {
		items = append(items, item(j))
		return int64(len(items)) < want
	}
	if count > 0 {
		q.queued.Ascend(visit)
	} else if count < 0 {
		q.queued.Descend(visit)
	}
	return items
}

// Stat is QSTAT (SPEC.md §5.12); nil when the queue object does not exist.
func (q *Queue) Stat(now int64) *protocol.QueueInfo {
	if !q.visible {
		return nil
	}
	from := []string{}
	for id, at := range q.fed.responders {
		if now-at <= respondersWindow {
			from = append(from, id)
		}
	}
	slices.Sort(from)
	return &protocol.QueueInfo{
		Found: true, Name: q.Name, Len: int64(q.queued.Len()),
		Age: (now - q.ctime) / 1000, Idle: (now - q.atime) / 1000,
		Blocked: int64(len(q.waiters)), ImportFrom: from, ImportRate: q.fed.importRate(now),
		JobsIn: q.jobsIn, JobsOut: q.jobsOut, Pause: PauseName(q.pause),
	}
}

// Pause is PAUSE (SPEC.md §5.15) for this queue: replace sets the new
// flags; a cleared out-pause wakes blocked clients. It answers the state.
func (q *Queue) Pause(now int64, flags uint32, replace bool) string {
	if replace {
		if flags != 0 {
			q.touch(now)
		}
		q.pause = flags & (PauseIn | PauseOut)
		q.serveWaiters(now)
	}
	return PauseName(q.pause)
}

// PauseFlags is the queue's pause state.
func (q *Queue) PauseFlags() uint32 { return q.pause }

// Flush deletes every record and the queue object (DEBUG FLUSHALL, CLUSTER
// RESET); blocked clients get an empty reply.
func (q *Queue) Flush() {
	q.Kick(nil)
	// Linear, not n log n: the queued index is dropped whole (Delete on an
	// empty tree returns at once), and the heap is emptied from its end,
	// where a removal moves nothing.
	q.queued.Clear(false)
	for len(q.awake) > 0 {
		q.remove(q.awake[len(q.awake)-1])
	}
	q.pause = 0
	q.evict()
}

// evict drops the queue object; its records, if any, stay.
func (q *Queue) evict() {
	if q.visible {
		q.visible = false
		q.env.Mem.Add(-(queueOverhead + int64(len(q.Name))))
		q.env.Visible(-1)
	}
}

// -------------------------------- Scheduling ---------------------------------

// Tick processes every record whose awake time has come (SPEC.md §7) and
// evicts the queue object when it has been idle long enough for the memory
// level. It returns the next instant the queue wants a tick, 0 for never.
func (q *Queue) Tick(now int64, memLevel int) int64 {
	q.replicationTick(now)
	if len(q.waiters) > 0 && q.fed.waiterCron != 0 && now >= q.fed.waiterCron {
		// Blocked clients ask other nodes for jobs about once a second.
		q.fed.waiterCron = now + waiterCronMs
		q.needJobs(now, needClientsWaiting, q.leaving())
	}
	if len(q.waiters) == 0 {
		q.fed.waiterCron = 0
	}
	// At most maxTickJobs per call, like Disque's processJobs, so one huge
	// backlog cannot starve the queue's mailbox; the rest is due at once.
	for i := 0; i < maxTickJobs; i++ {
		j := q.awake.peek()
		if j == nil || j.awake > now {
			break
		}
		before := j.awake
		q.process(now, j)
		if j.heapIdx >= 0 && j.awake <= before && j.awake <= now {
			// A record must move forward or leave the index when processed.
			panic("actors: awake time did not advance for job " + j.ID)
		}
	}
	if q.evictable() && now-q.atime >= idleLimit(memLevel) {
		q.evict()
	}
	return q.NextTick(memLevel)
}

// NextTick is when the queue next needs a Tick: its earliest awake time, or
// the moment its object becomes evictable. 0 means never.
func (q *Queue) NextTick(memLevel int) int64 {
	var at int64
	if j := q.awake.peek(); j != nil {
		at = j.awake
	}
	if r := q.replDue; r != 0 && len(q.waits) > 0 && (at == 0 || r < at) {
		at = r
	}
	if c := q.fed.waiterCron; c != 0 && len(q.waiters) > 0 && q.clustered() && (at == 0 || c < at) {
		at = c
	}
	if q.evictable() {
		if e := q.atime + idleLimit(memLevel); at == 0 || e < at {
			at = e
		}
	}
	return at
}

func (q *Queue) evictable() bool {
	return q.visible && q.queued.Len() == 0 && len(q.waiters) == 0 && q.pause == 0
}

// maxTickJobs bounds the work of one Tick.
const maxTickJobs = 10000

func idleLimit(level int) int64 {
	switch {
	case level >= 2:
		return idleEvictMsLevel2
	case level >= 1:
		return idleEvictMsLevel1
	}
	return idleEvictMs
}

// process is one due record (SPEC.md §7 "Processing a due job").
func (q *Queue) process(now int64, j *Job) {
	if j.Etime <= now {
		if j.State == StateActive || j.State == StateQueued {
			q.unpersist(j)
		}
		q.remove(j)
		return
	}
	if (j.State == StateActive || j.State == StateQueued) && j.Flags&flagBcastWillQueue != 0 &&
		j.Qtime != 0 && j.Qtime-willQueueAdvance <= now {
		// Announce the requeue: a holder that has the job queued, or acked,
		// will say so before this node queues it again (SPEC.md §11).
		j.Flags &^= flagBcastWillQueue
		q.send(j.Delivered(), &protocol.WillQueue{Id: j.ID})
		q.reschedule(j)
		return
	}
	switch {
	case j.State == StateActive && j.Qtime != 0 && j.Qtime <= now:
		if j.Retry != 0 && q.pause&PauseIn != 0 {
			j.Qtime = q.retryAt(now, j)
			q.reschedule(j)
		} else if !q.enqueue(now, j, false) {
			j.Qtime = 0
			q.reschedule(j)
		}
	case j.State == StateQueued && j.Qtime != 0 && j.Qtime <= now && j.Retry != 0:
		j.Flags |= flagBcastWillQueue
		j.Qtime = q.retryAt(now, j)
		q.reschedule(j)
	case j.State == StateAcked:
		q.gc(now, j)
	default:
		q.reschedule(j) // nothing due but expiry
	}
}

// GiveBack puts a job that was handed to a client who vanished before
// reading it back at the head of the queue, as if never delivered.
func (q *Queue) GiveBack(now int64, id string) bool {
	j := q.lookup(id)
	if j == nil || j.State != StateActive {
		return false
	}
	j.State = StateQueued
	j.Flags &^= flagDelivered
	q.touch(now)
	q.queued.ReplaceOrInsert(j)
	if q.jobsOut > 0 {
		q.jobsOut--
	}
	q.reschedule(j)
	q.serveWaiters(now)
	return true
}

// EvictForMemory drops what SPEC.md §14 lets a node drop under memory
// pressure: acked jobs and at-most-once jobs already delivered. It returns
// how many records went.
func (q *Queue) EvictForMemory() int {
	var victims []*Job
	for _, j := range q.awake {
		if j.State == StateAcked || (j.State == StateActive && j.Retry == 0 && j.Flags&flagDelivered != 0) {
			victims = append(victims, j)
		}
	}
	for _, j := range victims {
		if j.State == StateActive || j.State == StateQueued {
			q.unpersist(j)
		}
		q.remove(j)
	}
	return len(victims)
}

// ShowMany is SHOW for several IDs (JSCAN REPLY all and STATE); nil for
// the IDs this queue does not hold.
func (q *Queue) ShowMany(now int64, ids []string) []*protocol.JobInfo {
	out := make([]*protocol.JobInfo, len(ids))
	for i, id := range ids {
		out[i] = q.Show(now, id)
	}
	return out
}

// --------------------------------- Persistence -------------------------------

// Restore registers a job read back from the append-only file (SPEC.md §15,
// with DESIGN.md's fixes). The record's state is the one last logged:
//   - expired or acked: dropped;
//   - queued: queued again at once, its counters untouched (the original
//     made it active and waited a whole retry period);
//   - active and delivered: at least once, it requeues after its retry; at
//     most once (RETRY 0), it is never queued again: its delivery was
//     logged, so a restart cannot hand it out twice;
//   - active and never delivered (a delayed job, or a retry-0 job the
//     original would have stranded, SPEC.md §18.9): queued at its time.
func (q *Queue) Restore(now int64, j *Job) bool {
	if j.Etime <= now || j.State == StateAcked || q.lookup(j.ID) != nil {
		return false
	}
	switch {
	case j.State == StateQueued:
		j.State = StateActive
		if j.Qtime == 0 {
			j.Qtime = now
		}
		if !q.register(j) {
			return false
		}
		j.State = StateQueued
		q.armRequeue(now, j)
		q.touch(now)
		q.queued.ReplaceOrInsert(j)
		q.reschedule(j)
		q.serveWaiters(now)
		return true
	case j.Flags&flagDelivered != 0:
		j.State = StateActive
		if j.Retry > 0 {
			j.Qtime = q.retryAt(now, j)
		} else {
			j.Qtime = 0
		}
	default:
		j.State = StateActive
		if j.Qtime == 0 || j.Qtime < now {
			j.Qtime = now
		}
	}
	return q.register(j)
}

// Snapshot is the live set for an append-only file rewrite: a LOADJOB
// record of every job active or queued here.
func (q *Queue) Snapshot() []*protocol.Job {
	out := make([]*protocol.Job, 0, len(q.awake))
	for _, j := range q.awake {
		if j.State == StateActive || j.State == StateQueued {
			out = append(out, j.ToProto())
		}
	}
	return out
}
