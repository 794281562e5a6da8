//go:build linux

package aof

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/godisque/godisque/protocol"
)

// The real thing, where the test may mount a filesystem (root in a
// container): a small tmpfs fills up, the kernel says ENOSPC, and room
// comes back when a file is removed. Elsewhere TestDiskFull covers the same
// ground with the injected filesystem.
func TestDiskFullTmpfs(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs (%v); TestDiskFull injects the errors instead", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 128<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "disque.aof")
	w, err := Open(p, Always)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	want := map[string]*protocol.Job{}
	var werr error
	for i := 0; i < 1000 && werr == nil; i++ {
		j := jobN(i)
		j.Body = make([]byte, 3000+i%1000)
		want[j.Id] = j
		if err := w.Append(j); err != nil {
			t.Fatal(err)
		}
		werr = w.Commit()
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs: %v", werr)
	}
	if Strerror(w.LastError()) != "No space left on device" {
		t.Fatalf("MISCONF text %q", Strerror(w.LastError()))
	}
	// What is on disk is whole: no partial frame.
	jobs, res, err := replay(t, p, LoadOptions{})
	if err != nil || res.ValidSize != fileSize(t, p) || res.ValidSize != w.Size() {
		t.Fatalf("after ENOSPC: %+v %v", res, err)
	}
	if len(jobs) != len(want)-1 {
		t.Fatalf("%d jobs on disk, %d appended", len(jobs), len(want))
	}
	if err := w.SyncIfDue(time.Unix(1, 0)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("retry on a full disk: %v", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := w.SyncIfDue(time.Unix(2, 0)); err != nil || w.LastError() != nil {
		t.Fatalf("after freeing space: %v, %v", err, w.LastError())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sameJobs(t, mustReplay(t, p), want)
	t.Logf("ENOSPC after %d jobs, %d bytes", len(want)-1, res.ValidSize)
}
