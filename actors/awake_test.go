package actors

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"unsafe"
)

// awakeJob is a bare record for the awake index: only the ordering key
// (awake, ctime, id) and heapIdx matter to it.
func awakeJob(i int, awake, ctime int64) *Job {
	return &Job{ID: fmt.Sprintf("D-01234567-%024d-05a1", i), awake: awake, Ctime: ctime, heapIdx: -1}
}

// awakeBefore is the order SPEC.md §7 gives the awake list: awake time,
// then ctime, then ID.
func awakeBefore(a, b *Job) bool {
	if a.awake != b.awake {
		return a.awake < b.awake
	}
	if a.Ctime != b.Ctime {
		return a.Ctime < b.Ctime
	}
	return a.ID < b.ID
}

func awakeCmp(a, b *Job) int {
	switch {
	case awakeBefore(a, b):
		return -1
	case awakeBefore(b, a):
		return 1
	}
	return 0
}

// checkAwakeIndex verifies the heap property, that every entry knows its
// position, that the index holds exactly `members`, and that peek is the
// smallest member.
func checkAwakeIndex(t *testing.T, h awakeIndex, members map[*Job]bool, all []*Job) {
	t.Helper()
	if len(h) != len(members) {
		t.Fatalf("index holds %d jobs, want %d", len(h), len(members))
	}
	for i, j := range h {
		if int(j.heapIdx) != i {
			t.Fatalf("h[%d].heapIdx = %d", i, j.heapIdx)
		}
		if !members[j] {
			t.Fatalf("h[%d] = %s is not a member", i, j.ID)
		}
		if i > 0 {
			if p := (i - 1) / 2; awakeBefore(j, h[p]) {
				t.Fatalf("heap order broken: h[%d] (%d,%d) before its parent h[%d] (%d,%d)",
					i, j.awake, j.Ctime, p, h[p].awake, h[p].Ctime)
			}
		}
	}
	for _, j := range all {
		if !members[j] && j.heapIdx != -1 {
			t.Fatalf("%s is out of the index but heapIdx = %d", j.ID, j.heapIdx)
		}
	}
	var min *Job
	for j := range members {
		if min == nil || awakeBefore(j, min) {
			min = j
		}
	}
	if got := h.peek(); got != min {
		t.Fatalf("peek = %v, want %v", got, min)
	}
}

// TestAwakeIndexMatchesSortedSlice drives the heap with random inserts,
// moves and removals and compares it with a sorted slice: the order is
// awake, ctime, ID, and heapIdx always says where a job sits.
func TestAwakeIndexMatchesSortedSlice(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 42} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			// Small key ranges force ties on awake and ctime, so the ID
			// tie-break is exercised too.
			pool := make([]*Job, 64)
			for i := range pool {
				pool[i] = awakeJob(i, 0, int64(r.IntN(4)))
			}
			var h awakeIndex
			members := map[*Job]bool{}
			for step := 0; step < 5000; step++ {
				j := pool[r.IntN(len(pool))]
				switch op := r.IntN(5); {
				case op < 3: // insert or move
					j.awake = int64(r.IntN(40))
					h.set(j)
					members[j] = true
				case op == 3:
					h.remove(j)
					delete(members, j)
				default: // re-set without a change is harmless
					if members[j] {
						h.set(j)
					}
				}
				checkAwakeIndex(t, h, members, pool)
			}
			var want []*Job
			for j := range members {
				want = append(want, j)
			}
			slices.SortFunc(want, awakeCmp)
			for i, w := range want {
				got := h.peek()
				if got != w {
					t.Fatalf("drain %d: peek = %s (%d,%d), want %s (%d,%d)",
						i, got.ID, got.awake, got.Ctime, w.ID, w.awake, w.Ctime)
				}
				h.remove(got)
				delete(members, got)
				checkAwakeIndex(t, h, members, pool)
			}
			if h.peek() != nil {
				t.Fatal("index not empty after draining")
			}
		})
	}
}

