package gateway

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/godisque/godisque/protocol"
)

// Table tests for the job-command parsers (SPEC.md §5.1–5.9). Error texts
// are compared verbatim: they are the compatibility surface.

// mkArgs builds an argv from strings.
func mkArgs(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, a := range s {
		out[i] = []byte(a)
	}
	return out
}

// Two well-formed job IDs and a few malformed ones.
const (
	testID1 = "D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1"
	testID2 = "D-0f0c644f-MpkvO4PZ2Jr6a4dBsOjhN4A9-05a0"
)

func TestValidJobID(t *testing.T) {
	cases := []struct {
		id   string
		want bool
	}{
		{testID1, true},
		{testID2, true},
		{"D-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy-zzzz", true}, // shape only
		{"", false},
		{"D", false},
		{testID1[:39], false},
		{testID1 + "0", false},
		{"E" + testID1[1:], false},
		{"d" + testID1[1:], false},
		{"D_" + testID1[2:], false},
		{testID1[:10] + "x" + testID1[11:], false},
		{testID1[:35] + "x" + testID1[36:], false},
		{"DELAY", false},
	}
	for _, c := range cases {
		if got := validJobID([]byte(c.id)); got != c.want {
			t.Errorf("validJobID(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}

func TestParseLongLong(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"-1", -1, true},
		{"10", 10, true},
		{"123456789", 123456789, true},
		{"9223372036854775807", 9223372036854775807, true},
		{"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"18446744073709551616", 0, false},
		{"99999999999999999999999999999", 0, false},
		{"", 0, false},
		{"-", 0, false},
		{"-0", 0, false},
		{"00", 0, false},
		{"01", 0, false},
		{"-01", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1a", 0, false},
		{"a1", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{"--1", 0, false},
		{"1-", 0, false},
		{"1\x00", 0, false},
		{"０", 0, false}, // fullwidth zero
	}
	for _, c := range cases {
		got, ok := parseLongLong([]byte(c.in))
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseLongLong(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestEqFold(t *testing.T) {
	cases := []struct {
		arg, kw string
		want    bool
	}{
		{"replicate", "replicate", true},
		{"REPLICATE", "replicate", true},
		{"RePlIcAtE", "replicate", true},
		{"replicat", "replicate", false},
		{"replicatee", "replicate", false},
		{"\u212a", "k", false}, // Kelvin sign: Unicode folds it to k, strcasecmp does not
		{"wait-repl", "wait-repl", true},
		{"WAIT-REPL", "wait-repl", true},
		{"WAIT_REPL", "wait-repl", false},
		{"", "", true},
	}
	for _, c := range cases {
		if got := eqFold([]byte(c.arg), c.kw); got != c.want {
			t.Errorf("eqFold(%q, %q) = %v, want %v", c.arg, c.kw, got, c.want)
		}
	}
}

// ---------------------------------------------------------------- ADDJOB -----

func TestParseADDJOB(t *testing.T) {
	// base is the result for "ADDJOB q body 0" with the given changes.
	base := func(f func(a *protocol.AddJob)) *protocol.AddJob {
		a := &protocol.AddJob{Queue: "q", Body: []byte("body"), Retry: -1}
		if f != nil {
			f(a)
		}
		return a
	}
	cases := []struct {
		name string
		args []string
		want *protocol.AddJob
		err  Error
	}{
		{"minimal", []string{"ADDJOB", "q", "body", "0"}, base(nil), ""},
		{"timeout", []string{"ADDJOB", "q", "body", "5000"}, base(func(a *protocol.AddJob) { a.TimeoutMs = 5000 }), ""},
		{"empty body", []string{"addjob", "q", "", "0"}, base(func(a *protocol.AddJob) { a.Body = []byte{} }), ""},
		{"binary body", []string{"ADDJOB", "q", "a\x00b\r\n", "0"}, base(func(a *protocol.AddJob) { a.Body = []byte("a\x00b\r\n") }), ""},
		{"every option", []string{"ADDJOB", "q", "body", "100", "REPLICATE", "3", "DELAY", "10", "RETRY", "30", "TTL", "600", "MAXLEN", "7", "ASYNC"},
			base(func(a *protocol.AddJob) {
				a.TimeoutMs, a.Replicate, a.Delay, a.Retry, a.Ttl, a.Maxlen, a.Async = 100, 3, 10, 30, 600, 7, true
			}), ""},
		{"keywords any case", []string{"ADDJOB", "q", "body", "0", "replicate", "2", "Ttl", "60", "rEtRy", "5", "delay", "1", "maxLEN", "1", "async"},
			base(func(a *protocol.AddJob) {
				a.Replicate, a.Ttl, a.Retry, a.Delay, a.Maxlen, a.Async = 2, 60, 5, 1, 1, true
			}), ""},
		{"last wins", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "2", "REPLICATE", "1", "TTL", "10", "TTL", "20"},
			base(func(a *protocol.AddJob) { a.Replicate, a.Ttl = 1, 20 }), ""},
		{"retry zero replicate one", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "1", "RETRY", "0"},
			base(func(a *protocol.AddJob) { a.Replicate, a.Retry = 1, 0 }), ""},
		{"retry zero then set", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "3", "RETRY", "0", "RETRY", "1"},
			base(func(a *protocol.AddJob) { a.Replicate, a.Retry = 3, 1 }), ""},
		{"retry zero default replicate undecided", []string{"ADDJOB", "q", "body", "0", "RETRY", "0"},
			base(func(a *protocol.AddJob) { a.Retry = 0 }), ""},
		{"replicate bounds", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "65535"},
			base(func(a *protocol.AddJob) { a.Replicate = 65535 }), ""},
		{"delay just below default ttl", []string{"ADDJOB", "q", "body", "0", "DELAY", "86399"},
			base(func(a *protocol.AddJob) { a.Delay = 86399 }), ""},
		{"delay zero", []string{"ADDJOB", "q", "body", "0", "DELAY", "0"}, base(nil), ""},
		{"huge ttl", []string{"ADDJOB", "q", "body", "0", "TTL", "9223372036854775807"},
			base(func(a *protocol.AddJob) { a.Ttl = 9223372036854775807 }), ""},
		{"huge timeout", []string{"ADDJOB", "q", "body", "9223372036854775807"},
			base(func(a *protocol.AddJob) { a.TimeoutMs = 9223372036854775807 }), ""},

		// Step 1: options.
		{"replicate zero", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "0"}, nil, ErrReplicateRange},
		{"replicate negative", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "-1"}, nil, ErrReplicateRange},
		{"replicate too big", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "65536"}, nil, ErrReplicateRange},
		{"replicate not integer", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "abc"}, nil, ErrReplicateRange},
		{"replicate huge", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "99999999999999999999"}, nil, ErrReplicateRange},
		{"replicate plus", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "+3"}, nil, ErrReplicateRange},
		{"ttl zero", []string{"ADDJOB", "q", "body", "0", "TTL", "0"}, nil, ErrTTL},
		{"ttl negative", []string{"ADDJOB", "q", "body", "0", "TTL", "-5"}, nil, ErrTTL},
		{"ttl not integer", []string{"ADDJOB", "q", "body", "0", "TTL", "1.5"}, nil, ErrTTL},
		{"retry negative", []string{"ADDJOB", "q", "body", "0", "RETRY", "-1"}, nil, ErrRetry},
		{"retry not integer", []string{"ADDJOB", "q", "body", "0", "RETRY", "x"}, nil, ErrRetry},
		{"delay negative", []string{"ADDJOB", "q", "body", "0", "DELAY", "-1"}, nil, ErrDelay},
		{"delay not integer", []string{"ADDJOB", "q", "body", "0", "DELAY", ""}, nil, ErrDelay},
		{"maxlen zero", []string{"ADDJOB", "q", "body", "0", "MAXLEN", "0"}, nil, ErrMaxlen},
		{"maxlen negative", []string{"ADDJOB", "q", "body", "0", "MAXLEN", "-3"}, nil, ErrMaxlen},
		{"maxlen not integer", []string{"ADDJOB", "q", "body", "0", "MAXLEN", "07"}, nil, ErrMaxlen},
		{"unknown option", []string{"ADDJOB", "q", "body", "0", "FOO"}, nil, ErrSyntax},
		{"valued keyword last", []string{"ADDJOB", "q", "body", "0", "REPLICATE"}, nil, ErrSyntax},
		{"ttl last", []string{"ADDJOB", "q", "body", "0", "ASYNC", "TTL"}, nil, ErrSyntax},
		{"async with value", []string{"ADDJOB", "q", "body", "0", "ASYNC", "1"}, nil, ErrSyntax},
		{"options are left to right", []string{"ADDJOB", "q", "body", "0", "TTL", "0", "REPLICATE", "0"}, nil, ErrTTL},
		{"syntax after bad value", []string{"ADDJOB", "q", "body", "0", "RETRY", "-1", "FOO"}, nil, ErrRetry},
		{"bad value after syntax", []string{"ADDJOB", "q", "body", "0", "FOO", "RETRY", "-1"}, nil, ErrSyntax},

		// Step 2: timeout, after all options.
		{"timeout not integer", []string{"ADDJOB", "q", "body", "abc"}, nil, ErrTimeoutNotInteger},
		{"timeout float", []string{"ADDJOB", "q", "body", "1.5"}, nil, ErrTimeoutNotInteger},
		{"timeout huge", []string{"ADDJOB", "q", "body", "9223372036854775808"}, nil, ErrTimeoutNotInteger},
		{"timeout negative", []string{"ADDJOB", "q", "body", "-1"}, nil, ErrTimeoutNegative},
		{"option error beats timeout", []string{"ADDJOB", "q", "body", "abc", "TTL", "0"}, nil, ErrTTL},
		{"syntax beats timeout", []string{"ADDJOB", "q", "body", "-1", "BOGUS"}, nil, ErrSyntax},

		// Step 3: RETRY 0 with REPLICATE > 1.
		{"retry zero replicate two", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "2", "RETRY", "0"}, nil, ErrRetryZeroReplicate},
		{"retry zero before replicate", []string{"ADDJOB", "q", "body", "0", "RETRY", "0", "REPLICATE", "3"}, nil, ErrRetryZeroReplicate},
		{"timeout beats retry zero", []string{"ADDJOB", "q", "body", "-5", "REPLICATE", "2", "RETRY", "0"}, nil, ErrTimeoutNegative},

		// Step 4: DELAY >= TTL.
		{"delay equals ttl", []string{"ADDJOB", "q", "body", "0", "DELAY", "10", "TTL", "10"}, nil, ErrDelayTTL},
		{"delay above ttl", []string{"ADDJOB", "q", "body", "0", "TTL", "10", "DELAY", "11"}, nil, ErrDelayTTL},
		{"delay equals default ttl", []string{"ADDJOB", "q", "body", "0", "DELAY", "86400"}, nil, ErrDelayTTL},
		{"retry zero beats delay", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "2", "RETRY", "0", "DELAY", "10", "TTL", "5"}, nil, ErrRetryZeroReplicate},
		{"delay ttl with replicate one retry zero", []string{"ADDJOB", "q", "body", "0", "REPLICATE", "1", "RETRY", "0", "DELAY", "10", "TTL", "5"}, nil, ErrDelayTTL},
		{"timeout beats delay", []string{"ADDJOB", "q", "body", "x", "DELAY", "10", "TTL", "5"}, nil, ErrTimeoutNotInteger},

		// Arity (checked by the table, but the parser is safe).
		{"too few", []string{"ADDJOB", "q", "body"}, nil, errArity("ADDJOB")},
		{"nothing", []string{}, nil, errArity("addjob")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseADDJOB(mkArgs(c.args...))
			checkParse(t, got, err, c.want, c.err)
		})
	}
}

