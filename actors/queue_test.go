package actors

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------- Test harness --------------------------------
//
// Table tests of the pure queue core (STYLE.md 10(a)): a fixed clock passed
// as `now`, a seeded rand, no actors, no sleeping.

const (
	t0        = int64(1_700_000_000_000) // the tests' "now", unix ms
	myNode    = "0123456789abcdef0123456789abcdef01234567"
	otherNode = "fedcba9876543210fedcba9876543210fedcba98"
)

// Exact error texts of SPEC.md §6 (without the RESP '-').
const (
	textMaxlen   = "MAXLEN Queue is already longer than the specified MAXLEN count"
	textPaused   = "PAUSED Queue paused in input, try later"
	textNoJob    = "NOJOB Job not known in the context of this node."
	textTooLate  = "TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery."
	textInternal = "ERR Internal error creating the job, check server logs"
	textLeaving  = "LEAVING This node is leaving the cluster, please connect to a different one"
)

// fixture is one node's environment: the shared directory, memory and rand,
// with the Visible and Blocked callbacks counted.
type fixture struct {
	t       *testing.T
	env     *Env
	visible int
	blocked int
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t}
	f.env = &Env{
		NodeID:  func() string { return myNode },
		Dir:     NewDirectory(),
		Mem:     &Memory{},
		Rand:    rand.New(rand.NewPCG(1, 2)),
		Visible: func(d int) { f.visible += d },
		Blocked: func(d int) { f.blocked += d },
		Durable: func() bool { return true }, // records are emitted as with appendonly yes
	}
	return f
}

func (f *fixture) queue(name string) *Queue { return NewQueue(name, f.env) }

// js describes a job to build: its number (ID and ctime uniquifier) and
// its TTL, RETRY and DELAY in seconds.
type js struct {
	i                 int
	ttl, retry, delay int64
}

func testID(i int) string { return fmt.Sprintf("D-01234567-%024d-05a1", i) }

// newTestJob builds a job the way Node.addJob does.
func newTestJob(queue string, now int64, s js) *Job {
	j := &Job{
		ID: testID(s.i), Queue: queue, Body: fmt.Sprintf("body-%d", s.i),
		Ctime: now*1_000_000 + int64(s.i), Etime: now + s.ttl*1000,
		Delay: uint32(s.delay), Retry: uint32(s.retry), Repl: 1, heapIdx: -1,
	}
	j.setDelivered([]string{myNode})
	if s.delay > 0 {
		j.Qtime = now + s.delay*1000
	} else {
		j.Qtime = now + s.retry*1000
	}
	return j
}

// add builds and adds a job, failing the test on refusal.
func (f *fixture) add(q *Queue, now int64, s js) *Job {
	f.t.Helper()
	j := newTestJob(q.Name, now, s)
	if err := q.Add(now, j, 0); err != nil {
		f.t.Fatalf("Add(%s) = %q", j.ID, err.Text)
	}
	return j
}

func TestRegisteredJobsShareTheQueueName(t *testing.T) {
	f := newFixture(t)
	q := f.queue("emails")
	name := string([]byte("emails")) // a copy, as a client's command gives it
	j := newTestJob(name, t0, js{i: 1, ttl: 60, retry: 10})
	if err := q.Add(t0, j, 0); err != nil {
		t.Fatal(err.Text)
	}
	if j.Queue != "emails" || unsafe.StringData(j.Queue) != unsafe.StringData(q.Name) {
		t.Fatalf("the job's queue %q is its own copy, not the queue's name", j.Queue)
	}
}

// addShared adds a job whose nodes_delivered also names another node, so an
// ack is kept (waiting for the other node) instead of deleted at once.
func (f *fixture) addShared(q *Queue, now int64, s js) *Job {
	f.t.Helper()
	j := newTestJob(q.Name, now, s)
	j.setDelivered([]string{myNode, otherNode})
	if err := q.Add(now, j, 0); err != nil {
		f.t.Fatalf("Add(%s) = %q", j.ID, err.Text)
	}
	return j
}

// ackedKept is a job acked here and kept for the other node's confirmation.
func (f *fixture) ackedKept(q *Queue, now int64, s js) *Job {
	f.t.Helper()
	j := f.addShared(q, now, s)
	if n := q.Ack(now, []string{j.ID}); n != 1 || j.State != StateAcked {
		f.t.Fatalf("Ack = %d, state %s", n, StateName(j.State))
	}
	q.Outbox()
	return j
}

// take pops exactly one job and checks it is j.
func take(t *testing.T, q *Queue, now int64, j *Job) {
	t.Helper()
	items, _ := q.Take(now, 1)
	if len(items) != 1 || items[0].Id != j.ID {
		t.Fatalf("Take = %v, want %s", ids(items), j.ID)
	}
}

func ids(items []*protocol.JobItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.Id)
	}
	return out
}

func jobIDs(jobs ...*Job) []string {
	out := []string{}
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

func effectsOf[T Effect](out []Effect) []T {
	var r []T
	for _, e := range out {
		if v, ok := e.(T); ok {
			r = append(r, v)
		}
	}
	return r
}

func unpersisted(out []Effect) []string {
	r := []string{}
	for _, u := range effectsOf[Unpersist](out) {
		r = append(r, u.ID)
	}
	return r
}

// checkJitter asserts got is base plus a requeue jitter in [-250, +249] ms.
func checkJitter(t *testing.T, what string, got, base int64) {
	t.Helper()
	if d := got - base; d < -250 || d > 249 {
		t.Fatalf("%s = base%+d ms, want base + [-250, +249]", what, d)
	}
}

func checkState(t *testing.T, j *Job, want uint8) {
	t.Helper()
	if j.State != want {
		t.Fatalf("%s state = %s, want %s", j.ID, StateName(j.State), StateName(want))
	}
}

func checkFlag(t *testing.T, j *Job, flag uint8, name string, want bool) {
	t.Helper()
	if got := j.Flags&flag != 0; got != want {
		t.Fatalf("%s flag %s = %v, want %v (flags %b)", j.ID, name, got, want, j.Flags)
	}
}

func (f *fixture) checkKnown(j *Job, want bool) {
	f.t.Helper()
	got, ok := f.env.Dir.Get(j.ID)
	if ok != want || (ok && got != j) {
		f.t.Fatalf("directory has %s: %v, want %v", j.ID, ok, want)
	}
}

// checkMem asserts the accounted memory is the base plus the given queue
// objects and jobs.
func (f *fixture) checkMem(queues []*Queue, jobs ...*Job) {
	f.t.Helper()
	want := int64(MemoryBase)
	for _, q := range queues {
		if q.Visible() { // only a queue object is charged, not the records' name
			want += queueOverhead + int64(len(q.Name))
		}
	}
	for _, j := range jobs {
		want += j.cost()
	}
	if got := f.env.Mem.Used(); got != want {
		f.t.Fatalf("Memory.Used = %d, want %d", got, want)
	}
}

func qs(q ...*Queue) []*Queue { return q }

// ------------------------------------ ADDJOB ---------------------------------

func TestAddQueuesAtOnceWithoutDelay(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j := newTestJob("q", t0, js{i: 1, ttl: 3600, retry: 10})
	if err := q.Add(t0, j, 0); err != nil {
		t.Fatalf("Add = %q", err.Text)
	}
	checkState(t, j, StateQueued)
	if q.Len() != 1 || q.Records() != 1 {
		t.Fatalf("Len %d Records %d, want 1 1", q.Len(), q.Records())
	}
	checkJitter(t, "qtime", j.Qtime, t0+10_000)
	checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", true)
	checkFlag(t, j, flagBcastQueued, "BCAST_QUEUED", true)
	checkFlag(t, j, flagDelivered, "DELIVERED", false)
	if j.Nacks != 0 || j.AddDel != 0 {
		t.Fatalf("first queueing counted: nacks %d additional-deliveries %d", j.Nacks, j.AddDel)
	}
	if j.awake != j.Qtime-500 || q.NextTick(0) != j.Qtime-500 {
		t.Fatalf("awake %d NextTick %d, want qtime-500 = %d", j.awake, q.NextTick(0), j.Qtime-500)
	}
	f.checkKnown(j, true)
	if f.visible != 1 || !q.Visible() {
		t.Fatalf("visible count %d, Visible() %v", f.visible, q.Visible())
	}
	out := q.Outbox()
	p := effectsOf[Persist](out)
	if len(out) != 1 || len(p) != 1 || p[0].Job.Id != j.ID || p[0].Job.State != protocol.JobState_QUEUED ||
		p[0].Job.QtimeMs != j.Qtime || string(p[0].Job.Body) != "body-1" {
		t.Fatalf("Outbox = %+v, want one Persist of the queued job", out)
	}
	if len(q.Outbox()) != 0 {
		t.Fatal("Outbox not emptied")
	}
	st := q.Stat(t0)
	if st == nil || st.Len != 1 || st.JobsIn != 1 || st.JobsOut != 0 {
		t.Fatalf("Stat = %+v", st)
	}
	f.checkMem(qs(q), j)
}

func TestAddDelayedIsQueuedByTickAtQtime(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10, delay: 5})
	checkState(t, j, StateActive)
	if q.Len() != 0 || j.Qtime != t0+5000 || j.Flags != 0 {
		t.Fatalf("Len %d qtime %+d flags %b", q.Len(), j.Qtime-t0, j.Flags)
	}
	out := q.Outbox()
	if p := effectsOf[Persist](out); len(out) != 1 || len(p) != 1 || p[0].Job.State != protocol.JobState_ACTIVE {
		t.Fatalf("Outbox = %+v, want one Persist of the active job", out)
	}
	if got := q.NextTick(0); got != t0+5000 {
		t.Fatalf("NextTick = %+d, want the delay", got-t0)
	}

	q.Tick(t0+4999, 0)
	checkState(t, j, StateActive)
	if q.Len() != 0 || len(q.Outbox()) != 0 {
		t.Fatal("queued before its delay")
	}

	q.Tick(t0+5000, 0)
	checkState(t, j, StateQueued)
	if q.Len() != 1 {
		t.Fatalf("Len = %d", q.Len())
	}
	checkJitter(t, "qtime", j.Qtime, t0+5000+10_000)
	checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", true)
	checkFlag(t, j, flagBcastQueued, "BCAST_QUEUED", true)
	if j.AddDel != 0 || j.Nacks != 0 {
		t.Fatalf("first queueing counted: nacks %d additional-deliveries %d", j.Nacks, j.AddDel)
	}
	if st := q.Stat(t0 + 5000); st == nil || st.JobsIn != 1 || st.Len != 1 {
		t.Fatalf("Stat = %+v", st)
	}
	if f.visible != 1 {
		t.Fatalf("visible count = %d", f.visible)
	}
}

