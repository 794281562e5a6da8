package actors

import (
	"math/rand/v2"

	"github.com/google/btree"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------- The queue core ------------------------------
//
// Queue is the pure state of one Disque queue and of every job record whose
// queue it is (SPEC.md §7, §8). It has no goroutines, clocks, sockets or
// protoactor imports: its queue actor passes `now` (unix ms) into every call
// and afterwards carries out what the call appended to the outbox (Effects):
// hand a job to a blocked client, persist, send to another node. The same
// core runs in table tests with a fixed clock.
//
// In Disque a job exists independently of its queue object: the queue holds
// only the queued jobs, and an idle empty queue is garbage-collected while
// active jobs of that name live on. Here the queue actor owns every record of
// its name, so the Disque-visible queue object is the `visible` flag: QSTAT,
// QSCAN and registered_queues see a queue only while it is visible, and the
// actor retires only when it is invisible and holds no record at all.

// Env is what a queue core needs from its node: identity, the shared
// directory, memory accounting and randomness. Nothing in it reads a clock.
type Env struct {
	NodeID func() string
	Dir    *Directory
	Mem    *Memory
	Rand   *rand.Rand
	// Visible is told when a queue object appears (+1) or is evicted (-1).
	Visible func(delta int)
	// Blocked is told when clients block on the queue (+n) or leave it
	// (-n); nil for nobody. (The node counts blocked clients itself, once
	// per client however many queues it waits on.)
	Blocked func(delta int)
	// Durable tells whether the append-only file is on: records are built
	// and emitted only then. nil means never.
	Durable func() bool
	// Peers is the cluster (peers_core.go); nil: the node is alone.
	Peers Peers
	// Leaving tells whether the node is leaving the cluster; nil: never.
	Leaving func() bool
}

// Pause flags (SPEC.md §5.15).
const (
	PauseIn  = uint32(protocol.PauseFlag_PAUSE_IN)
	PauseOut = uint32(protocol.PauseFlag_PAUSE_OUT)
)

// PauseName is how PAUSE and QSTAT print a pause state.
func PauseName(f uint32) string {
	switch f & (PauseIn | PauseOut) {
	case PauseIn:
		return "in"
	case PauseOut:
		return "out"
	case PauseIn | PauseOut:
		return "all"
	}
	return "none"
}

// Tunables of SPEC.md §4.
const (
	willQueueAdvance  = 500        // ms: WILLQUEUE is sent this long before a requeue
	idleEvictMs       = 300 * 1000 // an idle empty queue is evicted after this
	idleEvictMsLevel1 = 10 * 1000  // ... at memory level >= 1
	idleEvictMsLevel2 = 2 * 1000   // ... at memory level >= 2
)

// Queue is one queue's state; see the chapter comment above.
type Queue struct {
	Name string
	env  *Env

	queued  *btree.BTreeG[*Job] // queued jobs by (ctime, id)
	awake   awakeIndex          // every record, by next awake time
	waiters []*Waiter           // blocked GETJOBs, in blocking order
	pause   uint32

	visible bool
	ctime   int64 // creation of the visible queue object, ms
	atime   int64 // last enqueue or fetch, ms
	jobsIn  int64
	jobsOut int64

	waits     map[string]*replWait // ADDJOBs waiting for replication, by job ID
	replDue   int64                // earliest next or deadline among waits
	gcBackoff map[string]int64     // acked jobs' current GC retry interval, ms
	confirmed map[string][]string  // nodes_confirmed by job ID (confirmedOf)
	confPeak  int                  // the most entries confirmed held since it was made
	fed       federation
	names     nodeNames // the node IDs of its copies' nodes_delivered

	out []Effect
}

func queuedLess(a, b *Job) bool {
	if a.Ctime != b.Ctime {
		return a.Ctime < b.Ctime
	}
	return a.ID < b.ID
}

// NewQueue makes the core of queue `name`. It is not visible until something
// creates the queue object (enqueue, GETJOB, PAUSE).
func NewQueue(name string, env *Env) *Queue {
	return &Queue{Name: name, env: env, queued: btree.NewG(16, queuedLess)}
}

// ---------------------------------- Effects ----------------------------------

// Effect is something the core wants done outside itself.
type Effect interface{ effect() }

// Deliver hands a claimed waiter its wake-up.
type Deliver struct {
	W    *Waiter
	Wake Wake
}

// Persist asks for the job to be written to the append-only file (LOADJOB).
type Persist struct{ Job *protocol.Job }

// Unpersist asks for the job's deletion to be written (DELJOB).
type Unpersist struct{ ID string }

// MarkDelivered asks for the job's delivery to be written (DELIVERED).
type MarkDelivered struct{ ID string }

// MarkRequeued asks for a delivered job's return to its queue to be
// written (QUEUED), so that a restart queues it at once again.
type MarkRequeued struct{ ID string }

func (Deliver) effect()       {}
func (MarkDelivered) effect() {}
func (MarkRequeued) effect()  {}
func (Persist) effect()       {}
func (Unpersist) effect()     {}

// Outbox returns the effects appended since the last call and empties it.
func (q *Queue) Outbox() []Effect {
	out := q.out
	q.out = nil
	return out
}

func (q *Queue) emit(e Effect) { q.out = append(q.out, e) }

func (q *Queue) blockedDelta(d int) {
	if q.env.Blocked != nil {
		q.env.Blocked(d)
	}
}

func (q *Queue) durable() bool { return q.env.Durable != nil && q.env.Durable() }

// persist logs a job's current record (LOADJOB) when the log is on.
func (q *Queue) persist(j *Job) {
	if q.durable() {
		q.emit(Persist{Job: j.ToProto()})
	}
}

// unpersist logs a job's deletion (DELJOB) when the log is on.
func (q *Queue) unpersist(j *Job) {
	if q.durable() {
		q.emit(Unpersist{ID: j.ID})
	}
}

// --------------------------------- Bookkeeping -------------------------------

// touch makes the queue object exist (SPEC.md §8: created implicitly).
func (q *Queue) touch(now int64) {
	if !q.visible {
		q.visible = true
		q.ctime, q.atime = now, now
		q.jobsIn, q.jobsOut = 0, 0
		q.env.Mem.Add(queueOverhead + int64(len(q.Name)))
		q.env.Visible(1)
	}
}

// queueOverhead is the accounted size of a queue object.
const queueOverhead = 400

// Len is the number of queued jobs.
func (q *Queue) Len() int { return q.queued.Len() }

// Records is the number of job records the queue owns, in any state.
func (q *Queue) Records() int { return len(q.awake) }

// Visible tells whether the Disque queue object exists.
func (q *Queue) Visible() bool { return q.visible }

// Idle tells whether the actor may retire: no object, no record, no client.
func (q *Queue) Idle() bool {
	return !q.visible && len(q.awake) == 0 && len(q.waiters) == 0 && q.pause == 0 && len(q.waits) == 0
}

func (q *Queue) leaving() bool { return q.env.Leaving != nil && q.env.Leaving() }

func (q *Queue) jitter() int64 { return int64(q.env.Rand.IntN(500)) - 250 }

// retryAt is when a job requeues if nothing happens first: retry seconds
// from now, with Disque's jitter of [-250, +249] ms so that the nodes
// holding a copy do not all requeue at once (randomTimeError).
func (q *Queue) retryAt(now int64, j *Job) int64 {
	return now + int64(j.Retry)*1000 + q.jitter()
}

// armRequeue schedules the next requeue of a job that was just queued:
// announced by WILLQUEUE for retry > 0, never again for retry 0.
func (q *Queue) armRequeue(now int64, j *Job) {
	if j.Retry > 0 {
		j.Flags |= flagBcastWillQueue
		j.Qtime = q.retryAt(now, j)
	} else {
		j.Qtime = 0
	}
}

// computeAwake is SPEC.md §7: the earliest of expiry, requeue (or the
// WILLQUEUE announcement before it), or, for an acked job, its next
// garbage-collection step (kept in Qtime, unused once a job is acked).
func (j *Job) computeAwake() int64 {
	at := j.Etime
	if j.State == StateAcked && j.Qtime != 0 && j.Qtime < at {
		return j.Qtime
	}
	if (j.State == StateActive || j.State == StateQueued) && j.Qtime != 0 {
		t := j.Qtime
		if j.Flags&flagBcastWillQueue != 0 {
			t -= willQueueAdvance
		}
		if t < at {
			at = t
		}
	}
	return at
}

func (q *Queue) reschedule(j *Job) {
	j.awake = j.computeAwake()
	q.awake.set(j)
}

// register adds a new record to the directory, the awake index and the books.
func (q *Queue) register(j *Job) bool {
	if j.Queue == q.Name {
		j.Queue = q.Name // one copy of the name for all the queue's jobs
	}
	if !q.env.Dir.put(j) {
		return false
	}
	j.heapIdx = -1
	q.env.Mem.Add(j.cost())
	q.reschedule(j)
	return true
}

// remove deletes a record from everything (Disque's unregisterJob+freeJob).
func (q *Queue) remove(j *Job) {
	if j.State == StateQueued {
		q.queued.Delete(j)
	}
	q.awake.remove(j)
	q.env.Dir.del(j)
	q.env.Mem.Add(-j.cost())
	j.heapIdx = -1
	if _, ok := q.waits[j.ID]; ok {
		// Deleted, expired or flushed while its ADDJOB waited.
		delete(q.waits, j.ID)
		q.emit(AddDone{ID: j.ID, Err: errReplRemoved})
	}
	delete(q.gcBackoff, j.ID)
	q.setConfirmed(j, nil)
}

// lookup finds a record of this queue.
func (q *Queue) lookup(id string) *Job {
	j, ok := q.env.Dir.Get(id)
	if !ok || j.Queue != q.Name {
		return nil
	}
	return j
}

// ---------------------------------- Queueing ---------------------------------

// enqueue is Disque's enqueueJob (SPEC.md §7): it refuses a job that is
// already queued, that will never be queued again (qtime 0), or an
// at-most-once job that was already delivered. nack counts a NACK.
func (q *Queue) enqueue(now int64, j *Job, nack bool) bool {
	if j.State == StateQueued || j.Qtime == 0 || (j.Retry == 0 && j.Flags&flagDelivered != 0) {
		return false
	}
	j.State = StateQueued
	q.armRequeue(now, j)
	if j.Flags&flagBcastQueued != 0 || nack {
		// A redelivery: the other holders step back and count it (QUEUED).
		if nack {
			j.Nacks++
		} else {
			j.AddDel++
		}
		if q.clustered() {
			q.send(j.Delivered(), &protocol.Queued{Id: j.ID, IncrNacks: nack, IncrDeliveries: !nack})
		}
	} else {
		j.Flags |= flagBcastQueued
	}
	q.touch(now)
	q.queued.ReplaceOrInsert(j)
	q.atime = now
	q.jobsIn++
	q.reschedule(j)
	if j.Flags&flagDelivered != 0 && q.durable() {
		q.emit(MarkRequeued{ID: j.ID})
	}
	q.serveWaiters(now)
	return true
}

// dequeue takes a queued job out of the queue; it stays active.
func (q *Queue) dequeue(j *Job) bool {
	if j.State != StateQueued {
		return false
	}
	q.queued.Delete(j)
	j.State = StateActive
	return true
}

// pop hands the oldest queued job to a consumer (GETJOB, SPEC.md §5.2). The
// requeue time is not reset: a job requeues retry seconds after it was last
// queued, not after it was delivered.
func (q *Queue) pop(now int64) *Job {
	j, ok := q.queued.DeleteMin()
	if !ok {
		return nil
	}
	j.State = StateActive
	j.Flags |= flagDelivered
	q.atime = now
	q.jobsOut++
	q.reschedule(j)
	// A delivery is durable news (SPEC.md §15 logs no state change at all):
	// after a restart the job requeues only after its retry, and an
	// at-most-once job is never queued again.
	if q.durable() {
		q.emit(MarkDelivered{ID: j.ID})
	}
	return j
}

func item(j *Job) *protocol.JobItem {
	it := new(protocol.JobItem)
	fill(it, j)
	return it
}

func fill(it *protocol.JobItem, j *Job) {
	*it = protocol.JobItem{Queue: j.Queue, Id: j.ID, Body: j.bodyBytes(), Nacks: j.Nacks, AdditionalDeliveries: j.AddDel}
}

// serveWaiters gives queued jobs to blocked clients, one each, in blocking
// order, unless the queue is paused in output.
func (q *Queue) serveWaiters(now int64) {
	for len(q.waiters) > 0 && q.queued.Len() > 0 && q.pause&PauseOut == 0 {
		w := q.waiters[0]
		q.waiters[0] = nil
		q.waiters = q.waiters[1:]
		q.blockedDelta(-1)
		if !w.Claim() {
			continue // served by another queue, or timed out
		}
		q.emit(Deliver{W: w, Wake: Wake{Job: item(q.pop(now))}})
		if q.queued.Len() == 0 {
			q.needJobs(now, needReachedZero, q.leaving())
		}
	}
	if len(q.waiters) == 0 {
		q.waiters = nil
	}
}
