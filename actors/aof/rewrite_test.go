package aof

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"

	"github.com/godisque/godisque/protocol"
)

// store is a stand-in for the queue actors: the live jobs, changed under a
// lock together with the record of the change, as an actor changes a job
// and sends its record in one step.
type store struct {
	mu   sync.Mutex
	jobs map[string]*protocol.Job
	next int
}

func (s *store) snapshotIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.jobs))
	for id := range s.jobs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// get returns a copy of a job's current state.
func (s *store) get(id string) *protocol.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return nil
	}
	c := *j
	return &c
}

// mutate makes one random change and appends its record.
func (s *store) mutate(t *testing.T, rng *rand.Rand, w *Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	if len(s.jobs) > 0 && rng.IntN(5) > 1 {
		for id := range s.jobs {
			ids = append(ids, id)
			if len(ids) == 8 {
				break
			}
		}
	}
	var rec protocol.Message
	switch {
	case len(ids) == 0: // a new job
		j := jobN(s.next)
		s.next++
		s.jobs[j.Id] = j
		rec = j
	case rng.IntN(2) == 0: // acked or deleted
		id := ids[rng.IntN(len(ids))]
		delete(s.jobs, id)
		rec = DelJob(id)
	default: // a job logged again (say, replication achieved), changed
		id := ids[rng.IntN(len(ids))]
		c := *s.jobs[id]
		c.Nacks++
		c.State = protocol.JobState(rng.IntN(3))
		s.jobs[id] = &c
		rec = &c
	}
	if err := w.Append(rec); err != nil {
		t.Error(err)
	}
}

func (s *store) copy() map[string]*protocol.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*protocol.Job, len(s.jobs))
	for id, j := range s.jobs {
		out[id] = j
	}
	return out
}

// Appends go on, from the owner's goroutine, while another goroutine
// streams the snapshot job by job; the rewritten file replays to exactly
// the live set, and so do the files at every step in between.
func TestRewriteUnderConcurrentAppends(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		p := filepath.Join(t.TempDir(), "disque.aof")
		w, err := Open(p, EverySec)
		if err != nil {
			t.Fatal(err)
		}
		s := &store{jobs: map[string]*protocol.Job{}}
		for i := 0; i < 2000; i++ {
			s.mutate(t, rng, w)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		oldSize := w.Size()

		r, err := w.StartRewrite()
		if err != nil {
			t.Fatal(err)
		}
		// The snapshot goes on concurrently, paced so that it is sure to
		// overlap with the appends: one job per change made.
		done := make(chan error, 1)
		pace := make(chan struct{}, 1<<16)
		go func() {
			done <- r.Snapshot(func(emit func(protocol.Message) error) error {
				for _, id := range s.snapshotIDs() {
					<-pace
					if j := s.get(id); j != nil && j.State != protocol.JobState_ACKED {
						if err := emit(j); err != nil {
							return err
						}
					}
					runtime.Gosched()
				}
				return nil
			})
		}()
		ops := 0
	loop:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				break loop
			default:
			}
			s.mutate(t, rng, w)
			pace <- struct{}{}
			if ops++; ops%16 == 0 {
				if err := w.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			if ops%256 == 0 { // a crash now leaves the old file, complete
				sameJobs(t, mustReplay(t, p), s.copy())
			}
		}
		// The snapshot is done; appends go on before the owner finishes.
		for i := 0; i < 50; i++ {
			s.mutate(t, rng, w)
		}
		if w.RewriteBuffered() == 0 {
			t.Fatal("nothing in the rewrite buffer")
		}
		if err := w.FinishRewrite(r); err != nil {
			t.Fatal(err)
		}
		if w.Rewriting() {
			t.Fatal("still rewriting")
		}
		sameJobs(t, mustReplay(t, p), s.copy())
		if w.Size() != fileSize(t, p) || w.BaseSize() != w.Size() {
			t.Fatalf("size %d base %d file %d", w.Size(), w.BaseSize(), fileSize(t, p))
		}
		if w.Size() >= oldSize {
			t.Logf("seed %d: rewritten file %d bytes, old one was %d", seed, w.Size(), oldSize)
		}
		// After the switch, appends go to the new file.
		for i := 0; i < 500; i++ {
			s.mutate(t, rng, w)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		sameJobs(t, mustReplay(t, p), s.copy())
		if m, _ := filepath.Glob(p + ".rewrite-*"); len(m) != 0 {
			t.Fatalf("temporary files left: %v", m)
		}
		t.Logf("seed %d: %d ops during the snapshot of %d records", seed, ops, r.Records())
	}
}