func TestAddDelayedDoesNotCreateQueueObject(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	f.add(q, t0, js{i: 1, ttl: 3600, retry: 10, delay: 5})
	if q.Stat(t0) != nil || f.visible != 0 || q.Visible() {
		t.Fatalf("QSTAT after a delayed ADDJOB = %+v (visible %d), want no queue object", q.Stat(t0), f.visible)
	}
	q.Tick(t0+5000, 0)
	if q.Stat(t0+5000) == nil || f.visible != 1 {
		t.Fatal("queueing the delayed job must create the queue object")
	}
}

func TestAddRefusals(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(f *fixture, q *Queue)
		maxlen int64
		want   string // "" = accepted
	}{
		{"no maxlen", func(f *fixture, q *Queue) {
			f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
		}, 0, ""},
		{"maxlen on a missing queue", func(*fixture, *Queue) {}, 1, ""},
		{"maxlen above the length", func(f *fixture, q *Queue) {
			f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			f.add(q, t0, js{i: 2, ttl: 100, retry: 10})
		}, 3, ""},
		{"maxlen reached", func(f *fixture, q *Queue) {
			f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			f.add(q, t0, js{i: 2, ttl: 100, retry: 10})
		}, 2, textMaxlen},
		{"maxlen exceeded", func(f *fixture, q *Queue) {
			f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			f.add(q, t0, js{i: 2, ttl: 100, retry: 10})
		}, 1, textMaxlen},
		{"maxlen counts queued jobs only", func(f *fixture, q *Queue) {
			f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			f.add(q, t0, js{i: 2, ttl: 100, retry: 10, delay: 5})
			q.Take(t0, 1)
		}, 1, ""},
		{"paused in", func(f *fixture, q *Queue) { q.Pause(t0, PauseIn, true) }, 0, textPaused},
		{"paused all", func(f *fixture, q *Queue) { q.Pause(t0, PauseIn|PauseOut, true) }, 0, textPaused},
		{"paused out accepts", func(f *fixture, q *Queue) { q.Pause(t0, PauseOut, true) }, 0, ""},
		{"pause cleared accepts", func(f *fixture, q *Queue) {
			q.Pause(t0, PauseIn, true)
			q.Pause(t0, 0, true)
		}, 0, ""},
		{"maxlen is checked before the pause", func(f *fixture, q *Queue) {
			f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			q.Pause(t0, PauseIn, true)
		}, 1, textMaxlen},
		{"duplicate ID", func(f *fixture, q *Queue) {
			f.add(q, t0, js{i: 100, ttl: 100, retry: 10})
		}, 0, textInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			q := f.queue("q")
			tt.setup(f, q)
			q.Outbox()
			lenBefore, dirBefore, memBefore := q.Len(), f.env.Dir.Len(), f.env.Mem.Used()
			prev, hadPrev := f.env.Dir.Get(testID(100))
			j := newTestJob("q", t0+1, js{i: 100, ttl: 100, retry: 10})
			err := q.Add(t0+1, j, tt.maxlen)
			out := q.Outbox()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Add = %q, want accepted", err.Text)
				}
				f.checkKnown(j, true)
				if len(effectsOf[Persist](out)) != 1 {
					t.Fatalf("Outbox = %+v, want a Persist", out)
				}
				if q.pause&PauseOut == 0 && q.Len() != lenBefore+1 {
					t.Fatalf("Len = %d, want %d", q.Len(), lenBefore+1)
				}
				return
			}
			if err == nil || err.Text != tt.want {
				t.Fatalf("Add = %v, want %q", err, tt.want)
			}
			if len(out) != 0 {
				t.Fatalf("a refused ADDJOB emitted %+v", out)
			}
			if q.Len() != lenBefore || f.env.Dir.Len() != dirBefore || f.env.Mem.Used() != memBefore {
				t.Fatalf("a refused ADDJOB changed state: len %d->%d, jobs %d->%d, mem %d->%d",
					lenBefore, q.Len(), dirBefore, f.env.Dir.Len(), memBefore, f.env.Mem.Used())
			}
			if got, ok := f.env.Dir.Get(j.ID); ok != hadPrev || (ok && got != prev) {
				t.Fatal("a refused ADDJOB changed the directory entry")
			}
			if j.heapIdx != -1 {
				t.Fatal("a refused job is in the awake index")
			}
		})
	}
}

// ------------------------------- Scheduling (§7) -----------------------------

func TestTickExpiry(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(f *fixture, q *Queue) *Job
		unpersist bool // an AOF DELJOB is due (active or queued)
	}{
		{"queued", func(f *fixture, q *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 10, retry: 30})
		}, true},
		{"queued, requeue time passed several times", func(f *fixture, q *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 20, retry: 3})
		}, true},
		{"active after delivery", func(f *fixture, q *Queue) *Job {
			j := f.add(q, t0, js{i: 1, ttl: 10, retry: 30})
			take(f.t, q, t0, j)
			return j
		}, true},
		{"delayed, never queued", func(f *fixture, q *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 10, retry: 3, delay: 9})
		}, true},
		{"retry 0 delivered", func(f *fixture, q *Queue) *Job {
			j := f.add(q, t0, js{i: 1, ttl: 10, retry: 0})
			take(f.t, q, t0, j)
			return j
		}, true},
		{"acked, kept for another node", func(f *fixture, q *Queue) *Job {
			return f.ackedKept(q, t0, js{i: 1, ttl: 10, retry: 30})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, late := range []bool{false, true} {
				f := newFixture(t)
				q := f.queue("q")
				j := tt.setup(f, q)
				q.Outbox()
				if !late {
					// Step through every scheduled visit before the expiry.
					for at := q.NextTick(0); at != 0 && at < j.Etime; at = q.NextTick(0) {
						q.Tick(at, 0)
					}
					q.Tick(j.Etime-1, 0)
					f.checkKnown(j, true)
					if got := unpersisted(q.Outbox()); len(got) != 0 {
						t.Fatalf("Unpersist %v before expiry", got)
					}
				}
				q.Tick(j.Etime, 0)
				f.checkKnown(j, false)
				if q.Records() != 0 || q.Len() != 0 || j.heapIdx != -1 {
					t.Fatalf("late=%v: records %d len %d heapIdx %d after expiry", late, q.Records(), q.Len(), j.heapIdx)
				}
				got := unpersisted(q.Outbox())
				if want := tt.unpersist; (len(got) == 1 && got[0] == j.ID) != want || len(got) > 1 {
					t.Fatalf("late=%v: Unpersist %v, want one for %s: %v", late, got, j.ID, want)
				}
				if q.Show(j.Etime, j.ID) != nil {
					t.Fatal("SHOW finds an expired job")
				}
				f.checkMem(qs(q))
			}
		})
	}
}

func TestTickRequeuesDeliveredJob(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
	q.Outbox()
	q0 := j.Qtime
	take(t, q, t0+100, j)
	checkState(t, j, StateActive)
	checkFlag(t, j, flagDelivered, "DELIVERED", true)
	if j.Qtime != q0 {
		t.Fatalf("delivery moved the requeue time by %d ms", j.Qtime-q0)
	}

	q.Tick(q0-501, 0)
	checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", true)
	if j.awake != q0-500 {
		t.Fatalf("awake = qtime%+d, want qtime-500", j.awake-q0)
	}

	// The WILLQUEUE announcement is due 500 ms before the requeue.
	q.Tick(q0-500, 0)
	checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", false)
	checkState(t, j, StateActive)
	if j.awake != q0 || q.NextTick(0) != q0 {
		t.Fatalf("awake %+d NextTick %+d, want the requeue time", j.awake-q0, q.NextTick(0)-q0)
	}

	q.Tick(q0-1, 0)
	checkState(t, j, StateActive)

	q.Tick(q0, 0)
	checkState(t, j, StateQueued)
	if j.AddDel != 1 || j.Nacks != 0 {
		t.Fatalf("requeue after delivery: additional-deliveries %d nacks %d, want 1 0", j.AddDel, j.Nacks)
	}
	checkJitter(t, "qtime", j.Qtime, q0+10_000)
	checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", true)
	if st := q.Stat(q0); st.JobsIn != 2 || st.JobsOut != 1 || st.Len != 1 {
		t.Fatalf("Stat = %+v", st)
	}
	if out := q.Outbox(); len(out) != len(effectsOf[MarkDelivered](out))+1 || len(effectsOf[MarkRequeued](out)) != 1 {
		t.Fatalf("a requeue with nobody blocked: effects %+v, want the delivery record and one QUEUED record", out)
	}

	// A second round counts again.
	q1 := j.Qtime
	take(t, q, q0+1, j)
	q.Tick(q1, 0)
	checkState(t, j, StateQueued)
	if j.AddDel != 2 {
		t.Fatalf("additional-deliveries = %d, want 2", j.AddDel)
	}
}

func TestTickCatchesUpLate(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
	take(t, q, t0, j)
	late := j.Qtime + 5000
	// One Tick long after both the WILLQUEUE time and the requeue time.
	q.Tick(late, 0)
	checkState(t, j, StateQueued)
	if j.AddDel != 1 {
		t.Fatalf("additional-deliveries = %d", j.AddDel)
	}
	checkJitter(t, "qtime", j.Qtime, late+10_000)
}

