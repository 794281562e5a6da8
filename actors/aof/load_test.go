package aof

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godisque/godisque/protocol"
)

func sampleRecords() []protocol.Message {
	return []protocol.Message{testJob(1), testJob(2), DelJob(testJob(1).Id), testJob(3), DelJob("unknown")}
}

func TestLoadMissingAndEmpty(t *testing.T) {
	dir := t.TempDir()
	res, err := Load(filepath.Join(dir, "nope.aof"), LoadOptions{}, nil)
	if err != nil || !res.Missing || res.Records != 0 {
		t.Fatalf("missing: %+v %v", res, err)
	}
	p := writeTemp(t, nil)
	res, err = Load(p, LoadOptions{}, func(protocol.Message) error { t.Fatal("record in an empty file"); return nil })
	if err != nil || res.Missing || res.Size != 0 || res.Records != 0 {
		t.Fatalf("empty: %+v %v", res, err)
	}
	p = writeTemp(t, []byte(Magic))
	res, err = Load(p, LoadOptions{}, nil)
	if err != nil || res.Size != HeaderSize || res.ValidSize != HeaderSize {
		t.Fatalf("header only: %+v %v", res, err)
	}
	// A directory is an I/O error, not corruption.
	if _, err := Load(dir, LoadOptions{}, nil); err == nil {
		t.Fatal("loaded a directory")
	} else if ce := (*CorruptError)(nil); errors.As(err, &ce) {
		t.Fatalf("directory reported as corrupt: %v", err)
	}
}

// A file cut at every byte offset: with Truncate the good prefix loads and
// the file is cut to it; without, it is an error naming that offset.
func TestLoadTruncatedAtEveryOffset(t *testing.T) {
	recs := []protocol.Message{
		&protocol.Job{Id: "D-1", Queue: "q", Body: []byte("one"), State: protocol.JobState_QUEUED, EtimeMs: 1 << 40, Retry: 300},
		DelJob("D-0"),
		&protocol.Job{Id: "D-2", Queue: "q", Body: []byte("two"), NodesDelivered: []string{"n1", "n2"}},
		DelJob("D-1"),
	}
	data, offs := encodeFile(t, recs...)
	t.Logf("%d records, %d bytes, frames at %v", len(recs), len(data), offs)
	dir := t.TempDir()
	for cut := 0; cut <= len(data); cut++ {
		// Frames entirely before the cut.
		good, goodEnd := 0, int64(0)
		if cut >= int(HeaderSize) {
			goodEnd = HeaderSize
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] <= int64(cut) {
				good, goodEnd = i, offs[i]
			}
		}
		torn := int64(cut) != goodEnd
		p := filepath.Join(dir, "cut.aof")
		if err := os.WriteFile(p, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}

		// Without truncation.
		n := 0
		res, err := Load(p, LoadOptions{}, func(protocol.Message) error { n++; return nil })
		if torn {
			var ce *CorruptError
			if !errors.As(err, &ce) || !ce.Torn || ce.Offset != goodEnd || res.ValidSize != goodEnd {
				t.Fatalf("cut %d: want torn tail at %d, got %v (%+v)", cut, goodEnd, err, res)
			}
			if !strings.Contains(err.Error(), "disque-check-aof --fix "+p) || !strings.Contains(err.Error(), "aof-load-truncated") {
				t.Fatalf("cut %d: message %q", cut, err)
			}
			if fileSize(t, p) != int64(cut) {
				t.Fatalf("cut %d: the file changed without Truncate", cut)
			}
		} else if err != nil {
			t.Fatalf("cut %d at a frame boundary: %v", cut, err)
		}
		if n != good {
			t.Fatalf("cut %d: %d records before the tail, want %d", cut, n, good)
		}

		// With truncation.
		n = 0
		res, err = Load(p, LoadOptions{Truncate: true}, func(protocol.Message) error { n++; return nil })
		if err != nil {
			t.Fatalf("cut %d with Truncate: %v", cut, err)
		}
		if n != good || res.Truncated != torn || res.ValidSize != goodEnd || res.Size != int64(cut) {
			t.Fatalf("cut %d with Truncate: %d records, %+v", cut, n, res)
		}
		if torn && (res.Tail == nil || res.Tail.Offset != goodEnd) {
			t.Fatalf("cut %d: tail %v", cut, res.Tail)
		}
		if fileSize(t, p) != goodEnd {
			t.Fatalf("cut %d: file is %d bytes, want %d", cut, fileSize(t, p), goodEnd)
		}
		// The truncated file is clean, and appendable (checked at some
		// offsets only: Close fsyncs).
		if res, err := Load(p, LoadOptions{}, nil); err != nil || res.Records != int64(good) {
			t.Fatalf("cut %d: reload %+v %v", cut, res, err)
		}
		if cut > int(HeaderSize)+FrameHeaderSize && cut%13 != 0 {
			continue
		}
		w, err := Open(p, No)
		if err != nil {
			t.Fatalf("cut %d: open after truncation: %v", cut, err)
		}
		if err := w.Append(DelJob("after")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if res, err := Load(p, LoadOptions{}, nil); err != nil || res.Records != int64(good)+1 {
			t.Fatalf("cut %d: after append %+v %v", cut, res, err)
		}
	}
}

