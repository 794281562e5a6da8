package gateway

import (
	"testing"

	"github.com/godisque/godisque/protocol"
)

// Table tests for QLEN QPEEK QSTAT PAUSE (SPEC.md §5.10–5.12, 5.15).

func TestParseQLENQSTAT(t *testing.T) {
	l, err := parseQLEN(mkArgs("QLEN", "my queue"))
	if err != nil || l.Queue != "my queue" {
		t.Fatalf("QLEN: %v %v", l, err)
	}
	s, err := parseQSTAT(mkArgs("qstat", "\x00q"))
	if err != nil || s.Queue != "\x00q" {
		t.Fatalf("QSTAT: %v %v", s, err)
	}
	if _, err := parseQLEN(mkArgs("QLEN")); err != errArity("qlen") {
		t.Errorf("QLEN arity: %v", err)
	}
	if _, err := parseQSTAT(mkArgs("QSTAT", "a", "b")); err != errArity("qstat") {
		t.Errorf("QSTAT arity: %v", err)
	}
}

func TestParseQPEEK(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want *protocol.Qpeek
		err  Error
	}{
		{"positive", []string{"QPEEK", "q", "10"}, &protocol.Qpeek{Queue: "q", Count: 10}, ""},
		{"negative", []string{"QPEEK", "q", "-3"}, &protocol.Qpeek{Queue: "q", Count: -3}, ""},
		{"zero", []string{"QPEEK", "q", "0"}, &protocol.Qpeek{Queue: "q", Count: 0}, ""},
		{"min int64", []string{"QPEEK", "q", "-9223372036854775808"}, &protocol.Qpeek{Queue: "q", Count: -9223372036854775808}, ""},
		{"not integer", []string{"QPEEK", "q", "ten"}, nil, ErrNotInteger},
		{"empty count", []string{"QPEEK", "q", ""}, nil, ErrNotInteger},
		{"overflow", []string{"QPEEK", "q", "9223372036854775808"}, nil, ErrNotInteger},
		{"arity", []string{"QPEEK", "q"}, nil, errArity("qpeek")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseQPEEK(mkArgs(c.args...))
			checkParse(t, got, err, c.want, c.err)
		})
	}
}

func TestParsePAUSE(t *testing.T) {
	const (
		none = uint32(protocol.PauseFlag_PAUSE_NONE)
		in   = uint32(protocol.PauseFlag_PAUSE_IN)
		out  = uint32(protocol.PauseFlag_PAUSE_OUT)
		all  = uint32(protocol.PauseFlag_PAUSE_ALL)
	)
	p := func(flags uint32, replace, bcast bool) *protocol.Pause {
		return &protocol.Pause{Queue: "q", Flags: flags, Replace: replace, Bcast: bcast}
	}
	cases := []struct {
		name string
		opts []string
		want *protocol.Pause
		err  Error
	}{
		{"in", []string{"in"}, p(in, true, false), ""},
		{"out", []string{"OUT"}, p(out, true, false), ""},
		{"all", []string{"All"}, p(all, true, false), ""},
		{"none", []string{"none"}, p(none, true, false), ""},
		{"in out", []string{"in", "out"}, p(all, true, false), ""},
		{"none in", []string{"none", "in"}, p(in, true, false), ""},
		{"in none", []string{"in", "none"}, p(none, true, false), ""},
		{"all none out", []string{"all", "none", "out"}, p(out, true, false), ""},
		{"state only", []string{"state"}, p(none, false, false), ""},
		{"state in", []string{"STATE", "in"}, p(in, true, false), ""},
		{"bcast only", []string{"bcast"}, p(none, false, true), ""},
		{"bcast in", []string{"in", "BCAST"}, p(in, true, true), ""},
		{"bcast none", []string{"bcast", "none"}, p(none, true, true), ""},
		{"repeated", []string{"in", "in", "in"}, p(in, true, false), ""},
		{"unknown", []string{"sideways"}, nil, ErrSyntax},
		{"unknown after valid", []string{"in", "bcast", "x"}, nil, ErrSyntax},
		{"empty option", []string{""}, nil, ErrSyntax},
		{"prefix of option", []string{"i"}, nil, ErrSyntax},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parsePAUSE(mkArgs(append([]string{"PAUSE", "q"}, c.opts...)...))
			checkParse(t, got, err, c.want, c.err)
		})
	}
	if _, err := parsePAUSE(mkArgs("PAUSE", "q")); err != errArity("pause") {
		t.Errorf("arity: %v", err)
	}
}
