package aof

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------ Fsync policies -------------------------------

// Fsync is appendfsync: when appended records are forced to the disk. The
// zero value is EverySec, Disque's default.
type Fsync int

const (
	// EverySec: records reach the kernel before the reply (Commit writes
	// them) and the disk within about a second (the owner's timer calls
	// SyncIfDue). A process crash loses nothing; a power loss up to ~1 s.
	EverySec Fsync = iota
	// Always: Commit writes and fsyncs, so a record is on the disk before
	// the reply that depends on it. One fsync per Commit, not per record:
	// see "Group commit" below.
	Always
	// No: records reach the kernel before the reply and the disk when the
	// operating system decides (typically within 30 s on Linux).
	No
)

// ParseFsync reads an appendfsync value: always, everysec or no.
func ParseFsync(s string) (Fsync, error) {
	switch strings.ToLower(s) {
	case "always":
		return Always, nil
	case "everysec":
		return EverySec, nil
	case "no":
		return No, nil
	}
	return EverySec, fmt.Errorf("aof: unknown appendfsync policy %q (always, everysec or no)", s)
}

func (p Fsync) String() string {
	switch p {
	case Always:
		return "always"
	case EverySec:
		return "everysec"
	case No:
		return "no"
	}
	return fmt.Sprintf("Fsync(%d)", int(p))
}

// SyncInterval is how often EverySec fsyncs. SyncIfDue treats an fsync as
// due a little earlier (SyncInterval*9/10 after the previous one), so a
// 1-second ticker whose ticks arrive slightly early syncs on every tick.
const SyncInterval = time.Second

// ------------------------------ The filesystem -------------------------------

// File is what the Writer needs of an open file; *os.File has it. Tests
// inject files that fail (disk full, read-only, I/O errors) or count fsyncs.
type File interface {
	io.Writer
	io.ReaderAt
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Close() error
}

// FS is what the Writer needs of the filesystem. OS is the real one.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	// SyncDir fsyncs a directory, making a rename or a new name in it
	// durable.
	SyncDir(dir string) error
}

// OS is the operating system's filesystem.
var OS FS = osFS{}

type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return f, nil
}

func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error             { return os.Remove(name) }

