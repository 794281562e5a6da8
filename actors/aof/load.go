package aof

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"

	"github.com/godisque/godisque/protocol"
)

// -------------------------------- Loading ------------------------------------

// LoadOptions tune Load.
type LoadOptions struct {
	// Truncate is aof-load-truncated: cut a torn tail off the file (and
	// report it in LoadResult.Truncated) instead of failing.
	Truncate bool
	// BufferSize is the size of the read buffer; 0 means 1 MiB.
	BufferSize int
}

// LoadResult is what Load found.
type LoadResult struct {
	Missing   bool  // there is no file at the path: nothing was loaded
	Size      int64 // the file's size before loading (and truncating)
	ValidSize int64 // the offset just past the last good frame
	Records   int64 // records handed to fn
	Jobs      int64 // of which LOADJOB
	Deletes   int64 // of which DELJOB
	Delivered int64 // of which DELIVERED
	Requeued  int64 // of which QUEUED
	// Truncated says the torn tail was cut: the file is now ValidSize bytes
	// long and Size-ValidSize bytes were dropped. The caller logs "AOF
	// truncated at offset ValidSize".
	Truncated bool
	// Tail is why the tail was torn, when Truncated.
	Tail *CorruptError
}

// CorruptError is a file Load cannot read past: a torn tail (Torn, when the
// load did not truncate) or corruption.
type CorruptError struct {
	Path   string
	Offset int64  // where the damage starts: the file is good up to here
	Size   int64  // the file's size
	Torn   bool   // an incomplete last frame, as a crash mid-write leaves
	Reason string // what is wrong there
	Err    error  // the decoding error, if any
}

func (e *CorruptError) Error() string {
	if e.Torn {
		return fmt.Sprintf("aof: unexpected end of file reading %s at offset %d (%s): "+
			"make a backup of the file and run disque-check-aof --fix %s, "+
			"or set aof-load-truncated yes and restart", e.Path, e.Offset, e.Reason, e.Path)
	}
	return fmt.Sprintf("aof: bad file format reading %s at offset %d (%s): "+
		"make a backup of the file and run disque-check-aof --fix %s", e.Path, e.Offset, e.Reason, e.Path)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Load replays the file at path: it calls fn with every record, in file
// order, each a *protocol.Job (LOADJOB) or a *protocol.DelJobMsg (DELJOB)
// that fn may keep. A missing file (LoadResult.Missing) and an empty file
// load nothing and are not errors.
//
// A torn tail, that is an incomplete last frame or a last frame that ends
// exactly at the end of the file and fails its checksum, is what a crash in
// the middle of a write leaves. With opts.Truncate it is cut off: the file is
// truncated to the end of the last good frame, and Truncated and ValidSize
// say so. Without, Load returns a *CorruptError with Torn set. Any other
// damage (a foreign header, a checksum failure with data after it, an
// unknown record kind, a payload that does not parse, an absurd length with
// data after it) is a *CorruptError naming the offset, whatever
// opts.Truncate says.
//
// fn has seen every record before the damage when Load fails; the caller
// discards what it built (a node refuses to start). An error from fn stops
// the load and is returned wrapped. A nil fn only checks the file.
//
// Replay is idempotent (doc.go): LOADJOB replaces any job of the same ID and
// DELJOB of an unknown job does nothing. fn must honour that.
func Load(path string, opts LoadOptions, fn func(rec protocol.Message) error) (LoadResult, error) {
	var res LoadResult
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			res.Missing = true
			return res, nil
		}
		return res, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, err
	}
	res.Size = st.Size()
	if res.Size == 0 {
		return res, nil
	}
	bs := opts.BufferSize
	if bs <= 0 {
		bs = 1 << 20
	}
	bs = int(min(int64(bs), max(res.Size, 4096)))
	err = scan(bufio.NewReaderSize(f, bs), res.Size, &res, fn)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		return res, err
	}
	ce.Path = path
	if !ce.Torn || !opts.Truncate {
		return res, ce
	}
	// The torn tail goes; the truncation is made durable before anything
	// is appended after it.
	if err := TruncateFile(path, res.ValidSize); err != nil {
		return res, fmt.Errorf("aof: truncating the torn tail of %s at offset %d: %w", path, res.ValidSize, err)
	}
	res.Truncated, res.Tail = true, ce
	return res, nil
}

