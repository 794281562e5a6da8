package gateway

import (
	"bytes"
	"reflect"
	"strconv"
	"testing"

	"github.com/godisque/godisque/protocol"
)

// Fuzz targets for the argument parsers. Each builds several argvs from the
// fuzz bytes (split on spaces; the input cut in two halves as two raw
// arguments; with and without a valid prefix) and checks that the parser
// never panics, that an error is one its command may return, and that a
// success is self-consistent: its invariants hold and rendering it back to
// a canonical argv parses to the same message.
//
// `go test` runs the seed corpus only; `go test -fuzz FuzzParseADDJOB` etc.
// explores.

// fuzzArgvs returns the argvs to try for one fuzz input.
func fuzzArgvs(cmd string, prefix []string, data []byte) [][][]byte {
	words := bytes.Split(data, []byte(" "))
	mid := len(data) / 2
	halves := [][]byte{data[:mid], data[mid:]}
	build := func(pre []string, rest [][]byte) [][]byte {
		out := [][]byte{[]byte(cmd)}
		for _, p := range pre {
			out = append(out, []byte(p))
		}
		return append(out, rest...)
	}
	return [][][]byte{
		build(prefix, words),
		build(prefix, halves),
		build(nil, words),
		build(nil, halves),
	}
}

// errIn reports whether err is one of the allowed errors.
func errIn(err error, allowed ...Error) bool {
	e, ok := err.(Error)
	if !ok {
		return false
	}
	for _, a := range allowed {
		if e == a {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- ADDJOB -----

func FuzzParseADDJOB(f *testing.F) {
	for _, s := range []string{
		"", "REPLICATE 1 RETRY 0", "REPLICATE 3 RETRY 0", "RETRY 0", "TTL 10 DELAY 10",
		"DELAY 5 TTL 6 ASYNC", "MAXLEN 1 MAXLEN 0", "REPLICATE 65536", "REPLICATE", "ttl -1",
		"retry 99999999999999999999", "async async", "DELAY 86400", "REPLICATE abc",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, args := range fuzzArgvs("ADDJOB", []string{"q", "body", "0"}, data) {
			a, err := parseADDJOB(args)
			if err != nil {
				if a != nil {
					t.Fatalf("%q: result and error", args)
				}
				if !errIn(err, ErrSyntax, ErrReplicateRange, ErrTTL, ErrRetry, ErrDelay, ErrMaxlen,
					ErrTimeoutNotInteger, ErrTimeoutNegative, ErrRetryZeroReplicate, ErrDelayTTL, errArity("addjob")) {
					t.Fatalf("%q: unexpected error %q", args, err)
				}
				continue
			}
			checkAddJob(t, args, a)
		}
	})
}

func checkAddJob(t *testing.T, args [][]byte, a *protocol.AddJob) {
	t.Helper()
	if a.Replicate > 65535 || a.Ttl < 0 || a.Retry < -1 || a.Delay < 0 || a.Maxlen < 0 || a.TimeoutMs < 0 {
		t.Fatalf("%q: out of range: %+v", args, a)
	}
	if a.Queue != string(args[1]) || !bytes.Equal(a.Body, args[2]) {
		t.Fatalf("%q: queue/body mismatch: %+v", args, a)
	}
	ttl := a.Ttl
	if ttl == 0 {
		ttl = defaultTTL
	}
	if !(a.Replicate == 0 && a.Retry == 0) {
		if a.Delay >= ttl {
			t.Fatalf("%q: DELAY >= TTL accepted: %+v", args, a)
		}
		if a.Replicate > 1 && a.Retry == 0 {
			t.Fatalf("%q: RETRY 0 with REPLICATE > 1 accepted: %+v", args, a)
		}
	}
	// Canonical form parses back to the same message.
	canon := []string{"ADDJOB", a.Queue, string(a.Body), strconv.FormatInt(a.TimeoutMs, 10)}
	if a.Replicate != 0 {
		canon = append(canon, "REPLICATE", strconv.FormatUint(uint64(a.Replicate), 10))
	}
	if a.Ttl != 0 {
		canon = append(canon, "TTL", strconv.FormatInt(a.Ttl, 10))
	}
	if a.Retry != -1 {
		canon = append(canon, "RETRY", strconv.FormatInt(a.Retry, 10))
	}
	if a.Delay != 0 {
		canon = append(canon, "DELAY", strconv.FormatInt(a.Delay, 10))
	}
	if a.Maxlen != 0 {
		canon = append(canon, "MAXLEN", strconv.FormatInt(a.Maxlen, 10))
	}
	if a.Async {
		canon = append(canon, "ASYNC")
	}
	b, err := parseADDJOB(mkArgs(canon...))
	if err != nil || !reflect.DeepEqual(normalize(a), normalize(b)) {
		t.Fatalf("%q: canonical %q parses to %+v, %v; want %+v", args, canon, b, err, a)
	}
}

// ---------------------------------------------------------------- GETJOB -----

func FuzzParseGETJOB(f *testing.F) {
	for _, s := range []string{
		"FROM q", "NOHANG FROM q r", "TIMEOUT 10 COUNT 2 FROM q", "COUNT 0 FROM q", "FROM",
		"WITHCOUNTERS", "FROM q COUNT 2", "TIMEOUT -1", "COUNT 99999999999999999999 FROM q", "TIMEOUT",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, args := range fuzzArgvs("GETJOB", []string{"NOHANG"}, data) {
			g, err := parseGETJOB(args)
			if err != nil {
				if g != nil {
					t.Fatalf("%q: result and error", args)
				}
				if !errIn(err, ErrSyntax, ErrCount, ErrTimeoutNotInteger, ErrTimeoutNegative, errArity("getjob")) {
					t.Fatalf("%q: unexpected error %q", args, err)
				}
				continue
			}
			if g.Count < 1 || g.TimeoutMs < 0 || len(g.Queues) == 0 {
				t.Fatalf("%q: bad result %+v", args, g)
			}
			// The queues are exactly what follows the first FROM.
			from := -1
			for i := 1; i < len(args); i++ {
				if eqFold(args[i], "from") {
					from = i
					break
				}
			}
			if from < 0 || len(args)-from-1 != len(g.Queues) {
				t.Fatalf("%q: queues %q", args, g.Queues)
			}
			for i, q := range g.Queues {
				if q != string(args[from+1+i]) {
					t.Fatalf("%q: queues %q", args, g.Queues)
				}
			}
			canon := []string{"GETJOB", "TIMEOUT", strconv.FormatInt(g.TimeoutMs, 10), "COUNT", strconv.FormatUint(uint64(g.Count), 10)}
			if g.Nohang {
				canon = append(canon, "NOHANG")
			}
			if g.Withcounters {
				canon = append(canon, "WITHCOUNTERS")
			}
			canon = append(append(canon, "FROM"), g.Queues...)
			h, err := parseGETJOB(mkArgs(canon...))
			if err != nil || !reflect.DeepEqual(g, h) {
				t.Fatalf("%q: canonical %q parses to %+v, %v; want %+v", args, canon, h, err, g)
			}
		}
	})
}

// ------------------------------------------------------------ ID lists -----

func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{
		"", testID1, testID1 + " " + testID2, testID1 + " DELAY 10", "D-", "D-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb-cccc",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, args := range fuzzArgvs("ACKJOB", nil, data) {
			a, err := parseACKJOB(args)
			allValid := true
			for _, id := range args[1:] {
				allValid = allValid && validJobID(id)
			}
			if err != nil {
				if err != ErrBadID || allValid || a != nil {
					t.Fatalf("%q: error %v (all valid %v)", args, err, allValid)
				}
				continue
			}
			if !allValid || len(a.Ids) != len(args)-1 {
				t.Fatalf("%q: accepted %q", args, a.Ids)
			}
			for i, id := range a.Ids {
				if id != string(args[i+1]) || len(id) != 40 {
					t.Fatalf("%q: accepted %q", args, a.Ids)
				}
			}
			// The same list gives the same verdict through every ID command.
			for _, p := range []func([][]byte) error{
				func(x [][]byte) error { _, err := parseFASTACK(x); return err },
				func(x [][]byte) error { _, err := parseNACK(x); return err },
				func(x [][]byte) error { _, err := parseENQUEUE(x); return err },
				func(x [][]byte) error { _, err := parseDEQUEUE(x); return err },
				func(x [][]byte) error { _, err := parseDELJOB(x); return err },
			} {
				if err := p(args); err != nil {
					t.Fatalf("%q: %v", args, err)
				}
			}
			if len(args) == 2 {
				if w, err := parseWORKING(args); err != nil || w.Id != a.Ids[0] {
					t.Fatalf("%q: WORKING %v %v", args, w, err)
				}
				if s, err := parseSHOW(args); err != nil || s.Id != a.Ids[0] {
					t.Fatalf("%q: SHOW %v %v", args, s, err)
				}
			}
		}
	})
}