func TestTickQueuedJobKeepsDeferring(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
	q.Outbox()
	q0 := j.Qtime

	q.Tick(q0-500, 0)
	checkState(t, j, StateQueued)
	checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", false)

	q.Tick(q0, 0)
	checkState(t, j, StateQueued)
	checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", true)
	checkJitter(t, "qtime", j.Qtime, q0+10_000)
	if q.Len() != 1 || j.AddDel != 0 || j.Nacks != 0 {
		t.Fatalf("len %d additional-deliveries %d nacks %d", q.Len(), j.AddDel, j.Nacks)
	}
	if st := q.Stat(q0); st.JobsIn != 1 {
		t.Fatalf("jobs-in = %d: a deferral is not an enqueue", st.JobsIn)
	}
	if out := q.Outbox(); len(out) != 0 {
		t.Fatalf("deferral emitted %+v", out)
	}
	if j.awake != j.Qtime-500 {
		t.Fatalf("awake = qtime%+d", j.awake-j.Qtime)
	}
}

func TestTickRetryZeroIsNeverRequeued(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j := f.add(q, t0, js{i: 1, ttl: 60, retry: 0})
	checkState(t, j, StateQueued)
	if j.Qtime != 0 {
		t.Fatalf("qtime = %d after the first queueing, want 0", j.Qtime)
	}
	checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", false)
	if j.awake != j.Etime {
		t.Fatalf("awake = etime%+d, want the expiry", j.awake-j.Etime)
	}
	if info := q.Show(t0, j.ID); info.HasNextRequeue {
		t.Fatalf("next-requeue-within = %d, want null", info.NextRequeueWithin)
	}
	take(t, q, t0+1, j)
	for now := t0 + 1000; now < j.Etime; now += 7000 {
		q.Tick(now, 0)
		checkState(t, j, StateActive)
	}
	if q.Len() != 0 || j.AddDel != 0 {
		t.Fatalf("len %d additional-deliveries %d", q.Len(), j.AddDel)
	}
	if n := q.Requeue(t0+2000, []string{j.ID}, false); n != 0 {
		t.Fatalf("ENQUEUE of a delivered retry-0 job = %d", n)
	}
	if n := q.Requeue(t0+2000, []string{j.ID}, true); n != 0 {
		t.Fatalf("NACK of a delivered retry-0 job = %d", n)
	}
}

func TestTickPausedIn(t *testing.T) {
	tests := []struct {
		name           string
		retry, delay   int64
		deliver        bool
		wantQueued     bool   // queued despite the pause
		wantAddDelThen uint32 // additional-deliveries once queued
	}{
		{"delayed retry>0 job is postponed", 10, 5, false, false, 0},
		{"delivered retry>0 job is postponed", 10, 0, true, false, 1},
		{"delayed retry 0 job is still queued", 0, 5, false, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			q := f.queue("q")
			j := f.add(q, t0, js{i: 1, ttl: 3600, retry: tt.retry, delay: tt.delay})
			if tt.deliver {
				take(t, q, t0, j)
			}
			q.Pause(t0, PauseIn, true)
			due := j.Qtime
			q.Tick(due, 0)
			if tt.wantQueued {
				checkState(t, j, StateQueued)
				if q.Len() != 1 || j.AddDel != tt.wantAddDelThen {
					t.Fatalf("len %d additional-deliveries %d", q.Len(), j.AddDel)
				}
				return
			}
			checkState(t, j, StateActive)
			if q.Len() != 0 {
				t.Fatalf("len = %d", q.Len())
			}
			checkJitter(t, "postponed qtime", j.Qtime, due+tt.retry*1000)

			// Once the pause is lifted, the next due time queues it.
			q.Pause(due, 0, true)
			next := j.Qtime
			q.Tick(next-1, 0)
			checkState(t, j, StateActive)
			q.Tick(next, 0)
			checkState(t, j, StateQueued)
			if j.AddDel != tt.wantAddDelThen {
				t.Fatalf("additional-deliveries = %d, want %d", j.AddDel, tt.wantAddDelThen)
			}
		})
	}
}

func TestTickBoundsWorkPerCall(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	const n = 10_001 // SPEC §7: at most 10 000 jobs per run
	for i := 0; i < n; i++ {
		f.add(q, t0, js{i: i, ttl: 1, retry: 5})
	}
	q.Outbox()
	next := q.Tick(t0+1000, 0)
	if q.Records() != 1 {
		t.Fatalf("one Tick processed %d jobs, want 10000", n-q.Records())
	}
	if next == 0 || next > t0+1000 {
		t.Fatalf("Tick returned %+d, want the leftover due at once", next-t0)
	}
	q.Tick(t0+1000, 0)
	if q.Records() != 0 || f.env.Dir.Len() != 0 {
		t.Fatalf("records %d after the second Tick", q.Records())
	}
	if got := len(unpersisted(q.Outbox())); got != n {
		t.Fatalf("Unpersist count = %d, want %d", got, n)
	}
}

func TestRequeueJitterBounds(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	lo, hi := int64(1<<62), int64(-1<<62)
	for i := 0; i < 2000; i++ {
		j := f.add(q, t0, js{i: i, ttl: 3600, retry: 1})
		d := j.Qtime - (t0 + 1000)
		checkJitter(t, "qtime", j.Qtime, t0+1000)
		lo, hi = min(lo, d), max(hi, d)
	}
	// With 2000 draws the whole range is covered: jitter is really applied.
	if lo > -240 || hi < 240 {
		t.Fatalf("jitter seen in [%d, %d], want close to [-250, 249]", lo, hi)
	}
}

// ------------------------------- GETJOB (§5.2) -------------------------------

func TestTakeIsFIFOByCtimeThenID(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j5 := newTestJob("q", t0, js{i: 5, ttl: 100, retry: 10})
	j4 := newTestJob("q", t0, js{i: 4, ttl: 100, retry: 10})
	j4.Ctime = t0*1_000_000 + 3 // same ctime as j3, larger ID
	j3 := newTestJob("q", t0, js{i: 3, ttl: 100, retry: 10})
	j1 := newTestJob("q", t0, js{i: 1, ttl: 100, retry: 10})
	for _, j := range []*Job{j5, j4, j3, j1} {
		if err := q.Add(t0, j, 0); err != nil {
			t.Fatal(err.Text)
		}
	}
	want := jobIDs(j1, j3, j4, j5)
	if got := ids(q.Peek(10)); !slices.Equal(got, want) {
		t.Fatalf("QPEEK order %v, want %v", got, want)
	}
	items, left := q.Take(t0+1, 10)
	if got := ids(items); !slices.Equal(got, want) || left != 0 {
		t.Fatalf("Take order %v (left %d), want %v", got, left, want)
	}
	// A requeued job goes back to its ctime place: the head.
	if n := q.Requeue(t0+2, jobIDs(j5, j1), true); n != 2 {
		t.Fatalf("NACK = %d", n)
	}
	if got := ids(q.Peek(10)); !slices.Equal(got, jobIDs(j1, j5)) {
		t.Fatalf("after NACK the order is %v", got)
	}
}

func TestTake(t *testing.T) {
	t.Run("n 0 creates the queue object and reports availability", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		items, avail := q.Take(t0, 0)
		if items != nil || avail != 0 || !q.Visible() || f.visible != 1 || q.Stat(t0) == nil {
			t.Fatalf("Take(0) = %v %d, visible %v", items, avail, q.Visible())
		}
		f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
		f.add(q, t0, js{i: 2, ttl: 100, retry: 10})
		if items, avail := q.Take(t0, 0); items != nil || avail != 2 || q.Len() != 2 {
			t.Fatalf("Take(0) = %v %d", items, avail)
		}
		q.Take(t0, 0)
		if f.visible != 1 {
			t.Fatalf("visible count = %d", f.visible)
		}
	})

	t.Run("pops oldest first and marks delivery", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		a := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
		b := f.add(q, t0, js{i: 2, ttl: 100, retry: 10})
		c := f.add(q, t0, js{i: 3, ttl: 100, retry: 10})
		qa, qb := a.Qtime, b.Qtime
		items, avail := q.Take(t0+2000, 2)
		if got := ids(items); !slices.Equal(got, jobIDs(a, b)) || avail != 1 {
			t.Fatalf("Take = %v avail %d", got, avail)
		}
		if items[0].Queue != "q" || string(items[0].Body) != "body-1" {
			t.Fatalf("item = %+v", items[0])
		}
		for _, j := range []*Job{a, b} {
			checkState(t, j, StateActive)
			checkFlag(t, j, flagDelivered, "DELIVERED", true)
		}
		checkState(t, c, StateQueued)
		checkFlag(t, c, flagDelivered, "DELIVERED", false)
		if a.Qtime != qa || b.Qtime != qb {
			t.Fatal("delivery reset the requeue time")
		}
		if st := q.Stat(t0 + 2000); st.JobsOut != 2 || st.Idle != 0 || st.Len != 1 {
			t.Fatalf("Stat = %+v", st)
		}
		items, avail = q.Take(t0+2000, 5)
		if len(items) != 1 || avail != 0 {
			t.Fatalf("Take(5) = %v %d", ids(items), avail)
		}
		if items, _ := q.Take(t0+2000, 1); items != nil {
			t.Fatalf("Take on an empty queue = %v", ids(items))
		}
		if st := q.Stat(t0 + 2000); st.JobsOut != 3 {
			t.Fatalf("jobs-out = %d", st.JobsOut)
		}
		out := q.Outbox()
		if marks := effectsOf[MarkDelivered](out); len(marks) != 3 || len(out)-len(marks) != 3 {
			// three Persists from Add, one delivery record per job taken
			t.Fatalf("effects = %+v", out)
		}
	})

	t.Run("items carry the counters", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
		take(t, q, t0, j)
		q.Requeue(t0, []string{j.ID}, true)
		take(t, q, t0, j)
		q.Requeue(t0, []string{j.ID}, false)
		items, _ := q.Take(t0, 1)
		if items[0].Nacks != 1 || items[0].AdditionalDeliveries != 1 {
			t.Fatalf("item counters = %+v", items[0])
		}
	})

	t.Run("paused out gives nothing", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
		f.add(q, t0, js{i: 2, ttl: 100, retry: 10})
		for _, p := range []uint32{PauseOut, PauseIn | PauseOut} {
			q.Pause(t0, p, true)
			items, avail := q.Take(t0+1, 5)
			if items != nil || avail != 0 || q.Len() != 2 {
				t.Fatalf("pause %s: Take = %v %d, len %d", PauseName(p), ids(items), avail, q.Len())
			}
			if st := q.Stat(t0 + 1); st.JobsOut != 0 {
				t.Fatalf("jobs-out = %d", st.JobsOut)
			}
		}
		q.Pause(t0, PauseIn, true)
		if items, _ := q.Take(t0+1, 5); len(items) != 2 {
			t.Fatalf("pause in: Take = %v", ids(items))
		}
	})
}

