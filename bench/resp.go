package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// ------------------------------ The RESP client -------------------------------
//
// Conn is a minimal pipelined RESP2 client over one net.Conn, written for the
// load generator: a general client (go-redis) spends more CPU per command
// than the servers it measures. Commands are appended, already encoded, to
// an output buffer and written with one Flush; replies are read one at a time
// into a caller-owned Reply whose buffers are reused, so the steady state
// allocates nothing. Scenarios pre-encode their fixed commands once
// (AppendCommand) and copy the bytes per operation.
//
// A Conn is used by one goroutine.

// Conn is one client connection.
type Conn struct {
	nc  net.Conn
	rd  *bufio.Reader
	out []byte
}

// Dial connects to a RESP server.
func Dial(addr string, timeout time.Duration) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &Conn{nc: nc, rd: bufio.NewReaderSize(nc, 64<<10), out: make([]byte, 0, 64<<10)}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Addr is the server's address.
func (c *Conn) Addr() string { return c.nc.RemoteAddr().String() }

// Append queues encoded command bytes for the next Flush.
func (c *Conn) Append(cmd []byte) { c.out = append(c.out, cmd...) }

// AppendArgs encodes and queues one command.
func (c *Conn) AppendArgs(args ...string) { c.out = AppendCommand(c.out, args...) }

// Buffered is the number of bytes waiting for Flush.
func (c *Conn) Buffered() int { return len(c.out) }

// Flush writes every queued command.
func (c *Conn) Flush() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	return err
}

// SetDeadline sets the read and write deadline of the connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Do sends one command and reads its reply into a fresh Reply. It is for
// setup and tests, not for the measured loop.
func (c *Conn) Do(args ...string) (*Reply, error) {
	c.AppendArgs(args...)
	if err := c.Flush(); err != nil {
		return nil, err
	}
	r := new(Reply)
	if err := c.Read(r); err != nil {
		return nil, err
	}
	return r, nil
}

// AppendCommand appends args encoded as a RESP multibulk command.
func AppendCommand(dst []byte, args ...string) []byte {
	dst = AppendArrayHeader(dst, len(args))
	for _, a := range args {
		dst = AppendBulkString(dst, a)
	}
	return dst
}

// AppendArrayHeader appends "*n\r\n".
func AppendArrayHeader(dst []byte, n int) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// AppendBulkString appends s as a bulk string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendBulk appends b as a bulk string.
func AppendBulk(dst []byte, b []byte) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// ---------------------------------- Replies -----------------------------------

// Kind is a RESP2 reply type, by its first byte.
type Kind byte

// The RESP2 reply kinds.
const (
	KindStatus Kind = '+'
	KindError  Kind = '-'
	KindInt    Kind = ':'
	KindBulk   Kind = '$'
	KindArray  Kind = '*'
)

// Reply is one reply. Str holds a status, error or bulk payload; Elems an
// array's elements. Null is set for $-1 and *-1. A Reply read into again
// reuses its buffers: copy what must outlive the next Read.
type Reply struct {
	Kind  Kind
	Null  bool
	Int   int64
	Str   []byte
	Elems []Reply
}

// IsError tells whether the reply is an error reply.
func (r *Reply) IsError() bool { return r.Kind == KindError }

// Err is the error reply as an error, nil for any other reply.
func (r *Reply) Err() error {
	if r.Kind == KindError {
		return errors.New(string(r.Str))
	}
	return nil
}

// String renders the reply for messages and tests.
func (r *Reply) String() string {
	switch {
	case r.Null:
		return "(nil)"
	case r.Kind == KindInt:
		return strconv.FormatInt(r.Int, 10)
	case r.Kind == KindArray:
		s := "["
		for i := range r.Elems {
			if i > 0 {
				s += " "
			}
			s += r.Elems[i].String()
		}
		return s + "]"
	case r.Kind == KindError:
		return "ERR(" + string(r.Str) + ")"
	}
	return string(r.Str)
}

// ErrProtocol is returned for a reply that is not valid RESP2.
var ErrProtocol = errors.New("bench: protocol error in reply")

// Read reads the next reply into r.
func (c *Conn) Read(r *Reply) error { return readReply(c.rd, r, 0) }

// maxNesting bounds array nesting, so a hostile server cannot blow the stack.
const maxNesting = 16

func readReply(rd *bufio.Reader, r *Reply, depth int) error {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, rd.Size())
		}
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("%w: %q", ErrProtocol, line)
	}
	r.Kind, r.Null, r.Int = Kind(line[0]), false, 0
	body := line[1 : len(line)-2]
	switch r.Kind {
	case KindStatus, KindError:
		r.Str = append(r.Str[:0], body...)
		return nil
	case KindInt:
		n, ok := parseInt(body)
		if !ok {
			return fmt.Errorf("%w: integer %q", ErrProtocol, body)
		}
		r.Int = n
		return nil
	case KindBulk:
		n, ok := parseInt(body)
		if !ok || n < -1 {
			return fmt.Errorf("%w: bulk length %q", ErrProtocol, body)
		}
		r.Str = r.Str[:0]
		if n == -1 {
			r.Null = true
			return nil
		}
		if cap(r.Str) < int(n)+2 {
			r.Str = make([]byte, n+2)
		}
		r.Str = r.Str[:n+2]
		if _, err := io.ReadFull(rd, r.Str); err != nil {
			return err
		}
		if r.Str[n] != '\r' || r.Str[n+1] != '\n' {
			return fmt.Errorf("%w: bulk not terminated by CRLF", ErrProtocol)
		}
		r.Str = r.Str[:n]
		return nil
	case KindArray:
		n, ok := parseInt(body)
		if !ok || n < -1 {
			return fmt.Errorf("%w: array length %q", ErrProtocol, body)
		}
		if n == -1 {
			r.Null = true
			r.Elems = r.Elems[:0]
			return nil
		}
		if depth >= maxNesting {
			return fmt.Errorf("%w: arrays nested deeper than %d", ErrProtocol, maxNesting)
		}
		if cap(r.Elems) < int(n) {
			r.Elems = append(r.Elems[:cap(r.Elems)], make([]Reply, int(n)-cap(r.Elems))...)
		}
		r.Elems = r.Elems[:n]
		for i := range r.Elems {
			if err := readReply(rd, &r.Elems[i], depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: unknown type %q", ErrProtocol, line[0])
}

// parseInt parses a RESP integer line body.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// Info runs INFO [section] and returns its fields.
func (c *Conn) Info(section string) (map[string]string, error) {
	args := []string{"INFO"}
	if section != "" {
		args = append(args, section)
	}
	r, err := c.Do(args...)
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return ParseInfo(string(r.Str)), nil
}

// ParseInfo splits an INFO reply into its "key:value" fields.
func ParseInfo(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		var line string
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			line, s = s, ""
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexByte(line, ':'); i > 0 {
			out[line[:i]] = line[i+1:]
		}
	}
	return out
}