// ----------------------------------------------------------- QSCAN, JSCAN -----

func FuzzParseScan(f *testing.F) {
	for _, s := range []string{
		"", "0", "COUNT 10", "1 2", "COUNT", "x", "BUSYLOOP MINLEN 1 MAXLEN 2 IMPORTRATE 3",
		"QUEUE q STATE acked STATE queued REPLY all", "STATE nope", "REPLY json", "0 COUNT", "18446744073709551616",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, args := range fuzzArgvs("QSCAN", nil, data) {
			q, err := parseQSCAN(args)
			if err != nil {
				if q != nil || !errIn(err, ErrCursor, ErrSyntax, ErrNotInteger) {
					t.Fatalf("%q: %v", args, err)
				}
			} else {
				canon := []string{"QSCAN", strconv.FormatUint(q.Cursor, 10),
					"COUNT", strconv.FormatInt(q.Count, 10),
					"MINLEN", strconv.FormatInt(q.Minlen, 10),
					"MAXLEN", strconv.FormatInt(q.Maxlen, 10),
					"IMPORTRATE", strconv.FormatInt(q.Importrate, 10)}
				if q.Busyloop {
					canon = append(canon, "BUSYLOOP")
				}
				r, err := parseQSCAN(mkArgs(canon...))
				if err != nil || !reflect.DeepEqual(q, r) {
					t.Fatalf("%q: canonical %q parses to %+v, %v; want %+v", args, canon, r, err, q)
				}
			}
		}
		for _, args := range fuzzArgvs("JSCAN", nil, data) {
			j, err := parseJSCAN(args)
			if err != nil {
				if j != nil || !errIn(err, ErrCursor, ErrSyntax, ErrNotInteger, ErrJobState, ErrReplyType) {
					t.Fatalf("%q: %v", args, err)
				}
				continue
			}
			seen := map[protocol.JobState]bool{}
			for _, s := range j.States {
				if s < protocol.JobState_WAIT_REPL || s > protocol.JobState_ACKED || seen[s] {
					t.Fatalf("%q: states %v", args, j.States)
				}
				seen[s] = true
			}
			if !j.HasQueue && j.Queue != "" {
				t.Fatalf("%q: queue without HasQueue", args)
			}
			canon := []string{"JSCAN", strconv.FormatUint(j.Cursor, 10), "COUNT", strconv.FormatInt(j.Count, 10)}
			if j.Busyloop {
				canon = append(canon, "BUSYLOOP")
			}
			if j.HasQueue {
				canon = append(canon, "QUEUE", j.Queue)
			}
			for _, s := range j.States {
				canon = append(canon, "STATE", jobStateName(s))
			}
			if j.ReplyAll {
				canon = append(canon, "REPLY", "all")
			} else {
				canon = append(canon, "REPLY", "id")
			}
			k, err := parseJSCAN(mkArgs(canon...))
			if err != nil || !reflect.DeepEqual(j, k) {
				t.Fatalf("%q: canonical %q parses to %+v, %v; want %+v", args, canon, k, err, j)
			}
		}
	})
}

