package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/godisque/godisque/actors/aof"
	"github.com/godisque/godisque/protocol"
)

// validFile returns a file of a few records and the offset of each frame.
func validFile(t *testing.T) ([]byte, []int) {
	t.Helper()
	b := []byte(aof.Magic)
	offs := []int{len(b)}
	for i, m := range []protocol.Message{
		&protocol.Job{Id: "D-1", Queue: "q", Body: []byte("one")},
		&protocol.Job{Id: "D-2", Queue: "q", Body: []byte("two"), State: protocol.JobState_QUEUED},
		aof.DelJob("D-1"),
		&protocol.Job{Id: "D-3", Queue: "q", Body: []byte("three")},
	} {
		var err error
		if b, err = aof.EncodeRecord(b, m); err != nil {
			t.Fatal(i, err)
		}
		offs = append(offs, len(b))
	}
	return b, offs
}

func write(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disque.aof")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func check(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out)
	return code, out.String()
}

func contains(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

func size(t *testing.T, p string) int {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Size())
}

func TestValid(t *testing.T) {
	data, _ := validFile(t)
	p := write(t, data)
	code, out := check(t, "", p)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	contains(t, out, fmt.Sprintf("AOF analyzed: size=%d, ok_up_to=%d, diff=0\n", len(data), len(data)),
		"AOF is valid", "4 records: 3 LOADJOB, 1 DELJOB")
	// --fix on a valid file changes nothing and asks nothing.
	code, out = check(t, "", "--fix", p)
	if code != 0 || strings.Contains(out, "Continue?") || size(t, p) != len(data) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// A header alone is a valid, empty log.
	code, out = check(t, "", write(t, []byte(aof.Magic)))
	if code != 0 {
		t.Fatalf("header only: %s", out)
	}
}

func TestTruncated(t *testing.T) {
	data, offs := validFile(t)
	cut := data[:len(data)-3]
	p := write(t, cut)
	last := offs[len(offs)-2]

	code, out := check(t, "", p)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	contains(t, out, fmt.Sprintf("AOF analyzed: size=%d, ok_up_to=%d, diff=%d\n", len(cut), last, len(cut)-last),
		"AOF is not valid", "Unexpected end of file", fmt.Sprintf("Offset %d (0x%x): Unexpected end of file", last, last))

	// --fix, answered no, then with nothing, then yes.
	for _, answer := range []string{"n\n", "", "nope\n"} {
		code, out = check(t, answer, "--fix", p)
		if code != 1 || size(t, p) != len(cut) {
			t.Fatalf("answer %q: exit %d, %d bytes:\n%s", answer, code, size(t, p), out)
		}
		contains(t, out, "Continue? [y/N]: ", "Aborting...")
	}
	code, out = check(t, "y\n", "--fix", p)
	if code != 0 || size(t, p) != last {
		t.Fatalf("exit %d, %d bytes:\n%s", code, size(t, p), out)
	}
	contains(t, out, fmt.Sprintf("This will shrink the AOF from %d bytes, with %d bytes, to %d bytes", len(cut), len(cut)-last, last),
		"Successfully truncated AOF")
	if code, out := check(t, "", p); code != 0 {
		t.Fatalf("after the fix:\n%s", out)
	}
}

func TestCorruptInTheMiddle(t *testing.T) {
	data, offs := validFile(t)
	bad := bytes.Clone(data)
	bad[offs[1]+10] ^= 0x40 // the second frame's payload
	p := write(t, bad)
	code, out := check(t, "", p)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	contains(t, out, "checksum mismatch", fmt.Sprintf("Offset %d ", offs[1]),
		fmt.Sprintf("ok_up_to=%d, diff=%d", offs[1], len(bad)-offs[1]), "AOF is not valid")

	code, out = check(t, "", "--fix", "--yes", p)
	if code != 0 || size(t, p) != offs[1] || strings.Contains(out, "Continue?") {
		t.Fatalf("--yes: exit %d, %d bytes:\n%s", code, size(t, p), out)
	}
	res, err := aof.Load(p, aof.LoadOptions{}, nil)
	if err != nil || res.Records != 1 {
		t.Fatalf("after the fix: %+v %v", res, err)
	}
}

func TestNotAnAOF(t *testing.T) {
	p := write(t, []byte("*3\r\n$3\r\nSET\r\n"))
	code, out := check(t, "y\n", "--fix", p)
	if code != 1 || size(t, p) == 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	contains(t, out, "not a godisque AOF", "refusing to fix")

	// A torn header is fixable: down to nothing.
	p = write(t, []byte(aof.Magic[:6]))
	code, out = check(t, "y\n", "--fix", p)
	if code != 0 || size(t, p) != 0 {
		t.Fatalf("torn header: exit %d:\n%s", code, out)
	}
}

func TestUsageAndMissing(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{}, {"a", "b"}, {"--frobnicate", "a"}} {
		if code, out := check(t, "", args...); code != 1 || !strings.Contains(out, "Usage") {
			t.Fatalf("%v: exit %d:\n%s", args, code, out)
		}
	}
	if code, out := check(t, "", "--help"); code != 0 || !strings.Contains(out, "Usage") {
		t.Fatalf("help: %d %s", code, out)
	}
	code, out := check(t, "", filepath.Join(dir, "missing.aof"))
	if code != 1 || !strings.Contains(out, "Cannot open file") {
		t.Fatalf("missing: %d %s", code, out)
	}
	code, out = check(t, "", write(t, nil))
	if code != 1 || !strings.Contains(out, "Empty file") {
		t.Fatalf("empty: %d %s", code, out)
	}
}
