package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// Tests of the RESP guard: the validator's verdicts (table, split at every
// position, fuzz, differential against redcon's reader), the connection
// wrapper's order of events, and a real redcon server behind the guard.

// verdict is where and why a stream was refused.
type verdict struct {
	bad bool
	at  int   // offset of the offending byte
	why Error // reply, "" for a silent close
}

// runGuard feeds stream to a fresh guard in the given chunks and returns its
// verdict. It stops feeding at the first violation, as guardConn does.
func runGuard(lim Limits, stream []byte, chunk func(rest int) int) verdict {
	g := respGuard{lim: lim.withDefaults()}
	off := 0
	for off < len(stream) {
		n := chunk(len(stream) - off)
		ok, why, bad := g.feed(stream[off : off+n])
		if bad {
			return verdict{true, off + ok, why}
		}
		if ok != n {
			panic("feed accepted part of a chunk without a violation")
		}
		off += n
	}
	return verdict{}
}

func whole(rest int) int   { return rest }
func oneByte(rest int) int { return 1 }

// splitVerdicts checks that every way of cutting the stream (1-byte reads,
// and two reads cut at every position) gives the verdict of one read.
func splitVerdicts(t *testing.T, lim Limits, stream []byte) verdict {
	t.Helper()
	want := runGuard(lim, stream, whole)
	if got := runGuard(lim, stream, oneByte); got != want {
		t.Fatalf("%q: 1-byte reads give %+v, one read %+v", stream, got, want)
	}
	for cut := 1; cut < len(stream); cut++ {
		first := true
		got := runGuard(lim, stream, func(rest int) int {
			if first {
				first = false
				return cut
			}
			return rest
		})
		if got != want {
			t.Fatalf("%q cut at %d: %+v, one read %+v", stream, cut, got, want)
		}
	}
	return want
}

var smallLimits = Limits{InlineMax: 16, MultibulkMax: 4, BulkMax: 10, QueryMax: 64}