// ----------------------------------------------------------------- PAUSE -----

func FuzzParsePAUSE(f *testing.F) {
	for _, s := range []string{
		"in", "out", "all", "none", "state", "bcast", "none in", "in none", "IN OUT BCAST", "x", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, args := range fuzzArgvs("PAUSE", []string{"q"}, data) {
			p, err := parsePAUSE(args)
			if err != nil {
				if p != nil || !errIn(err, ErrSyntax, errArity("pause")) {
					t.Fatalf("%q: %v", args, err)
				}
				continue
			}
			if p.Flags&^uint32(protocol.PauseFlag_PAUSE_ALL) != 0 || (!p.Replace && p.Flags != 0) {
				t.Fatalf("%q: %+v", args, p)
			}
			// Model: the flags are those named after the last "none".
			var want uint32
			replace, bcast := false, false
			for _, o := range args[2:] {
				switch {
				case eqFold(o, "none"):
					want, replace = 0, true
				case eqFold(o, "in"):
					want, replace = want|1, true
				case eqFold(o, "out"):
					want, replace = want|2, true
				case eqFold(o, "all"):
					want, replace = 3, true
				case eqFold(o, "bcast"):
					bcast = true
				}
			}
			if p.Flags != want || p.Replace != replace || p.Bcast != bcast || p.Queue != string(args[1]) {
				t.Fatalf("%q: %+v, want flags %d replace %v bcast %v", args, p, want, replace, bcast)
			}
		}
	})
}