// The undecidable case: no REPLICATE, RETRY 0, and DELAY >= TTL. Which
// error wins depends on the cluster size, so the parser lets it through and
// checkADDJOB decides with the default REPLICATE.
func TestCheckADDJOB(t *testing.T) {
	a, err := parseADDJOB(mkArgs("ADDJOB", "q", "b", "0", "RETRY", "0", "DELAY", "10", "TTL", "5"))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	for _, c := range []struct {
		def  uint32
		want error
	}{
		{0, nil},                   // still unknown
		{1, ErrDelayTTL},           // single node: RETRY 0 is fine, DELAY is not
		{2, ErrRetryZeroReplicate}, // two nodes
		{3, ErrRetryZeroReplicate}, // three or more
		{65535, ErrRetryZeroReplicate},
	} {
		if got := checkADDJOB(a, c.def); got != c.want {
			t.Errorf("checkADDJOB(default %d) = %v, want %v", c.def, got, c.want)
		}
	}
	// An explicit REPLICATE overrides the default.
	a.Replicate = 1
	if got := checkADDJOB(a, 3); got != ErrDelayTTL {
		t.Errorf("explicit REPLICATE 1: got %v, want %v", got, ErrDelayTTL)
	}
	// A plain RETRY 0 on a single node passes.
	b, _ := parseADDJOB(mkArgs("ADDJOB", "q", "b", "0", "RETRY", "0"))
	if got := checkADDJOB(b, 1); got != nil {
		t.Errorf("RETRY 0 on one node: %v", got)
	}
	if got := checkADDJOB(b, 3); got != ErrRetryZeroReplicate {
		t.Errorf("RETRY 0 on three nodes: %v", got)
	}
	// Retry not given: nothing to do with the replication factor.
	c, _ := parseADDJOB(mkArgs("ADDJOB", "q", "b", "0"))
	if got := checkADDJOB(c, 3); got != nil {
		t.Errorf("defaults: %v", got)
	}
}