func TestGuardVerdicts(t *testing.T) {
	ok := verdict{}
	bad := func(at int, why Error) verdict { return verdict{true, at, why} }
	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		name   string
		lim    Limits
		stream string
		want   verdict
	}{
		// Accepted.
		{"inline", smallLimits, "PING\r\n", ok},
		{"inline LF only", smallLimits, "PING\n", ok},
		{"empty lines", smallLimits, "\r\n\n\r\n", ok},
		{"multibulk", smallLimits, "*1\r\n$4\r\nPING\r\n", ok},
		{"pipeline", smallLimits, "PING\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\nPING a b\n", ok},
		{"binary body", smallLimits, "*1\r\n$6\r\n\r\n*$\x00\xff\r\n", ok},
		{"partial request", smallLimits, "*3\r\n$3\r\nSET\r\n$1", ok},
		{"limits inclusive", smallLimits, "*4\r\n$10\r\n0123456789\r\n", ok},
		{"inline of InlineMax", smallLimits, long(16) + "\r\n", ok},
		{"inline of InlineMax, no CR", smallLimits, long(16) + "\n", ok},
		{"inline CR inside", smallLimits, "a\rb\r\r\n", ok},
		{"quotes", smallLimits, "SET \"a b\" 'c'\r\n", ok},
		{"escaped quote", smallLimits, "SET \"a\\\"b\"\r\n", ok},
		{"escaped single", smallLimits, "SET 'a\\'b'\r\n", ok},
		{"empty quotes", smallLimits, "SET \"\" ''\r\n", ok},
		{"quote after spaces", smallLimits, "A  \"b\"  \n", ok},
		{"default limits", Limits{}, "*1048576\r\n$536870912\r\n", ok},
		{"min header", smallLimits, "*1\r\n$0\r\n\r\n", ok},

		// Inline.
		{"inline too big", smallLimits, long(17), bad(16, ErrProtoInlineTooBig)},
		{"inline too big with CR", smallLimits, long(16) + "\rx", bad(17, ErrProtoInlineTooBig)},
		{"inline too big beats quotes", smallLimits, "\"" + long(20), bad(16, ErrProtoInlineTooBig)},
		{"second inline too big", smallLimits, "PING\r\n" + long(17), bad(22, ErrProtoInlineTooBig)},
		{"unterminated quote", smallLimits, "SET \"a b\r\n", bad(9, ErrProtoUnbalanced)},
		{"quote mid token", smallLimits, "SET a\"b\"\r\n", bad(9, ErrProtoUnbalanced)},
		{"text after quote", smallLimits, "SET \"a\"b\r\n", bad(9, ErrProtoUnbalanced)},
		{"CR after quote", smallLimits, "SET \"a\"\rb\n", bad(9, ErrProtoUnbalanced)},
		{"escape at end", smallLimits, "SET \"a\\\r\n", bad(8, ErrProtoUnbalanced)},
		{"single unterminated", smallLimits, "'\n", bad(1, ErrProtoUnbalanced)},

		// Multibulk count.
		{"count too big", smallLimits, "*5\r\n", bad(3, ErrProtoMbulkInvalid)},
		{"count zero", smallLimits, "*0\r\n", bad(3, ErrProtoMbulkInvalid)},
		{"count negative", smallLimits, "*-1\r\n", bad(4, ErrProtoMbulkInvalid)},
		{"count empty", smallLimits, "*\r\n", bad(2, ErrProtoMbulkInvalid)},
		{"count not integer", smallLimits, "*abc\r\n", bad(5, ErrProtoMbulkInvalid)},
		{"count leading zero", smallLimits, "*01\r\n", bad(4, ErrProtoMbulkInvalid)},
		{"count plus", smallLimits, "*+1\r\n", bad(4, ErrProtoMbulkInvalid)},
		{"count bare LF", smallLimits, "*1\n", bad(2, ErrProtoMbulkInvalid)},
		{"count CR not LF", smallLimits, "*1\rx", bad(3, ErrProtoMbulkInvalid)},
		{"count overflow", Limits{}, "*99999999999999999999\r\n", bad(22, ErrProtoMbulkInvalid)},
		{"count over Redis limit", Limits{}, "*1048577\r\n", bad(9, ErrProtoMbulkInvalid)},
		{"count line too big", smallLimits, "*" + strings.Repeat("1", 16), bad(16, ErrProtoMbulkTooBig)},
		{"count line too big, junk", smallLimits, "*" + long(20), bad(16, ErrProtoMbulkTooBig)},

		// Arguments.
		{"expected dollar", smallLimits, "*1\r\nx", bad(4, errProtoExpectedDollar('x'))},
		{"expected dollar, second arg", smallLimits, "*2\r\n$1\r\na\r\n:1\r\n", bad(11, errProtoExpectedDollar(':'))},
		{"expected dollar, CR", smallLimits, "*1\r\n\r\n", bad(4, errProtoExpectedDollar('\r'))},
		{"bulk too long", smallLimits, "*1\r\n$11\r\n", bad(8, ErrProtoBulkInvalid)},
		{"bulk negative", smallLimits, "*1\r\n$-1\r\n", bad(8, ErrProtoBulkInvalid)},
		{"bulk minus zero", smallLimits, "*1\r\n$-0\r\n", bad(8, ErrProtoBulkInvalid)},
		{"bulk not integer", smallLimits, "*1\r\n$x\r\n", bad(7, ErrProtoBulkInvalid)},
		{"bulk empty", smallLimits, "*1\r\n$\r\n", bad(6, ErrProtoBulkInvalid)},
		{"bulk bare LF", smallLimits, "*1\r\n$1\n", bad(6, ErrProtoBulkInvalid)},
		{"bulk CR not LF", smallLimits, "*1\r\n$1\r\r", bad(7, ErrProtoBulkInvalid)},
		{"bulk over Redis limit", Limits{}, "*1\r\n$536870913\r\n", bad(15, ErrProtoBulkInvalid)},
		{"bulk overflow", Limits{}, "*1\r\n$9223372036854775808\r\n", bad(25, ErrProtoBulkInvalid)},
		// redcon alone panics on this one (its index arithmetic overflows).
		{"bulk max int64", Limits{}, "*1\r\n$9223372036854775807\r\nabc", bad(25, ErrProtoBulkInvalid)},
		{"bulk line too big", smallLimits, "*1\r\n$" + strings.Repeat("0", 16), bad(20, ErrProtoBulkTooBig)},
		{"body without CRLF", smallLimits, "*1\r\n$3\r\nabcX", bad(11, ErrProtoBulkInvalid)},
		{"body with CR only", smallLimits, "*1\r\n$3\r\nabc\rX", bad(12, ErrProtoBulkInvalid)},
		{"empty body without CRLF", smallLimits, "*1\r\n$0\r\nX", bad(8, ErrProtoBulkInvalid)},

		// Query buffer.
		{"request at QueryMax", smallLimits, "*1\r\n$10\r\n0123456789\r\n*1\r\n$10\r\n0123456789\r\n", ok},
		{"request over QueryMax", Limits{InlineMax: 16, BulkMax: 100, QueryMax: 20}, "*1\r\n$30\r\n" + long(30) + "\r\n", bad(20, "")},
		{"header over QueryMax", Limits{InlineMax: 16, QueryMax: 10}, "*2\r\n$1\r\na\r\n$1\r\nb\r\n", bad(10, "")},
		{"inline not affected by QueryMax", Limits{InlineMax: 16, QueryMax: 5}, "PING PING\r\n", bad(5, "")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := splitVerdicts(t, c.lim, []byte(c.stream))
			if got != c.want {
				t.Fatalf("%q: verdict %+v, want %+v", c.stream, got, c.want)
			}
			checkRedconAgrees(t, c.lim, []byte(c.stream), got)
		})
	}
}