func TestAwakeIndexOrderAndMoves(t *testing.T) {
	a := awakeJob(1, 100, 5)
	b := awakeJob(2, 100, 3) // same awake, older ctime: first
	c := awakeJob(3, 100, 3) // same awake and ctime, larger ID: after b
	d := awakeJob(4, 50, 9)
	all := []*Job{a, b, c, d}
	var h awakeIndex
	members := map[*Job]bool{}
	for _, j := range all {
		h.set(j)
		members[j] = true
	}
	checkAwakeIndex(t, h, members, all)
	if h.peek() != d {
		t.Fatalf("peek = %s, want the earliest awake time", h.peek().ID)
	}

	steps := []struct {
		name  string
		move  *Job
		awake int64
		want  *Job
	}{
		{"moving the head later exposes the ctime tie-break", d, 200, b},
		{"moving a job earlier brings it to the head", c, 10, c},
		{"moving the head back later", c, 300, b},
		{"re-setting an unchanged job keeps the order", a, 100, b},
	}
	for _, s := range steps {
		s.move.awake = s.awake
		h.set(s.move)
		checkAwakeIndex(t, h, members, all)
		if h.peek() != s.want {
			t.Fatalf("%s: peek = %s, want %s", s.name, h.peek().ID, s.want.ID)
		}
	}

	// Removing the last slot, the head, and something not in the index.
	last := h[len(h)-1]
	h.remove(last)
	delete(members, last)
	checkAwakeIndex(t, h, members, all)
	head := h.peek()
	h.remove(head)
	delete(members, head)
	checkAwakeIndex(t, h, members, all)
	h.remove(head) // no-op: already out
	checkAwakeIndex(t, h, members, all)
	for len(h) > 0 {
		j := h.peek()
		h.remove(j)
		delete(members, j)
	}
	checkAwakeIndex(t, h, members, all)
	if h.peek() != nil {
		t.Fatal("peek on an empty index must be nil")
	}
}

// TestJobRecordSize keeps the resting job record in the 112-byte size
// class (see the comment on Job): the heap per queued job depends on it.
func TestJobRecordSize(t *testing.T) {
	if got := unsafe.Sizeof(Job{}); got > 112 {
		t.Fatalf("Job is %d bytes, want <= 112 (a Go size class): reorder its fields", got)
	}
}

// Shared tables and the awake index give their memory back once a backlog
// has drained: Go maps never shrink by themselves.
func TestTablesShrinkAfterDrain(t *testing.T) {
	m := newShardedMap(strconv.Itoa)
	const n = 100_000
	for i := 0; i < n; i++ {
		m.putIfAbsent(strconv.Itoa(i), i)
	}
	for i := 0; i < n; i++ {
		k := strconv.Itoa(i)
		if !m.deleteIf(k, func(v int) bool { return v == i }) {
			t.Fatalf("delete %s failed", k)
		}
	}
	if m.len() != 0 {
		t.Fatalf("len = %d after deleting everything", m.len())
	}
	for i := range m.shards {
		if p := m.shards[i].peak; p >= shrinkMin {
			t.Fatalf("shard %d still sized for %d entries after draining", i, p)
		}
	}
	var h awakeIndex
	jobs := make([]*Job, 5000)
	for i := range jobs {
		jobs[i] = &Job{ID: strconv.Itoa(i), awake: int64(i), heapIdx: -1}
		h.set(jobs[i])
	}
	for _, j := range jobs[:4990] {
		h.remove(j)
	}
	if cap(h) >= 1024 {
		t.Fatalf("awake index keeps capacity %d for %d jobs", cap(h), len(h))
	}
	for i, j := range h {
		if int(j.heapIdx) != i {
			t.Fatalf("heapIdx %d at position %d after the shrink", j.heapIdx, i)
		}
	}
}