// The parser copies the queue name but not the body, which the node copies
// into the job (TestEmbedderMayReuseItsBodyBuffer): one copy, not two.
func TestParseADDJOBCopiesTheQueueOnly(t *testing.T) {
	args := mkArgs("ADDJOB", "queue", "body", "0")
	a, err := parseADDJOB(args)
	if err != nil {
		t.Fatal(err)
	}
	copy(args[1], "XXXXX")
	copy(args[2], "YYYY")
	if a.Queue != "queue" || string(a.Body) != "YYYY" {
		t.Fatalf("after rewriting the arguments: %q %q, want \"queue\" \"YYYY\"", a.Queue, a.Body)
	}
}

// ---------------------------------------------------------------- GETJOB -----

func TestParseGETJOB(t *testing.T) {
	g := func(queues []string, f func(g *protocol.GetJob)) *protocol.GetJob {
		out := &protocol.GetJob{Queues: queues, Count: 1}
		if f != nil {
			f(out)
		}
		return out
	}
	cases := []struct {
		name string
		args []string
		want *protocol.GetJob
		err  Error
	}{
		{"one queue", []string{"GETJOB", "FROM", "q"}, g([]string{"q"}, nil), ""},
		{"many queues", []string{"getjob", "from", "a", "b", "c"}, g([]string{"a", "b", "c"}, nil), ""},
		{"every option", []string{"GETJOB", "NOHANG", "TIMEOUT", "100", "COUNT", "5", "WITHCOUNTERS", "FROM", "q"},
			g([]string{"q"}, func(g *protocol.GetJob) { g.Nohang, g.TimeoutMs, g.Count, g.Withcounters = true, 100, 5, true }), ""},
		{"any order any case", []string{"GETJOB", "withcounters", "Count", "2", "timeout", "0", "nohang", "From", "q"},
			g([]string{"q"}, func(g *protocol.GetJob) { g.Nohang, g.Count, g.Withcounters = true, 2, true }), ""},
		{"last wins", []string{"GETJOB", "COUNT", "2", "COUNT", "3", "TIMEOUT", "5", "TIMEOUT", "6", "FROM", "q"},
			g([]string{"q"}, func(g *protocol.GetJob) { g.Count, g.TimeoutMs = 3, 6 }), ""},
		{"keywords after FROM are queues", []string{"GETJOB", "FROM", "q", "COUNT", "2"},
			g([]string{"q", "COUNT", "2"}, nil), ""},
		{"FROM after FROM is a queue", []string{"GETJOB", "FROM", "FROM"}, g([]string{"FROM"}, nil), ""},
		{"duplicates kept", []string{"GETJOB", "FROM", "q", "q", "r", "q"}, g([]string{"q", "q", "r", "q"}, nil), ""},
		{"binary queue names", []string{"GETJOB", "FROM", "", "a b", "\x00"}, g([]string{"", "a b", "\x00"}, nil), ""},
		{"count clamped", []string{"GETJOB", "COUNT", "9223372036854775807", "FROM", "q"},
			g([]string{"q"}, func(g *protocol.GetJob) { g.Count = 4294967295 }), ""},
		{"count uint32 max", []string{"GETJOB", "COUNT", "4294967295", "FROM", "q"},
			g([]string{"q"}, func(g *protocol.GetJob) { g.Count = 4294967295 }), ""},

		{"no FROM", []string{"GETJOB", "NOHANG"}, nil, ErrSyntax},
		{"FROM without queues", []string{"GETJOB", "FROM"}, nil, ErrSyntax},
		{"options then FROM without queues", []string{"GETJOB", "NOHANG", "FROM"}, nil, ErrSyntax},
		{"unknown option", []string{"GETJOB", "BLOCK", "FROM", "q"}, nil, ErrSyntax},
		{"queue before FROM", []string{"GETJOB", "q", "FROM", "q"}, nil, ErrSyntax},
		{"bare GETJOB", []string{"GETJOB"}, nil, errArity("getjob")},
		{"TIMEOUT last", []string{"GETJOB", "TIMEOUT"}, nil, ErrSyntax},
		{"COUNT last", []string{"GETJOB", "NOHANG", "COUNT"}, nil, ErrSyntax},
		{"timeout not integer", []string{"GETJOB", "TIMEOUT", "soon", "FROM", "q"}, nil, ErrTimeoutNotInteger},
		{"timeout negative", []string{"GETJOB", "TIMEOUT", "-1", "FROM", "q"}, nil, ErrTimeoutNegative},
		{"count zero", []string{"GETJOB", "COUNT", "0", "FROM", "q"}, nil, ErrCount},
		{"count negative", []string{"GETJOB", "COUNT", "-2", "FROM", "q"}, nil, ErrCount},
		{"count not integer", []string{"GETJOB", "COUNT", "many", "FROM", "q"}, nil, ErrCount},
		{"count overflow", []string{"GETJOB", "COUNT", "9223372036854775808", "FROM", "q"}, nil, ErrCount},
		{"errors left to right", []string{"GETJOB", "COUNT", "0", "TIMEOUT", "-1", "FROM", "q"}, nil, ErrCount},
		{"option error before missing FROM", []string{"GETJOB", "TIMEOUT", "-1"}, nil, ErrTimeoutNegative},
		{"syntax before later bad value", []string{"GETJOB", "FOO", "COUNT", "0", "FROM", "q"}, nil, ErrSyntax},
		{"TIMEOUT as value of TIMEOUT", []string{"GETJOB", "TIMEOUT", "TIMEOUT", "FROM", "q"}, nil, ErrTimeoutNotInteger},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseGETJOB(mkArgs(c.args...))
			checkParse(t, got, err, c.want, c.err)
		})
	}
}