// corruptAt loads data and expects a *CorruptError (not a torn tail, even
// with Truncate) at off, after exactly the records before it.
func corruptAt(t *testing.T, name string, data []byte, off int64, records int) {
	t.Helper()
	p := writeTemp(t, data)
	for _, trunc := range []bool{false, true} {
		n := 0
		res, err := Load(p, LoadOptions{Truncate: trunc}, func(protocol.Message) error { n++; return nil })
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: want *CorruptError, got %v", name, err)
		}
		if ce.Torn || ce.Offset != off || res.ValidSize != off || n != records || res.Truncated {
			t.Fatalf("%s (truncate %v): %v, offset %d (want %d), %d records (want %d), %+v",
				name, trunc, err, ce.Offset, off, n, records, res)
		}
		if !strings.Contains(err.Error(), "disque-check-aof --fix "+p) {
			t.Fatalf("%s: message %q does not name the tool", name, err)
		}
		if fileSize(t, p) != int64(len(data)) {
			t.Fatalf("%s: corrupt file modified", name)
		}
		if ce.Path != p {
			t.Fatalf("%s: path %q", name, ce.Path)
		}
	}
}

func TestLoadCorruption(t *testing.T) {
	data, offs := encodeFile(t, sampleRecords()...)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(data)) }

	// A flipped bit in the payload of every frame but the last one.
	for i := 0; i < len(offs)-2; i++ {
		d := mod(func(b []byte) []byte { b[offs[i]+FrameHeaderSize+3] ^= 0x10; return b })
		corruptAt(t, "payload flip", d, offs[i], i)
		d = mod(func(b []byte) []byte { b[offs[i]+5] ^= 0x01; return b }) // the stored checksum
		corruptAt(t, "checksum flip", d, offs[i], i)
	}
	// The same flip in the last frame is a torn tail.
	last := offs[len(offs)-2]
	d := mod(func(b []byte) []byte { b[last+FrameHeaderSize+1] ^= 0x10; return b })
	p := writeTemp(t, d)
	if _, err := Load(p, LoadOptions{}, nil); err == nil || !err.(*CorruptError).Torn {
		t.Fatalf("last frame flip: %v", err)
	}
	if res, err := Load(p, LoadOptions{Truncate: true}, nil); err != nil || !res.Truncated || res.ValidSize != last {
		t.Fatalf("last frame flip with Truncate: %+v %v", res, err)
	}

	// Bad headers.
	corruptAt(t, "foreign header", mod(func(b []byte) []byte { b[0] = 'X'; return b }), 0, 0)
	corruptAt(t, "newer version", mod(func(b []byte) []byte { b[13] = '2'; return b }), 0, 0)
	corruptAt(t, "RESP file", []byte("*2\r\n$7\r\nLOADJOB\r\n$3\r\nabc\r\n"), 0, 0)
	corruptAt(t, "short foreign", []byte("GODX"), 0, 0)

	// Impossible lengths with data after them.
	huge := mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offs[2]:], MaxFrameSize+1); return b })
	corruptAt(t, "huge length", huge, offs[2], 2)
	zero := mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offs[2]:], 0); return b })
	corruptAt(t, "zero length", zero, offs[2], 2)
	zeros := append(bytes.Clone(data), make([]byte, 4096)...)
	corruptAt(t, "zero-filled tail", zeros, offs[len(offs)-1], len(offs)-1)

	// A huge length as the very last 8 bytes is an incomplete frame.
	tail := binary.LittleEndian.AppendUint32(bytes.Clone(data), 0xffffffff)
	tail = binary.LittleEndian.AppendUint32(tail, 0)
	p = writeTemp(t, tail)
	if res, err := Load(p, LoadOptions{Truncate: true}, nil); err != nil || !res.Truncated || res.ValidSize != int64(len(data)) {
		t.Fatalf("huge length at the tail: %+v %v", res, err)
	}

	// A frame whose checksum matches but whose contents are not a record.
	bad := []byte{byte(protocol.KindAddJob), 0x0a, 0x01, 'q'}
	d = append(bytes.Clone(data[:offs[1]]), frameOf(bad)...)
	d = append(d, data[offs[1]:]...)
	corruptAt(t, "unknown kind", d, offs[1], 1)
	d = append(bytes.Clone(data), frameOf([]byte{byte(protocol.KindJob), 0xff})...) // even at the tail
	corruptAt(t, "undecodable at the tail", d, offs[len(offs)-1], len(offs)-1)
}

