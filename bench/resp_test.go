package bench

import (
	"bufio"
	"errors"
	"strings"
	"testing"
)

func TestAppendCommand(t *testing.T) {
	got := string(AppendCommand(nil, "ADDJOB", "q", "", "héllo"))
	want := "*4\r\n$6\r\nADDJOB\r\n$1\r\nq\r\n$0\r\n\r\n$6\r\nhéllo\r\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := string(AppendBulk(nil, []byte("ab"))); got != "$2\r\nab\r\n" {
		t.Fatalf("AppendBulk: %q", got)
	}
}

func TestReadReply(t *testing.T) {
	in := "+OK\r\n-ERR bad\r\n:-42\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n*0\r\n" +
		"*2\r\n*3\r\n$1\r\nq\r\n$2\r\nid\r\n$4\r\nbody\r\n:7\r\n"
	rd := bufio.NewReader(strings.NewReader(in))
	var r Reply
	want := []string{"OK", "ERR(ERR bad)", "-42", "a\r\n", "(nil)", "(nil)", "[]", "[[q id body] 7]"}
	for i, w := range want {
		if err := readReply(rd, &r, 0); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if got := r.String(); got != w {
			t.Errorf("reply %d: %s, want %s", i, got, w)
		}
	}
	if r.Elems[0].Kind != KindArray || string(r.Elems[0].Elems[1].Str) != "id" || r.Elems[1].Int != 7 {
		t.Errorf("nested reply decoded wrongly: %+v", r)
	}
	for _, bad := range []string{"?x\r\n", ":12a\r\n", "$-2\r\n", "$3\r\nabcd\r\n", "*x\r\n", "+OK\n", strings.Repeat("*1\r\n", 40) + ":1\r\n"} {
		if err := readReply(bufio.NewReader(strings.NewReader(bad)), &r, 0); !errors.Is(err, ErrProtocol) {
			t.Errorf("%q: got %v, want a protocol error", bad, err)
		}
	}
}

// TestConnAgainstNode drives a real godisque node: a job's whole life, a
// pipeline, and INFO.
func TestConnAgainstNode(t *testing.T) {
	c := dial(t, startNode(t))
	r, err := c.Do("ADDJOB", "q", "hello", "0")
	if err != nil || r.Kind != KindStatus || !strings.HasPrefix(string(r.Str), "D-") {
		t.Fatalf("ADDJOB: %v %v", r, err)
	}
	id := string(r.Str)
	r, err = c.Do("GETJOB", "NOHANG", "FROM", "q")
	if err != nil || len(r.Elems) != 1 || string(r.Elems[0].Elems[1].Str) != id || string(r.Elems[0].Elems[2].Str) != "hello" {
		t.Fatalf("GETJOB: %v %v", r, err)
	}
	if r, err = c.Do("ACKJOB", id); err != nil || r.Kind != KindInt || r.Int != 1 {
		t.Fatalf("ACKJOB: %v %v", r, err)
	}
	if r, err = c.Do("GETJOB", "NOHANG", "FROM", "q"); err != nil || !r.Null || !isEmpty(r) {
		t.Fatalf("GETJOB on an empty queue: %v %v", r, err)
	}
	if r, err = c.Do("NOSUCHCOMMAND"); err != nil || !r.IsError() || r.Err() == nil {
		t.Fatalf("unknown command: %v %v", r, err)
	}

	// A pipeline of 100 ADDJOBs with one write, then 100 replies in order.
	cmd := AppendCommand(nil, "ADDJOB", "p", "x", "0")
	for i := 0; i < 100; i++ {
		c.Append(cmd)
	}
	if c.Buffered() != 100*len(cmd) {
		t.Fatalf("buffered %d", c.Buffered())
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	var rr Reply
	for i := 0; i < 100; i++ {
		if err := c.Read(&rr); err != nil || rr.Kind != KindStatus {
			t.Fatalf("pipelined reply %d: %v %v", i, rr.String(), err)
		}
	}
	if r, err = c.Do("QLEN", "p"); err != nil || r.Int != 100 {
		t.Fatalf("QLEN: %v %v", r, err)
	}
	info, err := c.Info("memory")
	if err != nil || info["used_memory"] == "" {
		t.Fatalf("INFO memory: %v %v", info, err)
	}
}

func TestParseInfo(t *testing.T) {
	m := ParseInfo("# Server\r\nprocess_id:42\r\nrun_id:abc\r\n\r\n# Memory\r\nused_memory:1024\r\nbad line\r\n")
	if m["process_id"] != "42" || m["used_memory"] != "1024" || m["run_id"] != "abc" || len(m) != 3 {
		t.Fatalf("ParseInfo: %v", m)
	}
}