// ------------------------------ Blocked GETJOB -------------------------------

func delivered(t *testing.T, out []Effect) []Deliver {
	t.Helper()
	d := effectsOf[Deliver](out)
	if len(d) != len(out)-len(effectsOf[Persist](out))-len(effectsOf[Unpersist](out))-
		len(effectsOf[MarkDelivered](out))-len(effectsOf[MarkRequeued](out)) {
		t.Fatalf("unexpected effects %+v", out)
	}
	jobs := 0
	for _, x := range d {
		if x.Wake.Job != nil {
			jobs++
		}
	}
	if len(effectsOf[MarkDelivered](out)) != jobs {
		// Every job handed to a waiter has its delivery logged.
		t.Fatalf("unexpected effects %+v", out)
	}
	return d
}

func TestBlockedWaiters(t *testing.T) {
	t.Run("served in blocking order, one job each", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		w1, w2, w3 := NewWaiter(), NewWaiter(), NewWaiter()
		for _, w := range []*Waiter{w1, w2, w3} {
			q.Block(t0, w)
		}
		if f.blocked != 3 || q.Stat(t0).Blocked != 3 || len(q.Outbox()) != 0 {
			t.Fatalf("blocked %d", f.blocked)
		}
		a := f.add(q, t0+10, js{i: 1, ttl: 100, retry: 10})
		b := f.add(q, t0+10, js{i: 2, ttl: 100, retry: 10})
		d := delivered(t, q.Outbox())
		if len(d) != 2 || d[0].W != w1 || d[0].Wake.Job.Id != a.ID || d[1].W != w2 || d[1].Wake.Job.Id != b.ID {
			t.Fatalf("deliveries = %+v", d)
		}
		if !w1.Claimed() || !w2.Claimed() || w3.Claimed() {
			t.Fatal("claims")
		}
		if d[0].Wake.Err != nil || d[0].Wake.Job.Queue != "q" || string(d[0].Wake.Job.Body) != "body-1" {
			t.Fatalf("wake = %+v", d[0].Wake)
		}
		for _, j := range []*Job{a, b} {
			checkState(t, j, StateActive)
			checkFlag(t, j, flagDelivered, "DELIVERED", true)
		}
		st := q.Stat(t0 + 10)
		if f.blocked != 1 || st.Blocked != 1 || st.Len != 0 || st.JobsOut != 2 || st.JobsIn != 2 {
			t.Fatalf("blocked %d, Stat %+v", f.blocked, st)
		}
		q.Unblock(w3)
		q.Unblock(w3)
		q.Unblock(w1) // already served: not there any more
		if f.blocked != 0 || q.Stat(t0).Blocked != 0 {
			t.Fatalf("blocked = %d after Unblock", f.blocked)
		}
	})

	t.Run("a job already there is served at Block", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
		q.Outbox()
		w := NewWaiter()
		q.Block(t0, w)
		d := delivered(t, q.Outbox())
		if len(d) != 1 || d[0].W != w || d[0].Wake.Job.Id != j.ID || f.blocked != 0 || q.Len() != 0 {
			t.Fatalf("deliveries %+v blocked %d", d, f.blocked)
		}
	})

	t.Run("a waiter claimed elsewhere is skipped", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		w1, w2 := NewWaiter(), NewWaiter()
		q.Block(t0, w1)
		q.Block(t0, w2)
		w1.Claim() // served by another queue, or timed out
		j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
		d := delivered(t, q.Outbox())
		if len(d) != 1 || d[0].W != w2 || d[0].Wake.Job.Id != j.ID {
			t.Fatalf("deliveries = %+v", d)
		}
		if f.blocked != 0 {
			t.Fatalf("blocked = %d", f.blocked)
		}
		q.Unblock(w1)
		if f.blocked != 0 {
			t.Fatalf("a late Unblock counted again: %d", f.blocked)
		}
	})

	t.Run("jobs queued by Tick, NACK and GiveBack wake waiters", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		delayed := f.add(q, t0, js{i: 1, ttl: 100, retry: 10, delay: 5})
		nacked := f.add(q, t0, js{i: 2, ttl: 100, retry: 10})
		take(t, q, t0, nacked)
		given := f.add(q, t0, js{i: 3, ttl: 100, retry: 10})
		take(t, q, t0, given)
		q.Outbox()
		w1, w2, w3 := NewWaiter(), NewWaiter(), NewWaiter()
		for _, w := range []*Waiter{w1, w2, w3} {
			q.Block(t0, w)
		}
		q.Tick(t0+5000, 0)
		q.Requeue(t0+5000, []string{nacked.ID}, true)
		q.GiveBack(t0+5000, given.ID)
		d := delivered(t, q.Outbox())
		if len(d) != 3 || d[0].Wake.Job.Id != delayed.ID || d[1].Wake.Job.Id != nacked.ID || d[2].Wake.Job.Id != given.ID ||
			d[0].W != w1 || d[1].W != w2 || d[2].W != w3 {
			t.Fatalf("deliveries = %+v", d)
		}
		if f.blocked != 0 {
			t.Fatalf("blocked = %d", f.blocked)
		}
	})

	t.Run("paused out holds waiters until the pause clears", func(t *testing.T) {
		for _, clear := range []struct {
			flags uint32
			want  string
		}{{0, "none"}, {PauseIn, "in"}} {
			f := newFixture(t)
			q := f.queue("q")
			q.Pause(t0, PauseOut, true)
			w := NewWaiter()
			q.Block(t0, w)
			j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			if d := delivered(t, q.Outbox()); len(d) != 0 || q.Len() != 1 || f.blocked != 1 {
				t.Fatalf("paused out delivered %+v", d)
			}
			if got := q.Pause(t0, PauseOut, true); got != "out" {
				t.Fatalf("PAUSE out = %q", got)
			}
			if d := delivered(t, q.Outbox()); len(d) != 0 {
				t.Fatal("a pause that keeps out delivered")
			}
			if got := q.Pause(t0, clear.flags, true); got != clear.want {
				t.Fatalf("PAUSE = %q", got)
			}
			d := delivered(t, q.Outbox())
			if len(d) != 1 || d[0].W != w || d[0].Wake.Job.Id != j.ID || f.blocked != 0 {
				t.Fatalf("clearing out-pause to %s: deliveries %+v blocked %d", clear.want, d, f.blocked)
			}
		}
	})

	t.Run("Kick answers every unclaimed waiter", func(t *testing.T) {
		for _, err := range []*protocol.Error{{Text: textLeaving}, nil} {
			f := newFixture(t)
			q := f.queue("q")
			w1, w2, w3 := NewWaiter(), NewWaiter(), NewWaiter()
			for _, w := range []*Waiter{w1, w2, w3} {
				q.Block(t0, w)
			}
			w2.Claim()
			q.Kick(err)
			d := delivered(t, q.Outbox())
			if len(d) != 2 || d[0].W != w1 || d[1].W != w3 {
				t.Fatalf("deliveries = %+v", d)
			}
			for _, x := range d {
				if x.Wake.Job != nil || x.Wake.Err != err {
					t.Fatalf("wake = %+v, want error %v", x.Wake, err)
				}
			}
			if f.blocked != 0 || q.Stat(t0).Blocked != 0 {
				t.Fatalf("blocked = %d after Kick", f.blocked)
			}
			q.Unblock(w1)
			if f.blocked != 0 {
				t.Fatal("Unblock after Kick counted again")
			}
		}
	})
}

// ----------------------------- ACKJOB and deletion ---------------------------

