package actors

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol"
)

// ------------------------- A cluster of pure cores ---------------------------
//
// Table tests of the cluster protocol (SPEC.md §10-§13) with no actors and
// no network: one queue core per node, a shared clock passed as `now`, and a
// message pump that moves every Send effect to its destination core (a
// clone, so nodes share no memory) until nothing moves. A node can be down
// (its messages vanish both ways) and the others' view of who is reachable
// follows that, as failure detection would.

type simNode struct {
	id   string
	f    *fixture
	q    *Queue
	down bool
	// answers are the AddDone effects the node's core emitted.
	answers map[string]*protocol.Error
	sent    []proto.Message
}

type sim struct {
	t     *testing.T
	now   int64
	nodes []*simNode
	// cut drops messages from -> to when it answers true (partitions).
	cut func(from, to string) bool
}

type simPeers struct {
	s  *sim
	me string
}

func (p simPeers) Reachable() []string {
	var out []string
	for _, n := range p.s.nodes {
		if n.id != p.me && !n.down && (p.s.cut == nil || !p.s.cut(p.me, n.id)) {
			out = append(out, n.id)
		}
	}
	return out
}

func (p simPeers) Others() []string {
	var out []string
	for _, n := range p.s.nodes {
		if n.id != p.me {
			out = append(out, n.id)
		}
	}
	return out
}

func (p simPeers) Size() int { return len(p.s.nodes) }

func newSim(t *testing.T, n int) *sim {
	s := &sim{t: t, now: t0}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%040x", i+1)
		nd := &simNode{id: id, f: newFixture(t), answers: map[string]*protocol.Error{}}
		nd.f.env.NodeID = func() string { return id }
		nd.f.env.Rand = rand.New(rand.NewPCG(uint64(i+1), 7))
		nd.f.env.Peers = simPeers{s: s, me: id}
		nd.q = nd.f.queue("q")
		s.nodes = append(s.nodes, nd)
	}
	return s
}