func (osFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ---------------------------------- Errors -----------------------------------

// Errors of the Writer.
var (
	ErrClosed           = errors.New("aof: writer closed")
	ErrRewriteRunning   = errors.New("aof: a rewrite is already in progress")
	ErrNotRewriting     = errors.New("aof: not the rewrite in progress")
	ErrSnapshotFinished = errors.New("aof: the rewrite's snapshot is already finished")
)

// DiskError is a failed operation on the file: the disk is full (ENOSPC,
// EDQUOT), the filesystem read-only (EROFS), the file too large (EFBIG), the
// device failing (EIO)...
type DiskError struct {
	Op   string // open, write, fsync, truncate, rename, sync-dir
	Path string
	Err  error
}

func (e *DiskError) Error() string {
	return fmt.Sprintf("aof: %s %s: %s", e.Op, e.Path, Strerror(e.Err))
}

func (e *DiskError) Unwrap() error { return e.Err }

// Strerror is the C library's text for the system error in err ("No space
// left on device", "Read-only file system"), or err's own text with a
// capital, for Disque's
//
//	-MISCONF Errors writing to the AOF file: <Strerror(w.LastError())>
func Strerror(err error) string {
	if err == nil {
		return ""
	}
	var errno syscall.Errno
	s := err.Error()
	if errors.As(err, &errno) {
		s = errno.Error()
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// -------------------------------- The writer ---------------------------------
//
// Writer appends records to the file. It is not safe for concurrent use: one
// owner (the aof actor) calls every method, except Rewrite.Emit and
// Rewrite.EndSnapshot, which belong to whoever streams the snapshot.
//
// Group commit. Append only encodes into an in-memory buffer; Commit is the
// one place that writes (and, under Always, fsyncs). The owner appends every
// record of a batch, calls Commit once, and only then releases the replies
// that depend on those records:
//
//	for _, req := range batch { w.Append(req.rec) }  // no I/O
//	err := w.Commit()                                 // one write(2), one fsync(2) under Always
//	for _, req := range batch { req.reply(err) }
//
// An actor gets its batches for free: on a record it appends and, unless one
// is already pending, sends itself a "commit" message. The mailbox is FIFO,
// so that message is handled after every record already queued: one Commit
// covers them all, and while an fsync blocks the actor, new records pile up
// into the next, larger batch. The cost per record falls as the load rises.
//
// Errors. Only Flush, Sync, Commit, SyncIfDue, Close and the rewrite touch
// the disk. A failed write keeps its records in the buffer: a partial write
// is truncated away (so the file ends at the last complete frame) and the
// next Flush, Commit or SyncIfDue writes the whole buffer again; if even the
// truncation fails, the written part is kept and dropped from the buffer, so
// the next write completes the frame (as Redis does). LastError reports the
// failure until a later write succeeds; the owner refuses writes meanwhile
// (-MISCONF) and keeps calling SyncIfDue, which retries, so the node recovers
// by itself when the disk frees up. A failed Commit does not take its records
// back: they are written by the next successful one.
type Writer struct {
	fsys   FS
	path   string
	f      File
	policy Fsync

	buf      []byte    // frames appended and not yet written
	size     int64     // bytes in the file
	base     int64     // size when opened or after the last rewrite
	unsynced bool      // bytes written since the last fsync
	lastSync time.Time // when SyncIfDue last fsynced
	lastErr  *DiskError
	closed   bool

	rw    *Rewrite // the rewrite in progress, or nil
	rwbuf []byte   // frames appended since it started
	seq   int      // rewrites started, for temporary file names
}

// Open opens the file at path for appending, creating it (with its header,
// synced along with its directory) if it does not exist or is empty. An
// existing file must start with Magic. Open does not read the frames: the
// owner runs Load first, which cuts a torn tail, before appending after it.
func Open(path string, policy Fsync) (*Writer, error) { return OpenFS(OS, path, policy) }

// OpenFS is Open on the given filesystem.
func OpenFS(fsys FS, path string, policy Fsync) (*Writer, error) {
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, &DiskError{Op: "open", Path: path, Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &DiskError{Op: "stat", Path: path, Err: err}
	}
	size := st.Size()
	if size == 0 {
		if err := writeHeader(f); err != nil {
			_ = f.Truncate(0)
			f.Close()
			return nil, &DiskError{Op: "write", Path: path, Err: err}
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, &DiskError{Op: "fsync", Path: path, Err: err}
		}
		if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, &DiskError{Op: "sync-dir", Path: filepath.Dir(path), Err: err}
		}
		size = HeaderSize
	} else if err := checkHeader(f, size); err != nil {
		f.Close()
		if ce, ok := err.(*CorruptError); ok {
			ce.Path = path
			return nil, ce
		}
		return nil, &DiskError{Op: "read", Path: path, Err: err}
	}
	return &Writer{fsys: fsys, path: path, f: f, policy: policy, size: size, base: size}, nil
}

// Create replaces whatever is at path with an empty file (its header only)
// and opens it for appending. The replacement is atomic: a temporary file is
// written, synced and renamed over path, and the directory is synced. It is
// for turning the log on while the node runs (CONFIG SET appendonly yes): the
// owner then rewrites at once, so that the file holds the live set.
func Create(path string, policy Fsync) (*Writer, error) { return CreateFS(OS, path, policy) }

// CreateFS is Create on the given filesystem.
func CreateFS(fsys FS, path string, policy Fsync) (*Writer, error) {
	tmp := tempName(path, 0)
	f, err := newFile(fsys, tmp)
	if err != nil {
		return nil, err
	}
	fail := func(op, p string, err error) (*Writer, error) {
		f.Close()
		_ = fsys.Remove(tmp)
		return nil, &DiskError{Op: op, Path: p, Err: err}
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fail("rename", tmp, err)
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, &DiskError{Op: "sync-dir", Path: filepath.Dir(path), Err: err}
	}
	return &Writer{fsys: fsys, path: path, f: f, policy: policy, size: HeaderSize, base: HeaderSize}, nil
}

// newFile creates (or empties) name and writes the header, not synced.
func newFile(fsys FS, name string) (File, error) {
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, &DiskError{Op: "open", Path: name, Err: err}
	}
	if err := writeHeader(f); err != nil {
		f.Close()
		_ = fsys.Remove(name)
		return nil, &DiskError{Op: "write", Path: name, Err: err}
	}
	return f, nil
}

func writeHeader(f File) error {
	n, err := io.WriteString(f, Magic)
	if err == nil && n < len(Magic) {
		err = io.ErrShortWrite
	}
	return err
}

// checkHeader reads the first bytes of a non-empty file.
func checkHeader(f File, size int64) error {
	var hdr [HeaderSize]byte
	n := min(size, HeaderSize)
	if _, err := f.ReadAt(hdr[:n], 0); err != nil {
		return err
	}
	switch {
	case string(hdr[:n]) != Magic[:n]:
		return &CorruptError{Size: size, Reason: fmt.Sprintf("not a godisque AOF: the file does not start with %q", Magic[:len(Magic)-1])}
	case n < HeaderSize:
		return &CorruptError{Size: size, Torn: true, Reason: fmt.Sprintf("incomplete header: %d of %d bytes", n, HeaderSize)}
	}
	return nil
}

// Path is the file's path.
func (w *Writer) Path() string { return w.path }

// Policy is the fsync policy.
func (w *Writer) Policy() Fsync { return w.policy }

// SetPolicy changes the fsync policy (CONFIG SET appendfsync). Switching to
// Always takes effect at the next Commit, which fsyncs whatever is unsynced.
func (w *Writer) SetPolicy(p Fsync) { w.policy = p }

// Append encodes m into the buffer (and, during a rewrite, into the rewrite
// buffer). It does no I/O: Commit writes. It fails only on a message that is
// not a record (see EncodeRecord) or after Close.
func (w *Writer) Append(m protocol.Message) error {
	if w.closed {
		return ErrClosed
	}
	n := len(w.buf)
	var err error
	if w.buf, err = EncodeRecord(w.buf, m); err != nil {
		return err
	}
	if w.rw != nil {
		w.rwbuf = append(w.rwbuf, w.buf[n:]...)
	}
	return nil
}

// AppendBatch appends every message, stopping at the first that is not a
// record (the ones before it stay appended).
func (w *Writer) AppendBatch(ms []protocol.Message) error {
	for _, m := range ms {
		if err := w.Append(m); err != nil {
			return err
		}
	}
	return nil
}

// Flush writes the buffer to the file (to the kernel, not necessarily to the
// disk). On failure the buffer is kept for the next try and LastError reports
// the error; see Writer's doc for partial writes.
func (w *Writer) Flush() error {
	if w.closed {
		return ErrClosed
	}
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.f.Write(w.buf)
	if err == nil && n < len(w.buf) {
		err = io.ErrShortWrite
	}
	if err == nil {
		w.size += int64(n)
		w.unsynced = true
		if cap(w.buf) > maxIdleBuffer {
			w.buf = nil // a burst is over: give its memory back
		} else {
			w.buf = w.buf[:0]
		}
		if w.lastErr != nil && w.lastErr.Op == "write" {
			w.lastErr = nil // "AOF write error looks solved"
		}
		return nil
	}
	if n > 0 {
		if terr := w.f.Truncate(w.size); terr != nil {
			// The file now ends inside a frame. Keep those bytes and
			// write only the rest next time, which completes the frame.
			w.size += int64(n)
			w.unsynced = true
			w.buf = w.buf[:copy(w.buf, w.buf[n:])]
		}
	}
	w.lastErr = &DiskError{Op: "write", Path: w.path, Err: err}
	return w.lastErr
}

// maxIdleBuffer is the largest buffer kept after a Flush.
const maxIdleBuffer = 4 << 20

// Sync fsyncs what Flush wrote, if anything is unsynced. It does not flush.
func (w *Writer) Sync() error {
	if w.closed {
		return ErrClosed
	}
	if !w.unsynced {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		// After a failed fsync the kernel may have dropped the dirty
		// pages; a later fsync that succeeds does not prove they reached
		// the disk. Under Always the owner should treat this as fatal.
		w.lastErr = &DiskError{Op: "fsync", Path: w.path, Err: err}
		return w.lastErr
	}
	w.unsynced = false
	if w.lastErr != nil && w.lastErr.Op == "fsync" {
		w.lastErr = nil
	}
	return nil
}

// Commit ends a batch: it writes the buffer and, under Always, fsyncs. When
// it returns nil, every record appended so far is in the kernel (and, under
// Always, on the disk). See "Group commit" in Writer's doc.
func (w *Writer) Commit() error {
	if err := w.Flush(); err != nil {
		return err
	}
	if w.policy == Always {
		return w.Sync()
	}
	return nil
}

// SyncIfDue is for the owner's timer (every second, or more often). It
// retries a failed write (any buffered records are written) and, under
// EverySec, fsyncs when something is unsynced and the previous fsync of
// SyncIfDue is about SyncInterval old. now is the owner's clock.
func (w *Writer) SyncIfDue(now time.Time) error {
	if err := w.Flush(); err != nil {
		return err
	}
	if w.policy != EverySec || !w.unsynced {
		return nil
	}
	if !w.lastSync.IsZero() && now.Sub(w.lastSync) < SyncInterval*9/10 {
		return nil
	}
	if err := w.Sync(); err != nil {
		return err
	}
	w.lastSync = now
	return nil
}

// LastError is the error of the last failed write or fsync, until a write
// (or an fsync, for an fsync error) succeeds; nil when all is well. Its text
// for clients is Strerror(err). A *DiskError.
func (w *Writer) LastError() error {
	if w.lastErr == nil {
		return nil
	}
	return w.lastErr
}

// Size is the file's size as written so far (INFO aof_current_size); records
// still in the buffer are not counted.
func (w *Writer) Size() int64 { return w.size }

// BaseSize is the size when the file was opened or last rewritten (INFO
// aof_base_size), the base of auto-rewrite growth.
func (w *Writer) BaseSize() int64 { return w.base }

// Buffered is the number of bytes appended and not yet written (INFO
// aof_buffer_length).
func (w *Writer) Buffered() int { return len(w.buf) }

// Unsynced reports bytes written since the last fsync.
func (w *Writer) Unsynced() bool { return w.unsynced }

// ShouldRewrite is auto-aof-rewrite: true when no rewrite is running, the
// file is larger than minSize, and it grew by at least percentage percent
// over BaseSize. A percentage of 0 disables it.
func (w *Writer) ShouldRewrite(percentage, minSize int64) bool {
	if w.closed || w.rw != nil || percentage <= 0 || w.size <= minSize {
		return false
	}
	base := max(w.base, 1)
	return w.size*100/base-100 >= percentage
}

// Close aborts a rewrite in progress (its snapshot must no longer be
// streaming), writes the buffer, fsyncs whatever the policy (SHUTDOWN), and
// closes the file. The file is closed even when writing fails.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	if w.rw != nil {
		_ = w.AbortRewrite(w.rw)
	}
	err := w.Flush()
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = &DiskError{Op: "close", Path: w.path, Err: cerr}
	}
	w.closed = true
	return err
}
