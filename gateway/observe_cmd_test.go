package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/godisque/godisque/config"
)

// expectCmd sends one command and checks the exact reply bytes.
func (r *raw) expectCmd(want string, args ...string) {
	r.t.Helper()
	r.send(xmbulk(args...))
	r.expect(want)
}

// SLOWLOG, LATENCY and MONITOR: the ways to watch a node (Redis 3.0's).

func TestObserveSLOWLOG(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	xdo(t, tn, "CONFIG", "SET", "slowlog-log-slower-than", "0") // log everything
	xdo(t, tn, "SLOWLOG", "RESET")
	long := strings.Repeat("x", 200)
	args := []string{"QPEEK", long, "1"}
	r.xcmd(args...)
	if v := r.xcmd("SLOWLOG", "LEN"); v.kind != ':' || v.num < 1 {
		t.Fatalf("SLOWLOG LEN = %+v, want >= 1", v)
	}
	got := r.xcmd("SLOWLOG", "GET", "1")
	if got.kind != '*' || len(got.arr) != 1 {
		t.Fatalf("SLOWLOG GET 1 = %+v, want one entry", got)
	}
	e := got.arr[0]
	if len(e.arr) != 4 || e.arr[0].kind != ':' || e.arr[1].kind != ':' || e.arr[2].kind != ':' || e.arr[3].kind != '*' {
		t.Fatalf("entry = %+v, want [id, time, duration, args]", e)
	}
	if now := time.Now().Unix(); e.arr[1].num < now-60 || e.arr[1].num > now+60 {
		t.Fatalf("entry time = %d, now %d", e.arr[1].num, now)
	}
	// The newest entry is the SLOWLOG LEN before it; find our QPEEK.
	all := r.xcmd("SLOWLOG", "GET", "-1")
	var qpeek []xval
	for _, x := range all.arr {
		if a := x.arr[3].arr; len(a) > 0 && a[0].str == "QPEEK" {
			qpeek = a
		}
	}
	if len(qpeek) != 3 || qpeek[1].str != strings.Repeat("x", 128)+"... (72 more bytes)" {
		t.Fatalf("QPEEK entry args = %+v, want the long argument cut at 128 bytes", qpeek)
	}
	// More than 32 arguments: the 32nd says how many more there were.
	many := []string{"ACKJOB"}
	for i := 0; i < 40; i++ {
		many = append(many, "D-00000000-000000000000000000000000-0000")
	}
	r.xcmd(many...)
	all = r.xcmd("SLOWLOG", "GET", "50")
	found := false
	for _, x := range all.arr {
		if a := x.arr[3].arr; len(a) > 0 && a[0].str == "ACKJOB" {
			found = true
			if len(a) != 32 || a[31].str != "... (10 more arguments)" {
				t.Fatalf("ACKJOB entry has %d args, last %q", len(a), a[len(a)-1].str)
			}
		}
	}
	if !found {
		t.Fatal("ACKJOB not in the slow log")
	}
	r.expectCmd("+OK\r\n", "SLOWLOG", "RESET")
	// RESET is itself logged after it ran, so at most that one entry is left.
	if v := r.xcmd("SLOWLOG", "LEN"); v.num > 1 {
		t.Fatalf("SLOWLOG LEN after RESET = %d", v.num)
	}
	// Disabled: nothing is logged.
	xdo(t, tn, "CONFIG", "SET", "slowlog-log-slower-than", "-1")
	r.xcmd("SLOWLOG", "RESET")
	r.xcmd("PING")
	if v := r.xcmd("SLOWLOG", "LEN"); v.num != 0 {
		t.Fatalf("SLOWLOG LEN with logging off = %d", v.num)
	}
	r.expectCmd("-ERR Unknown SLOWLOG subcommand or wrong number of arguments. Try GET, RESET, LEN.\r\n", "SLOWLOG", "NOPE")
	r.expectCmd("-ERR Unknown SLOWLOG subcommand or wrong number of arguments. Try GET, RESET, LEN.\r\n", "SLOWLOG", "LEN", "1")
	r.expectCmd("-ERR value is not an integer or out of range\r\n", "SLOWLOG", "GET", "abc")
	r.expectCmd("-ERR wrong number of arguments for 'slowlog' command\r\n", "SLOWLOG")
}