// checkRedconAgrees checks the guard's promise: the bytes it lets through
// never make redcon's reader fail, so every protocol error a client sees is
// the guard's, in Redis' words.
func checkRedconAgrees(t *testing.T, lim Limits, stream []byte, v verdict) {
	t.Helper()
	passed := stream
	if v.bad {
		passed = stream[:v.at]
	}
	if err := redconReads(passed); err != nil {
		t.Fatalf("%q: redcon fails on %q, which the guard passed: %v", stream, passed, err)
	}
	// Conversely, the guard refuses quoting and a missing '$' exactly where
	// redcon would: with the offending byte, redcon fails the same way. (Its
	// other verdicts are Redis' limits and Redis' strict integers, which
	// redcon lacks.)
	var want string
	switch {
	case !v.bad:
		return
	case v.why == ErrProtoUnbalanced:
		want = "unbalanced quotes"
	case strings.HasPrefix(string(v.why), errProtoExpectedPrefix):
		want = "expected '$'"
	default:
		return
	}
	if err := redconReads(stream[:v.at+1]); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%q: guard says %q at %d, redcon says %v", stream, v.why, v.at, err)
	}
}

// redconReads runs redcon's request reader over b and returns its error,
// nil if it only ran out of bytes.
func redconReads(b []byte) error {
	rd := redcon.NewReader(bytes.NewReader(b))
	for {
		_, err := rd.ReadCommands()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Every inline line over a small alphabet of the bytes that matter to the
// tokenizer, up to 6 bytes: the guard refuses exactly the lines redcon
// refuses.
func TestGuardQuotesExhaustive(t *testing.T) {
	alphabet := []byte{'a', ' ', '"', '\'', '\\', '\r'}
	line := make([]byte, 0, 8)
	var walk func(depth int)
	walk = func(depth int) {
		stream := append(append([]byte(nil), line...), '\r', '\n')
		if len(line) > 0 && line[0] != '*' {
			v := runGuard(smallLimits, stream, whole)
			redconErr := redconReads(stream)
			if v.bad != (redconErr != nil) || (v.bad && v.why != ErrProtoUnbalanced) {
				t.Fatalf("%q: guard %+v, redcon %v", stream, v, redconErr)
			}
		}
		if depth == 0 {
			return
		}
		for _, c := range alphabet {
			line = append(line, c)
			walk(depth - 1)
			line = line[:len(line)-1]
		}
	}
	walk(6)
}

// The verdict of a long body is found without looking at it byte by byte,
// and with the default limits a full 512 MB argument is fine.
func TestGuardCountsThroughBodies(t *testing.T) {
	g := respGuard{lim: DefaultLimits()}
	head := []byte("*1\r\n$536870912\r\n")
	if _, _, bad := g.feed(head); bad {
		t.Fatal("header refused")
	}
	chunk := make([]byte, 1<<20)
	for i := 0; i < 512; i++ {
		if n, why, bad := g.feed(chunk); bad {
			t.Fatalf("chunk %d: %d %q", i, n, why)
		}
	}
	if _, _, bad := g.feed([]byte("\r\nPING\r\n")); bad {
		t.Fatal("trailer refused")
	}
	if g.state != gsStart {
		t.Fatalf("state %d after a complete request", g.state)
	}
}

func TestNumScanMatchesParseLongLong(t *testing.T) {
	for _, s := range []string{
		"0", "1", "-1", "00", "-0", "01", "", "-", "+1", "12a", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "1-", "--1", "123456789012345678901234567890",
	} {
		var n numScan
		for i := 0; i < len(s); i++ {
			n.add(s[i])
		}
		got, ok := n.value()
		want, wantOK := parseLongLong([]byte(s))
		if got != want || ok != wantOK {
			t.Errorf("%q: numScan %d %v, parseLongLong %d %v", s, got, ok, want, wantOK)
		}
	}
}

func FuzzGuard(f *testing.F) {
	for _, s := range []string{
		"PING\r\n", "*1\r\n$4\r\nPING\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", "SET \"a b\" c\r\n",
		"SET a\"b\"\r\n", "*0\r\n", "*-1\r\n", "*1\r\n$-1\r\n", "*1\r\nx", "*99999999999999999999\r\n",
		"*1\r\n$3\r\nabc", "\r\n", "'\\'\r\n", "*1\n", "*1\r\n$1\r\na\rX",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lim := range []Limits{{}, smallLimits} {
			v := runGuard(lim, data, whole)
			if got := runGuard(lim, data, oneByte); got != v {
				t.Fatalf("%q: 1-byte reads %+v, one read %+v", data, got, v)
			}
			mid := len(data) / 2
			first := true
			halves := runGuard(lim, data, func(rest int) int {
				if first {
					first = false
					return mid
				}
				return rest
			})
			if mid > 0 && halves != v {
				t.Fatalf("%q: two halves %+v, one read %+v", data, halves, v)
			}
			if v.bad && (v.at < 0 || v.at >= len(data)) {
				t.Fatalf("%q: verdict offset %d out of range", data, v.at)
			}
			checkRedconAgrees(t, lim, data, v)
		}
		// The incremental integer scanner is string2ll.
		var n numScan
		for _, c := range data {
			n.add(c)
		}
		got, ok := n.value()
		want, wantOK := parseLongLong(data)
		if got != want || ok != wantOK {
			t.Fatalf("%q: numScan %d %v, parseLongLong %d %v", data, got, ok, want, wantOK)
		}
	})
}

// ---------------------------------------------------------- The wrapper -----

// scriptConn is a net.Conn whose reads come from a script of chunks and
// whose writes are recorded.
type scriptConn struct {
	net.Conn // nil: only the methods below are used
	reads    [][]byte
	written  bytes.Buffer
	deadline time.Time
}

func (c *scriptConn) Read(p []byte) (int, error) {
	if len(c.reads) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.reads[0])
	if n == len(c.reads[0]) {
		c.reads = c.reads[1:]
	} else {
		c.reads[0] = c.reads[0][n:]
	}
	return n, nil
}

