package gateway

import (
	"net"
	"time"

	"github.com/tidwall/redcon"
)

// ---------------------------------------------------------------- Guard -----
//
// redcon's request reader has none of Redis' limits: it buffers an inline
// line or a declared 4 GB argument for as long as the client keeps sending,
// parses lengths without overflow checks (a "$9223372036854775807" header
// makes its index arithmetic wrap and the connection goroutine panic, which
// takes the whole process down), and words its few protocol errors
// differently from Redis ("ERR invalid bulk length" instead of "ERR Protocol
// error: invalid bulk length"). The guard sits below it. A guarded
// connection's Read passes every byte it returns through an incremental RESP
// framing validator, a resumable byte-at-a-time state machine in the style
// of nats-server's parser: all of its state lives in respGuard, so a request
// may be split across reads at any byte and the verdict is the same.
//
// The validator only frames. It never copies bytes and it counts its way
// through argument bodies in one step per read. It enforces what Redis 3.x
// enforces in processInlineBuffer/processMultibulkBuffer, with the same
// error texts (SPEC.md §2):
//
//	inline line longer than InlineMax, no '\n' yet   too big inline request
//	"*N" line longer than InlineMax, no '\r' yet     too big mbulk count string
//	N not an integer, N > MultibulkMax               invalid multibulk length
//	argument not starting with '$'                   expected '$', got 'X'
//	"$L" line longer than InlineMax, no '\r' yet     too big bulk count string
//	L not an integer, L < 0, L > BulkMax             invalid bulk length
//
// Integers are parsed like Redis' string2ll (parseLongLong).
//
// Wherever redcon would refuse a stream that Redis accepts, the guard
// refuses it first, with Redis' wording, so that no redcon-worded error ever
// reaches a client: a header line ended by a bare '\n' or by '\r' not
// followed by '\n' (invalid multibulk/bulk length), an argument not followed
// by "\r\n" (invalid bulk length), "*0" and "*-1" (invalid multibulk length;
// Redis skips empty requests, redcon closes the connection), and inline
// quoting that redcon's tokenizer refuses (unbalanced quotes in request;
// redcon, unlike Redis, allows a quote only at the start of a token).
//
// Finally a request may not exceed QueryMax bytes in total (Redis'
// client-query-buffer-limit, 1 GB); the connection is then closed without a
// reply, as Redis does.
//
// On a violation, Read first returns the bytes before the offending one, so
// that complete requests in front of it are served and answered in order.
// redcon reads again only after it has handled and flushed everything it
// could parse; that next Read writes the error reply straight to the socket
// and fails, and redcon closes the connection.

// Limits are the framing limits a guarded connection enforces. A zero
// field takes its default (DefaultLimits).
type Limits struct {
	// InlineMax is the longest inline request line, and the longest "*N"
	// or "$L" header line, before its terminator, in bytes (Redis'
	// PROTO_INLINE_MAX_SIZE).
	InlineMax int64
	// MultibulkMax is the most arguments one request may have.
	MultibulkMax int64
	// BulkMax is the largest single argument, in bytes.
	BulkMax int64
	// QueryMax is the largest request, in bytes, counting its header lines
	// and arguments. Negative: no limit.
	QueryMax int64
	// ErrorWriteTimeout bounds the write of the error reply, so that a
	// client that does not read cannot hold the connection's goroutine.
	// Negative: no deadline.
	ErrorWriteTimeout time.Duration
}

// DefaultLimits returns Redis' limits.
func DefaultLimits() Limits {
	return Limits{
		InlineMax:         64 * 1024,          // PROTO_INLINE_MAX_SIZE
		MultibulkMax:      1024 * 1024,        // arguments per request
		BulkMax:           512 * 1024 * 1024,  // 512 MB per argument
		QueryMax:          1024 * 1024 * 1024, // client-query-buffer-limit, 1 GB
		ErrorWriteTimeout: time.Second,        // then the reply is dropped
	}
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.InlineMax <= 0 {
		l.InlineMax = d.InlineMax
	}
	if l.MultibulkMax <= 0 {
		l.MultibulkMax = d.MultibulkMax
	}
	if l.BulkMax <= 0 {
		l.BulkMax = d.BulkMax
	}
	if l.QueryMax == 0 {
		l.QueryMax = d.QueryMax
	}
	if l.ErrorWriteTimeout == 0 {
		l.ErrorWriteTimeout = d.ErrorWriteTimeout
	}
	return l
}