func TestObserveLATENCY(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	if v := r.xcmd("LATENCY", "DOCTOR"); v.kind != '$' || !strings.Contains(v.str, "disabled") {
		t.Fatalf("LATENCY DOCTOR with the monitor off = %+v", v)
	}
	r.expectCmd("*0\r\n", "LATENCY", "LATEST")
	xdo(t, tn, "CONFIG", "SET", "latency-monitor-threshold", "5")
	if v := r.xcmd("LATENCY", "DOCTOR"); !strings.Contains(v.str, "no latency spike") {
		t.Fatalf("LATENCY DOCTOR before any spike = %q", v.str)
	}
	r.expectCmd("+OK\r\n", "DEBUG", "SLEEP", "0.03")
	latest := r.xcmd("LATENCY", "LATEST")
	if len(latest.arr) != 1 {
		t.Fatalf("LATENCY LATEST = %+v, want one event", latest)
	}
	ev := latest.arr[0].arr
	if len(ev) != 4 || ev[0].str != "command" || ev[2].num < 30 || ev[3].num < ev[2].num {
		t.Fatalf("event = %+v, want [command, time, >=30 ms, max >= latest]", ev)
	}
	hist := r.xcmd("LATENCY", "HISTORY", "command")
	if len(hist.arr) != 1 || len(hist.arr[0].arr) != 2 || hist.arr[0].arr[1].num < 30 {
		t.Fatalf("LATENCY HISTORY command = %+v", hist)
	}
	r.expectCmd("*0\r\n", "LATENCY", "HISTORY", "nosuchevent")
	if g := r.xcmd("LATENCY", "GRAPH", "command"); g.kind != '$' || !strings.HasPrefix(g.str, "command - high") {
		t.Fatalf("LATENCY GRAPH = %+v", g)
	}
	r.expectCmd("-ERR No samples available for event 'nosuchevent'\r\n", "LATENCY", "GRAPH", "nosuchevent")
	if d := r.xcmd("LATENCY", "DOCTOR"); !strings.Contains(d.str, "1. command: 1 latency spikes") {
		t.Fatalf("LATENCY DOCTOR = %q", d.str)
	}
	r.expectCmd(":0\r\n", "LATENCY", "RESET", "nosuchevent")
	r.expectCmd(":1\r\n", "LATENCY", "RESET")
	r.expectCmd("*0\r\n", "LATENCY", "LATEST")
	r.expectCmd("-ERR Unknown LATENCY subcommand or wrong number of arguments\r\n", "LATENCY", "NOPE")
	r.expectCmd("-ERR Unknown LATENCY subcommand or wrong number of arguments\r\n", "LATENCY", "HISTORY")
}

func TestObserveMONITOR(t *testing.T) {
	tn := startNode(t, func(c *config.Config) { c.RequirePass = "secret" })
	mon := tn.raw(t)
	mon.expectCmd("+OK\r\n", "AUTH", "secret")
	mon.expectCmd("+OK\r\n", "MONITOR")
	other := tn.raw(t)
	other.expectCmd("+OK\r\n", "AUTH", "secret") // never shown
	other.send("*4\r\n$6\r\nADDJOB\r\n$2\r\nmq\r\n$5\r\na\"b\n\xff\r\n$1\r\n0\r\n")
	if v := other.xread(); v.kind != '+' {
		t.Fatalf("ADDJOB = %+v", v)
	}
	line := mon.xread()
	if line.kind != '+' || !strings.HasSuffix(line.str, `"ADDJOB" "mq" "a\"b\n\xff" "0"`) {
		t.Fatalf("monitor line = %q, want the ADDJOB quoted like sdscatrepr", line.str)
	}
	if !strings.Contains(line.str, " [0 127.0.0.1:") {
		t.Fatalf("monitor line = %q, want [0 addr]", line.str)
	}
	var ts float64
	if _, err := fmt.Sscan(strings.Fields(line.str)[0], &ts); err != nil || ts < float64(time.Now().Unix()-60) {
		t.Fatalf("monitor timestamp in %q", line.str)
	}
	// The monitor is still a client; QUIT ends it with +OK.
	list := other.xcmd("CLIENT", "LIST").str
	if strings.Count(list, "\n") < 2 {
		t.Fatalf("CLIENT LIST = %q, want the monitor too", list)
	}
	mon.send("QUIT\r\n")
	for { // the monitor first shows the CLIENT LIST it saw
		v := mon.xread()
		if v.kind == '+' && v.str == "OK" {
			break
		}
		if v.kind != '+' || !strings.Contains(v.str, `"CLIENT" "LIST"`) {
			t.Fatalf("monitor line before QUIT's +OK = %+v", v)
		}
	}
	mon.xclosed()
}

