package gateway

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ------------------------------ SLOWLOG, LATENCY -----------------------------
//
// Redis' two ways of finding slow commands, kept as Redis 3.0 keeps them:
// SLOWLOG records every command slower than slowlog-log-slower-than
// microseconds (negative disables, 0 logs everything) in a ring of
// slowlog-max-len entries; LATENCY keeps, per event, one sample per second
// (the worst) of commands slower than latency-monitor-threshold
// milliseconds (0 disables). A GETJOB that may block is not measured: its
// time is the client's waiting, not the server's work.

const (
	slowlogMaxArgs    = 32  // arguments kept per entry
	slowlogMaxArgLen  = 128 // bytes kept per argument
	latencyHistoryLen = 160 // samples kept per event
)

type slowEntry struct {
	id       int64
	at       int64 // unix seconds
	duration int64 // microseconds
	args     []string
}

type latencySample struct {
	at      int64 // unix seconds
	latency int64 // ms
}

type latencyEvent struct {
	samples []latencySample
	max     int64
}

// slowlog is the server's SLOWLOG and LATENCY state; mu guards all of it.
type slowlog struct {
	mu      sync.Mutex
	nextID  int64
	entries []slowEntry // newest first
	events  map[string]*latencyEvent
}

// record is called after every command with its duration.
func (s *Server) record(cmd *command, args [][]byte, d time.Duration) {
	cfg := s.settings()
	us := d.Microseconds()
	slow := cfg.SlowlogLogSlowerThan >= 0 && us >= cfg.SlowlogLogSlowerThan
	lat := cfg.LatencyMonitorThreshold > 0 && d.Milliseconds() >= cfg.LatencyMonitorThreshold
	if !slow && !lat {
		return
	}
	if cmd.name == "getjob" && !hasNohang(args) {
		return
	}
	sl := &s.slow
	sl.mu.Lock()
	defer sl.mu.Unlock()
	now := time.Now().Unix()
	if slow && cfg.SlowlogMaxLen > 0 {
		e := slowEntry{id: sl.nextID, at: now, duration: us, args: slowArgs(args)}
		sl.nextID++
		sl.entries = append([]slowEntry{e}, sl.entries...)
		if int64(len(sl.entries)) > cfg.SlowlogMaxLen {
			sl.entries = sl.entries[:cfg.SlowlogMaxLen]
		}
	}
	if lat {
		event := "command"
		if strings.Contains(strings.Join(cmd.flags, " "), "fast") {
			event = "fast-command"
		}
		if sl.events == nil {
			sl.events = make(map[string]*latencyEvent)
		}
		ev := sl.events[event]
		if ev == nil {
			ev = &latencyEvent{}
			sl.events[event] = ev
		}
		ms := d.Milliseconds()
		if n := len(ev.samples); n > 0 && ev.samples[n-1].at == now {
			if ms > ev.samples[n-1].latency {
				ev.samples[n-1].latency = ms
			}
		} else {
			ev.samples = append(ev.samples, latencySample{at: now, latency: ms})
			if len(ev.samples) > latencyHistoryLen {
				ev.samples = ev.samples[1:]
			}
		}
		if ms > ev.max {
			ev.max = ms
		}
	}
}

func hasNohang(args [][]byte) bool {
	for _, a := range args[1:] {
		if eqFold(a, "from") {
			return false
		}
		if eqFold(a, "nohang") {
			return true
		}
	}
	return false
}

// slowArgs is Redis' slowlogCreateEntry: at most 32 arguments of at most
// 128 bytes each, the rest summarised.
func slowArgs(args [][]byte) []string {
	n := len(args)
	if n > slowlogMaxArgs {
		n = slowlogMaxArgs
	}
	out := make([]string, n)
	for i := 0; i < n; i++ {
		if i == slowlogMaxArgs-1 && len(args) > slowlogMaxArgs {
			out[i] = fmt.Sprintf("... (%d more arguments)", len(args)-slowlogMaxArgs+1)
			break
		}
		a := args[i]
		if len(a) > slowlogMaxArgLen {
			out[i] = fmt.Sprintf("%s... (%d more bytes)", a[:slowlogMaxArgLen], len(a)-slowlogMaxArgLen)
		} else {
			out[i] = string(a)
		}
	}
	return out
}