// ViolationError is what a guarded connection's Read returns, from the
// violation on, once its byte stream broke a rule. Reply is the error that
// was sent to the client, empty when the connection was closed silently
// (QueryMax).
type ViolationError struct {
	Reply Error
}

func (e *ViolationError) Error() string {
	if e.Reply == "" {
		return "gateway: request larger than the query buffer limit"
	}
	return "gateway: protocol violation: " + string(e.Reply)
}

// -------------------------------------------------------- Listener, conn -----

// NewGuardListener wraps ln so that every accepted connection is guarded.
// Serve redcon on it: redcon.NewServer(...).Serve(NewGuardListener(ln, l)).
// With TLS, guard the decrypted stream instead (NewGuardConn on the
// *tls.Conn), not the raw socket.
func NewGuardListener(ln net.Listener, limits Limits) net.Listener {
	return &guardListener{Listener: ln, limits: limits.withDefaults()}
}

type guardListener struct {
	net.Listener
	limits Limits
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return NewGuardConn(c, l.limits), nil
}

// NewGuardConn guards one connection. Its Read, like any net.Conn's, is for
// one goroutine at a time (redcon's connection goroutine).
func NewGuardConn(c net.Conn, limits Limits) net.Conn {
	return &guardConn{Conn: c, g: respGuard{lim: limits.withDefaults()}}
}

type guardConn struct {
	net.Conn
	g        respGuard
	violated bool  // a violation was found; the bytes before it were returned
	verdict  Error // its reply, "" for a silent close
	err      error // sticky once the reply has been sent
}

// Unwrap returns the connection under the guard (for SyscallConn and the
// like). Reading from it directly bypasses the guard.
func (c *guardConn) Unwrap() net.Conn { return c.Conn }

// Read reads from the connection and validates what it got. See the
// chapter comment above for the order of events on a violation.
func (c *guardConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.violated {
		return 0, c.fail()
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		ok, verdict, bad := c.g.feed(p[:n])
		if bad {
			c.violated, c.verdict = true, verdict
			if ok > 0 {
				return ok, nil // serve what came before; fail next time
			}
			return 0, c.fail()
		}
	}
	return n, err
}

// fail sends the error reply, if any, and makes the failure sticky.
func (c *guardConn) fail() error {
	if c.verdict != "" {
		if t := c.g.lim.ErrorWriteTimeout; t > 0 {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(t))
		}
		_, _ = c.Conn.Write(redcon.AppendError(nil, string(c.verdict)))
	}
	c.err = &ViolationError{Reply: c.verdict}
	return c.err
}

// ------------------------------------------------------- State machine -----

// guardState is where in the RESP grammar the next byte falls.
type guardState uint8

const (
	gsStart      guardState = iota // between requests: '*' or an inline line
	gsInline                       // inside an inline line, until '\n'
	gsMbulkLen                     // after '*': the argument count
	gsMbulkLenLF                   // "*N\r" read: '\n' expected
	gsBulkDollar                   // an argument: '$' expected
	gsBulkLen                      // after '$': the argument length
	gsBulkLenLF                    // "$L\r" read: '\n' expected
	gsBulkBody                     // counting through the argument
	gsBulkCR                       // argument read: '\r' expected
	gsBulkLF                       // '\n' expected
)