func (c *scriptConn) Write(p []byte) (int, error)        { return c.written.Write(p) }
func (c *scriptConn) SetWriteDeadline(t time.Time) error { c.deadline = t; return nil }

func TestGuardConnOrder(t *testing.T) {
	sc := &scriptConn{reads: [][]byte{[]byte("PING\r\n*1\r\nx"), []byte("never read")}}
	gc := NewGuardConn(sc, smallLimits)
	buf := make([]byte, 64)

	// First the commands before the violation, with no error.
	n, err := gc.Read(buf)
	if err != nil || string(buf[:n]) != "PING\r\n*1\r\n" {
		t.Fatalf("first read: %q, %v", buf[:n], err)
	}
	if sc.written.Len() != 0 {
		t.Fatalf("error written too early: %q", sc.written.String())
	}
	// Then the reply goes out and the read fails.
	n, err = gc.Read(buf)
	var ve *ViolationError
	if n != 0 || !errors.As(err, &ve) || ve.Reply != errProtoExpectedDollar('x') {
		t.Fatalf("second read: %d, %v", n, err)
	}
	if got := sc.written.String(); got != "-ERR Protocol error: expected '$', got 'x'\r\n" {
		t.Fatalf("written %q", got)
	}
	if sc.deadline.IsZero() {
		t.Fatal("no write deadline for the error reply")
	}
	// And it stays failed, without writing again.
	if n, err := gc.Read(buf); n != 0 || err != ve {
		t.Fatalf("third read: %d, %v", n, err)
	}
	if sc.written.Len() != len("-ERR Protocol error: expected '$', got 'x'\r\n") {
		t.Fatalf("error written twice: %q", sc.written.String())
	}
	if u, ok := gc.(interface{ Unwrap() net.Conn }); !ok || u.Unwrap() != sc {
		t.Fatal("Unwrap does not return the guarded connection")
	}
}

