package actors

import (
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/godisque/godisque/protocol"
)

// Keys whose hashes collide still find their own values: the second and
// later live in the shard's overflow map, and every operation looks there.
func TestShardedMapHashCollisions(t *testing.T) {
	m := newShardedMap(func(v string) string { return v })
	m.hash = func(k string) uint64 { return uint64(len(k)) } // "a", "b", "c" collide

	for _, k := range []string{"a", "b", "c", "dd"} {
		if v, added := m.putIfAbsent(k, k); !added || v != k {
			t.Fatalf("put %q: %q %v", k, v, added)
		}
	}
	if v, added := m.putIfAbsent("b", "b"); added || v != "b" {
		t.Fatalf("second put of b: %q %v", v, added)
	}
	check := func(want ...string) {
		t.Helper()
		for _, k := range []string{"a", "b", "c", "dd", "e"} {
			v, ok := m.get(k)
			if has := slices.Contains(want, k); ok != has || (ok && v != k) {
				t.Fatalf("get %q = %q %v, want present %v", k, v, ok, has)
			}
		}
		var seen []string
		m.each(func(k, v string) {
			if k != v {
				t.Fatalf("each gave %q for key %q", v, k)
			}
			seen = append(seen, k)
		})
		var scanned []string
		for cur := m.scan(0, 1, false, func(k, _ string) { scanned = append(scanned, k) }); cur != 0; {
			cur = m.scan(cur, 1, false, func(k, _ string) { scanned = append(scanned, k) })
		}
		slices.Sort(seen)
		slices.Sort(scanned)
		if !slices.Equal(seen, want) || !slices.Equal(scanned, want) || m.len() != int64(len(want)) {
			t.Fatalf("each %v, scan %v, len %d; want %v", seen, scanned, m.len(), want)
		}
	}
	check("a", "b", "c", "dd")

	if m.deleteIf("b", func(string) bool { return false }) {
		t.Fatal("deleteIf removed b although match said no")
	}
	if !m.deleteIf("a", func(string) bool { return true }) { // a held the hash's slot
		t.Fatal("delete a failed")
	}
	check("b", "c", "dd")
	if v, added := m.putIfAbsent("e", "e"); !added || v != "e" { // takes the free slot
		t.Fatalf("put e: %q %v", v, added)
	}
	if _, added := m.putIfAbsent("c", "c"); added {
		t.Fatal("c was added twice")
	}
	check("b", "c", "dd", "e")
	for _, k := range []string{"b", "c", "e"} {
		if !m.deleteIf(k, func(string) bool { return true }) {
			t.Fatalf("delete %q failed", k)
		}
	}
	check("dd")
	if sh, _ := m.locate("b"); sh.more != nil {
		t.Fatalf("the overflow map outlived its last entry: %v", sh.more)
	}
	if m.deleteIf("b", func(string) bool { return true }) {
		t.Fatal("deleted b twice")
	}
}

// A job's record, ID and a body of up to sharedUpTo bytes are one block;
// ID and body read back as made, and the body is a copy of the bytes given.
// A longer body keeps a block of its own.
func TestNewJob(t *testing.T) {
	for _, n := range []int{0, 1, 16, 17, 24, 33, 100, 112, 113, 176, 177, sharedUpTo, sharedUpTo + 1, 1024} {
		a := protocol.NewIDGen(testNodeID, []byte("seed"))
		b := protocol.NewIDGen(testNodeID, []byte("seed"))
		in := make([]byte, n)
		for i := range in {
			in[i] = byte('a' + i%26)
		}
		want := string(in)
		j := newJob(a, 3600, 60, in)
		if wantID := b.Next(3600, 60); j.ID != wantID || j.Body != want || j.heapIdx != -1 {
			t.Fatalf("%d bytes: id %q body %q heapIdx %d, want %q, the body given and -1", n, j.ID, j.Body, j.heapIdx, wantID)
		}
		if n > 0 {
			in[0] = '!' // the caller's bytes: the job's body is its own copy
			if j.Body != want {
				t.Fatalf("%d bytes: the body follows the caller's buffer", n)
			}
		}
		allocs := testing.AllocsPerRun(10, func() { newJob(a, 3600, 60, in) })
		if wantAllocs := 1.0; n > sharedUpTo && allocs <= wantAllocs || n <= sharedUpTo && allocs != wantAllocs {
			t.Errorf("%d bytes: %v allocations per job (one block up to %d bytes of body)", n, allocs, sharedUpTo)
		}
	}
}