// respGuard validates one connection's request stream. It is resumable:
// feed may be called with any split of the stream and gives the same
// verdict at the same offset.
type respGuard struct {
	lim     Limits
	state   guardState
	lineLen int64      // bytes of the current inline or header line so far
	reqLen  int64      // bytes of the current request so far
	args    int64      // arguments still expected in this request
	body    int64      // bytes of the current argument still expected
	num     numScan    // the integer of the current header line
	inl     inlineScan // quoting state of the current inline line
}

// feed validates p, the next bytes of the stream. It returns how many bytes
// are fine; if bad, the byte at p[n] breaks a rule and verdict is the reply
// to send ("" to close silently). After a violation the guard must not be
// fed again.
func (g *respGuard) feed(p []byte) (n int, verdict Error, bad bool) {
	i := 0
	for i < len(p) {
		if g.state == gsBulkBody {
			// Count through the body without looking at it.
			k := int64(len(p) - i)
			if k > g.body {
				k = g.body
			}
			if g.lim.QueryMax >= 0 && g.reqLen+k > g.lim.QueryMax {
				return i + int(g.lim.QueryMax-g.reqLen), "", true
			}
			g.reqLen += k
			g.body -= k
			i += int(k)
			if g.body == 0 {
				g.state = gsBulkCR
			}
			continue
		}
		if v, bad := g.step(p[i]); bad {
			return i, v, true
		}
		i++
	}
	return len(p), "", false
}

// step consumes one byte outside argument bodies.
func (g *respGuard) step(c byte) (Error, bool) {
	if g.state == gsStart {
		g.reqLen = 0
	}
	g.reqLen++
	if v, bad := g.stepFraming(c); bad {
		return v, true
	}
	if g.lim.QueryMax >= 0 && g.reqLen > g.lim.QueryMax && g.state != gsStart {
		return "", true
	}
	return "", false
}

// stepFraming is the grammar proper.
func (g *respGuard) stepFraming(c byte) (Error, bool) {
	switch g.state {
	case gsStart:
		if c == '*' {
			g.state = gsMbulkLen
			g.lineLen = 1
			g.num = numScan{}
			return "", false
		}
		g.state = gsInline
		g.lineLen = 0
		g.inl = inlineScan{tokStart: true}
		return g.inlineByte(c)

	case gsInline:
		return g.inlineByte(c)

	case gsMbulkLen:
		switch c {
		case '\r':
			g.state = gsMbulkLenLF
		case '\n':
			return ErrProtoMbulkInvalid, true
		default:
			g.lineLen++
			if g.lineLen > g.lim.InlineMax {
				return ErrProtoMbulkTooBig, true
			}
			g.num.add(c)
		}

	case gsMbulkLenLF:
		n, ok := g.num.value()
		if c != '\n' || !ok || n <= 0 || n > g.lim.MultibulkMax {
			return ErrProtoMbulkInvalid, true
		}
		g.args = n
		g.state = gsBulkDollar

	case gsBulkDollar:
		if c != '$' {
			return errProtoExpectedDollar(c), true
		}
		g.state = gsBulkLen
		g.lineLen = 1
		g.num = numScan{}

	case gsBulkLen:
		switch c {
		case '\r':
			g.state = gsBulkLenLF
		case '\n':
			return ErrProtoBulkInvalid, true
		default:
			g.lineLen++
			if g.lineLen > g.lim.InlineMax {
				return ErrProtoBulkTooBig, true
			}
			g.num.add(c)
		}

	case gsBulkLenLF:
		n, ok := g.num.value()
		if c != '\n' || !ok || n < 0 || n > g.lim.BulkMax {
			return ErrProtoBulkInvalid, true
		}
		g.body = n
		if n == 0 {
			g.state = gsBulkCR
		} else {
			g.state = gsBulkBody
		}

	case gsBulkCR:
		if c != '\r' {
			return ErrProtoBulkInvalid, true
		}
		g.state = gsBulkLF

	case gsBulkLF:
		if c != '\n' {
			return ErrProtoBulkInvalid, true
		}
		g.args--
		if g.args == 0 {
			g.state = gsStart
		} else {
			g.state = gsBulkDollar
		}
	}
	return "", false
}

