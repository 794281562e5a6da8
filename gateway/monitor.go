package gateway

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/godisque/godisque/config"
)

// ---------------------------------- MONITOR ----------------------------------
//
// MONITOR turns a connection into a stream of every command the server
// runs, in Redis' format:
//
//	+1339518083.107412 [0 127.0.0.1:60866] "addjob" "q" "body" "0"
//
// The connection is detached from redcon: a writer goroutine drains its
// feed (a bounded channel; a monitor too slow to keep up loses lines rather
// than slowing the server) and a reader waits for QUIT or the close.

const monitorBacklog = 4096

type monitors struct {
	mu   sync.Mutex // guards subs
	subs map[chan string]struct{}
}

func (m *monitors) active() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.subs) > 0
}

func (m *monitors) feed(line string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ch := range m.subs {
		select {
		case ch <- line:
		default: // too slow: drop rather than block the server
		}
	}
}

// feedMonitors formats one command for MONITOR; AUTH is never shown.
func (s *Server) feedMonitors(c *client, cmd *command, args [][]byte) {
	if cmd.name == "auth" || !s.mons.active() {
		return
	}
	now := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "%d.%06d [0 %s]", now.Unix(), now.Nanosecond()/1000, c.addr)
	for _, a := range args {
		b.WriteByte(' ')
		b.WriteString(config.Quote(string(a)))
	}
	s.mons.feed(b.String())
}

// MONITOR
func (s *Server) cmdMONITOR(c *client, _ [][]byte) {
	ch := make(chan string, monitorBacklog)
	c.detached.Store(true)
	dc := c.conn.Detach()
	dc.WriteString("OK")
	if err := dc.Flush(); err != nil {
		dc.Close()
		return
	}
	s.mons.mu.Lock()
	if s.mons.subs == nil {
		s.mons.subs = make(map[chan string]struct{})
	}
	s.mons.subs[ch] = struct{}{}
	s.mons.mu.Unlock()
	stop := make(chan struct{})
	go func() { // reader: QUIT or a closed connection ends the monitor
		defer close(stop)
		for {
			cmd, err := dc.ReadCommand()
			if err != nil {
				return
			}
			if len(cmd.Args) > 0 && eqFold(cmd.Args[0], "quit") {
				return
			}
		}
	}()
	go func() { // writer
		defer func() {
			s.mons.mu.Lock()
			delete(s.mons.subs, ch)
			s.mons.mu.Unlock()
			dc.Close()
			s.forget(c)
		}()
		for {
			select {
			case line := <-ch:
				dc.WriteString(line)
				for more := true; more; {
					select {
					case l := <-ch:
						dc.WriteString(l)
					default:
						more = false
					}
				}
				if dc.Flush() != nil {
					return
				}
			case <-stop:
				dc.WriteString("OK")
				_ = dc.Flush()
				return
			case <-c.ctx.Done():
				return
			}
		}
	}()
}
