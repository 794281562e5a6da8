package gateway

import (
	"testing"

	"github.com/godisque/godisque/protocol"
)

// Table tests for QSCAN and JSCAN (SPEC.md §5.13–5.14).

func TestParseScanCursor(t *testing.T) {
	cases := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"007", 7, true},
		{"18446744073709551615", 18446744073709551615, true},
		{"18446744073709551616", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1x", 0, false},
	}
	for _, c := range cases {
		got, ok := parseScanCursor([]byte(c.in))
		if ok != c.ok || got != c.want {
			t.Errorf("parseScanCursor(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseQSCAN(t *testing.T) {
	q := func(f func(q *protocol.Qscan)) *protocol.Qscan {
		out := &protocol.Qscan{Count: 100, Minlen: -1, Maxlen: -1, Importrate: -1}
		if f != nil {
			f(out)
		}
		return out
	}
	cases := []struct {
		name string
		args []string
		want *protocol.Qscan
		err  Error
	}{
		{"defaults", []string{"QSCAN"}, q(nil), ""},
		{"cursor", []string{"QSCAN", "123"}, q(func(q *protocol.Qscan) { q.Cursor = 123 }), ""},
		{"every option", []string{"QSCAN", "5", "COUNT", "10", "BUSYLOOP", "MINLEN", "1", "MAXLEN", "9", "IMPORTRATE", "3"},
			q(func(q *protocol.Qscan) {
				q.Cursor, q.Count, q.Busyloop, q.Minlen, q.Maxlen, q.Importrate = 5, 10, true, 1, 9, 3
			}), ""},
		{"cursor anywhere", []string{"qscan", "count", "1", "77", "busyloop"},
			q(func(q *protocol.Qscan) { q.Cursor, q.Count, q.Busyloop = 77, 1, true }), ""},
		{"negative and zero values accepted", []string{"QSCAN", "COUNT", "0", "MINLEN", "-5"},
			q(func(q *protocol.Qscan) { q.Count, q.Minlen = 0, -5 }), ""},
		{"last wins", []string{"QSCAN", "COUNT", "1", "COUNT", "2"}, q(func(q *protocol.Qscan) { q.Count = 2 }), ""},
		{"max cursor", []string{"QSCAN", "18446744073709551615"}, q(func(q *protocol.Qscan) { q.Cursor = 18446744073709551615 }), ""},

		{"bad cursor", []string{"QSCAN", "abc"}, nil, ErrCursor},
		{"negative cursor", []string{"QSCAN", "-1"}, nil, ErrCursor},
		{"valued option without value is a cursor", []string{"QSCAN", "COUNT"}, nil, ErrCursor},
		{"MINLEN last", []string{"QSCAN", "BUSYLOOP", "MINLEN"}, nil, ErrCursor},
		{"second cursor", []string{"QSCAN", "1", "2"}, nil, ErrSyntax},
		{"second cursor checked before parsing", []string{"QSCAN", "1", "abc"}, nil, ErrSyntax},
		{"cursor then dangling option", []string{"QSCAN", "0", "COUNT"}, nil, ErrSyntax},
		{"value not integer", []string{"QSCAN", "COUNT", "ten"}, nil, ErrNotInteger},
		{"minlen not integer", []string{"QSCAN", "MINLEN", "1.0"}, nil, ErrNotInteger},
		{"maxlen overflow", []string{"QSCAN", "MAXLEN", "9223372036854775808"}, nil, ErrNotInteger},
		{"importrate not integer", []string{"QSCAN", "IMPORTRATE", "fast"}, nil, ErrNotInteger},
		{"JSCAN options are unknown", []string{"QSCAN", "QUEUE", "q"}, nil, ErrCursor},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseQSCAN(mkArgs(c.args...))
			checkParse(t, got, err, c.want, c.err)
		})
	}
}

func TestParseJSCAN(t *testing.T) {
	j := func(f func(j *protocol.Jscan)) *protocol.Jscan {
		out := &protocol.Jscan{Count: 100}
		if f != nil {
			f(out)
		}
		return out
	}
	cases := []struct {
		name string
		args []string
		want *protocol.Jscan
		err  Error
	}{
		{"defaults", []string{"JSCAN"}, j(nil), ""},
		{"every option", []string{"JSCAN", "9", "COUNT", "5", "BUSYLOOP", "QUEUE", "q", "STATE", "queued", "REPLY", "all"},
			j(func(j *protocol.Jscan) {
				j.Cursor, j.Count, j.Busyloop, j.Queue, j.HasQueue, j.ReplyAll = 9, 5, true, "q", true, true
				j.States = []protocol.JobState{protocol.JobState_QUEUED}
			}), ""},
		{"states OR, once each, in order", []string{"JSCAN", "STATE", "ACKED", "STATE", "wait-repl", "state", "Acked", "STATE", "active"},
			j(func(j *protocol.Jscan) {
				j.States = []protocol.JobState{protocol.JobState_ACKED, protocol.JobState_WAIT_REPL, protocol.JobState_ACTIVE}
			}), ""},
		{"reply id", []string{"JSCAN", "REPLY", "ID"}, j(nil), ""},
		{"reply all then id", []string{"JSCAN", "REPLY", "all", "REPLY", "id"}, j(nil), ""},
		{"empty queue name", []string{"JSCAN", "QUEUE", ""}, j(func(j *protocol.Jscan) { j.HasQueue = true }), ""},
		{"queue named like an option", []string{"JSCAN", "QUEUE", "COUNT", "COUNT", "3"},
			j(func(j *protocol.Jscan) { j.Queue, j.HasQueue, j.Count = "COUNT", true, 3 }), ""},
		{"last queue wins", []string{"JSCAN", "QUEUE", "a", "QUEUE", "b"}, j(func(j *protocol.Jscan) { j.Queue, j.HasQueue = "b", true }), ""},

		{"bad state", []string{"JSCAN", "STATE", "done"}, nil, ErrJobState},
		{"state with underscore", []string{"JSCAN", "STATE", "wait_repl"}, nil, ErrJobState},
		{"bad reply", []string{"JSCAN", "REPLY", "json"}, nil, ErrReplyType},
		{"bad count", []string{"JSCAN", "COUNT", "x"}, nil, ErrNotInteger},
		{"bad cursor", []string{"JSCAN", "x"}, nil, ErrCursor},
		{"STATE last is a cursor", []string{"JSCAN", "STATE"}, nil, ErrCursor},
		{"QUEUE last after cursor", []string{"JSCAN", "0", "QUEUE"}, nil, ErrSyntax},
		{"second cursor", []string{"JSCAN", "0", "0"}, nil, ErrSyntax},
		{"errors left to right", []string{"JSCAN", "STATE", "bad", "REPLY", "bad"}, nil, ErrJobState},
		{"reply error first", []string{"JSCAN", "REPLY", "bad", "x"}, nil, ErrReplyType},
		{"QSCAN options are unknown", []string{"JSCAN", "MINLEN", "1"}, nil, ErrCursor},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseJSCAN(mkArgs(c.args...))
			checkParse(t, got, err, c.want, c.err)
		})
	}
}