// frameOf frames an arbitrary payload.
func frameOf(payload []byte) []byte {
	var h [FrameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:], crcOf(payload))
	return append(h[:], payload...)
}

func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func TestLoadCallbackError(t *testing.T) {
	data, offs := encodeFile(t, sampleRecords()...)
	p := writeTemp(t, data)
	stop := errors.New("stop")
	n := 0
	_, err := Load(p, LoadOptions{}, func(protocol.Message) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("%v", err)
	}
	var ce *CorruptError
	if errors.As(err, &ce) {
		t.Fatal("a callback error is not corruption")
	}
	if !strings.Contains(err.Error(), fmt.Sprint(offs[1])) {
		t.Fatalf("%v does not name offset %d", err, offs[1])
	}
}

// FuzzLoad: no input panics, and what Load reports is consistent: an
// accepted file loads entirely, damage is reported at ValidSize, and a
// truncated torn tail leaves a clean file with the same records.
//
// Minimisation re-runs an input many times; keep it short:
//
//	go test -run '^$' -fuzz FuzzLoad -fuzzminimizetime 1s ./actors/aof/
func FuzzLoad(f *testing.F) {
	data, offs := encodeFile(f, sampleRecords()...)
	f.Add(data)
	f.Add(data[:len(data)-3])
	f.Add(data[:offs[2]+2])
	f.Add([]byte(Magic))
	f.Add([]byte(Magic[:5]))
	f.Add([]byte{})
	f.Add(append([]byte(Magic), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1))
	f.Add(append([]byte(Magic), frameOf([]byte{byte(protocol.KindJob)})...))
	// One file per fuzzing process, reused: inputs run one at a time.
	p := filepath.Join(f.TempDir(), "f.aof")
	f.Fuzz(func(t *testing.T, in []byte) {
		// In memory, as Load reads.
		var mem LoadResult
		memErr := scan(bytes.NewReader(in), int64(len(in)), &mem, nil)

		if err := os.WriteFile(p, in, 0o644); err != nil {
			t.Fatal(err)
		}
		n := int64(0)
		res, err := Load(p, LoadOptions{}, func(protocol.Message) error { n++; return nil })
		var ce *CorruptError
		switch {
		case err == nil:
			if len(in) > 0 && res.ValidSize != int64(len(in)) {
				t.Fatalf("valid file, ValidSize %d of %d", res.ValidSize, len(in))
			}
		case errors.As(err, &ce):
			if ce.Offset != res.ValidSize || res.ValidSize > int64(len(in)) {
				t.Fatalf("offset %d, result %+v", ce.Offset, res)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
		if n != res.Records {
			t.Fatalf("%d callbacks, %d records", n, res.Records)
		}
		if len(in) > 0 && (mem.Records != res.Records || mem.ValidSize != res.ValidSize || (memErr == nil) != (err == nil)) {
			t.Fatalf("in memory %+v %v, from the file %+v %v", mem, memErr, res, err)
		}
		if err == nil || !ce.Torn {
			return
		}
		res2, err2 := Load(p, LoadOptions{Truncate: true}, nil)
		if err2 != nil || !res2.Truncated || res2.Records != n || fileSize(t, p) != res2.ValidSize {
			t.Fatalf("truncating load: %+v %v, %d bytes", res2, err2, fileSize(t, p))
		}
		if res3, err3 := Load(p, LoadOptions{}, nil); err3 != nil || res3.Records != n {
			t.Fatalf("reload after truncation: %+v %v", res3, err3)
		}
	})
}
