package aof

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/godisque/godisque/protocol"
)

// -------------------------------- Rewriting ----------------------------------
//
// A rewrite (BGREWRITEAOF, auto-rewrite, SHUTDOWN REWRITE-AOF) replaces the
// log by the shortest file that replays to the same jobs: one LOADJOB per
// job that is active or queued (acked jobs and dummy acks are not persisted,
// SPEC.md §15). Disque forks and lets the child write from a frozen copy of
// memory. We have no fork and no frozen copy: the jobs live in queue actors
// that keep changing them while the snapshot streams. The protocol below is
// correct anyway, because replay is idempotent and because every change made
// after the snapshot began is replayed after it.
//
//  1. Start. The owner calls w.StartRewrite(). It creates
//     path.rewrite-<n>.tmp (header only) and from now on every Append goes
//     both to the old file, as before, and to the rewrite buffer.
//  2. Snapshot. Only after Start, the owner has the live set streamed into
//     the rewrite: rw.Emit(job) for every active or queued job, then
//     rw.EndSnapshot(), which writes and fsyncs the temporary file; or
//     rw.Snapshot(fn) for both. This may run on another goroutine, or be fed
//     by the queue actors one after the other, while the owner goes on
//     appending and committing: the Rewrite is touched only by the snapshot
//     side and the rewrite buffer only by the owner. Each job's record must
//     be read from its owner's current state after Start (a queue actor
//     answering a snapshot request does just that); the snapshot need not
//     be a consistent cut across jobs.
//  3. Finish. When the snapshot side is done (the owner learns it by a
//     message: happens-before), the owner calls w.FinishRewrite(rw): the
//     rewrite buffer is appended to the temporary file, which is fsynced and
//     renamed over path; the directory is fsynced; the Writer now appends to
//     the new file, whose size becomes BaseSize. On a failure, or if the
//     snapshot failed, w.AbortRewrite(rw) removes the temporary file and the
//     old file carries on, complete, as if nothing had happened.
//
// Why the result replays to the live set. Take one job J and the instant t
// its snapshot record was read (or found absent) in its owner's state.
// Records of J that its owner produced before t are reflected in that state;
// records produced after t were produced after Start, so they reach the
// owner after Start, are in the rewrite buffer, and are replayed after the
// snapshot. So the last record of J in the new file is either its last
// record overall (from the buffer) or, when there is none after t, the
// snapshot record, which agrees with J's state then. A record produced
// before Start that arrived after it is replayed twice (in the snapshot
// state, and from the buffer): harmless, replay is idempotent.
//
// Crash safety. Until the rename, path is the old file, appended to as
// usual, so a crash at any point before it leaves the old file (plus a
// stale temporary file, which RemoveStaleTemps cleans up at start-up).
// rename(2) is atomic: afterwards path is the new file, complete and
// fsynced. Records appended after the switch go to the new file only.
//
// The replay contract the owner relies on (and that Load's callers honour):
// LOADJOB of an ID replaces any job with that ID, and DELJOB of an unknown ID
// does nothing. Then a record replayed twice, or a DELJOB of a job the
// snapshot no longer has, changes nothing.

// rewriteChunk is how much of a snapshot is buffered before a write.
const rewriteChunk = 1 << 20

// Rewrite is a rewrite in progress: its temporary file and the snapshot
// streamed into it. Emit, EndSnapshot and Snapshot may be called from one
// goroutine other than the Writer's owner; none of them concurrently.
type Rewrite struct {
	fsys    FS
	tmp     string
	f       File
	buf     []byte
	size    int64 // bytes written to f
	records int64
	ended   bool
	err     error // the first disk error: the rewrite is lost
}

// TempPath is the temporary file's path.
func (r *Rewrite) TempPath() string { return r.tmp }

// Records is the number of snapshot records emitted so far.
func (r *Rewrite) Records() int64 { return r.records }

// Emit adds one record to the snapshot: a LOADJOB (*protocol.Job in storage
// form) of an active or queued job.
func (r *Rewrite) Emit(m protocol.Message) error {
	if r.err != nil {
		return r.err
	}
	if r.ended {
		return ErrSnapshotFinished
	}
	var err error
	if r.buf, err = EncodeRecord(r.buf, m); err != nil {
		return err
	}
	r.records++
	if len(r.buf) >= rewriteChunk {
		err = r.write(r.buf)
		r.buf = r.buf[:0]
	}
	return err
}

// write writes b to the temporary file; any failure loses the rewrite.
func (r *Rewrite) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := r.f.Write(b)
	r.size += int64(n)
	if err == nil && n < len(b) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(b))
	}
	if err != nil {
		r.err = &DiskError{Op: "write", Path: r.tmp, Err: err}
	}
	return r.err
}

// EndSnapshot writes what Emit buffered and fsyncs the temporary file, so
// that FinishRewrite has only the rewrite buffer left to write and sync.
func (r *Rewrite) EndSnapshot() error {
	if r.err != nil || r.ended {
		return r.err
	}
	err := r.write(r.buf)
	r.buf = nil
	if err != nil {
		return err
	}
	if err := r.f.Sync(); err != nil {
		r.err = &DiskError{Op: "fsync", Path: r.tmp, Err: err}
		return r.err
	}
	r.ended = true
	return nil
}

