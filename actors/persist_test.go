package actors

import (
	"context"
	"io/fs"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/actors/aof"
	"github.com/godisque/godisque/protocol"
)

// failFS is the real filesystem whose writes fail with ENOSPC while full is
// set: a disk that fills up at a moment the test chooses.
type failFS struct{ full atomic.Bool }

func (f *failFS) OpenFile(name string, flag int, perm fs.FileMode) (aof.File, error) {
	file, err := aof.OS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &failFile{File: file, fs: f}, nil
}
func (f *failFS) Rename(o, n string) error { return aof.OS.Rename(o, n) }
func (f *failFS) Remove(name string) error { return aof.OS.Remove(name) }
func (f *failFS) SyncDir(dir string) error { return aof.OS.SyncDir(dir) }

type failFile struct {
	aof.File
	fs *failFS
}

func (f *failFile) Write(p []byte) (int, error) {
	if f.fs.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(p)
}

// When the log cannot be written at the moment a command's records are
// committed, the command is answered -MISCONF rather than success: ADDJOB
// (the job is in memory, its record buffered for the next attempt) and
// GETJOB (the job was taken, but its delivery is not durable, so the client
// must not think it has it). Reads are answered as usual, and once the disk
// has room again the buffered records are written and writes succeed.
func TestCommitFailureAnswersMisconf(t *testing.T) {
	ffs := &failFS{}
	dir := t.TempDir()
	n := startNode(t, Options{Persist: func() PersistOptions {
		return PersistOptions{Enabled: true, Path: filepath.Join(dir, "disque.aof"), Fsync: "always", FS: ffs}
	}})
	ctx := context.Background()
	const misconf = "MISCONF Errors writing to the AOF file: No space left on device"

	id := n.Ask(ctx, &protocol.AddJob{Queue: "q", Body: []byte("x"), Retry: -1}).(*protocol.AddJobReply).Id
	ffs.full.Store(true)
	if r, ok := n.Ask(ctx, &protocol.GetJob{Queues: []string{"q"}, Nohang: true}).(*protocol.Error); !ok || r.Text != misconf {
		t.Fatalf("GETJOB while the disk is full = %v, want %q", r, misconf)
	}
	if r, ok := n.Ask(ctx, &protocol.AddJob{Queue: "q", Body: []byte("y"), Retry: -1}).(*protocol.Error); !ok || r.Text != misconf {
		t.Fatalf("ADDJOB while the disk is full = %v, want %q", r, misconf)
	}
	// The same through a pipelined batch.
	for i, r := range n.AskBatch(ctx, []proto.Message{
		&protocol.AddJob{Queue: "q", Body: []byte("z"), Retry: -1},
		&protocol.GetJob{Queues: []string{"q"}, Nohang: true},
	}) {
		if e, ok := r.(*protocol.Error); !ok || e.Text != misconf {
			t.Fatalf("batched command %d while the disk is full = %v, want %q", i, r, misconf)
		}
	}
	if s := n.Ask(ctx, &protocol.Show{Id: id}).(*protocol.ShowReply); !s.Found {
		t.Fatal("SHOW, a read, failed while the disk is full")
	}
	if n.AOFError() == nil {
		t.Fatal("the node does not report the write error")
	}

	ffs.full.Store(false)
	if r, ok := n.Ask(ctx, &protocol.AddJob{Queue: "q", Body: []byte("w"), Retry: -1}).(*protocol.AddJobReply); !ok {
		t.Fatalf("ADDJOB once the disk has room = %v", r)
	}
	if n.AOFError() != nil {
		t.Fatalf("the write error outlived a successful write: %v", n.AOFError())
	}
}
