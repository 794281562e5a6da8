package redconlpush

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

func TestServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := Start(ln)
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(c)
	for _, step := range []struct{ send, want string }{
		{"LPUSH q a\r\n", ":1\r\n"},
		{"LPUSH q b c\r\n", ":3\r\n"},
		{"LLEN q\r\n", ":3\r\n"},
		{"RPOP q\r\n", "$1\r\na\r\n"}, // LPUSH then RPOP is first in, first out
		{"RPOP q\r\n", "$1\r\nb\r\n"},
		{"RPOP q\r\n", "$1\r\nc\r\n"},
		{"RPOP q\r\n", "$-1\r\n"},
		{"LPUSH q x\r\n", ":1\r\n"},
		{"FLUSHALL\r\n", "+OK\r\n"},
		{"LLEN q\r\n", ":0\r\n"},
		{"PING\r\n", "+PONG\r\n"},
		{"NOPE\r\n", "-ERR unknown command 'NOPE'\r\n"},
	} {
		if _, err := c.Write([]byte(step.send)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(step.want))
		if _, err := readFull(rd, got); err != nil {
			t.Fatalf("%q: %v", step.send, err)
		}
		if string(got) != step.want {
			t.Fatalf("%q: got %q, want %q", step.send, got, step.want)
		}
	}
	if _, err := c.Write([]byte("INFO\r\n")); err != nil {
		t.Fatal(err)
	}
	line, _ := rd.ReadString('\n')
	body := make([]byte, 200)
	n, _ := rd.Read(body)
	if !strings.HasPrefix(line, "$") || !strings.Contains(string(body[:n]), "process_id:") {
		t.Fatalf("INFO: %q %q", line, body[:n])
	}
}

func readFull(rd *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := rd.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func TestListCompacts(t *testing.T) {
	var l list
	body := make([]byte, 200)
	const n = 40_000 // 8 MB pushed, half of it popped: compaction must run
	for i := 0; i < n; i++ {
		body[0], body[199] = byte(i), byte(i>>8)
		l.push(body)
		if i%2 == 1 {
			b, ok := l.pop()
			if want := i / 2; !ok || len(b) != 200 || b[0] != byte(want) || b[199] != byte(want>>8) {
				t.Fatalf("pop %d: %d bytes %v", i, len(b), ok)
			}
		}
	}
	if live := n / 2 * 201; l.len() != n/2 || len(l.data) > live*3/2+compactAt {
		t.Fatalf("len %d, data %d bytes", l.len(), len(l.data))
	}
	for l.len() > 0 {
		l.pop()
	}
	if _, ok := l.pop(); ok {
		t.Fatal("pop from an empty list")
	}
}