func TestGuardConnImmediateAndSilent(t *testing.T) {
	// A violation on the first byte of a read fails that read.
	sc := &scriptConn{reads: [][]byte{[]byte("*1\r\n"), []byte("$-2\r\n")}}
	gc := NewGuardConn(sc, smallLimits)
	buf := make([]byte, 64)
	if n, err := gc.Read(buf); n != 4 || err != nil {
		t.Fatalf("first read: %d %v", n, err)
	}
	if n, err := gc.Read(buf); n != 4 || err != nil { // "$-2\r" is fine so far
		t.Fatalf("second read: %d %v", n, err)
	}
	sc.reads = append(sc.reads, []byte("\n"))
	if n, err := gc.Read(buf); n != 0 || err == nil {
		t.Fatalf("third read: %d %v", n, err)
	}
	if got := sc.written.String(); got != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Fatalf("written %q", got)
	}

	// Past QueryMax the connection is closed without a reply.
	sc = &scriptConn{reads: [][]byte{[]byte("*1\r\n$10\r\n0123456789\r\n")}}
	gc = NewGuardConn(sc, Limits{QueryMax: 10})
	n, err := gc.Read(buf)
	if n != 10 || err != nil {
		t.Fatalf("read: %d %v", n, err)
	}
	_, err = gc.Read(buf)
	var ve *ViolationError
	if !errors.As(err, &ve) || ve.Reply != "" || sc.written.Len() != 0 {
		t.Fatalf("silent close: %v, wrote %q", err, sc.written.String())
	}
	// EOF passes through untouched.
	sc = &scriptConn{}
	if _, err := NewGuardConn(sc, Limits{}).Read(buf); err != io.EOF {
		t.Fatalf("EOF: %v", err)
	}
}

