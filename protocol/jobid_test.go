package protocol

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
)

const (
	testNodeID = "dcb833cf0123456789abcdef0123456789abcdef"
	specID     = "D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1" // SPEC.md §3
)

var testSeed = []byte("0123456789abcdef0123456789abcdef01234567")

// Reference: SPEC.md §3, the examples marked [verified].
func TestJobIDTTLField(t *testing.T) {
	for _, tc := range []struct {
		ttl, retry int64
		want       string
	}{
		{86400, 8640, "05a1"}, // the default TTL, retry > 0
		{86400, 0, "05a0"},    // same with RETRY 0
		{30, 3, "0001"},       // under a minute, retry > 0
		{100, 0, "0000"},      // 1 minute, RETRY 0: parity clears it
		{600, 60, "000b"},     // 10 minutes, forced odd
		{600, 0, "000a"},
		{60, 0, "0000"},
		{120, 1, "0003"},
		{0, 0, "0000"},
		{0, 1, "0001"},
		{65535 * 60, 1, "ffff"},
		{65535 * 60, 0, "fffe"},
		{1 << 40, 1, "ffff"}, // clamped to 16 bits
		{1 << 40, 0, "fffe"},
		{-30, 1, "0001"}, // -30/60 is 0, not negative
		{-60, 0, "0000"}, // negative minutes become 1, then even
		{-60, 1, "0001"},
		{-1 << 40, 5, "0001"},
		{3600, -1, "003c"}, // only retry > 0 makes it odd
	} {
		g := NewIDGen(testNodeID, testSeed)
		id := g.Next(tc.ttl, tc.retry)
		if got := id[36:]; got != tc.want {
			t.Errorf("Next(ttl %d, retry %d) TTL field = %q, want %q (id %s)", tc.ttl, tc.retry, got, tc.want, id)
		}
	}
}

func TestJobIDLayout(t *testing.T) {
	g := NewIDGen(testNodeID, testSeed)
	id := g.Next(86400, 8640)
	if len(id) != JobIDLen {
		t.Fatalf("len(%q) = %d", id, len(id))
	}
	if !strings.HasPrefix(id, "D-dcb833cf-") || id[35] != '-' {
		t.Errorf("bad layout: %q", id)
	}
	for _, c := range []byte(id[11:35]) {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", rune(c)) {
			t.Errorf("random part %q has %q, not in the base64 alphabet", id[11:35], c)
		}
	}
	if !ValidJobIDString(id) || !ValidJobID([]byte(id)) {
		t.Errorf("generated ID %q is not valid", id)
	}
	if got := JobIDNodePrefix(id); got != testNodeID[:8] {
		t.Errorf("JobIDNodePrefix = %q", got)
	}
}

func TestIDGenDeterministic(t *testing.T) {
	a, b := NewIDGen(testNodeID, testSeed), NewIDGen(testNodeID, testSeed)
	other := NewIDGen(testNodeID, []byte("another seed"))
	for i := 0; i < 100; i++ {
		x, y, z := a.Next(3600, 1), b.Next(3600, 1), other.Next(3600, 1)
		if x != y {
			t.Fatalf("same seed, call %d: %q != %q", i, x, y)
		}
		if x == z {
			t.Fatalf("different seeds gave the same ID %q", x)
		}
	}
}

func TestIDGenSeedIsCopied(t *testing.T) {
	seed := append([]byte(nil), testSeed...)
	g := NewIDGen(testNodeID, seed)
	seed[0] ^= 0xff
	if got, want := g.Next(60, 1), NewIDGen(testNodeID, testSeed).Next(60, 1); got != want {
		t.Errorf("changing the caller's seed changed the IDs: %q != %q", got, want)
	}
}

func TestIDGenLongSeed(t *testing.T) {
	g := NewIDGen(testNodeID, bytes.Repeat([]byte("x"), 1000))
	if id := g.Next(60, 1); !ValidJobIDString(id) {
		t.Errorf("invalid %q", id)
	}
}