// ------------------------------------------------------ ID-list commands -----

func TestParseIDCommands(t *testing.T) {
	type idParser struct {
		name  string
		parse func([][]byte) ([]string, error)
	}
	parsers := []idParser{
		{"ACKJOB", func(a [][]byte) ([]string, error) {
			m, err := parseACKJOB(a)
			if err != nil {
				return nil, err
			}
			return m.Ids, nil
		}},
		{"FASTACK", func(a [][]byte) ([]string, error) {
			m, err := parseFASTACK(a)
			if err != nil {
				return nil, err
			}
			return m.Ids, nil
		}},
		{"NACK", func(a [][]byte) ([]string, error) {
			m, err := parseNACK(a)
			if err != nil {
				return nil, err
			}
			return m.Ids, nil
		}},
		{"ENQUEUE", func(a [][]byte) ([]string, error) {
			m, err := parseENQUEUE(a)
			if err != nil {
				return nil, err
			}
			return m.Ids, nil
		}},
		{"DEQUEUE", func(a [][]byte) ([]string, error) {
			m, err := parseDEQUEUE(a)
			if err != nil {
				return nil, err
			}
			return m.Ids, nil
		}},
		{"DELJOB", func(a [][]byte) ([]string, error) {
			m, err := parseDELJOB(a)
			if err != nil {
				return nil, err
			}
			return m.Ids, nil
		}},
	}
	cases := []struct {
		name string
		ids  []string
		err  Error
	}{
		{"zero ids", []string{}, ""},
		{"one id", []string{testID1}, ""},
		{"two ids", []string{testID1, testID2}, ""},
		{"duplicates kept", []string{testID1, testID1}, ""},
		{"bad first", []string{"nope", testID1}, ErrBadID},
		{"bad last", []string{testID1, testID2, "nope"}, ErrBadID},
		{"NACK DELAY extension is not parsed", []string{testID1, "DELAY", "10"}, ErrBadID},
		{"empty id", []string{""}, ErrBadID},
		{"lower-case d", []string{"d" + testID1[1:]}, ErrBadID},
	}
	for _, p := range parsers {
		for _, c := range cases {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				args := mkArgs(append([]string{p.name}, c.ids...)...)
				got, err := p.parse(args)
				if c.err != "" {
					if err != c.err {
						t.Fatalf("err = %v, want %q", err, c.err)
					}
					if got != nil {
						t.Fatalf("ids on error: %q", got)
					}
					return
				}
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if got == nil || !reflect.DeepEqual(got, c.ids) {
					t.Fatalf("ids = %#v, want %#v", got, c.ids)
				}
			})
		}
		// Never panics without even a command name.
		if _, err := p.parse(nil); err != nil {
			t.Errorf("%s(nil): %v", p.name, err)
		}
	}
}