// TruncateFile cuts the file at size and makes the cut durable (fsync).
func TruncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// scan reads a whole file of the given size from r, calling fn for each
// record and keeping res up to date (ValidSize is always the end of the last
// good frame). It returns a *CorruptError for damage, the error of fn or of
// r, or nil.
func scan(r io.Reader, size int64, res *LoadResult, fn func(protocol.Message) error) error {
	res.Size = size
	bad := func(off int64, torn bool, err error, format string, args ...any) error {
		return &CorruptError{Offset: off, Size: size, Torn: torn, Reason: fmt.Sprintf(format, args...), Err: err}
	}

	// The header: a prefix of Magic at the end of the file is a torn
	// creation (the header is written alone, and synced, before any frame).
	var hdr [HeaderSize]byte
	hn := min(size, HeaderSize)
	if _, err := io.ReadFull(r, hdr[:hn]); err != nil {
		return readErr(err, 0, size)
	}
	if string(hdr[:hn]) != Magic[:hn] {
		return bad(0, false, nil, "not a godisque AOF: the file does not start with %q", Magic[:len(Magic)-1])
	}
	if hn < HeaderSize {
		return bad(0, true, nil, "incomplete header: %d of %d bytes", hn, HeaderSize)
	}
	off := HeaderSize
	res.ValidSize = off

	var fh [FrameHeaderSize]byte
	var buf []byte
	for off < size {
		rem := size - off
		if rem < FrameHeaderSize {
			return bad(off, true, nil, "incomplete frame header: %d of %d bytes", rem, FrameHeaderSize)
		}
		if _, err := io.ReadFull(r, fh[:]); err != nil {
			return readErr(err, off, size)
		}
		length := int64(binary.LittleEndian.Uint32(fh[0:4]))
		sum := binary.LittleEndian.Uint32(fh[4:8])
		switch {
		case length == 0 || length > MaxFrameSize:
			// Nothing after the header: still an incomplete last frame.
			torn := rem == FrameHeaderSize
			return bad(off, torn, nil, "impossible frame length %d", length)
		case length > rem-FrameHeaderSize:
			return bad(off, true, nil, "incomplete frame: %d of %d bytes", rem, FrameHeaderSize+length)
		}
		if int64(cap(buf)) < length {
			buf = make([]byte, length, max(length, 64<<10))
		}
		payload := buf[:length]
		if _, err := io.ReadFull(r, payload); err != nil {
			return readErr(err, off, size)
		}
		end := off + FrameHeaderSize + length
		if crc32.Checksum(payload, castagnoli) != sum {
			if end == size {
				return bad(off, true, nil, "checksum mismatch in the last frame (%d bytes)", FrameHeaderSize+length)
			}
			return bad(off, false, nil, "checksum mismatch in a frame of %d bytes followed by %d more bytes",
				FrameHeaderSize+length, size-end)
		}
		m, err := DecodeRecord(payload)
		if err != nil {
			return bad(off, false, err, "unreadable record: %v", err)
		}
		if fn != nil {
			if err := fn(m); err != nil {
				return fmt.Errorf("aof: record at offset %d: %w", off, err)
			}
		}
		res.Records++
		switch m.(type) {
		case *protocol.Job:
			res.Jobs++
		case *protocol.DelJobMsg:
			res.Deletes++
		case *protocol.WorkingMsg:
			res.Delivered++
		case *protocol.Queued:
			res.Requeued++
		}
		off = end
		res.ValidSize = off
	}
	return nil
}

// readErr is a read failing where the size said there were bytes: the file
// shrank while it was read, or the disk failed.
func readErr(err error, off, size int64) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("aof: file shorter than its size %d at offset %d (changed while loading?): %w", size, off, err)
	}
	return fmt.Errorf("aof: reading at offset %d: %w", off, err)
}
