// Package redconlpush is the ceiling of the benchmark suite: the least a
// RESP server on redcon can do per command. It keeps lists in memory under
// one mutex and answers LPUSH, RPOP, LLEN, DEL, FLUSHALL, PING and INFO (for
// its process_id), with no actors, no job records and no IDs. The suite
// compares godisque's ADDJOB and GETJOB NOHANG with its LPUSH and RPOP: the
// distance is what godisque's own machinery costs over redcon's.
package redconlpush

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/redcon"
)

// Server is a running ceiling server.
type Server struct {
	srv   *redcon.Server
	ln    net.Listener
	mu    sync.Mutex
	lists map[string]*list
}

// list is a FIFO of bodies: LPUSH appends at the tail, RPOP takes the head
// (the oldest), as a Redis list used with LPUSH and RPOP behaves. Bodies
// are stored back to back in chunks of a megabyte, each after its length
// as a uvarint, so that millions of them are a few objects to the garbage
// collector, not millions, and a push never copies what is already stored
// (one growing slice made LPUSH stall for hundreds of milliseconds whenever
// it doubled): the ceiling measures redcon, not Go's GC or memmove.
type list struct {
	chunks [][]byte // only the last one is written to
	head   int      // offset in chunks[0] of the oldest body's length
	n      int
}

// chunkSize is the size of a chunk; a larger body gets a chunk of its own.
const chunkSize = 1 << 20

func (l *list) push(b []byte) int {
	need := binary.MaxVarintLen64 + len(b)
	last := len(l.chunks) - 1
	if last < 0 || cap(l.chunks[last])-len(l.chunks[last]) < need {
		l.chunks = append(l.chunks, make([]byte, 0, max(chunkSize, need)))
		last++
	}
	c := binary.AppendUvarint(l.chunks[last], uint64(len(b)))
	l.chunks[last] = append(c, b...)
	l.n++
	return l.n
}

// pop returns the oldest body, valid until the next push.
func (l *list) pop() ([]byte, bool) {
	if l.n == 0 {
		return nil, false
	}
	c := l.chunks[0]
	size, k := binary.Uvarint(c[l.head:])
	start := l.head + k
	l.head = start + int(size)
	l.n--
	switch {
	case l.n == 0: // all read: the one chunk left is written from its start
		l.chunks, l.head = l.chunks[:1], 0
		l.chunks[0] = c[:0]
	case l.head == len(c): // a full chunk read to its end is dropped
		l.chunks[0] = nil
		l.chunks, l.head = l.chunks[1:], 0
	}
	return c[start : start+int(size)], true
}

func (l *list) len() int { return l.n }

// Start serves on ln in the background.
func Start(ln net.Listener) *Server {
	s := &Server{ln: ln, lists: map[string]*list{}}
	s.srv = redcon.NewServerNetwork("tcp", ln.Addr().String(), s.handle, nil, nil)
	go func() { _ = s.srv.Serve(ln) }()
	return s
}

// Serve serves on ln until Close.
func Serve(ln net.Listener) error {
	s := &Server{ln: ln, lists: map[string]*list{}}
	s.srv = redcon.NewServerNetwork("tcp", ln.Addr().String(), s.handle, nil, nil)
	err := s.srv.Serve(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Addr is where the server listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

func (s *Server) handle(conn redcon.Conn, cmd redcon.Command) {
	args := cmd.Args
	switch strings.ToLower(string(args[0])) {
	case "lpush":
		if len(args) < 3 {
			conn.WriteError("ERR wrong number of arguments for 'lpush' command")
			return
		}
		s.mu.Lock()
		l := s.lists[string(args[1])]
		if l == nil {
			l = &list{}
			s.lists[string(args[1])] = l
		}
		n := 0
		for _, v := range args[2:] {
			n = l.push(v)
		}
		s.mu.Unlock()
		conn.WriteInt(n)
	case "rpop":
		if len(args) != 2 {
			conn.WriteError("ERR wrong number of arguments for 'rpop' command")
			return
		}
		s.mu.Lock()
		l := s.lists[string(args[1])]
		if l == nil {
			s.mu.Unlock()
			conn.WriteNull()
			return
		}
		b, _ := l.pop()
		conn.WriteBulk(b) // copies b into the reply buffer, under the lock
		if l.len() == 0 {
			delete(s.lists, string(args[1]))
		}
		s.mu.Unlock()
	case "llen":
		if len(args) != 2 {
			conn.WriteError("ERR wrong number of arguments for 'llen' command")
			return
		}
		s.mu.Lock()
		n := 0
		if l := s.lists[string(args[1])]; l != nil {
			n = l.len()
		}
		s.mu.Unlock()
		conn.WriteInt(n)
	case "del":
		s.mu.Lock()
		n := 0
		for _, k := range args[1:] {
			if _, ok := s.lists[string(k)]; ok {
				delete(s.lists, string(k))
				n++
			}
		}
		s.mu.Unlock()
		conn.WriteInt(n)
	case "flushall":
		s.mu.Lock()
		s.lists = map[string]*list{}
		s.mu.Unlock()
		conn.WriteString("OK")
	case "ping":
		conn.WriteString("PONG")
	case "info":
		conn.WriteBulkString("# Server\r\nredcon_lpush:1\r\nprocess_id:" + strconv.Itoa(os.Getpid()) + "\r\n")
	default:
		conn.WriteError("ERR unknown command '" + string(args[0]) + "'")
	}
}