func (s *sim) node(id string) *simNode {
	for _, n := range s.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

// pump moves messages until the cluster is quiet.
func (s *sim) pump() {
	s.t.Helper()
	for round := 0; round < 1000; round++ {
		moved := false
		for _, n := range s.nodes {
			for _, e := range n.q.Outbox() {
				switch e := e.(type) {
				case AddDone:
					n.answers[e.ID] = e.Err
				case Send:
					n.sent = append(n.sent, e.Msg)
					for _, to := range e.To {
						dst := s.node(to)
						if n.down || dst == nil || dst.down || (s.cut != nil && s.cut(n.id, to)) {
							continue
						}
						moved = true
						dst.receive(s.now, n.id, proto.Clone(e.Msg))
					}
				}
			}
		}
		if !moved {
			return
		}
	}
	s.t.Fatal("the cluster never went quiet")
}

// receive is what the node actor and the queue actor do with a message.
func (n *simNode) receive(now int64, from string, msg proto.Message) {
	if id := jobIDOf(msg); id != "" {
		if _, known := n.f.env.Dir.Get(id); !known {
			if sa, ok := msg.(*protocol.SetAck); ok {
				n.q.emit(Send{To: []string{from}, Msg: &protocol.GotAck{Id: sa.Id}})
			}
			return
		}
	}
	n.q.onPeer(now, from, msg)
}

func jobIDOf(msg proto.Message) string {
	switch m := msg.(type) {
	case *protocol.GotJob:
		return m.Id
	case *protocol.EnqueueJob:
		return m.Id
	case *protocol.Queued:
		return m.Id
	case *protocol.SetAck:
		return m.Id
	case *protocol.WillQueue:
		return m.Id
	case *protocol.GotAck:
		return m.Id
	case *protocol.DelJobMsg:
		return m.Id
	case *protocol.WorkingMsg:
		return m.Id
	}
	return ""
}

// advance moves the clock in steps of 10 ms, ticking every live node.
func (s *sim) advance(ms int64) {
	s.t.Helper()
	for end := s.now + ms; s.now < end; {
		s.now = min(s.now+10, end)
		for _, n := range s.nodes {
			if !n.down {
				n.q.Tick(s.now, 0)
			}
		}
		s.pump()
	}
}

// addJob is a replicated ADDJOB on node n.
func (s *sim) addJob(n *simNode, i int, repl int, o AddOptions) *Job {
	s.t.Helper()
	j := newTestJob("q", s.now, js{i: i, ttl: 3600, retry: 10})
	j.ID = fmt.Sprintf("D-%s-%024d-05a1", n.id[:8], i)
	j.Repl = uint16(repl)
	j.setDelivered([]string{n.id})
	done, err := n.q.AddReplicated(s.now, j, o)
	if err != nil {
		s.t.Fatalf("AddReplicated: %s", err.Text)
	}
	if done {
		n.answers[j.ID] = nil
	}
	s.pump()
	return j
}

func (s *sim) holders(id string) (states map[string]string) {
	states = map[string]string{}
	for _, n := range s.nodes {
		if j, ok := n.f.env.Dir.Get(id); ok && !n.down {
			states[n.id[38:]] = StateName(j.State)
		}
	}
	return states
}

func sameStates(got map[string]string, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// ------------------------------- Replication ---------------------------------

func TestReplicatedAddAnswersWhenEveryCopyIsConfirmed(t *testing.T) {
	s := newSim(t, 3)
	a := s.nodes[0]
	j := s.addJob(a, 1, 3, AddOptions{})
	err, answered := a.answers[j.ID]
	if !answered || err != nil {
		t.Fatalf("ADDJOB REPLICATE 3 answered %v (%v)", answered, err)
	}
	// SPEC §5.1: queued only on the node that made it; the copies are active.
	want := map[string]string{"01": "queued", "02": "active", "03": "active"}
	if got := s.holders(j.ID); !sameStates(got, want) {
		t.Fatalf("holders %v, want %v", got, want)
	}
	for _, n := range s.nodes {
		jj, _ := n.f.env.Dir.Get(j.ID)
		if len(jj.Delivered()) != 3 {
			t.Errorf("node %s knows holders %v, want all three", n.id[38:], jj.Delivered())
		}
	}
	if a.q.Len() != 1 || s.nodes[1].q.Len() != 0 {
		t.Fatalf("queue lengths %d %d", a.q.Len(), s.nodes[1].q.Len())
	}
}

func TestReplicatedAddTimesOutWithNOREPLAndCleansUp(t *testing.T) {
	s := newSim(t, 3)
	a, c := s.nodes[0], s.nodes[2]
	c.down = true
	// B never answers (it refuses REPLJOB, as a paused-in queue does).
	s.nodes[1].q.Pause(s.now, PauseIn, true)
	j := s.addJob(a, 1, 3, AddOptions{TimeoutMs: 300})
	if _, answered := a.answers[j.ID]; answered {
		t.Fatal("answered before any copy was confirmed")
	}
	s.advance(400)
	err, answered := a.answers[j.ID]
	if !answered || err == nil || err.Text != errReplTimeout.Text {
		t.Fatalf("answer %v %v, want NOREPL timeout", answered, err)
	}
	if got := s.holders(j.ID); len(got) != 0 {
		t.Fatalf("a timed out job is still held: %v", got)
	}
}

func TestReplicationAddsATargetEvery50ms(t *testing.T) {
	// Of 4 nodes, 2 are unreachable yet still listed: REPLICATE 2 reaches
	// the one live other node, however bad the first picks.
	s := newSim(t, 4)
	a := s.nodes[0]
	s.nodes[1].q.Pause(s.now, PauseIn, true)
	s.nodes[2].q.Pause(s.now, PauseIn, true)
	j := s.addJob(a, 1, 2, AddOptions{})
	s.advance(200)
	if err, answered := a.answers[j.ID]; !answered || err != nil {
		t.Fatalf("answered %v %v", answered, err)
	}
	if st := s.holders(j.ID)["04"]; st != "active" {
		t.Fatalf("the live node holds %q", st)
	}
}

func TestDeletingAWaitingJobAnswersNOREPL(t *testing.T) {
	s := newSim(t, 2)
	a := s.nodes[0]
	s.nodes[1].down = true
	j := s.addJob(a, 1, 2, AddOptions{})
	if n := a.q.Del([]string{j.ID}); n != 1 {
		t.Fatalf("DELJOB = %d", n)
	}
	s.pump()
	if err := a.answers[j.ID]; err == nil || err.Text != errReplRemoved.Text {
		t.Fatalf("answer %v, want NOREPL removed", err)
	}
}

func TestAsyncAddAnswersAtOnceAndCopiesFollow(t *testing.T) {
	s := newSim(t, 3)
	j := s.addJob(s.nodes[0], 1, 3, AddOptions{Async: true})
	if _, answered := s.nodes[0].answers[j.ID]; !answered {
		t.Fatal("ASYNC must answer at once")
	}
	want := map[string]string{"01": "queued", "02": "active", "03": "active"}
	if got := s.holders(j.ID); !sameStates(got, want) {
		t.Fatalf("holders %v, want %v", got, want)
	}
}

func TestExternalReplicationKeepsNoLocalCopy(t *testing.T) {
	s := newSim(t, 3)
	a := s.nodes[0]
	j := s.addJob(a, 1, 2, AddOptions{External: true})
	if err, answered := a.answers[j.ID]; !answered || err != nil {
		t.Fatalf("answered %v %v", answered, err)
	}
	got := s.holders(j.ID)
	if _, here := got["01"]; here || len(got) != 2 {
		t.Fatalf("holders %v: want the two others and not me", got)
	}
	queued := 0
	for _, st := range got {
		if st == "queued" {
			queued++
		}
	}
	if queued != 1 {
		t.Fatalf("holders %v: exactly one must queue it (ENQUEUE)", got)
	}
}

// ------------------------------ Acknowledgement ------------------------------

func TestAckOnAnyNodeRemovesEveryCopy(t *testing.T) {
	for holder := 0; holder < 3; holder++ {
		t.Run(fmt.Sprint("ack on node ", holder+1), func(t *testing.T) {
			s := newSim(t, 3)
			j := s.addJob(s.nodes[0], 1, 3, AddOptions{})
			if n := s.nodes[holder].q.Ack(s.now, []string{j.ID}); n != 1 {
				t.Fatalf("ACKJOB = %d", n)
			}
			s.pump()
			if got := s.holders(j.ID); len(got) != 0 {
				t.Fatalf("copies left after the ack: %v", got)
			}
		})
	}
}

func TestAckWithAHolderDownCompletesWhenItReturns(t *testing.T) {
	s := newSim(t, 3)
	j := s.addJob(s.nodes[0], 1, 3, AddOptions{})
	s.nodes[2].down = true
	s.nodes[1].q.Ack(s.now, []string{j.ID})
	s.pump()
	if got := s.holders(j.ID); !sameStates(got, map[string]string{"01": "acked", "02": "acked"}) {
		t.Fatalf("with node 3 down: %v", got)
	}
	s.advance(5000) // GC retries with back-off meanwhile
	s.nodes[2].down = false
	s.advance(20_000)
	if got := s.holders(j.ID); len(got) != 0 {
		t.Fatalf("copies left after node 3 came back: %v", got)
	}
}

func TestAckOfAnUnknownJobReachesTheHolders(t *testing.T) {
	// REPLICATE 2 on 3 nodes: the consumer acks on the node without a copy.
	s := newSim(t, 3)
	j := s.addJob(s.nodes[0], 1, 2, AddOptions{})
	var outsider *simNode
	for _, n := range s.nodes {
		if _, ok := n.f.env.Dir.Get(j.ID); !ok {
			outsider = n
		}
	}
	outsider.q.DummyAck(s.now, j.ID, 60)
	s.pump()
	s.advance(3000)
	if got := s.holders(j.ID); len(got) != 0 {
		t.Fatalf("copies left after a dummy ack: %v", got)
	}
}

func TestFastAckDeletesEverywhere(t *testing.T) {
	s := newSim(t, 3)
	j := s.addJob(s.nodes[0], 1, 3, AddOptions{})
	if n := s.nodes[2].q.FastAck([]string{j.ID}); n != 1 {
		t.Fatalf("FASTACK = %d", n)
	}
	s.pump()
	if got := s.holders(j.ID); len(got) != 0 {
		t.Fatalf("copies left: %v", got)
	}
}

// --------------------------- Requeue negotiation -----------------------------

func TestAReplicaRequeuesAJobWhoseNodeDied(t *testing.T) {
	s := newSim(t, 3)
	a := s.nodes[0]
	j := s.addJob(a, 1, 3, AddOptions{})
	take(t, a.q, s.now, j) // a consumer took it ...
	a.down = true          // ... and its node died
	s.advance(12_000)      // RETRY 10 s (± jitter)
	queued := 0
	for _, n := range s.nodes[1:] {
		queued += n.q.Len()
	}
	if queued != 1 {
		t.Fatalf("after the retry %d replicas have the job queued, want exactly 1 (%v)", queued, s.holders(j.ID))
	}
}

func TestWorkingPostponesTheRequeueEverywhere(t *testing.T) {
	s := newSim(t, 3)
	a := s.nodes[0]
	j := s.addJob(a, 1, 3, AddOptions{})
	take(t, a.q, s.now, j)
	s.advance(6000)
	if _, err := a.q.Working(s.now, j.ID); err != nil {
		t.Fatal(err.Text)
	}
	s.pump()
	s.advance(7000) // 13 s after the add: past the first retry
	for _, n := range s.nodes {
		if n.q.Len() != 0 {
			t.Fatalf("node %s requeued a job a consumer works on", n.id[38:])
		}
	}
	s.advance(6000) // 19 s: past WORKING's retry
	queued := 0
	for _, n := range s.nodes {
		queued += n.q.Len()
	}
	if queued != 1 {
		t.Fatalf("%d nodes requeued after WORKING's retry, want 1", queued)
	}
}

func TestNackCountsOnTheOtherHolders(t *testing.T) {
	s := newSim(t, 2)
	a, b := s.nodes[0], s.nodes[1]
	j := s.addJob(a, 1, 2, AddOptions{})
	take(t, a.q, s.now, j)
	if n := a.q.Requeue(s.now, []string{j.ID}, true); n != 1 {
		t.Fatalf("NACK = %d", n)
	}
	s.pump()
	jb, _ := b.f.env.Dir.Get(j.ID)
	if jb.Nacks != 1 || j.Nacks != 1 {
		t.Fatalf("nacks here %d, on the replica %d; want 1 and 1", j.Nacks, jb.Nacks)
	}
	if b.q.Len() != 0 || a.q.Len() != 1 {
		t.Fatal("the NACKed job must be queued on one node")
	}
}

func TestCompareNodesIsATotalOrderPerJob(t *testing.T) {
	a, b := fmt.Sprintf("%040x", 1), fmt.Sprintf("%040x", 2)
	wins := 0
	gen := protocol.NewIDGen(myNode, []byte("seed"))
	for i := 0; i < 64; i++ {
		id := gen.Next(3600, 10)
		ab, ba := compareNodes(a, b, id), compareNodes(b, a, id)
		if ab == 0 || (ab > 0) == (ba > 0) {
			t.Fatalf("job %s: cmp(a,b)=%d cmp(b,a)=%d", id, ab, ba)
		}
		if ab > 0 {
			wins++
		}
	}
	if wins == 0 || wins == 64 {
		t.Fatalf("node a won %d of 64 jobs: the order must vary from job to job", wins)
	}
}

// -------------------------------- Federation ---------------------------------

func TestAnEmptyQueueImportsJobsFromAnotherNode(t *testing.T) {
	s := newSim(t, 2)
	a, b := s.nodes[0], s.nodes[1]
	var jobs []*Job
	for i := 1; i <= 6; i++ {
		j := newTestJob("q", s.now, js{i: i, ttl: 3600, retry: 10})
		j.setDelivered([]string{a.id})
		if err := a.q.Add(s.now, j, 0); err != nil {
			t.Fatal(err.Text)
		}
		jobs = append(jobs, j)
	}
	items, _ := b.q.Take(s.now, 1) // empty: asks everybody for one job
	if len(items) != 0 {
		t.Fatal("B had no job")
	}
	s.pump()
	if b.q.Len() != 1 || a.q.Len() != 5 {
		t.Fatalf("after NEEDJOBS: B has %d, A has %d; want 1 and 5", b.q.Len(), a.q.Len())
	}
	take(t, b.q, s.now, jobs[0]) // the oldest moved; taking it asks again ad hoc
	s.pump()
	if b.q.Len() == 0 {
		t.Fatal("B imports at a rate now: it must have asked its responder for more")
	}
	st := b.q.Stat(s.now)
	if st.JobsIn < 2 || st.ImportRate == 0 || len(st.ImportFrom) != 1 || st.ImportFrom[0] != a.id {
		t.Fatalf("QSTAT on the importer: jobs-in %d import-rate %d import-from %v", st.JobsIn, st.ImportRate, st.ImportFrom)
	}
	// Both copies know each other, so an ack on B removes A's copy.
	b.q.Ack(s.now, []string{jobs[0].ID})
	s.pump()
	if got := s.holders(jobs[0].ID); len(got) != 0 {
		t.Fatalf("copies of a moved job left after its ack: %v", got)
	}
}

func TestNeedJobsIsIgnoredWhenPausedOut(t *testing.T) {
	s := newSim(t, 2)
	a, b := s.nodes[0], s.nodes[1]
	a.q.Add(s.now, newTestJob("q", s.now, js{i: 1, ttl: 3600, retry: 10}), 0)
	a.q.Pause(s.now, PauseOut, true)
	b.q.Take(s.now, 1)
	s.pump()
	if b.q.Len() != 0 || a.q.Len() != 1 {
		t.Fatal("a queue paused in output must not ship jobs")
	}
}

func TestBlockedClientsAskForJobsEverySecond(t *testing.T) {
	s := newSim(t, 2)
	a, b := s.nodes[0], s.nodes[1]
	w := NewWaiter()
	b.q.Take(s.now, 0)
	b.q.Block(s.now, w)
	s.pump()
	s.advance(3000) // the broadcast back-off (2 s) has passed
	a.q.Add(s.now, newTestJob("q", s.now, js{i: 1, ttl: 3600, retry: 10}), 0)
	s.advance(5000)
	if !w.Claimed() {
		t.Fatal("a client blocked on B never got the job produced on A")
	}
	if a.q.Len() != 0 {
		t.Fatal("the job stayed queued on A")
	}
}

func TestAbandonedAddIsCleanedUpLikeATimeout(t *testing.T) {
	// B takes its copy but its GOTJOB never reaches A; C is down.
	s := newSim(t, 3)
	a, b := s.nodes[0], s.nodes[1]
	s.nodes[2].down = true
	s.cut = func(from, to string) bool { return from == b.id && to == a.id }
	j := s.addJob(a, 1, 3, AddOptions{TimeoutMs: 60_000})
	if got := s.holders(j.ID); !sameStates(got, map[string]string{"01": "wait-repl", "02": "active"}) {
		t.Fatalf("before: %v", got)
	}
	if !a.q.Abandon(j.ID) {
		t.Fatal("Abandon found nothing to abandon")
	}
	s.pump()
	if err, answered := a.answers[j.ID]; !answered || err == nil || err.Text != errReplTimeout.Text {
		t.Fatalf("answer %v %v, want the timeout's NOREPL", answered, err)
	}
	if got := s.holders(j.ID); len(got) != 0 {
		t.Fatalf("an abandoned job is still held: %v", got)
	}
	if a.q.Abandon(j.ID) {
		t.Fatal("a job abandoned twice")
	}
}

func TestAbandonLeavesAReplicatedJobAlone(t *testing.T) {
	s := newSim(t, 2)
	a := s.nodes[0]
	j := s.addJob(a, 1, 2, AddOptions{})
	if err, answered := a.answers[j.ID]; !answered || err != nil {
		t.Fatalf("answered %v %v", answered, err)
	}
	if a.q.Abandon(j.ID) {
		t.Fatal("abandoned a job whose replication was achieved")
	}
	s.pump()
	if got := s.holders(j.ID); len(got) != 2 {
		t.Fatalf("holders after a late abandon: %v", got)
	}
}

func TestAddDeliveredAllGrowsOnceAndAccounts(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	j := f.add(q, t0, js{i: 1, ttl: 60, retry: 10})
	shared := j.Delivered() // may be shared with other jobs: never written
	if n := q.addDeliveredAll(j, []string{"", "n2", myNode, "n3", "n2"}); n != 2 {
		t.Fatalf("addDeliveredAll counted %d new nodes, want 2", n)
	}
	if got := fmt.Sprint(j.Delivered()); got != fmt.Sprint([]string{myNode, "n2", "n3"}) || cap(j.Delivered()) != 3 {
		t.Fatalf("nodes_delivered %s (cap %d), want [me n2 n3] at its exact size", got, cap(j.Delivered()))
	}
	if len(shared) != 1 || shared[0] != myNode {
		t.Fatalf("the list the job had was written to: %v", shared)
	}
	f.checkMem(qs(q), j)
	if q.addDelivered(j, "n3") || !q.addDelivered(j, "n4") || len(j.Delivered()) != 4 {
		t.Fatalf("addDelivered of a known and a new node: %v", j.Delivered())
	}
	f.checkMem(qs(q), j)
}
