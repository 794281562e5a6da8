package aof

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godisque/godisque/protocol"
)

func openFault(t *testing.T, policy Fsync) (*faultFS, *Writer, string) {
	t.Helper()
	fsys := newFaultFS()
	p := filepath.Join(t.TempDir(), "disque.aof")
	w, err := OpenFS(fsys, p, policy)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return fsys, w, p
}

func TestOpenCreatesAndAppends(t *testing.T) {
	fsys, w, p := openFault(t, EverySec)
	if fileSize(t, p) != HeaderSize || w.Size() != HeaderSize || w.BaseSize() != HeaderSize {
		t.Fatalf("new file: %d bytes, Size %d", fileSize(t, p), w.Size())
	}
	if fsys.syncCount(p) != 1 || fsys.dirSyncs != 1 {
		t.Fatalf("a new file's header and name are synced: %d syncs, %d dir syncs", fsys.syncCount(p), fsys.dirSyncs)
	}
	want := map[string]*protocol.Job{}
	for i := 0; i < 10; i++ {
		j := jobN(i)
		want[j.Id] = j
		if err := w.Append(j); err != nil {
			t.Fatal(err)
		}
	}
	if w.Buffered() == 0 || fileSize(t, p) != HeaderSize {
		t.Fatal("Append wrote")
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if w.Buffered() != 0 || w.Size() != fileSize(t, p) || !w.Unsynced() {
		t.Fatalf("after Commit: buffered %d, size %d/%d", w.Buffered(), w.Size(), fileSize(t, p))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(DelJob("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}

	// Reopen: appends after what is there; BaseSize is the size found.
	size := fileSize(t, p)
	w2, err := Open(p, Always)
	if err != nil {
		t.Fatal(err)
	}
	if w2.Size() != size || w2.BaseSize() != size {
		t.Fatalf("reopened: size %d base %d, file %d", w2.Size(), w2.BaseSize(), size)
	}
	if err := w2.AppendBatch([]protocol.Message{DelJob(jobN(3).Id), DelJob("never-existed")}); err != nil {
		t.Fatal(err)
	}
	delete(want, jobN(3).Id)
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	sameJobs(t, mustReplay(t, p), want)
}

func TestOpenRefusesForeignFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"foreign": "*2\r\n$7\r\nLOADJOB\r\n",
		"torn":    Magic[:7],
		"newer":   "GODISQUE-AOF 2\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(p, No)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Offset != 0 || ce.Path != p {
			t.Fatalf("%s: %v", name, err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Fatalf("%s: file modified", name)
		}
	}
}

// Always: one fsync per Commit, whatever the batch size (group commit).
func TestAlwaysSyncsOncePerCommit(t *testing.T) {
	fsys, w, p := openFault(t, Always)
	base := fsys.syncCount(p)
	for batch := 1; batch <= 5; batch++ {
		for i := 0; i < batch*50; i++ {
			if err := w.Append(jobN(batch*1000 + i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := fsys.syncCount(p) - base; got != batch {
			t.Fatalf("after %d commits, %d fsyncs", batch, got)
		}
		if w.Unsynced() {
			t.Fatal("unsynced after Commit under Always")
		}
	}
	// An empty Commit neither writes nor syncs.
	if err := w.Commit(); err != nil || fsys.syncCount(p)-base != 5 {
		t.Fatalf("empty commit: %v, %d syncs", err, fsys.syncCount(p)-base)
	}
	// SyncIfDue has nothing to do under Always.
	if err := w.SyncIfDue(time.Unix(100, 0)); err != nil || fsys.syncCount(p)-base != 5 {
		t.Fatalf("SyncIfDue under Always: %v", err)
	}
}

// EverySec: Commit writes, SyncIfDue fsyncs at most about once a second.
func TestEverySec(t *testing.T) {
	fsys, w, p := openFault(t, EverySec)
	base := fsys.syncCount(p)
	syncs := func() int { return fsys.syncCount(p) - base }
	t0 := time.Unix(1_700_000_000, 0)

	if err := w.SyncIfDue(t0); err != nil || syncs() != 0 {
		t.Fatalf("nothing written: %v, %d syncs", err, syncs())
	}
	w.Append(jobN(1))
	if err := w.Commit(); err != nil || syncs() != 0 {
		t.Fatalf("Commit synced under everysec: %v %d", err, syncs())
	}
	if w.Size() != fileSize(t, p) {
		t.Fatal("Commit did not write")
	}
	if err := w.SyncIfDue(t0); err != nil || syncs() != 1 || w.Unsynced() {
		t.Fatalf("first due sync: %v %d", err, syncs())
	}
	w.Append(jobN(2))
	w.Commit()
	for _, d := range []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 899 * time.Millisecond} {
		if err := w.SyncIfDue(t0.Add(d)); err != nil || syncs() != 1 {
			t.Fatalf("at +%v: synced too early (%d)", d, syncs())
		}
	}
	// A tick a little early still counts as the next second.
	if err := w.SyncIfDue(t0.Add(990 * time.Millisecond)); err != nil || syncs() != 2 {
		t.Fatalf("at +990ms: %v %d", err, syncs())
	}
	// Nothing new: no fsync even when due.
	if err := w.SyncIfDue(t0.Add(5 * time.Second)); err != nil || syncs() != 2 {
		t.Fatalf("idle: %d", syncs())
	}
	// SyncIfDue also writes what was appended but not committed.
	w.Append(jobN(3))
	if err := w.SyncIfDue(t0.Add(7 * time.Second)); err != nil || syncs() != 3 || w.Buffered() != 0 {
		t.Fatalf("pending buffer: %v %d %d", err, syncs(), w.Buffered())
	}
}

func TestNoPolicyAndClose(t *testing.T) {
	fsys, w, p := openFault(t, No)
	base := fsys.syncCount(p)
	for i := 0; i < 3; i++ {
		w.Append(jobN(i))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := w.SyncIfDue(time.Unix(int64(i*10), 0)); err != nil {
			t.Fatal(err)
		}
	}
	if fsys.syncCount(p) != base {
		t.Fatalf("policy no synced %d times", fsys.syncCount(p)-base)
	}
	w.Append(jobN(9)) // buffered only: Close writes and syncs it
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if fsys.syncCount(p) != base+1 {
		t.Fatal("Close did not fsync")
	}
	if len(mustReplay(t, p)) != 4 {
		t.Fatal("records lost")
	}
	// SetPolicy to Always: the next Commit syncs what is unsynced.
	fsys2, w2, p2 := openFault(t, No)
	w2.Append(jobN(1))
	w2.Commit()
	b2 := fsys2.syncCount(p2)
	w2.SetPolicy(Always)
	if w2.Policy() != Always {
		t.Fatal("SetPolicy")
	}
	if err := w2.Commit(); err != nil || fsys2.syncCount(p2) != b2+1 {
		t.Fatalf("switch to always: %v", err)
	}
}

// The disk fills up: the write fails with ENOSPC, the partial frame is
// truncated away, LastError has the MISCONF text, and everything is written
// once there is room again.
func TestDiskFull(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  syscall.Errno
		text string
	}{
		{"ENOSPC", syscall.ENOSPC, "No space left on device"},
		{"EDQUOT", syscall.EDQUOT, "Disk quota exceeded"},
		{"EFBIG", syscall.EFBIG, "File too large"},
		{"EIO", syscall.EIO, "Input/output error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys, w, p := openFault(t, Always)
			want := map[string]*protocol.Job{}
			add := func(i int) {
				j := jobN(i)
				want[j.Id] = j
				if err := w.Append(j); err != nil {
					t.Fatal(err)
				}
			}
			add(0)
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			good := w.Size()

			fsys.set(func(f *faultFS) { f.space, f.spaceErr = 100, tc.err }) // less than a record
			for i := 1; i <= 5; i++ {
				add(i)
			}
			err := w.Commit()
			if !errors.Is(err, tc.err) {
				t.Fatalf("commit on a full disk: %v", err)
			}
			var de *DiskError
			if !errors.As(err, &de) || de.Op != "write" {
				t.Fatalf("not a write DiskError: %v", err)
			}
			if Strerror(w.LastError()) != tc.text || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("MISCONF text %q, error %q", Strerror(w.LastError()), err)
			}
			if misconf := "-MISCONF Errors writing to the AOF file: " + Strerror(w.LastError()); misconf !=
				"-MISCONF Errors writing to the AOF file: "+tc.text {
				t.Fatal(misconf)
			}
			// Truncated back to the last complete frame: still loadable.
			if fileSize(t, p) != good || w.Size() != good {
				t.Fatalf("file %d bytes, Size %d, want %d", fileSize(t, p), w.Size(), good)
			}
			if got := mustReplay(t, p); len(got) != 1 {
				t.Fatalf("%d jobs on disk", len(got))
			}
			// Retries fail while the disk is full, then succeed.
			if err := w.SyncIfDue(time.Unix(1, 0)); err == nil {
				t.Fatal("retry succeeded on a full disk")
			}
			if fileSize(t, p) != good {
				t.Fatal("retry left a partial frame")
			}
			add(6) // appends go on being buffered meanwhile
			fsys.set(func(f *faultFS) { f.space = -1 })
			if err := w.SyncIfDue(time.Unix(2, 0)); err != nil {
				t.Fatalf("after freeing space: %v", err)
			}
			if w.LastError() != nil {
				t.Fatalf("error not cleared: %v", w.LastError())
			}
			if err := w.Commit(); err != nil {
				t.Fatal(err)
			}
			sameJobs(t, mustReplay(t, p), want)
		})
	}
}

// When the partial frame cannot be truncated away, it is kept and the next
// write completes it, so the file never has a hole.
func TestPartialWriteWithoutTruncate(t *testing.T) {
	fsys, w, p := openFault(t, EverySec)
	w.Append(jobN(0))
	w.Commit()
	fsys.set(func(f *faultFS) { f.space, f.truncErr = 30, syscall.EIO })
	want := map[string]*protocol.Job{jobN(0).Id: jobN(0)}
	for i := 1; i < 4; i++ {
		w.Append(jobN(i))
		want[jobN(i).Id] = jobN(i)
	}
	before := w.Buffered()
	if err := w.Commit(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("%v", err)
	}
	if w.Buffered() != before-30 || w.Size() != fileSize(t, p) {
		t.Fatalf("buffered %d (was %d), size %d/%d", w.Buffered(), before, w.Size(), fileSize(t, p))
	}
	// The file now ends in a torn frame, which a load would cut.
	if _, err := Load(p, LoadOptions{}, nil); err == nil || !err.(*CorruptError).Torn {
		t.Fatalf("expected a torn tail, got %v", err)
	}
	fsys.set(func(f *faultFS) { f.space, f.truncErr = -1, nil })
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	sameJobs(t, mustReplay(t, p), want)
}

// A read-only filesystem (as root, chmod does not stop writes: injected).
func TestReadOnly(t *testing.T) {
	fsys := newFaultFS()
	fsys.readOnly = true
	p := filepath.Join(t.TempDir(), "disque.aof")
	_, err := OpenFS(fsys, p, EverySec)
	if !errors.Is(err, syscall.EROFS) || Strerror(err) != "Read-only file system" {
		t.Fatalf("open on a read-only fs: %v", err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("file created")
	}

	// Remounted read-only while open.
	fsys.readOnly = false
	w, err := OpenFS(fsys, p, Always)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fsys.set(func(f *faultFS) { f.readOnly = true })
	w.Append(jobN(1))
	if err := w.Commit(); !errors.Is(err, syscall.EROFS) || Strerror(w.LastError()) != "Read-only file system" {
		t.Fatalf("%v / %v", err, w.LastError())
	}
	if _, err := w.StartRewrite(); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("rewrite on a read-only fs: %v", err)
	}
	fsys.set(func(f *faultFS) { f.readOnly = false })
	if err := w.Commit(); err != nil || w.LastError() != nil {
		t.Fatalf("after remount rw: %v", err)
	}
	if len(mustReplay(t, p)) != 1 {
		t.Fatal("record lost")
	}
}

// A failed fsync is reported until one succeeds.
func TestSyncError(t *testing.T) {
	fsys, w, _ := openFault(t, Always)
	fsys.set(func(f *faultFS) { f.syncErr = syscall.EIO })
	w.Append(jobN(1))
	err := w.Commit()
	var de *DiskError
	if !errors.As(err, &de) || de.Op != "fsync" || Strerror(w.LastError()) != "Input/output error" {
		t.Fatalf("%v", err)
	}
	if !w.Unsynced() {
		t.Fatal("a failed fsync counted as done")
	}
	fsys.set(func(f *faultFS) { f.syncErr = nil })
	if err := w.Commit(); err != nil || w.LastError() != nil {
		t.Fatalf("%v %v", err, w.LastError())
	}
}

func TestShouldRewrite(t *testing.T) {
	_, w, _ := openFault(t, No)
	if w.ShouldRewrite(100, 0) {
		t.Fatal("no growth")
	}
	for w.Size() < 2*w.BaseSize() {
		w.Append(jobN(int(w.Size())))
		w.Commit()
	}
	if !w.ShouldRewrite(100, 0) {
		t.Fatalf("doubled: size %d base %d", w.Size(), w.BaseSize())
	}
	if w.ShouldRewrite(100, w.Size()) || w.ShouldRewrite(0, 0) {
		t.Fatal("min size or disabled ignored")
	}
	if w.ShouldRewrite(int64(w.Size()*100/w.BaseSize()), 0) {
		t.Fatal("growth threshold ignored")
	}
	r, err := w.StartRewrite()
	if err != nil {
		t.Fatal(err)
	}
	if w.ShouldRewrite(100, 0) {
		t.Fatal("during a rewrite")
	}
	if err := w.FinishRewrite(r); err != nil {
		t.Fatal(err)
	}
	if w.BaseSize() != w.Size() || w.ShouldRewrite(1, 0) {
		t.Fatalf("after a rewrite: base %d size %d", w.BaseSize(), w.Size())
	}
}

func TestCreateReplaces(t *testing.T) {
	p := filepath.Join(t.TempDir(), "disque.aof")
	if err := os.WriteFile(p, []byte("stale garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Create(p, EverySec)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(jobN(1))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := mustReplay(t, p); len(got) != 1 {
		t.Fatalf("%d jobs", len(got))
	}
	if m, _ := filepath.Glob(p + ".*"); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

func TestStrerror(t *testing.T) {
	if Strerror(nil) != "" {
		t.Fatal("nil")
	}
	wrapped := &DiskError{Op: "write", Path: "x", Err: &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}}
	if Strerror(wrapped) != "No space left on device" {
		t.Fatal(Strerror(wrapped))
	}
	if Strerror(errors.New("short write")) != "Short write" {
		t.Fatal("plain error")
	}
}