// An embedded node (no Crash or Restart hooks: the library must not end
// its host program) refuses the DEBUG subcommands that would, and answers
// STRUCTSIZE.
func TestDebugProcessCommandsEmbedded(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	for _, sub := range []string{"SEGFAULT", "ASSERT", "OOM", "RESTART", "CRASH-AND-RECOVER"} {
		r.expectCmd("-ERR DEBUG "+sub+" is not supported by an embedded node\r\n", "DEBUG", sub)
	}
	r.expectCmd("-ERR value is not an integer or out of range\r\n", "DEBUG", "RESTART", "-1")
	r.expectCmd("-ERR Unknown DEBUG subcommand or wrong number of arguments for 'SEGFAULT'\r\n", "DEBUG", "SEGFAULT", "now")
	if v := r.xcmd("DEBUG", "STRUCTSIZE"); v.kind != '$' || !strings.HasPrefix(v.str, "bits:64 job:112 ") {
		t.Fatalf("DEBUG STRUCTSIZE = %+v", v)
	}
	r.expectCmd("+PONG\r\n", "PING") // still alive
}

// CLIENT REPLY OFF, SKIP and ON (Redis 3.2): replies are dropped, for good
// or for one command, and the commands still run; pipelines included.
func TestClientReply(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send(xmbulk("CLIENT", "REPLY", "SKIP") + xmbulk("ADDJOB", "cr", "skipped", "0") + xmbulk("QLEN", "cr"))
	r.expect(":1\r\n") // SKIP and the ADDJOB answered nothing; QLEN did
	r.send(xmbulk("CLIENT", "REPLY", "OFF") + xmbulk("ADDJOB", "cr", "a", "0") + xmbulk("ADDJOB", "cr", "b", "0") +
		xmbulk("GETJOB", "NOHANG", "FROM", "cr") + xmbulk("PING") + xmbulk("CLIENT", "REPLY", "ON") + xmbulk("QLEN", "cr"))
	r.expect("+OK\r\n:2\r\n") // only ON's +OK, then QLEN: 3 added, 1 taken
	r.expectCmd("-ERR syntax error\r\n", "CLIENT", "REPLY", "MAYBE")
	r.expectCmd("+PONG\r\n", "PING")
}

// CLIENT PAUSE holds every client's commands until the pause ends.
func TestClientPause(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	other := tn.raw(t)
	r.expectCmd("-ERR timeout is not an integer or out of range\r\n", "CLIENT", "PAUSE", "soon")
	r.expectCmd("-ERR timeout is not an integer or out of range\r\n", "CLIENT", "PAUSE", "-1")
	start := time.Now()
	r.expectCmd("+OK\r\n", "CLIENT", "PAUSE", "300")
	other.expectCmd("+PONG\r\n", "PING")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("a command ran %v into a 300 ms CLIENT PAUSE", d)
	}
	// Pipelines are held too (they are not batched around the pause).
	r.expectCmd("+OK\r\n", "CLIENT", "PAUSE", "200")
	start = time.Now()
	other.send(xmbulk("ADDJOB", "cp", "a", "0") + xmbulk("ADDJOB", "cp", "b", "0"))
	if v := other.xread(); v.kind != '+' || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("pipelined ADDJOB during CLIENT PAUSE = %+v after %v", v, time.Since(start))
	}
	other.xread()
}

// INFO blocked_clients counts clients, not the queues they wait on; QSTAT
// counts per queue.
func TestInfoBlockedClientsCountsClients(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send(xmbulk("GETJOB", "TIMEOUT", "20000", "FROM", "bc1", "bc2", "bc3"))
	xwaitInfo(t, tn, "blocked_clients", "1")
	for _, q := range []string{"bc1", "bc2", "bc3"} {
		st := xdo(t, tn, "QSTAT", q).([]any)
		if st[8] != "blocked" || st[9] != int64(1) {
			t.Fatalf("QSTAT %s blocked = %v %v, want blocked 1", q, st[8], st[9])
		}
	}
	xdo(t, tn, "ADDJOB", "bc2", "x", 0)
	if v := r.xread(); v.kind != '*' || len(v.arr) != 1 || v.arr[0].arr[0].str != "bc2" {
		t.Fatalf("woken with %+v", v)
	}
	xwaitInfo(t, tn, "blocked_clients", "0")
}