// A job decoded from a peer's or the log's message is one block when its ID
// and body fit, with copies of them, and its nodes_delivered (list and node
// IDs) is shared with every other job of the same queue naming the same
// nodes.
func TestJobFromProtoSharesItsNodeIDs(t *testing.T) {
	var names nodeNames
	decode := func(id string, body []byte) *Job {
		p := &protocol.Job{Id: id, Queue: "q", Body: body, TtlMs: 60_000,
			NodesDelivered: []string{strings.Repeat("a", 40), strings.Repeat("b", 40)}}
		return jobFromProto(p, &names)
	}
	body := []byte("twenty-four byte body!!!")
	a := decode("D-00000001-a6NwAnrDaaWbwGhVjU7VDD55-05a1", body)
	b := decode("D-00000001-b6NwAnrDaaWbwGhVjU7VDD55-05a1", []byte("other"))
	body[0] = '!'
	if a.Body != "twenty-four byte body!!!" || b.Body != "other" {
		t.Fatalf("bodies %q %q: not copies", a.Body, b.Body)
	}
	for i := range a.Delivered() {
		if a.Delivered()[i] != b.Delivered()[i] || unsafe.StringData(a.Delivered()[i]) != unsafe.StringData(b.Delivered()[i]) {
			t.Fatalf("nodes_delivered[%d] of two jobs: %q at %p and %q at %p, want one copy",
				i, a.Delivered()[i], unsafe.StringData(a.Delivered()[i]), b.Delivered()[i], unsafe.StringData(b.Delivered()[i]))
		}
	}
	if unsafe.SliceData(a.Delivered()) != unsafe.SliceData(b.Delivered()) || cap(a.Delivered()) != len(a.Delivered()) {
		t.Fatalf("two jobs naming the same nodes hold two lists, or one with room to append into")
	}
	p := &protocol.Job{Id: a.ID, Body: body, NodesDelivered: a.Delivered()}
	if allocs := testing.AllocsPerRun(10, func() { jobFromProto(p, &names) }); allocs != 1 {
		t.Errorf("%v allocations per decoded job, want 1 (its block; the list is shared)", allocs)
	}
	long := decode(a.ID, make([]byte, 1024))
	if len(long.Body) != 1024 || long.ID != a.ID || long.heapIdx != -1 {
		t.Fatalf("a job with a long body: %d bytes, ID %q, heapIdx %d", len(long.Body), long.ID, long.heapIdx)
	}
}

// The nodes_confirmed map is kept while small (made again per replicated
// job otherwise) and dropped once a backlog of entries has drained.
func TestConfirmedMapDroppedAfterBacklog(t *testing.T) {
	f := newFixture(t)
	q := f.queue("q")
	one := &Job{ID: "one"}
	q.setConfirmed(one, []string{myNode})
	q.setConfirmed(one, nil)
	if q.confirmed == nil || len(q.confirmed) != 0 {
		t.Fatalf("a map that held one entry was dropped or kept it: %v", q.confirmed)
	}
	jobs := make([]*Job, 2*shrinkMin)
	for i := range jobs {
		jobs[i] = &Job{ID: "job-" + string(rune('a'+i%26)) + string(rune('a'+i/26))}
		q.addConfirmed(jobs[i], myNode)
	}
	if len(q.confirmed) != len(jobs) || !slices.Equal(q.confirmedOf(jobs[3]), []string{myNode}) {
		t.Fatalf("%d lists, %v for one job", len(q.confirmed), q.confirmedOf(jobs[3]))
	}
	for _, j := range jobs {
		q.setConfirmed(j, nil)
	}
	if q.confirmed != nil {
		t.Fatalf("the map of a drained backlog was kept (%d entries)", len(q.confirmed))
	}
}