func TestParseWORKINGAndSHOW(t *testing.T) {
	w, err := parseWORKING(mkArgs("WORKING", testID1))
	if err != nil || w.Id != testID1 {
		t.Fatalf("WORKING: %v %v", w, err)
	}
	s, err := parseSHOW(mkArgs("show", testID2))
	if err != nil || s.Id != testID2 {
		t.Fatalf("SHOW: %v %v", s, err)
	}
	for _, bad := range []string{"", "x", testID1 + "x", strings.ToLower(testID1)} {
		if _, err := parseWORKING(mkArgs("WORKING", bad)); err != ErrBadID {
			t.Errorf("WORKING %q: %v", bad, err)
		}
		if _, err := parseSHOW(mkArgs("SHOW", bad)); err != ErrBadID {
			t.Errorf("SHOW %q: %v", bad, err)
		}
	}
	if _, err := parseWORKING(mkArgs("WORKING")); err != errArity("working") {
		t.Errorf("WORKING arity: %v", err)
	}
	if _, err := parseSHOW(mkArgs("SHOW", testID1, testID2)); err != errArity("show") {
		t.Errorf("SHOW arity: %v", err)
	}
	if _, err := parseSHOW(nil); err != errArity("show") {
		t.Errorf("SHOW nil: %v", err)
	}
}