// ------------------------------------------------- Through a real server -----

func TestGuardWithRedcon(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 16)
	srv := redcon.NewServer("", func(conn redcon.Conn, cmd redcon.Command) {
		switch strings.ToLower(string(cmd.Args[0])) {
		case "ping":
			conn.WriteString("PONG")
		case "echo":
			if len(cmd.Args) != 2 {
				conn.WriteError(string(errArity("echo")))
				return
			}
			conn.WriteBulk(cmd.Args[1])
		default:
			conn.WriteError(string(errUnknownCommand(string(cmd.Args[0]))))
		}
	}, nil, func(conn redcon.Conn, err error) { closed <- err })
	served := make(chan error, 1)
	go func() { served <- srv.Serve(NewGuardListener(ln, Limits{InlineMax: 1024, BulkMax: 4096})) }()
	defer func() {
		_ = srv.Close()
		<-served
	}()
	addr := ln.Addr().String()

	good := dialRESP(t, addr)
	defer good.Close()
	good.roundTrip(t, "PING\r\n", "+PONG\r\n")

	cases := []struct {
		name, send, want string
	}{
		{"invalid multibulk length", "PING\r\n*2000000\r\n", "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"},
		{"too big inline", strings.Repeat("a", 1500), "-ERR Protocol error: too big inline request\r\n"},
		{"invalid bulk length", "*1\r\n$5000\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"negative bulk length", "*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"bulk length that crashes bare redcon", "*1\r\n$9223372036854775807\r\nabc", "-ERR Protocol error: invalid bulk length\r\n"},
		{"expected dollar", "*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
		{"too big mbulk count", "*" + strings.Repeat("9", 1100), "-ERR Protocol error: too big mbulk count string\r\n"},
		{"too big bulk count", "*1\r\n$" + strings.Repeat("9", 1100), "-ERR Protocol error: too big bulk count string\r\n"},
		{"unbalanced quotes", "ECHO \"abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{"empty multibulk", "*0\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"pipeline answered first", "ECHO x\r\n*1\r\n$4\r\nPING\r\nPING\r\n*1\r\nX",
			"$1\r\nx\r\n+PONG\r\n+PONG\r\n-ERR Protocol error: expected '$', got 'X'\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := dialRESP(t, addr)
			defer bad.Close()
			if _, err := bad.c.Write([]byte(c.send)); err != nil {
				t.Fatal(err)
			}
			got := bad.readUntilClosed(t)
			if got != c.want {
				t.Fatalf("\n got %q\nwant %q", got, c.want)
			}
			select {
			case err := <-closed:
				var ve *ViolationError
				if !errors.As(err, &ve) {
					t.Fatalf("redcon closed the connection with %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("redcon did not report the closed connection")
			}
			// The other connection is not affected.
			good.roundTrip(t, "*2\r\n$4\r\nECHO\r\n$2\r\nok\r\n", "$2\r\nok\r\n")
		})
	}
}

type respClient struct {
	c net.Conn
	r *bufio.Reader
}

func dialRESP(t *testing.T, addr string) *respClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &respClient{c: c, r: bufio.NewReader(c)}
}

func (rc *respClient) Close() error { return rc.c.Close() }

func (rc *respClient) roundTrip(t *testing.T, send, want string) {
	t.Helper()
	if _, err := rc.c.Write([]byte(send)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(rc.r, got); err != nil || string(got) != want {
		t.Fatalf("sent %q: got %q, %v; want %q", send, got, err, want)
	}
}

// readUntilClosed reads everything until the server closes the connection.
func (rc *respClient) readUntilClosed(t *testing.T) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 512)
	for {
		n, err := rc.r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF || errors.Is(err, syscall.ECONNRESET) {
			return string(got)
		}
		if err != nil {
			t.Fatalf("read: %v (after %q)", err, got)
		}
	}
}