// inlineByte consumes one byte of an inline line. The line ends at '\n'; a
// '\r' right before it is the terminator, any other '\r' is content, so a
// '\r' is held back, neither counted nor scanned, until the next byte tells
// which. A line of exactly InlineMax bytes followed by "\r\n" is therefore
// accepted whatever the read boundaries (Redis' own verdict on it depends
// on them).
func (g *respGuard) inlineByte(c byte) (Error, bool) {
	if c == '\n' {
		if g.inl.bad || g.inl.quote != 0 {
			return ErrProtoUnbalanced, true
		}
		g.state = gsStart
		return "", false
	}
	if g.inl.cr {
		g.inl.cr = false
		if g.lineLen++; g.lineLen > g.lim.InlineMax {
			return ErrProtoInlineTooBig, true
		}
		g.inl.content('\r')
	}
	if c == '\r' {
		g.inl.cr = true
		return "", false
	}
	if g.lineLen++; g.lineLen > g.lim.InlineMax {
		return ErrProtoInlineTooBig, true
	}
	g.inl.content(c)
	return "", false
}

// inlineScan follows redcon's inline tokenizer closely enough to know
// whether it will refuse the line: tokens are separated by spaces; a quote
// (' or ") may open only at the start of a token; inside quotes a backslash
// escapes the next byte; a closing quote must be followed by a space or the
// end of the line; the line must not end inside quotes. Redis itself is
// more lenient (a"b" is one token there), but the connection is served by
// redcon, so redcon's verdict is the one to predict. The verdict is given at
// the end of the line, as Redis does: until then only the length counts.
type inlineScan struct {
	quote    byte // the open quote character, 0 outside quotes
	escape   bool // inside quotes, the previous byte was a backslash
	tokStart bool // at the start of a token (line start, or after a space)
	closed   bool // a quote just closed: a space must follow
	cr       bool // a '\r' held back (see inlineByte)
	bad      bool // redcon will refuse the line
}

func (s *inlineScan) content(c byte) {
	if s.bad {
		return
	}
	if s.quote != 0 {
		switch {
		case s.escape:
			s.escape = false
		case c == s.quote:
			s.quote = 0
			s.closed = true
		case c == '\\':
			s.escape = true
		}
		return
	}
	if s.closed {
		s.closed = false
		if c != ' ' {
			s.bad = true
			return
		}
		s.tokStart = true
		return
	}
	switch c {
	case ' ':
		s.tokStart = true
	case '"', '\'':
		if !s.tokStart {
			s.bad = true
			return
		}
		s.quote = c
	default:
		s.tokStart = false
	}
}

// numScan is parseLongLong (Redis' string2ll) fed one byte at a time.
type numScan struct {
	v      uint64 // magnitude so far
	n      int    // bytes seen
	digits int    // digits seen
	neg    bool   // a leading '-'
	zero   bool   // the first digit is '0'
	bad    bool   // cannot be a valid integer any more
}

func (s *numScan) add(c byte) {
	s.n++
	if s.bad {
		return
	}
	switch {
	case c == '-' && s.n == 1:
		s.neg = true
	case '0' <= c && c <= '9':
		if s.digits == 0 {
			s.zero = c == '0'
		} else if s.zero {
			s.bad = true // leading zero
			return
		}
		s.digits++
		limit := uint64(1<<63 - 1)
		if s.neg {
			limit++
		}
		d := uint64(c - '0')
		if s.v > (limit-d)/10 {
			s.bad = true // out of int64
			return
		}
		s.v = s.v*10 + d
	default:
		s.bad = true
	}
}

// value returns the integer, if the bytes seen form a valid one.
func (s *numScan) value() (int64, bool) {
	if s.bad || s.digits == 0 || (s.neg && s.zero) {
		return 0, false
	}
	if s.neg {
		return int64(-s.v), true
	}
	return int64(s.v), true
}
