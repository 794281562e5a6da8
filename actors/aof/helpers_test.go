package aof

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------- Test helpers --------------------------------

// testJob is a job in storage form with every field set.
func testJob(i int) *protocol.Job {
	return &protocol.Job{
		Id:                   fmt.Sprintf("D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-%04x", i%0x10000),
		Queue:                fmt.Sprintf("queue-%d", i%7),
		Body:                 []byte(fmt.Sprintf("body of job %d", i)),
		State:                protocol.JobState(i % 3),
		Repl:                 uint32(1 + i%3),
		Ctime:                1_700_000_000_000*1_000_000 + int64(i),
		EtimeMs:              1_700_000_000_000 + 86_400_000,
		QtimeMs:              1_700_000_000_000 + int64(i%1000),
		Delay:                uint32(i % 5),
		Retry:                uint32(300 - i%300),
		Nacks:                uint32(i % 4),
		AdditionalDeliveries: uint32(i % 2),
		NodesDelivered:       []string{strings.Repeat("a", 40), strings.Repeat("b", 40)},
		Flags:                uint32(i % 8),
	}
}

// jobN is a job whose ID is made from n, unique for any n.
func jobN(n int) *protocol.Job {
	j := testJob(n)
	j.Id = fmt.Sprintf("D-00000000-%024d-0001", n)
	return j
}

// encodeFile returns a whole file holding recs, and the offset of each frame
// (plus the end, last).
func encodeFile(t testing.TB, recs ...protocol.Message) ([]byte, []int64) {
	t.Helper()
	b := []byte(Magic)
	offs := []int64{int64(len(b))}
	for _, m := range recs {
		var err error
		if b, err = EncodeRecord(b, m); err != nil {
			t.Fatal(err)
		}
		offs = append(offs, int64(len(b)))
	}
	return b, offs
}

func writeTemp(t testing.TB, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disque.aof")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileSize(t testing.TB, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// replay loads path and applies the records with the idempotent contract:
// LOADJOB replaces, DELJOB of an unknown job is a no-op.
func replay(t testing.TB, path string, opts LoadOptions) (map[string]*protocol.Job, LoadResult, error) {
	t.Helper()
	jobs := map[string]*protocol.Job{}
	res, err := Load(path, opts, func(m protocol.Message) error {
		switch r := m.(type) {
		case *protocol.Job:
			jobs[r.Id] = r
		case *protocol.DelJobMsg:
			delete(jobs, r.Id)
		default:
			t.Fatalf("unexpected record %T", m)
		}
		return nil
	})
	return jobs, res, err
}

func mustReplay(t testing.TB, path string) map[string]*protocol.Job {
	t.Helper()
	jobs, _, err := replay(t, path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// sameJobs fails unless got and want hold equal jobs.
func sameJobs(t testing.TB, got, want map[string]*protocol.Job) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d jobs, want %d (missing %v, extra %v)", len(got), len(want), diffKeys(want, got), diffKeys(got, want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("job %s missing", id)
		}
		if !reflect.DeepEqual(normalize(g), normalize(w)) {
			t.Fatalf("job %s:\n got %v\nwant %v", id, g, w)
		}
	}
}

// normalize makes decoded and built jobs comparable (nil vs empty slices).
func normalize(j *protocol.Job) *protocol.Job {
	c := *j
	if len(c.Body) == 0 {
		c.Body = nil
	}
	if len(c.NodesDelivered) == 0 {
		c.NodesDelivered = nil
	}
	return &c
}

func diffKeys(a, b map[string]*protocol.Job) []string {
	var out []string
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if len(out) > 5 {
		out = append(out[:5], "...")
	}
	return out
}

// ------------------------- A filesystem that fails ---------------------------

// faultFS is the real filesystem with faults injected: a disk that fills
// up, a filesystem that turns read-only, truncations and renames that fail,
// and a count of fsyncs per file.
type faultFS struct {
	mu sync.Mutex
	// space is how many bytes may still be written, over all files; < 0
	// is unlimited. A write beyond it writes what fits and fails with
	// spaceErr (ENOSPC by default).
	space    int64
	spaceErr error
	readOnly bool  // opening for writing and writing fail with EROFS
	truncErr error // Truncate fails with it
	syncErr  error // Sync fails with it
	rename   error // Rename fails with it
	syncDir  error // SyncDir fails with it
	syncs    map[string]int
	dirSyncs int
}

func newFaultFS() *faultFS { return &faultFS{space: -1, syncs: map[string]int{}} }

func (fsys *faultFS) set(f func(*faultFS)) {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	f(fsys)
}

func (fsys *faultFS) syncCount(name string) int {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	return fsys.syncs[name]
}

func (fsys *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	fsys.mu.Lock()
	ro := fsys.readOnly
	fsys.mu.Unlock()
	if ro && flag&(os.O_WRONLY|os.O_RDWR|os.O_CREATE|os.O_TRUNC) != 0 {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EROFS}
	}
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: f, fsys: fsys, name: name}, nil
}

func (fsys *faultFS) Rename(o, n string) error {
	fsys.mu.Lock()
	err := fsys.rename
	fsys.mu.Unlock()
	if err != nil {
		return &os.LinkError{Op: "rename", Old: o, New: n, Err: err}
	}
	return os.Rename(o, n)
}

func (fsys *faultFS) Remove(name string) error { return os.Remove(name) }

func (fsys *faultFS) SyncDir(dir string) error {
	fsys.mu.Lock()
	err := fsys.syncDir
	fsys.dirSyncs++
	fsys.mu.Unlock()
	if err != nil {
		return err
	}
	return OS.SyncDir(dir)
}

type faultFile struct {
	*os.File
	fsys *faultFS
	name string
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.fsys.mu.Lock()
	if f.fsys.readOnly {
		f.fsys.mu.Unlock()
		return 0, &os.PathError{Op: "write", Path: f.name, Err: syscall.EROFS}
	}
	room := int64(len(p))
	var err error
	if f.fsys.space >= 0 && room > f.fsys.space {
		room = f.fsys.space
		err = f.fsys.spaceErr
		if err == nil {
			err = syscall.ENOSPC
		}
		err = &os.PathError{Op: "write", Path: f.name, Err: err}
	}
	if f.fsys.space >= 0 {
		f.fsys.space -= room
	}
	f.fsys.mu.Unlock()
	n, werr := f.File.Write(p[:room])
	if werr != nil {
		return n, werr
	}
	return n, err
}

func (f *faultFile) Truncate(size int64) error {
	f.fsys.mu.Lock()
	err := f.fsys.truncErr
	f.fsys.mu.Unlock()
	if err != nil {
		return &os.PathError{Op: "truncate", Path: f.name, Err: err}
	}
	return f.File.Truncate(size)
}

func (f *faultFile) Sync() error {
	f.fsys.mu.Lock()
	err := f.fsys.syncErr
	f.fsys.syncs[f.name]++
	f.fsys.mu.Unlock()
	if err != nil {
		return &os.PathError{Op: "sync", Path: f.name, Err: err}
	}
	return f.File.Sync()
}
