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

func TestListKeepsOrderAcrossChunks(t *testing.T) {
	var l list
	body := make([]byte, 200)
	const n = 40_000 // 8 MB pushed, half of it popped as it goes
	for i := 0; i < n; i++ {
		body[0], body[199] = byte(i), byte(i>>8)
		if got := l.push(body); got != i+1-i/2 {
			t.Fatalf("push %d: length %d", i, got)
		}
		if i%2 == 1 {
			b, ok := l.pop()
			if want := i / 2; !ok || len(b) != 200 || b[0] != byte(want) || b[199] != byte(want>>8) {
				t.Fatalf("pop %d: %d bytes %v", i, len(b), ok)
			}
		}
	}
	// 4 MB live: the chunks read to their end were dropped.
	if live := n / 2 * 201; l.len() != n/2 || len(l.chunks) > live/chunkSize+2 {
		t.Fatalf("len %d, %d chunks", l.len(), len(l.chunks))
	}
	for i := n / 2; l.len() > 0; i++ {
		if b, _ := l.pop(); b[0] != byte(i) || b[199] != byte(i>>8) {
			t.Fatalf("drain: body %d is %d", i, int(b[0])|int(b[199])<<8)
		}
	}
	if _, ok := l.pop(); ok {
		t.Fatal("pop from an empty list")
	}
	if len(l.chunks) != 1 || len(l.chunks[0]) != 0 {
		t.Fatalf("empty list keeps %d chunks", len(l.chunks))
	}
}

func TestListBodyLargerThanAChunk(t *testing.T) {
	var l list
	big := make([]byte, chunkSize+10)
	big[chunkSize+9] = 7
	l.push([]byte("a"))
	l.push(big)
	l.push([]byte("b"))
	for _, want := range []int{1, chunkSize + 10, 1} {
		if b, ok := l.pop(); !ok || len(b) != want {
			t.Fatalf("pop: %d bytes, want %d", len(b), want)
		}
	}
}