func TestAck(t *testing.T) {
	unknown := testID(9999)
	tests := []struct {
		name          string
		setup         func(f *fixture, q, other *Queue) (*Job, []string)
		want          int64
		wantGone      bool
		wantState     uint8 // when not gone
		wantUnpersist bool
	}{
		{"queued job", func(f *fixture, q, _ *Queue) (*Job, []string) {
			j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			return j, []string{j.ID}
		}, 1, true, 0, true},
		{"delivered job", func(f *fixture, q, _ *Queue) (*Job, []string) {
			j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			take(f.t, q, t0, j)
			return j, []string{j.ID}
		}, 1, true, 0, true},
		{"delayed job", func(f *fixture, q, _ *Queue) (*Job, []string) {
			j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10, delay: 5})
			return j, []string{j.ID}
		}, 1, true, 0, true},
		{"same ID twice", func(f *fixture, q, _ *Queue) (*Job, []string) {
			j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			return j, []string{j.ID, j.ID}
		}, 1, true, 0, true},
		{"unknown ID is ignored", func(f *fixture, q, _ *Queue) (*Job, []string) {
			j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			return j, []string{unknown}
		}, 0, false, StateQueued, false},
		{"job of another queue is not touched", func(f *fixture, _, other *Queue) (*Job, []string) {
			j := f.add(other, t0, js{i: 1, ttl: 100, retry: 10})
			return j, []string{j.ID}
		}, 0, false, StateQueued, false},
		{"job kept for another node", func(f *fixture, q, _ *Queue) (*Job, []string) {
			j := f.addShared(q, t0, js{i: 1, ttl: 100, retry: 10})
			return j, []string{j.ID}
		}, 1, false, StateAcked, true},
		{"replication confirmations are reset", func(f *fixture, q, _ *Queue) (*Job, []string) {
			// Left from synchronous replication: the other node confirmed
			// holding a copy, not the ack, so the job must wait for it.
			j := f.addShared(q, t0, js{i: 1, ttl: 100, retry: 10})
			q.setConfirmed(j, []string{myNode, otherNode})
			return j, []string{j.ID}
		}, 1, false, StateAcked, true},
		{"already acked is not counted", func(f *fixture, q, _ *Queue) (*Job, []string) {
			j := f.ackedKept(q, t0, js{i: 1, ttl: 100, retry: 10})
			return j, []string{j.ID}
		}, 0, false, StateAcked, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			q, other := f.queue("q"), f.queue("other")
			j, idList := tt.setup(f, q, other)
			q.Outbox()
			other.Outbox()
			if got := q.Ack(t0+1, idList); got != tt.want {
				t.Fatalf("Ack = %d, want %d", got, tt.want)
			}
			got := unpersisted(q.Outbox())
			if tt.wantUnpersist != slices.Equal(got, []string{j.ID}) || (!tt.wantUnpersist && len(got) != 0) {
				t.Fatalf("Unpersist = %v, want for %s: %v", got, j.ID, tt.wantUnpersist)
			}
			f.checkKnown(j, !tt.wantGone)
			if tt.wantGone {
				if q.Len() != 0 || q.Records() != 0 {
					t.Fatalf("len %d records %d after ack", q.Len(), q.Records())
				}
				f.checkMem(qs(q))
				return
			}
			checkState(t, j, tt.wantState)
			if tt.wantState == StateAcked {
				if q.Len() != 0 || !slices.Equal(q.confirmedOf(j), []string{myNode}) {
					t.Fatalf("len %d confirmed %v", q.Len(), q.confirmedOf(j))
				}
				if got := q.Ack(t0+2, idList); got != 0 {
					t.Fatalf("second Ack = %d", got)
				}
			}
		})
	}
}

func TestFastAckAndDel(t *testing.T) {
	setups := []struct {
		name      string
		setup     func(f *fixture, q *Queue) *Job
		unpersist bool
	}{
		{"queued", func(f *fixture, q *Queue) *Job { return f.add(q, t0, js{i: 1, ttl: 100, retry: 10}) }, true},
		{"delivered", func(f *fixture, q *Queue) *Job {
			j := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
			take(f.t, q, t0, j)
			return j
		}, true},
		{"delayed", func(f *fixture, q *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 100, retry: 10, delay: 5})
		}, true},
		{"acked", func(f *fixture, q *Queue) *Job { return f.ackedKept(q, t0, js{i: 1, ttl: 100, retry: 10}) }, false},
	}
	cmds := []struct {
		name string
		run  func(q *Queue, ids []string) int64
	}{
		{"FASTACK", func(q *Queue, ids []string) int64 { return q.FastAck(ids) }},
		{"DELJOB", func(q *Queue, ids []string) int64 { return q.Del(ids) }},
	}
	for _, c := range cmds {
		for _, s := range setups {
			t.Run(c.name+" "+s.name, func(t *testing.T) {
				f := newFixture(t)
				q, other := f.queue("q"), f.queue("other")
				j := s.setup(f, q)
				keep := f.add(q, t0, js{i: 2, ttl: 100, retry: 10})
				elsewhere := f.add(other, t0, js{i: 3, ttl: 100, retry: 10})
				q.Outbox()
				got := c.run(q, []string{testID(9999), j.ID, elsewhere.ID, j.ID})
				if got != 1 {
					t.Fatalf("%s = %d, want 1", c.name, got)
				}
				f.checkKnown(j, false)
				f.checkKnown(keep, true)
				f.checkKnown(elsewhere, true)
				u := unpersisted(q.Outbox())
				if s.unpersist != slices.Equal(u, []string{j.ID}) || (!s.unpersist && len(u) != 0) {
					t.Fatalf("Unpersist = %v, want for %s: %v", u, j.ID, s.unpersist)
				}
				if q.Len() != 1 || q.Records() != 1 || j.heapIdx != -1 {
					t.Fatalf("len %d records %d", q.Len(), q.Records())
				}
				f.checkMem(qs(q, other), keep, elsewhere)
			})
		}
	}
}

// -------------------------- NACK, ENQUEUE, DEQUEUE ---------------------------

func TestRequeue(t *testing.T) {
	type setupFn func(f *fixture, q *Queue) *Job
	var (
		delivered setupFn = func(f *fixture, q *Queue) *Job {
			j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
			take(f.t, q, t0, j)
			return j
		}
		delayed setupFn = func(f *fixture, q *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 3600, retry: 10, delay: 50})
		}
		queued setupFn = func(f *fixture, q *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
		}
		dequeued setupFn = func(f *fixture, q *Queue) *Job {
			j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
			q.Dequeue([]string{j.ID})
			return j
		}
		acked setupFn = func(f *fixture, q *Queue) *Job {
			return f.ackedKept(q, t0, js{i: 1, ttl: 3600, retry: 10})
		}
		r0Delivered setupFn = func(f *fixture, q *Queue) *Job {
			j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 0})
			take(f.t, q, t0, j)
			return j
		}
		r0Delayed setupFn = func(f *fixture, q *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 3600, retry: 0, delay: 50})
		}
		r0Dequeued setupFn = func(f *fixture, q *Queue) *Job {
			j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 0})
			q.Dequeue([]string{j.ID})
			return j
		}
	)
	tests := []struct {
		name       string
		setup      setupFn
		nack       bool
		want       int64
		wantState  uint8
		wantNacks  uint32
		wantAddDel uint32
	}{
		{"NACK delivered", delivered, true, 1, StateQueued, 1, 0},
		{"ENQUEUE delivered", delivered, false, 1, StateQueued, 0, 1},
		{"NACK before the first queueing still counts", delayed, true, 1, StateQueued, 1, 0},
		{"ENQUEUE before the first queueing counts nothing", delayed, false, 1, StateQueued, 0, 0},
		{"NACK dequeued", dequeued, true, 1, StateQueued, 1, 0},
		{"ENQUEUE dequeued (queued before)", dequeued, false, 1, StateQueued, 0, 1},
		{"NACK queued is ignored", queued, true, 0, StateQueued, 0, 0},
		{"ENQUEUE queued is ignored", queued, false, 0, StateQueued, 0, 0},
		{"NACK acked is ignored", acked, true, 0, StateAcked, 0, 0},
		{"ENQUEUE acked is ignored", acked, false, 0, StateAcked, 0, 0},
		{"NACK retry 0 delivered is refused", r0Delivered, true, 0, StateActive, 0, 0},
		{"ENQUEUE retry 0 delivered is refused", r0Delivered, false, 0, StateActive, 0, 0},
		{"ENQUEUE retry 0 delayed queues it once", r0Delayed, false, 1, StateQueued, 0, 0},
		{"NACK retry 0 queued before is refused", r0Dequeued, true, 0, StateActive, 0, 0},
		{"ENQUEUE retry 0 queued before is refused", r0Dequeued, false, 0, StateActive, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			q := f.queue("q")
			j := tt.setup(f, q)
			q.Outbox()
			var jobsIn int64
			if st := q.Stat(t0); st != nil {
				jobsIn = st.JobsIn
			}
			qtime := j.Qtime
			now := t0 + 1000
			if got := q.Requeue(now, []string{testID(9999), j.ID}, tt.nack); got != tt.want {
				t.Fatalf("Requeue = %d, want %d", got, tt.want)
			}
			checkState(t, j, tt.wantState)
			if j.Nacks != tt.wantNacks || j.AddDel != tt.wantAddDel {
				t.Fatalf("nacks %d additional-deliveries %d, want %d %d", j.Nacks, j.AddDel, tt.wantNacks, tt.wantAddDel)
			}
			st := q.Stat(now)
			if tt.want == 0 {
				if j.Qtime != qtime {
					t.Fatal("a refused requeue moved qtime")
				}
				if st != nil && st.JobsIn != jobsIn {
					t.Fatal("a refused requeue counted jobs-in")
				}
				return
			}
			if st.JobsIn != jobsIn+1 || q.Len() != 1 {
				t.Fatalf("jobs-in %d->%d, len %d", jobsIn, st.JobsIn, q.Len())
			}
			if j.Retry == 0 {
				if j.Qtime != 0 {
					t.Fatalf("retry 0 qtime = %d after queueing", j.Qtime)
				}
			} else {
				checkJitter(t, "qtime", j.Qtime, now+int64(j.Retry)*1000)
			}
		})
	}
}

func TestDequeue(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
	active := f.add(q, t0, js{i: 2, ttl: 3600, retry: 10, delay: 5})
	q0, awake0 := j.Qtime, j.awake
	if n := q.Dequeue([]string{testID(9999), j.ID, active.ID}); n != 1 {
		t.Fatalf("DEQUEUE = %d, want 1", n)
	}
	checkState(t, j, StateActive)
	checkState(t, active, StateActive)
	if q.Len() != 0 || j.Qtime != q0 || j.awake != awake0 {
		t.Fatalf("len %d, qtime moved %d, awake moved %d", q.Len(), j.Qtime-q0, j.awake-awake0)
	}
	checkFlag(t, j, flagDelivered, "DELIVERED", false)
	if n := q.Dequeue([]string{j.ID}); n != 0 {
		t.Fatalf("second DEQUEUE = %d", n)
	}
	// The requeue timer is unchanged: it queues the job again at qtime.
	q.Tick(q0-1, 0)
	checkState(t, j, StateActive)
	q.Tick(q0, 0)
	checkState(t, j, StateQueued)
	if j.AddDel != 1 {
		t.Fatalf("additional-deliveries = %d", j.AddDel)
	}
}