// A rewrite compacts: deleted jobs and superseded records disappear.
func TestRewriteCompacts(t *testing.T) {
	fsys, w, p := openFault(t, Always)
	want := map[string]*protocol.Job{}
	for i := 0; i < 300; i++ {
		w.Append(jobN(i))
		if i%3 != 0 {
			w.Append(DelJob(jobN(i).Id))
		} else {
			want[jobN(i).Id] = jobN(i)
		}
	}
	w.Commit()
	before := w.Size()
	if err := w.Rewrite(func(emit func(protocol.Message) error) error {
		ids := make([]string, 0, len(want))
		for id := range want {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			if err := emit(want[id]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res, err := Load(p, LoadOptions{}, nil)
	if err != nil || res.Records != int64(len(want)) || res.Deletes != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if w.Size() >= before/2 {
		t.Fatalf("rewritten %d bytes, was %d", w.Size(), before)
	}
	sameJobs(t, mustReplay(t, p), want)
	if fsys.dirSyncs < 2 {
		t.Fatal("the rename was not made durable")
	}
	if fsys.syncCount(tempName(p, 1)) == 0 {
		t.Fatal("the new file was not synced before the rename")
	}
}

// Failures before the rename abort the rewrite: the temporary file goes
// and the old file carries on, complete.
func TestRewriteFailures(t *testing.T) {
	snapshot := func(jobs map[string]*protocol.Job) func(func(protocol.Message) error) error {
		return func(emit func(protocol.Message) error) error {
			for _, j := range jobs {
				if err := emit(j); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name   string
		inject func(*faultFS)
		during bool // inject after the snapshot, before finishing
	}{
		{"disk full during the snapshot", func(f *faultFS) { f.space = 0 }, false},
		{"disk full writing the buffer", func(f *faultFS) { f.space = 0 }, true},
		{"fsync fails", func(f *faultFS) { f.syncErr = syscall.EIO }, true},
		{"rename fails", func(f *faultFS) { f.rename = syscall.EXDEV }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, w, p := openFault(t, EverySec)
			live := map[string]*protocol.Job{}
			for i := 0; i < 20; i++ {
				live[jobN(i).Id] = jobN(i)
				w.Append(jobN(i))
			}
			w.Commit()
			r, err := w.StartRewrite()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.during {
				tc.inject(fsys)
			}
			snapErr := r.Snapshot(snapshot(live))
			w.Append(DelJob(jobN(0).Id)) // during the rewrite
			delete(live, jobN(0).Id)
			if tc.during {
				tc.inject(fsys)
			}
			if snapErr != nil {
				if err := w.AbortRewrite(r); err != nil {
					t.Fatal(err)
				}
			} else if err := w.FinishRewrite(r); err == nil {
				t.Fatal("finished despite the fault")
			}
			if w.Rewriting() {
				t.Fatal("still rewriting")
			}
			if _, err := os.Stat(r.TempPath()); !os.IsNotExist(err) {
				t.Fatalf("temporary file left: %v", err)
			}
			fsys.set(func(f *faultFS) { f.space, f.syncErr, f.rename = -1, nil, nil })
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			sameJobs(t, mustReplay(t, p), live)
			// A later rewrite works.
			if err := w.Rewrite(snapshot(live)); err != nil {
				t.Fatal(err)
			}
			sameJobs(t, mustReplay(t, p), live)
		})
	}
}

// The directory fsync after the rename fails: the switch has happened, and
// appends go to the new file.
func TestRewriteDirSyncFails(t *testing.T) {
	fsys, w, p := openFault(t, Always)
	w.Append(jobN(1))
	w.Commit()
	fsys.set(func(f *faultFS) { f.syncDir = syscall.EIO })
	err := w.Rewrite(func(emit func(protocol.Message) error) error { return emit(jobN(1)) })
	var de *DiskError
	if !errors.As(err, &de) || de.Op != "sync-dir" {
		t.Fatalf("%v", err)
	}
	if w.Rewriting() || w.Size() != fileSize(t, p) {
		t.Fatal("not switched")
	}
	w.Append(jobN(2))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := mustReplay(t, p); len(got) != 2 {
		t.Fatalf("%d jobs", len(got))
	}
}

// A crash during a rewrite leaves the old file at path and a stale temporary
// file, which RemoveStaleTemps removes.
func TestRewriteCrashLeavesOldFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disque.aof")
	w, err := Open(p, Always)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*protocol.Job{}
	for i := 0; i < 10; i++ {
		w.Append(jobN(i))
		want[jobN(i).Id] = jobN(i)
	}
	w.Commit()
	r, err := w.StartRewrite()
	if err != nil {
		t.Fatal(err)
	}
	r.Emit(jobN(0))
	r.EndSnapshot()
	w.Append(jobN(10))
	want[jobN(10).Id] = jobN(10)
	w.Commit()
	// Crash: nobody closes anything.
	sameJobs(t, mustReplay(t, p), want)
	other := p + ".rewrite-x.tmp.keep" // not ours: kept
	os.WriteFile(other, nil, 0o644)
	removed, err := RemoveStaleTemps(p)
	if err != nil || len(removed) != 1 || removed[0] != r.TempPath() {
		t.Fatalf("%v %v", removed, err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatal("removed a file that is not a temporary file")
	}
	// A new process starts over: its first rewrite reuses the name.
	w2, err := Open(p, Always)
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.Rewrite(func(emit func(protocol.Message) error) error {
		for _, j := range want {
			emit(j)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	sameJobs(t, mustReplay(t, p), want)
}

func TestRewriteMisuse(t *testing.T) {
	_, w, _ := openFault(t, No)
	r, err := w.StartRewrite()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.StartRewrite(); !errors.Is(err, ErrRewriteRunning) {
		t.Fatalf("second rewrite: %v", err)
	}
	if err := w.FinishRewrite(&Rewrite{}); !errors.Is(err, ErrNotRewriting) {
		t.Fatalf("foreign rewrite: %v", err)
	}
	if err := r.Emit(&protocol.AddJob{}); !errors.Is(err, ErrNotRecord) {
		t.Fatalf("emit a non-record: %v", err)
	}
	if err := r.EndSnapshot(); err != nil {
		t.Fatal(err)
	}
	if err := r.Emit(jobN(1)); !errors.Is(err, ErrSnapshotFinished) {
		t.Fatalf("emit after the end: %v", err)
	}
	if err := w.Close(); err != nil { // aborts the rewrite
		t.Fatal(err)
	}
	if _, err := os.Stat(r.TempPath()); !os.IsNotExist(err) {
		t.Fatal("Close left the temporary file")
	}
}