func TestIDGenConcurrent(t *testing.T) {
	const workers, each = 8, 2000
	g := NewIDGen(testNodeID, testSeed)
	ids := make(chan string, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				ids <- g.Next(3600, 1)
			}
		}()
	}
	wg.Wait()
	close(ids)
	seen := make(map[string]bool, workers*each)
	for id := range ids {
		if seen[id] {
			t.Fatalf("duplicate ID %q", id)
		}
		seen[id] = true
	}
}

func TestNewIDGenShortNodeID(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewIDGen with a 3-char node ID did not panic")
		}
	}()
	NewIDGen("abc", testSeed)
}

// Reference: SPEC.md §3, "Validation used by every command taking IDs (and
// nothing more)".
func TestValidJobID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{specID, true},
		{"D-xxxxxxxx-........................-zzzz", true}, // nothing but length and separators
		{"", false},
		{specID[:39], false},
		{specID + "0", false},
		{"d" + specID[1:], false},
		{"D+" + specID[2:], false},
		{specID[:10] + "+" + specID[11:], false},
		{specID[:35] + "+" + specID[36:], false},
		{strings.Repeat("-", 40), false},
	} {
		if got := ValidJobIDString(tc.id); got != tc.want {
			t.Errorf("ValidJobIDString(%q) = %v, want %v", tc.id, got, tc.want)
		}
		if got := ValidJobID([]byte(tc.id)); got != tc.want {
			t.Errorf("ValidJobID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestJobIDTTLMinutes(t *testing.T) {
	base := specID[:36]
	for _, tc := range []struct {
		id       string
		minutes  int
		ok       bool
		atMostOn bool
	}{
		{specID, 1441, true, false},
		{base + "05a0", 1440, true, true},
		{base + "05A1", 1441, true, false}, // upper case accepted
		{base + "FFFF", 65535, true, false},
		{base + "0000", 0, true, true},
		{base + "000b", 11, true, false},
		{base + "00x1", 1, false, false}, // Disque's hexToInt: bad digit = 0
		{base + "001z", 16, false, true}, // ... so a bad last digit is even
		{"not an id", 0, false, false},
		{specID[:39], 0, false, false},
	} {
		m, ok := JobIDTTLMinutes(tc.id)
		if m != tc.minutes || ok != tc.ok {
			t.Errorf("JobIDTTLMinutes(%q) = %d, %v; want %d, %v", tc.id, m, ok, tc.minutes, tc.ok)
		}
		if got := JobIDAtMostOnce(tc.id); got != tc.atMostOn {
			t.Errorf("JobIDAtMostOnce(%q) = %v, want %v", tc.id, got, tc.atMostOn)
		}
	}
}

func TestJobIDNodePrefix(t *testing.T) {
	if got := JobIDNodePrefix(specID); got != "dcb833cf" {
		t.Errorf("JobIDNodePrefix(%q) = %q", specID, got)
	}
	if got := JobIDNodePrefix("D-short"); got != "" {
		t.Errorf("JobIDNodePrefix of an invalid ID = %q, want empty", got)
	}
}

func TestNodeID(t *testing.T) {
	id, err := NewNodeID(bytes.NewReader(bytes.Repeat([]byte{0xab, 0x01}, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("ab01", 10); id != want {
		t.Errorf("NewNodeID = %q, want %q", id, want)
	}
	if !ValidNodeID(id) {
		t.Errorf("ValidNodeID(%q) = false", id)
	}
	if _, err := NewNodeID(bytes.NewReader(make([]byte, 19))); err == nil {
		t.Error("NewNodeID from 19 bytes: no error")
	}
	for _, bad := range []string{"", id[:39], id + "0", strings.ToUpper(id), strings.Repeat("g", 40)} {
		if ValidNodeID(bad) {
			t.Errorf("ValidNodeID(%q) = true", bad)
		}
	}
}

func TestNewNodeIDReaderError(t *testing.T) {
	_, err := NewNodeID(errReader{})
	if !errors.Is(err, errBoom) {
		t.Errorf("err = %v, want it to wrap %v", err, errBoom)
	}
}

var errBoom = errors.New("boom")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBoom }

// ------------------------------- Fuzzing -----------------------------------

func FuzzValidJobID(f *testing.F) {
	f.Add([]byte(specID))
	f.Add([]byte("D-xxxxxxxx-........................-ZZZZ"))
	f.Add([]byte(""))
	f.Add([]byte("D-"))
	f.Fuzz(func(t *testing.T, id []byte) {
		valid := ValidJobID(id)
		if valid != ValidJobIDString(string(id)) {
			t.Fatalf("byte and string validation disagree on %q", id)
		}
		m, ok := JobIDTTLMinutes(string(id))
		if ok && !valid {
			t.Fatalf("TTL parsed from invalid ID %q", id)
		}
		if m < 0 || m > maxTTLMinutes {
			t.Fatalf("TTL %d out of range from %q", m, id)
		}
		if JobIDAtMostOnce(string(id)) && !valid {
			t.Fatalf("invalid ID %q is at-most-once", id)
		}
		if p := JobIDNodePrefix(string(id)); valid != (p != "") {
			t.Fatalf("prefix %q of %q (valid %v)", p, id, valid)
		}
	})
}

// FuzzJobIDTTL checks that every generated ID is valid and reads back the
// TTL field it was made with.
func FuzzJobIDTTL(f *testing.F) {
	f.Add(int64(86400), int64(8640), []byte("seed"), "dcb833cf")
	f.Add(int64(100), int64(0), []byte{}, "00000000")
	f.Add(int64(-1), int64(-1), []byte("x"), "ffffffff")
	f.Add(int64(1<<62), int64(1<<62), []byte("y"), "0123456789abcdef0123456789abcdef01234567")
	f.Fuzz(func(t *testing.T, ttl, retry int64, seed []byte, node string) {
		if len(node) < 8 {
			node += "00000000"
		}
		id := NewIDGen(node, seed).Next(ttl, retry)
		if !ValidJobIDString(id) {
			t.Fatalf("Next(%d, %d) = %q: invalid", ttl, retry, id)
		}
		m, ok := JobIDTTLMinutes(id)
		if !ok || m != int(jobIDTTLField(ttl, retry)) {
			t.Fatalf("Next(%d, %d) = %q: TTL %d, %v", ttl, retry, id, m, ok)
		}
		if JobIDAtMostOnce(id) != (retry <= 0) {
			t.Fatalf("Next(%d, %d) = %q: at-most-once %v", ttl, retry, id, JobIDAtMostOnce(id))
		}
		want := ttl / 60
		switch {
		case want > maxTTLMinutes:
			want = maxTTLMinutes
		case want < 0:
			want = 1
		}
		if int64(m) != want|1 && int64(m) != want&^1 {
			t.Fatalf("Next(%d, %d): %d minutes, want %d up to parity", ttl, retry, m, want)
		}
		if JobIDNodePrefix(id) != node[:8] {
			t.Fatalf("prefix of %q is not %q", id, node[:8])
		}
	})
}

func BenchmarkIDGenNext(b *testing.B) {
	g := NewIDGen(testNodeID, testSeed)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = g.Next(86400, 8640)
	}
}

// AppendNext makes the same IDs as Next, after what the buffer holds.
func TestIDGenAppendNext(t *testing.T) {
	a, b := NewIDGen(testNodeID, testSeed), NewIDGen(testNodeID, testSeed)
	for i := 0; i < 10; i++ {
		want := a.Next(3600, int64(i%2))
		got := b.AppendNext([]byte("prefix:"), 3600, int64(i%2))
		if string(got) != "prefix:"+want {
			t.Fatalf("call %d: %q, want prefix:%q", i, got, want)
		}
	}
}