// ---------------------------------- WORKING ----------------------------------

func TestWorking(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(f *fixture, q, other *Queue) *Job
		id        string // "" = the job's
		at        int64  // ms after t0
		want      int64
		wantErr   string
		wantState uint8
	}{
		{"queued job is dequeued", func(f *fixture, q, _ *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
		}, "", 1000, 10, "", StateActive},
		{"delivered job", func(f *fixture, q, _ *Queue) *Job {
			j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
			take(f.t, q, t0, j)
			return j
		}, "", 1000, 10, "", StateActive},
		{"delayed job", func(f *fixture, q, _ *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 3600, retry: 10, delay: 60})
		}, "", 1000, 10, "", StateActive},
		{"retry 0 job answers 0", func(f *fixture, q, _ *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 3600, retry: 0})
		}, "", 1000, 0, "", StateActive},
		{"exactly half of the TTL", func(f *fixture, q, _ *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
		}, "", 50_000, 10, "", StateActive},
		{"more than half of the TTL", func(f *fixture, q, _ *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
		}, "", 50_001, 0, textTooLate, StateQueued},
		{"unknown job", func(f *fixture, q, _ *Queue) *Job {
			return f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
		}, testID(9999), 1000, 0, textNoJob, StateQueued},
		{"acked job (DESIGN.md decision)", func(f *fixture, q, _ *Queue) *Job {
			return f.ackedKept(q, t0, js{i: 1, ttl: 3600, retry: 10})
		}, "", 1000, 0, textNoJob, StateAcked},
		{"job of another queue", func(f *fixture, _, other *Queue) *Job {
			return f.add(other, t0, js{i: 1, ttl: 3600, retry: 10})
		}, "", 1000, 0, textNoJob, StateQueued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			q, other := f.queue("q"), f.queue("other")
			j := tt.setup(f, q, other)
			id := tt.id
			if id == "" {
				id = j.ID
			}
			qtime, flags := j.Qtime, j.Flags
			now := t0 + tt.at
			got, err := q.Working(now, id)
			if tt.wantErr != "" {
				if err == nil || err.Text != tt.wantErr {
					t.Fatalf("WORKING = %d, %v; want %q", got, err, tt.wantErr)
				}
				checkState(t, j, tt.wantState)
				if j.Qtime != qtime || j.Flags != flags {
					t.Fatal("a refused WORKING changed the job")
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("WORKING = %d, %v; want %d", got, err, tt.want)
			}
			checkState(t, j, tt.wantState)
			if q.Len() != 0 {
				t.Fatalf("len = %d", q.Len())
			}
			checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", true)
			if j.Retry == 0 {
				if j.Qtime != 0 {
					t.Fatalf("retry 0 qtime = %d", j.Qtime)
				}
				return
			}
			checkJitter(t, "qtime", j.Qtime, now+int64(j.Retry)*1000)
			if j.awake != j.Qtime-500 {
				t.Fatalf("awake = qtime%+d", j.awake-j.Qtime)
			}
		})
	}
}

func TestWorkingPostponesRequeue(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
	take(t, q, t0, j)
	q0 := j.Qtime
	if _, err := q.Working(t0+5000, j.ID); err != nil {
		t.Fatal(err.Text)
	}
	q1 := j.Qtime
	checkJitter(t, "qtime", q1, t0+15_000)
	q.Tick(q0, 0)
	checkState(t, j, StateActive)
	if q.Len() != 0 {
		t.Fatal("requeued at the old time")
	}
	q.Tick(q1-500, 0)
	checkFlag(t, j, flagBcastWillQueue, "WILLQUEUE", false)
	q.Tick(q1, 0)
	checkState(t, j, StateQueued)
	if j.AddDel != 1 {
		t.Fatalf("additional-deliveries = %d", j.AddDel)
	}
}

// ------------------------------------ SHOW -----------------------------------

func TestShow(t *testing.T) {
	t.Run("fields of a queued job", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
		now := t0 + 1000
		in := q.Show(now, j.ID)
		want := &protocol.JobInfo{
			Id: j.ID, Queue: "q", HasQueue: true, State: protocol.JobState_QUEUED, Repl: 1,
			Ttl: 3599, Ctime: t0*1_000_000 + 1, Delay: 0, Retry: 10,
			NodesDelivered: []string{myNode}, NodesConfirmed: []string{},
			NextRequeueWithin: j.Qtime - now, HasNextRequeue: true,
			NextAwakeWithin: j.Qtime - 500 - now, HasNextAwake: true,
			Body: []byte("body-1"), HasBody: true,
		}
		if !reflect.DeepEqual(in, want) {
			t.Fatalf("SHOW =\n%+v\nwant\n%+v", in, want)
		}
		if in.NodesConfirmed == nil {
			t.Fatal("nodes-confirmed must be an empty array, not null")
		}
	})

	tests := []struct {
		name  string
		setup func(f *fixture, q, other *Queue) (*Job, string)
		at    int64
		check func(t *testing.T, j *Job, in *protocol.JobInfo)
	}{
		{"unknown ID", func(f *fixture, q, _ *Queue) (*Job, string) {
			return f.add(q, t0, js{i: 1, ttl: 3600, retry: 10}), testID(9999)
		}, 0, func(t *testing.T, _ *Job, in *protocol.JobInfo) {
			if in != nil {
				t.Fatalf("SHOW = %+v, want nil", in)
			}
		}},
		{"job of another queue", func(f *fixture, _, other *Queue) (*Job, string) {
			j := f.add(other, t0, js{i: 1, ttl: 3600, retry: 10})
			return j, j.ID
		}, 0, func(t *testing.T, _ *Job, in *protocol.JobInfo) {
			if in != nil {
				t.Fatalf("SHOW = %+v, want nil", in)
			}
		}},
		{"retry 0 after queueing: next-requeue-within is null", func(f *fixture, q, _ *Queue) (*Job, string) {
			j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 0})
			return j, j.ID
		}, 0, func(t *testing.T, j *Job, in *protocol.JobInfo) {
			if in.HasNextRequeue || in.Retry != 0 {
				t.Fatalf("next-requeue-within = %d (has %v)", in.NextRequeueWithin, in.HasNextRequeue)
			}
			if !in.HasNextAwake || in.NextAwakeWithin != 3600_000 {
				t.Fatalf("next-awake-within = %d, want the expiry", in.NextAwakeWithin)
			}
		}},
		{"delayed job", func(f *fixture, q, _ *Queue) (*Job, string) {
			j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10, delay: 5})
			return j, j.ID
		}, 2000, func(t *testing.T, j *Job, in *protocol.JobInfo) {
			if in.State != protocol.JobState_ACTIVE || in.Delay != 5 || in.NextRequeueWithin != 3000 ||
				in.NextAwakeWithin != 3000 || in.Ttl != 3598 {
				t.Fatalf("SHOW = %+v", in)
			}
		}},
		{"counters", func(f *fixture, q, _ *Queue) (*Job, string) {
			j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
			take(f.t, q, t0, j)
			q.Requeue(t0, []string{j.ID}, true)
			take(f.t, q, t0, j)
			q.Requeue(t0, []string{j.ID}, false)
			take(f.t, q, t0, j)
			q.Requeue(t0, []string{j.ID}, false)
			return j, j.ID
		}, 0, func(t *testing.T, j *Job, in *protocol.JobInfo) {
			if in.Nacks != 1 || in.AdditionalDeliveries != 2 {
				t.Fatalf("nacks %d additional-deliveries %d", in.Nacks, in.AdditionalDeliveries)
			}
		}},
		{"acked job kept for another node", func(f *fixture, q, _ *Queue) (*Job, string) {
			j := f.ackedKept(q, t0, js{i: 1, ttl: 3600, retry: 10})
			return j, j.ID
		}, 0, func(t *testing.T, j *Job, in *protocol.JobInfo) {
			if in.State != protocol.JobState_ACKED || !slices.Equal(in.NodesConfirmed, []string{myNode}) ||
				!slices.Equal(in.NodesDelivered, []string{myNode, otherNode}) {
				t.Fatalf("SHOW = %+v", in)
			}
		}},
		{"ttl never goes below 0", func(f *fixture, q, _ *Queue) (*Job, string) {
			j := f.add(q, t0, js{i: 1, ttl: 10, retry: 30})
			return j, j.ID
		}, 15_000, func(t *testing.T, j *Job, in *protocol.JobInfo) {
			if in.Ttl != 0 {
				t.Fatalf("ttl = %d", in.Ttl)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			q, other := f.queue("q"), f.queue("other")
			j, id := tt.setup(f, q, other)
			tt.check(t, j, q.Show(t0+tt.at, id))
		})
	}

	t.Run("ShowMany", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		a := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
		b := f.add(q, t0, js{i: 2, ttl: 3600, retry: 10})
		got := q.ShowMany(t0, []string{b.ID, testID(9999), a.ID})
		if len(got) != 3 || got[0].Id != b.ID || got[1] != nil || got[2].Id != a.ID {
			t.Fatalf("ShowMany = %+v", got)
		}
	})
}

// ------------------------------------ QPEEK ----------------------------------

func TestPeek(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	a := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
	b := f.add(q, t0, js{i: 2, ttl: 100, retry: 10})
	c := f.add(q, t0, js{i: 3, ttl: 100, retry: 10})
	tests := []struct {
		count int64
		want  []string
	}{
		{1, jobIDs(a)},
		{2, jobIDs(a, b)},
		{3, jobIDs(a, b, c)},
		{10, jobIDs(a, b, c)},
		{-1, jobIDs(c)},
		{-2, jobIDs(c, b)},
		{-10, jobIDs(c, b, a)},
		{0, jobIDs()},
	}
	for _, tt := range tests {
		items := q.Peek(tt.count)
		if got := ids(items); !slices.Equal(got, tt.want) {
			t.Fatalf("QPEEK %d = %v, want %v", tt.count, got, tt.want)
		}
		for _, it := range items {
			if it.Queue != "q" || len(it.Body) == 0 {
				t.Fatalf("item = %+v", it)
			}
		}
	}
	for _, j := range []*Job{a, b, c} {
		checkState(t, j, StateQueued)
	}
	if st := q.Stat(t0); st.Len != 3 || st.JobsOut != 0 {
		t.Fatalf("QPEEK changed the queue: %+v", st)
	}

	empty := f.queue("empty")
	if got := empty.Peek(5); len(got) != 0 || empty.Visible() {
		t.Fatalf("QPEEK of a missing queue = %v, created %v", ids(got), empty.Visible())
	}
}