// SLOWLOG GET [n] | LEN | RESET
func (s *Server) cmdSLOWLOG(c *client, args [][]byte) {
	sl := &s.slow
	sub := lower(args[1])
	switch {
	case sub == "reset" && len(args) == 2:
		sl.mu.Lock()
		sl.entries = nil
		sl.mu.Unlock()
		c.status("OK")
	case sub == "len" && len(args) == 2:
		sl.mu.Lock()
		n := len(sl.entries)
		sl.mu.Unlock()
		c.conn.WriteInt(n)
	case sub == "get" && (len(args) == 2 || len(args) == 3):
		count := int64(10)
		if len(args) == 3 {
			var ok bool
			if count, ok = parseLongLong(args[2]); !ok {
				c.err(ErrNotInteger)
				return
			}
		}
		sl.mu.Lock()
		entries := sl.entries
		if count >= 0 && int64(len(entries)) > count {
			entries = entries[:count]
		}
		entries = append([]slowEntry(nil), entries...)
		sl.mu.Unlock()
		c.conn.WriteArray(len(entries))
		for _, e := range entries {
			c.conn.WriteArray(4)
			c.conn.WriteInt64(e.id)
			c.conn.WriteInt64(e.at)
			c.conn.WriteInt64(e.duration)
			c.conn.WriteArray(len(e.args))
			for _, a := range e.args {
				c.conn.WriteBulkString(a)
			}
		}
	default:
		c.err(Error("ERR Unknown SLOWLOG subcommand or wrong number of arguments. Try GET, RESET, LEN."))
	}
}

// LATENCY LATEST | HISTORY event | RESET [event ...] | DOCTOR | GRAPH event
func (s *Server) cmdLATENCY(c *client, args [][]byte) {
	sl := &s.slow
	sl.mu.Lock()
	defer sl.mu.Unlock()
	sub := lower(args[1])
	switch {
	case sub == "latest" && len(args) == 2:
		names := sl.eventNames()
		c.conn.WriteArray(len(names))
		for _, name := range names {
			ev := sl.events[name]
			last := ev.samples[len(ev.samples)-1]
			c.conn.WriteArray(4)
			c.conn.WriteBulkString(name)
			c.conn.WriteInt64(last.at)
			c.conn.WriteInt64(last.latency)
			c.conn.WriteInt64(ev.max)
		}
	case sub == "history" && len(args) == 3:
		ev := sl.events[string(args[2])]
		if ev == nil {
			c.conn.WriteArray(0)
			return
		}
		c.conn.WriteArray(len(ev.samples))
		for _, smp := range ev.samples {
			c.conn.WriteArray(2)
			c.conn.WriteInt64(smp.at)
			c.conn.WriteInt64(smp.latency)
		}
	case sub == "reset":
		n := 0
		if len(args) == 2 {
			n = len(sl.events)
			sl.events = nil
		} else {
			for _, a := range args[2:] {
				if _, ok := sl.events[string(a)]; ok {
					delete(sl.events, string(a))
					n++
				}
			}
		}
		c.conn.WriteInt(n)
	case sub == "doctor" && len(args) == 2:
		c.conn.WriteBulkString(sl.doctor(s.settings().LatencyMonitorThreshold))
	case sub == "graph" && len(args) == 3:
		ev := sl.events[string(args[2])]
		if ev == nil {
			c.err(Error("ERR No samples available for event '" + string(args[2]) + "'"))
			return
		}
		c.conn.WriteBulkString(graph(string(args[2]), ev))
	default:
		c.err(Error("ERR Unknown LATENCY subcommand or wrong number of arguments"))
	}
}

func (sl *slowlog) eventNames() []string {
	names := make([]string, 0, len(sl.events))
	for name := range sl.events {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func (sl *slowlog) doctor(threshold int64) string {
	if threshold == 0 {
		return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this godisque " +
			"instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it.\n"
	}
	if len(sl.events) == 0 {
		return "Dave, no latency spike was observed during the lifetime of this godisque instance, not in the slightest bit.\n"
	}
	var b strings.Builder
	b.WriteString("Dave, I have observed latency spikes in this godisque instance.\n\n")
	for i, name := range sl.eventNames() {
		ev := sl.events[name]
		var sum int64
		for _, smp := range ev.samples {
			sum += smp.latency
		}
		fmt.Fprintf(&b, "%d. %s: %d latency spikes (average %dms, max %dms).\n",
			i+1, name, len(ev.samples), sum/int64(len(ev.samples)), ev.max)
	}
	b.WriteString("\nI have a few advices for you:\n\n- Check SLOWLOG GET for the commands that were slow.\n")
	return b.String()
}

// graph draws an event's samples as Redis' ASCII art does, simplified: one
// column per sample, height proportional to the latency.
func graph(name string, ev *latencyEvent) string {
	const rows = 4
	var min, max int64 = -1, 0
	for _, smp := range ev.samples {
		if min < 0 || smp.latency < min {
			min = smp.latency
		}
		if smp.latency > max {
			max = smp.latency
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s - high %d ms, low %d ms (all time high %d ms)\n", name, max, min, ev.max)
	b.WriteString(strings.Repeat("-", 80) + "\n")
	for r := rows; r >= 1; r-- {
		for _, smp := range ev.samples {
			if max > 0 && smp.latency*rows >= int64(r)*max {
				b.WriteByte('#')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	now := time.Now().Unix()
	for _, smp := range ev.samples {
		age := strconv.FormatInt(now-smp.at, 10)
		b.WriteByte(age[0])
	}
	b.WriteString("\n")
	return b.String()
}