// ------------------------------------------------------------- Helpers -----

// checkParse compares a parser's result with the expectation: either the
// exact error, or a result equal field by field.
func checkParse[M any](t *testing.T, got M, err error, want M, wantErr Error) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Fatalf("got %+v, want error %q", got, wantErr)
		}
		if err.Error() != string(wantErr) {
			t.Fatalf("error\n got %q\nwant %q", err.Error(), wantErr)
		}
		if _, ok := err.(Error); !ok {
			t.Fatalf("error has type %T, want gateway.Error", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error %q", err)
	}
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
}

// normalize makes empty and nil byte slices compare equal.
func normalize(v any) any {
	if a, ok := v.(*protocol.AddJob); ok && a != nil {
		c := *a
		if len(c.Body) == 0 {
			c.Body = nil
		}
		return &c
	}
	return v
}

func TestErrorsAreExact(t *testing.T) {
	// A few strings whose exact bytes matter most.
	exact := map[Error]string{
		ErrBadID:              "BADID Invalid Job ID format.",
		ErrSyntax:             "ERR syntax error",
		ErrNotInteger:         "ERR value is not an integer or out of range",
		ErrRetryZeroReplicate: "ERR With RETRY set to 0 please explicitly set  REPLICATE to 1 (at-most-once delivery)",
		ErrDelayTTL:           "ERR The specified DELAY is greater than TTL. Job refused since would never be delivered",
		ErrTooLate:            "TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery.",
		ErrNoJob:              "NOJOB Job not known in the context of this node.",
		ErrCursor:             "ERR invalid cursor or option name",
	}
	for e, s := range exact {
		if e.Error() != s {
			t.Errorf("%q != %q", e.Error(), s)
		}
		if strings.HasPrefix(s, "-") || strings.ContainsAny(s, "\r\n") {
			t.Errorf("%q must not carry the '-' or CRLF", s)
		}
	}
	if !strings.Contains(string(ErrRetryZeroReplicate), "set  REPLICATE") {
		t.Error("the double space is part of Disque's text")
	}
	if got := errUnknownCommand("FooBar"); got != "ERR unknown command 'FooBar'" {
		t.Errorf("unknown command: %q", got)
	}
	if got := errArity("ADDJOB"); got != "ERR wrong number of arguments for 'addjob' command" {
		t.Errorf("arity: %q", got)
	}
	if got := errProtoExpectedDollar('x'); got != "ERR Protocol error: expected '$', got 'x'" {
		t.Errorf("expected $: %q", got)
	}
	if got := errProtoExpectedDollar(0xff); !bytes.Equal([]byte(got), append([]byte("ERR Protocol error: expected '$', got '"), 0xff, '\'')) {
		t.Errorf("expected $ with a raw byte: %q", got)
	}
	if got := errInvalidConfigArg("x", "hz"); got != "ERR Invalid argument 'x' for CONFIG SET 'hz'" {
		t.Errorf("config arg: %q", got)
	}
	if got := errUnknownDebug("foo"); got != "ERR Unknown DEBUG subcommand or wrong number of arguments for 'foo'" {
		t.Errorf("debug: %q", got)
	}
}