// ------------------------------------ QSTAT ----------------------------------

func TestStat(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	if st := q.Stat(t0); st != nil {
		t.Fatalf("QSTAT of a missing queue = %+v", st)
	}
	f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
	f.add(q, t0, js{i: 2, ttl: 3600, retry: 10})
	want := &protocol.QueueInfo{
		Found: true, Name: "q", Len: 2, Age: 3, Idle: 3, Blocked: 0,
		ImportFrom: []string{}, JobsIn: 2, JobsOut: 0, Pause: "none",
	}
	if st := q.Stat(t0 + 3999); !reflect.DeepEqual(st, want) {
		t.Fatalf("QSTAT =\n%+v\nwant\n%+v", st, want)
	}
	q.Take(t0+5000, 2)
	if st := q.Stat(t0 + 7999); st.Age != 7 || st.Idle != 2 || st.JobsOut != 2 || st.Len != 0 {
		t.Fatalf("QSTAT after GETJOB = %+v", st)
	}
	// Blocking is not an access (SPEC §18.12).
	q.Block(t0+8000, NewWaiter())
	if st := q.Stat(t0 + 9000); st.Blocked != 1 || st.Idle != 4 {
		t.Fatalf("QSTAT with a blocked client = %+v", st)
	}
	for _, p := range []struct {
		flags uint32
		name  string
	}{{PauseIn, "in"}, {PauseOut, "out"}, {PauseIn | PauseOut, "all"}, {0, "none"}} {
		q.Pause(t0, p.flags, true)
		if st := q.Stat(t0); st.Pause != p.name {
			t.Fatalf("pause = %q, want %q", st.Pause, p.name)
		}
	}
}

// ------------------------------------ PAUSE ----------------------------------