// Snapshot runs fn with Emit, then EndSnapshot: the snapshot side of a
// rewrite in one call. fn's error is returned as is.
func (r *Rewrite) Snapshot(fn func(emit func(protocol.Message) error) error) error {
	if err := fn(r.Emit); err != nil {
		return err
	}
	return r.EndSnapshot()
}

// tempName is the temporary file of rewrite n of path.
func tempName(path string, n int) string { return fmt.Sprintf("%s.rewrite-%d.tmp", path, n) }

// Rewriting reports a rewrite in progress.
func (w *Writer) Rewriting() bool { return w.rw != nil }

// RewriteBuffered is the size of the rewrite buffer (INFO
// aof_rewrite_buffer_length).
func (w *Writer) RewriteBuffered() int { return len(w.rwbuf) }

// StartRewrite is step 1 of the protocol above: it creates the temporary
// file and starts the rewrite buffer. One rewrite at a time
// (ErrRewriteRunning).
func (w *Writer) StartRewrite() (*Rewrite, error) {
	if w.closed {
		return nil, ErrClosed
	}
	if w.rw != nil {
		return nil, ErrRewriteRunning
	}
	w.seq++
	tmp := tempName(w.path, w.seq)
	f, err := newFile(w.fsys, tmp)
	if err != nil {
		return nil, err
	}
	w.rw = &Rewrite{fsys: w.fsys, tmp: tmp, f: f, size: HeaderSize, buf: make([]byte, 0, 64<<10)}
	w.rwbuf = w.rwbuf[:0]
	return w.rw, nil
}

// FinishRewrite is step 3: it ends the snapshot if its side did not (for a
// rewrite run on the owner's goroutine), appends the rewrite buffer, fsyncs,
// renames the temporary file over path, fsyncs the directory and switches
// the Writer to the new file. Records appended but not yet written are in
// the new file, which is fully synced; a write error of the old file is
// forgotten with it.
//
// If anything fails before the rename, the rewrite is aborted (temporary
// file removed) and the error returned; the Writer carries on with the old
// file, which lacks nothing. An error from the final directory fsync is
// returned after the switch: the new file is in place and in use, but its
// name might not survive a power loss until the directory is synced again.
func (w *Writer) FinishRewrite(r *Rewrite) error {
	if r == nil || r != w.rw {
		return ErrNotRewriting
	}
	if err := r.EndSnapshot(); err != nil {
		w.AbortRewrite(r)
		return err
	}
	if err := r.write(w.rwbuf); err != nil {
		w.AbortRewrite(r)
		return err
	}
	if err := r.f.Sync(); err != nil {
		w.AbortRewrite(r)
		return &DiskError{Op: "fsync", Path: r.tmp, Err: err}
	}
	if err := w.fsys.Rename(r.tmp, w.path); err != nil {
		w.AbortRewrite(r)
		return &DiskError{Op: "rename", Path: r.tmp, Err: err}
	}
	// The new file is at path: from here on it must be the one appended
	// to, whatever happens, or records would go to an unlinked file.
	old := w.f
	w.f, w.size, w.base = r.f, r.size, r.size
	w.buf = w.buf[:0]
	w.unsynced = false
	w.lastErr = nil
	w.rw, w.rwbuf = nil, nil
	_ = old.Close() // the old file is unlinked; its close cannot lose anything
	if err := w.fsys.SyncDir(filepath.Dir(w.path)); err != nil {
		return &DiskError{Op: "sync-dir", Path: filepath.Dir(w.path), Err: err}
	}
	return nil
}

// AbortRewrite abandons r: it closes and removes the temporary file and
// stops the rewrite buffer. The snapshot side must be done with r. The old
// file is untouched.
func (w *Writer) AbortRewrite(r *Rewrite) error {
	if r == nil || r != w.rw {
		return ErrNotRewriting
	}
	w.rw, w.rwbuf = nil, nil
	r.f.Close()
	if r.err == nil {
		r.err = fmt.Errorf("aof: rewrite aborted")
	}
	if err := w.fsys.Remove(r.tmp); err != nil && !os.IsNotExist(err) {
		return &DiskError{Op: "remove", Path: r.tmp, Err: err}
	}
	return nil
}

// Rewrite runs a whole rewrite on the owner's goroutine (SHUTDOWN
// REWRITE-AOF, tests): start, snapshot, finish. Nothing can be appended
// meanwhile, so the rewrite buffer stays empty.
func (w *Writer) Rewrite(snapshot func(emit func(protocol.Message) error) error) error {
	r, err := w.StartRewrite()
	if err != nil {
		return err
	}
	if err := r.Snapshot(snapshot); err != nil {
		w.AbortRewrite(r)
		return err
	}
	return w.FinishRewrite(r)
}

// RemoveStaleTemps removes the temporary files of rewrites of path that a
// crash left behind (path.rewrite-<n>.tmp) and returns their names, for the
// log. The owner calls it at start-up, before Open.
func RemoveStaleTemps(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, base+".rewrite-") || !strings.HasSuffix(name, ".tmp") {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}