func TestPause(t *testing.T) {
	type step struct {
		flags   uint32
		replace bool
		want    string
	}
	tests := []struct {
		name        string
		steps       []step
		wantVisible bool
	}{
		{"in", []step{{PauseIn, true, "in"}}, true},
		{"out", []step{{PauseOut, true, "out"}}, true},
		{"all", []step{{PauseIn | PauseOut, true, "all"}}, true},
		{"a new state replaces the old one", []step{{PauseIn, true, "in"}, {PauseOut, true, "out"}}, true},
		{"none clears", []step{{PauseIn | PauseOut, true, "all"}, {0, true, "none"}}, true},
		{"state only reports", []step{{PauseIn, true, "in"}, {0, false, "in"}}, true},
		{"none on a missing queue creates nothing", []step{{0, true, "none"}}, false},
		{"state on a missing queue creates nothing", []step{{0, false, "none"}}, false},
		{"unknown bits are dropped", []step{{PauseOut | 1<<7, true, "out"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			q := f.queue("q")
			var last string
			for _, s := range tt.steps {
				last = q.Pause(t0, s.flags, s.replace)
				if last != s.want {
					t.Fatalf("PAUSE %b replace=%v = %q, want %q", s.flags, s.replace, last, s.want)
				}
			}
			if PauseName(q.PauseFlags()) != last || q.PauseFlags()&^(PauseIn|PauseOut) != 0 {
				t.Fatalf("PauseFlags = %b", q.PauseFlags())
			}
			if q.Visible() != tt.wantVisible || f.visible != map[bool]int{false: 0, true: 1}[tt.wantVisible] {
				t.Fatalf("visible %v (count %d), want %v", q.Visible(), f.visible, tt.wantVisible)
			}
			if tt.wantVisible && q.Stat(t0).Pause != last {
				t.Fatalf("QSTAT pause = %q", q.Stat(t0).Pause)
			}
		})
	}
}

// ------------------------------ FLUSH, GIVE BACK -----------------------------

func TestFlush(t *testing.T) {
	f := newFixture(t)
	q, other := f.queue("q"), f.queue("other")
	d := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
	take(t, q, t0, d)
	f.add(q, t0, js{i: 2, ttl: 3600, retry: 10})
	f.add(q, t0, js{i: 3, ttl: 3600, retry: 10, delay: 30})
	f.ackedKept(q, t0, js{i: 4, ttl: 3600, retry: 10})
	elsewhere := f.add(other, t0, js{i: 5, ttl: 3600, retry: 10})
	q.Pause(t0, PauseOut, true)
	w := NewWaiter()
	q.Block(t0, w)
	q.Outbox()

	q.Flush()
	dl := delivered(t, q.Outbox())
	if len(dl) != 1 || dl[0].W != w || dl[0].Wake.Job != nil || dl[0].Wake.Err != nil {
		t.Fatalf("Flush deliveries = %+v, want one empty wake", dl)
	}
	if q.Len() != 0 || q.Records() != 0 || f.env.Dir.Len() != 1 || f.blocked != 0 {
		t.Fatalf("len %d records %d jobs %d blocked %d", q.Len(), q.Records(), f.env.Dir.Len(), f.blocked)
	}
	f.checkKnown(elsewhere, true)
	if q.Visible() || f.visible != 1 || q.Stat(t0) != nil || q.PauseFlags() != 0 {
		t.Fatalf("queue object survived: visible %v count %d pause %b", q.Visible(), f.visible, q.PauseFlags())
	}
	if !q.Idle() || q.NextTick(0) != 0 {
		t.Fatalf("Idle %v NextTick %d", q.Idle(), q.NextTick(0))
	}
	f.checkMem(qs(other), elsewhere)
}

func TestGiveBack(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	a := f.add(q, t0, js{i: 1, ttl: 3600, retry: 10})
	b := f.add(q, t0, js{i: 2, ttl: 3600, retry: 10})
	qa := a.Qtime
	take(t, q, t0+10, a)
	if !q.GiveBack(t0+20, a.ID) {
		t.Fatal("GiveBack = false")
	}
	checkState(t, a, StateQueued)
	checkFlag(t, a, flagDelivered, "DELIVERED", false)
	if a.Qtime != qa || a.AddDel != 0 {
		t.Fatalf("qtime moved %d, additional-deliveries %d", a.Qtime-qa, a.AddDel)
	}
	if got := ids(q.Peek(5)); !slices.Equal(got, jobIDs(a, b)) {
		t.Fatalf("order after GiveBack = %v", got)
	}
	if st := q.Stat(t0 + 20); st.JobsOut != 0 || st.JobsIn != 2 || st.Len != 2 {
		t.Fatalf("Stat = %+v", st)
	}
	for _, id := range []string{a.ID, testID(9999)} {
		if q.GiveBack(t0+20, id) {
			t.Fatalf("GiveBack(%s) of a queued or unknown job = true", id)
		}
	}
	acked := f.ackedKept(q, t0, js{i: 3, ttl: 3600, retry: 10})
	if q.GiveBack(t0+20, acked.ID) {
		t.Fatal("GiveBack of an acked job = true")
	}

	// An at-most-once job the client never read can be delivered again.
	r0 := f.add(q, t0, js{i: 0, ttl: 3600, retry: 0})
	take(t, q, t0+30, r0)
	if !q.GiveBack(t0+40, r0.ID) {
		t.Fatal("GiveBack retry 0 = false")
	}
	take(t, q, t0+50, r0)

	// A blocked client gets the job given back.
	take(t, q, t0+60, a)
	take(t, q, t0+60, b)
	q.Outbox()
	w := NewWaiter()
	q.Block(t0+60, w)
	q.GiveBack(t0+70, b.ID)
	dl := delivered(t, q.Outbox())
	if len(dl) != 1 || dl[0].W != w || dl[0].Wake.Job.Id != b.ID || f.blocked != 0 {
		t.Fatalf("deliveries = %+v", dl)
	}
}

// ------------------------------- Memory (§14) --------------------------------

func TestEvictForMemory(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	acked := f.ackedKept(q, t0, js{i: 1, ttl: 3600, retry: 10})
	r0Delivered := f.add(q, t0, js{i: 2, ttl: 3600, retry: 0})
	take(t, q, t0, r0Delivered)
	deliveredJob := f.add(q, t0, js{i: 3, ttl: 3600, retry: 10})
	take(t, q, t0, deliveredJob)
	r0Queued := f.add(q, t0, js{i: 4, ttl: 3600, retry: 0})
	r0Delayed := f.add(q, t0, js{i: 5, ttl: 3600, retry: 0, delay: 30})
	queuedJob := f.add(q, t0, js{i: 6, ttl: 3600, retry: 10})
	q.Outbox()

	if n := q.EvictForMemory(); n != 2 {
		t.Fatalf("EvictForMemory = %d, want 2", n)
	}
	f.checkKnown(acked, false)
	f.checkKnown(r0Delivered, false)
	for _, j := range []*Job{r0Queued, r0Delayed, deliveredJob, queuedJob} {
		f.checkKnown(j, true)
	}
	if q.Records() != 4 || q.Len() != 2 || acked.heapIdx != -1 || r0Delivered.heapIdx != -1 {
		t.Fatalf("records %d len %d", q.Records(), q.Len())
	}
	f.checkMem(qs(q), r0Queued, r0Delayed, deliveredJob, queuedJob)
	if n := q.EvictForMemory(); n != 0 {
		t.Fatalf("second EvictForMemory = %d", n)
	}
}

func TestEvictForMemoryLogsDeletionOfActiveJobs(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	f.ackedKept(q, t0, js{i: 1, ttl: 3600, retry: 10})
	j := f.add(q, t0, js{i: 2, ttl: 3600, retry: 0})
	take(t, q, t0, j)
	q.Outbox()
	q.EvictForMemory()
	if got := unpersisted(q.Outbox()); !slices.Equal(got, []string{j.ID}) {
		t.Fatalf("Unpersist = %v, want only the active job %s", got, j.ID)
	}
}

func TestLevel(t *testing.T) {
	tests := []struct {
		used, max int64
		want      int
	}{
		{750, 1000, 0},
		{751, 1000, 1},
		{950, 1000, 1},
		{951, 1000, 2},
		{MemoryBase, 0, 2}, // maxmemory 0 is not "unlimited" (SPEC §14)
		{MemoryBase, 1 << 30, 0},
	}
	for _, tt := range tests {
		if got := Level(tt.used, tt.max); got != tt.want {
			t.Errorf("Level(%d, %d) = %d, want %d", tt.used, tt.max, got, tt.want)
		}
	}
}

func TestMemoryAccounting(t *testing.T) {
	f := newFixture(t)
	q := f.queue("queue")
	f.checkMem(nil)
	q.Take(t0, 0)
	f.checkMem(qs(q))
	a := f.add(q, t0, js{i: 1, ttl: 100, retry: 10})
	b := f.addShared(q, t0, js{i: 2, ttl: 100, retry: 10})
	f.checkMem(qs(q), a, b)
	if b.cost() != a.cost()+16 {
		t.Fatalf("a second delivered node costs %d", b.cost()-a.cost())
	}
	q.Take(t0, 2)
	q.Requeue(t0, []string{a.ID}, true)
	f.checkMem(qs(q), a, b)
	q.Ack(t0, []string{a.ID, b.ID}) // a deleted, b kept acked
	f.checkMem(qs(q), b)
	q.Tick(b.Etime, 0)
	f.checkMem(qs(q))
	q.Tick(t0+idleEvictMs, 0) // atime was t0
	f.checkMem(nil)
}

// ------------------------- Idle queues and NextTick (§8) ---------------------

func TestIdleQueueEviction(t *testing.T) {
	for _, tt := range []struct {
		level int
		limit int64
	}{{0, 300_000}, {1, 10_000}, {2, 2_000}, {3, 2_000}} {
		t.Run(fmt.Sprintf("level %d", tt.level), func(t *testing.T) {
			f := newFixture(t)
			q := f.queue("q")
			q.Take(t0, 0)
			if got := q.NextTick(tt.level); got != t0+tt.limit {
				t.Fatalf("NextTick = %+d, want %+d", got-t0, tt.limit)
			}
			if got := q.Tick(t0+tt.limit-1, tt.level); got != t0+tt.limit || !q.Visible() {
				t.Fatalf("Tick before the limit = %+d, visible %v", got-t0, q.Visible())
			}
			if q.Idle() {
				t.Fatal("a visible queue is Idle")
			}
			if got := q.Tick(t0+tt.limit, tt.level); got != 0 {
				t.Fatalf("Tick at the limit = %+d, want 0", got-t0)
			}
			if q.Visible() || f.visible != 0 || q.Stat(t0+tt.limit) != nil || !q.Idle() {
				t.Fatalf("not evicted: visible %v count %d idle %v", q.Visible(), f.visible, q.Idle())
			}
			f.checkMem(nil)
		})
	}

	keepers := []struct {
		name  string
		setup func(f *fixture, q *Queue)
		idle  bool // Idle() after the long Tick
	}{
		{"a queued job", func(f *fixture, q *Queue) { f.add(q, t0, js{i: 1, ttl: 7200, retry: 7000}) }, false},
		{"a blocked client", func(f *fixture, q *Queue) { q.Block(t0, NewWaiter()) }, false},
		{"pause in", func(f *fixture, q *Queue) { q.Pause(t0, PauseIn, true) }, false},
		{"pause out", func(f *fixture, q *Queue) { q.Pause(t0, PauseOut, true) }, false},
	}
	for _, k := range keepers {
		t.Run("kept by "+k.name, func(t *testing.T) {
			f := newFixture(t)
			q := f.queue("q")
			k.setup(f, q)
			q.Outbox()
			q.Tick(t0+3600_000, 2)
			if !q.Visible() || q.Idle() != k.idle || f.visible != 1 {
				t.Fatalf("visible %v idle %v", q.Visible(), q.Idle())
			}
			next := q.NextTick(2)
			if q.Records() == 0 && next != 0 {
				t.Fatalf("NextTick = %+d, want 0 (never)", next-t0)
			}
		})
	}

	t.Run("clearing the pause makes it evictable", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		q.Pause(t0, PauseIn, true)
		q.Tick(t0+3600_000, 0)
		q.Pause(t0+3600_000, 0, true)
		if got := q.NextTick(0); got != t0+idleEvictMs {
			t.Fatalf("NextTick = %+d", got-t0)
		}
		q.Tick(t0+3600_000, 0)
		if q.Visible() {
			t.Fatal("not evicted")
		}
	})

	t.Run("a fetch refreshes the idle clock, blocking does not", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 0})
		take(t, q, t0+200_000, j)
		w := NewWaiter()
		q.Block(t0+400_000, w)
		q.Unblock(w)
		if got := q.NextTick(0); got != t0+500_000 {
			t.Fatalf("NextTick = %+d, want last fetch + 300 s", got-t0)
		}
		q.Tick(t0+499_999, 0)
		if !q.Visible() {
			t.Fatal("evicted early")
		}
		q.Tick(t0+500_000, 0)
		if q.Visible() {
			t.Fatal("not evicted")
		}
		// The active job lives on without its queue object.
		if q.Idle() || q.Records() != 1 {
			t.Fatalf("idle %v records %d", q.Idle(), q.Records())
		}
		if got := q.NextTick(0); got != j.Etime {
			t.Fatalf("NextTick = %+d, want the job's expiry", got-t0)
		}
		q.Tick(j.Etime, 0)
		if !q.Idle() || q.NextTick(0) != 0 {
			t.Fatalf("idle %v NextTick %d", q.Idle(), q.NextTick(0))
		}
	})

	t.Run("NextTick is the earlier of a job and the eviction", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		q.Take(t0, 0) // GETJOB creates the queue object; a delayed ADDJOB does not
		j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 1000, delay: 500})
		if got := q.NextTick(0); got != t0+300_000 {
			t.Fatalf("NextTick = %+d, want the eviction", got-t0)
		}
		if got := q.NextTick(2); got != t0+2_000 {
			t.Fatalf("NextTick at level 2 = %+d", got-t0)
		}
		q.Take(t0, 0)
		q.Tick(t0+300_000, 0)
		if q.Visible() || q.Records() != 1 {
			t.Fatal("the queue object must go while the delayed job waits")
		}
		if got := q.NextTick(0); got != j.Qtime {
			t.Fatalf("NextTick = %+d, want the delayed job's qtime", got-t0)
		}
	})

	t.Run("a new queue object starts fresh counters", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 600})
		take(t, q, t0, j)
		q.Tick(t0+300_000, 0)
		if q.Visible() || f.visible != 0 {
			t.Fatal("not evicted")
		}
		due := j.Qtime
		q.Tick(due, 0)
		checkState(t, j, StateQueued)
		st := q.Stat(due)
		if st == nil || st.JobsIn != 1 || st.JobsOut != 0 || st.Age != 0 || st.Len != 1 || f.visible != 1 {
			t.Fatalf("Stat after re-creation = %+v (visible %d)", st, f.visible)
		}
		if j.AddDel != 1 {
			t.Fatalf("additional-deliveries = %d", j.AddDel)
		}
	})

	t.Run("a queue that never existed wants no tick", func(t *testing.T) {
		f := newFixture(t)
		q := f.queue("q")
		if !q.Idle() || q.NextTick(0) != 0 || q.Tick(t0, 0) != 0 {
			t.Fatal("empty queue")
		}
		w := NewWaiter()
		q.Block(t0, w)
		if q.Idle() {
			t.Fatal("a queue with a waiter is Idle")
		}
		q.Unblock(w)
		if q.Idle() || f.blocked != 0 {
			t.Fatal("the queue object made by GETJOB must stay until evicted")
		}
	})
}

func TestTickGivesUpOnAJobItCannotQueue(t *testing.T) {
	// Not reachable through commands today: a delivered at-most-once job
	// with a pending qtime. The scheduler must not retry it forever.
	f := newFixture(t)
	q := f.queue("q")
	j := f.add(q, t0, js{i: 1, ttl: 3600, retry: 0, delay: 5})
	j.Flags |= flagDelivered
	q.Tick(t0+5000, 0)
	checkState(t, j, StateActive)
	if q.Len() != 0 || j.Qtime != 0 || j.awake != j.Etime {
		t.Fatalf("len %d qtime %d awake etime%+d", q.Len(), j.Qtime, j.awake-j.Etime)
	}
}

// ---------------------------- Ack garbage collection -------------------------

func TestAckedJobKeptForOtherNode(t *testing.T) {
	// Single-node part of SPEC §12: with another node in nodes_delivered the
	// ack waits for it; the job stays acked, counted once, until its TTL.
	f := newFixture(t)
	q := f.queue("q")
	j := f.ackedKept(q, t0, js{i: 1, ttl: 100, retry: 10})
	if q.Len() != 0 || !slices.Equal(q.confirmedOf(j), []string{myNode}) {
		t.Fatalf("len %d confirmed %v", q.Len(), q.confirmedOf(j))
	}
	for now := t0 + 1000; now < j.Etime; now += 9000 {
		q.Tick(now, 0)
		checkState(t, j, StateAcked)
	}
	if out := q.Outbox(); len(out) != 0 {
		t.Fatalf("GC of a kept ack emitted %+v", out)
	}
	q.Tick(j.Etime, 0)
	f.checkKnown(j, false)
}
