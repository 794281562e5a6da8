package gateway_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godisque/godisque/config"
)

// Black-box tests of the server commands (SPEC.md §5.16–5.22, §6, §14, §17)
// through real clients against a real node. The x-prefixed helpers at the
// end of this file are shared by queues_cmd_test.go, clients_test.go and
// robust_test.go.

// ------------------------------------------------------------------ HELLO ---

// SPEC.md §5.16 (and Disque's helloCommand): a flat array, the version,
// my ID, then one 4-element array per known node:
// [1, myid, [id, ip, port, priority], [id, ip, port, priority]...].
func TestAdminHELLO(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	id := tn.ID()
	port := xport(t, tn)
	xerr(t, tn, "ERR wrong number of arguments for 'hello' command", "HELLO", "3")
	got := r.xcmd("HELLO")
	want := fmt.Sprintf(`[:1 $%q [$%q $"" $%q $"1"]]`, id, id, port)
	if got.String() != want {
		t.Fatalf("HELLO = %s, want %s", got, want)
	}
	// Byte for byte: version is an integer, port and priority bulk strings.
	r.send("HELLO\r\n")
	r.expect(fmt.Sprintf("*3\r\n:1\r\n$40\r\n%s\r\n*4\r\n$40\r\n%s\r\n$0\r\n\r\n$%d\r\n%s\r\n$1\r\n1\r\n",
		id, id, len(port), port))
}

// SPEC.md §5.16: priority 100 for a node that is LEAVING, myself included.
func TestAdminHELLOLeaving(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	prio := func() string {
		t.Helper()
		v := r.xcmd("HELLO")
		if len(v.arr) != 3 {
			t.Fatalf("HELLO = %s", v)
		}
		e := v.arr[2]
		if len(e.arr) != 4 || e.arr[3].kind != '$' {
			t.Fatalf("HELLO = %s", v)
		}
		return e.arr[3].str
	}
	if p := prio(); p != "1" {
		t.Fatalf("HELLO priority = %s, want 1", p)
	}
	xdo(t, tn, "CLUSTER", "LEAVING", "yes")
	if p := prio(); p != "100" {
		t.Fatalf("HELLO priority of a LEAVING node (myself) = %s, want 100", p)
	}
	xdo(t, tn, "CLUSTER", "LEAVING", "no")
	if p := prio(); p != "1" {
		t.Fatalf("HELLO priority after CLUSTER LEAVING no = %s, want 1", p)
	}
}

// ------------------------------------------------------------------- INFO ---

var infoFields = map[string][]string{
	"server": {"disque_version", "disque_git_sha1", "disque_git_dirty", "disque_build_id", "os",
		"arch_bits", "multiplexing_api", "gcc_version", "process_id", "run_id", "tcp_port",
		"uptime_in_seconds", "uptime_in_days", "hz", "executable", "config_file"},
	"clients": {"connected_clients", "client_longest_output_list", "client_biggest_input_buf", "blocked_clients"},
	"memory": {"used_memory", "used_memory_human", "used_memory_rss", "used_memory_peak",
		"used_memory_peak_human", "mem_fragmentation_ratio", "mem_allocator"},
	"jobs":   {"registered_jobs"},
	"queues": {"registered_queues"},
	"persistence": {"loading", "aof_enabled", "aof_state", "aof_rewrite_in_progress", "aof_rewrite_scheduled",
		"aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec", "aof_last_bgrewrite_status",
		"aof_last_write_status"},
	"stats": {"total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
		"total_net_input_bytes", "total_net_output_bytes", "instantaneous_input_kbps",
		"instantaneous_output_kbps", "rejected_connections", "latest_fork_usec"},
	"cpu": {"used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"},
}

var defaultSections = []string{"server", "clients", "memory", "jobs", "queues", "persistence", "stats", "cpu"}

// infoParse splits an INFO text into its sections (lower-case titles, in
// order) and checks the framing: "# Title" headers, "field:value" lines,
// CRLF line ends, one blank line between sections.
func infoParse(t *testing.T, text string) (titles []string, fields map[string]map[string]string) {
	t.Helper()
	fields = map[string]map[string]string{}
	if text == "" {
		return nil, fields
	}
	if !strings.HasSuffix(text, "\r\n") || strings.HasSuffix(text, "\r\n\r\n") {
		t.Fatalf("INFO text must end with exactly one CRLF: %q", text[max(0, len(text)-40):])
	}
	for _, sec := range strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n\r\n") {
		lines := strings.Split(sec, "\r\n")
		if !strings.HasPrefix(lines[0], "# ") {
			t.Fatalf("section without a '# Title' header: %q", lines[0])
		}
		title := strings.ToLower(strings.TrimPrefix(lines[0], "# "))
		titles = append(titles, title)
		fields[title] = map[string]string{}
		for _, l := range lines[1:] {
			k, v, ok := strings.Cut(l, ":")
			if !ok || k == "" || strings.ContainsAny(l, "\r\n") {
				t.Fatalf("INFO %s: bad line %q", title, l)
			}
			fields[title][k] = v
		}
	}
	return titles, fields
}

func TestAdminINFOSections(t *testing.T) {
	tn := startNode(t)
	xdo(t, tn, "PING")

	titles, fields := infoParse(t, xdo(t, tn, "INFO").(string))
	if strings.Join(titles, " ") != strings.Join(defaultSections, " ") {
		t.Fatalf("INFO sections = %v, want %v", titles, defaultSections)
	}
	for sec, names := range infoFields {
		for _, f := range names {
			if _, ok := fields[sec][f]; !ok {
				t.Errorf("INFO %s lacks %s", sec, f)
			}
		}
	}
	if v := fields["server"]["disque_version"]; v != "1.0-rc1" {
		t.Errorf("disque_version = %q, want 1.0-rc1", v)
	}
	if v := fields["server"]["tcp_port"]; v != xport(t, tn) {
		t.Errorf("tcp_port = %q, want the port the node serves on, %s", v, xport(t, tn))
	}
	// Value formats, as Disque prints them.
	for sec, checks := range map[string]map[string]string{
		"server": {"process_id": "^" + strconv.Itoa(os.Getpid()) + "$", "run_id": "^[0-9a-f]{40}$",
			"arch_bits": "^(32|64)$", "hz": "^10$", "uptime_in_seconds": `^\d+$`, "uptime_in_days": "^0$",
			"config_file": "^$", "disque_git_dirty": "^[01]$"},
		"clients": {"connected_clients": `^[1-9]\d*$`, "blocked_clients": "^0$",
			"client_longest_output_list": `^\d+$`, "client_biggest_input_buf": `^\d+$`},
		"memory": {"used_memory": `^[1-9]\d*$`, "used_memory_human": `^(\d+B|\d+\.\d\d[KMGTP])$`,
			"used_memory_peak_human": `^(\d+B|\d+\.\d\d[KMGTP])$`, "mem_fragmentation_ratio": `^\d+\.\d\d$`,
			"used_memory_rss": `^\d+$`, "used_memory_peak": `^[1-9]\d*$`},
		"jobs":        {"registered_jobs": "^0$"},
		"queues":      {"registered_queues": "^0$"},
		"persistence": {"loading": "^0$", "aof_enabled": "^0$", "aof_last_write_status": "^ok$"},
		"stats": {"total_connections_received": `^[1-9]\d*$`, "total_commands_processed": `^[1-9]\d*$`,
			"instantaneous_input_kbps": `^\d+\.\d\d$`, "rejected_connections": "^0$"},
		"cpu": {"used_cpu_sys": `^\d+\.\d\d$`, "used_cpu_user": `^\d+\.\d\d$`,
			"used_cpu_sys_children": `^\d+\.\d\d$`, "used_cpu_user_children": `^\d+\.\d\d$`},
	} {
		for f, re := range checks {
			if v := fields[sec][f]; !regexp.MustCompile(re).MatchString(v) {
				t.Errorf("INFO %s %s = %q, want %s", sec, f, v, re)
			}
		}
	}
	if v := fields["persistence"]["aof_state"]; v != "off" {
		t.Errorf("aof_state = %q, want off", v)
	}

	// One section; names are case-insensitive.
	for _, sec := range append(defaultSections, "SERVER", "Jobs") {
		titles, fields := infoParse(t, xdo(t, tn, "INFO", sec).(string))
		if len(titles) != 1 || titles[0] != strings.ToLower(sec) {
			t.Fatalf("INFO %s sections = %v", sec, titles)
		}
		for _, f := range infoFields[strings.ToLower(sec)] {
			if _, ok := fields[titles[0]][f]; !ok {
				t.Errorf("INFO %s lacks %s", sec, f)
			}
		}
	}

	// commandstats: only with the name or all.
	titles, fields = infoParse(t, xdo(t, tn, "INFO", "commandstats").(string))
	if len(titles) != 1 || titles[0] != "commandstats" {
		t.Fatalf("INFO commandstats sections = %v", titles)
	}
	re := regexp.MustCompile(`^calls=(\d+),usec=\d+,usec_per_call=\d+\.\d\d$`)
	m := re.FindStringSubmatch(fields["commandstats"]["cmdstat_ping"])
	if m == nil || m[1] == "0" {
		t.Fatalf("cmdstat_ping = %q", fields["commandstats"]["cmdstat_ping"])
	}
	for k, v := range fields["commandstats"] {
		if !strings.HasPrefix(k, "cmdstat_") || !re.MatchString(v) {
			t.Errorf("commandstats line %s:%s", k, v)
		}
	}
	titles, _ = infoParse(t, xdo(t, tn, "INFO", "all").(string))
	if want := strings.Join(append(defaultSections, "commandstats"), " "); strings.Join(titles, " ") != want {
		t.Fatalf("INFO all sections = %v, want %s", titles, want)
	}

	// Unknown section: an empty bulk string. Two arguments: syntax error.
	r := tn.raw(t)
	r.send("INFO nosuchsection\r\n")
	r.expect("$0\r\n\r\n")
	r.send("INFO server clients\r\n")
	r.expect("-ERR syntax error\r\n")
}

// The section titles are Disque's, byte for byte ("# CPU", not "# Cpu").
func TestAdminINFOHeaders(t *testing.T) {
	tn := startNode(t)
	xdo(t, tn, "PING")
	text := xdo(t, tn, "INFO", "all").(string)
	var got []string
	for _, l := range strings.Split(text, "\r\n") {
		if strings.HasPrefix(l, "# ") {
			got = append(got, l)
		}
	}
	want := "# Server|# Clients|# Memory|# Jobs|# Queues|# Persistence|# Stats|# CPU|# Commandstats"
	if strings.Join(got, "|") != want {
		t.Fatalf("INFO section titles %s, Disque prints %s", strings.Join(got, "|"), want)
	}
}

// SPEC.md §5.17: a section Disque does not have is an empty bulk string,
// Redis-only names included ("everything" is Redis 7's, not Disque's).
func TestAdminINFOUnknownSections(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	var bad []string
	for _, sec := range []string{"keyspace", "replication", "cluster", "modules", "errorstats", "everything", "x"} {
		if v := r.xcmd("INFO", sec); v.String() != `$""` {
			bad = append(bad, fmt.Sprintf("INFO %s = %.60s", sec, v.String()))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("unknown INFO sections are not empty: %s", strings.Join(bad, "; "))
	}
}

func TestAdminINFOValues(t *testing.T) {
	tn := startNode(t)
	if v := xinfo(t, tn, "registered_jobs"); v != "0" {
		t.Fatalf("registered_jobs = %s on a fresh node", v)
	}
	if v := xinfo(t, tn, "registered_queues"); v != "0" {
		t.Fatalf("registered_queues = %s on a fresh node", v)
	}
	id1 := xdo(t, tn, "ADDJOB", "iq1", "a", 0).(string)
	xdo(t, tn, "ADDJOB", "iq1", "b", 0)
	xdo(t, tn, "ADDJOB", "iq2", "c", 0)
	xwaitInfo(t, tn, "registered_jobs", "3")
	xwaitInfo(t, tn, "registered_queues", "2")
	xdo(t, tn, "ACKJOB", id1)
	xwaitInfo(t, tn, "registered_jobs", "2")

	// blocked_clients counts a blocked GETJOB while it waits.
	xwaitInfo(t, tn, "blocked_clients", "0")
	b := tn.raw(t)
	b.send("GETJOB FROM iqblocked\r\n")
	xwaitInfo(t, tn, "blocked_clients", "1")
	id := xdo(t, tn, "ADDJOB", "iqblocked", "x", 0).(string)
	b.expect("*1\r\n*3\r\n$9\r\niqblocked\r\n$40\r\n" + id + "\r\n$1\r\nx\r\n")
	xwaitInfo(t, tn, "blocked_clients", "0")

	// connected_clients follows connections opening and closing.
	base, _ := strconv.Atoi(xinfo(t, tn, "connected_clients"))
	var conns []*raw
	for i := 0; i < 3; i++ {
		c := tn.raw(t)
		c.send("PING\r\n")
		c.expect("+PONG\r\n")
		conns = append(conns, c)
	}
	xwaitInfo(t, tn, "connected_clients", strconv.Itoa(base+3))
	for _, c := range conns {
		c.c.Close()
	}
	xwaitInfo(t, tn, "connected_clients", strconv.Itoa(base))

	// total_commands_processed grows; CONFIG RESETSTAT clears it.
	before, _ := strconv.Atoi(xinfo(t, tn, "total_commands_processed"))
	xdo(t, tn, "PING")
	after, _ := strconv.Atoi(xinfo(t, tn, "total_commands_processed"))
	if after <= before {
		t.Fatalf("total_commands_processed %d then %d", before, after)
	}
	if v := xdo(t, tn, "CONFIG", "RESETSTAT"); v != "OK" {
		t.Fatalf("CONFIG RESETSTAT = %v", v)
	}
	if n, _ := strconv.Atoi(xinfo(t, tn, "total_commands_processed")); n > 2 {
		t.Fatalf("total_commands_processed = %d after CONFIG RESETSTAT", n)
	}
	_, fields := infoParse(t, xdo(t, tn, "INFO", "commandstats").(string))
	for k := range fields["commandstats"] {
		if k != "cmdstat_info" && k != "cmdstat_config" { // CONFIG RESETSTAT counts itself, as in Redis
			t.Fatalf("commandstats keeps %s after CONFIG RESETSTAT", k)
		}
	}
}

// ------------------------------------------------------- PING QUIT TIME ---

func TestAdminPINGQUITTIME(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("PING\r\n") // inline, as the reference harness probes liveness
	r.expect("+PONG\r\n")
	r.send("*1\r\n$4\r\nPING\r\n")
	r.expect("+PONG\r\n")
	r.send("*2\r\n$4\r\nping\r\n$5\r\nhello\r\n")
	r.expect("$5\r\nhello\r\n")
	r.send("PING \"hello world\"\r\n")
	r.expect("$11\r\nhello world\r\n")
	r.send("*2\r\n$4\r\nPING\r\n$0\r\n\r\n")
	r.expect("$0\r\n\r\n")
	r.send("PING a b\r\n")
	r.expect("-ERR wrong number of arguments for 'ping' command\r\n")

	// TIME: two bulk strings, seconds and microseconds.
	v := r.xcmd("TIME")
	if v.kind != '*' || len(v.arr) != 2 || v.arr[0].kind != '$' || v.arr[1].kind != '$' {
		t.Fatalf("TIME = %s", v)
	}
	sec, err1 := strconv.ParseInt(v.arr[0].str, 10, 64)
	usec, err2 := strconv.ParseInt(v.arr[1].str, 10, 64)
	if err1 != nil || err2 != nil || usec < 0 || usec >= 1e6 {
		t.Fatalf("TIME = %s", v)
	}
	if d := time.Now().Unix() - sec; d < -5 || d > 5 {
		t.Fatalf("TIME seconds %d, now %d", sec, time.Now().Unix())
	}
	r.send("TIME x\r\n")
	r.expect("-ERR wrong number of arguments for 'time' command\r\n")

	// QUIT: +OK, then the connection is closed.
	r.send("QUIT\r\n")
	r.expect("+OK\r\n")
	r.xclosed()
	q := tn.raw(t)
	q.send("*1\r\n$4\r\nquit\r\n")
	q.expect("+OK\r\n")
	q.xclosed()
	q = tn.raw(t) // QUIT is answered before arity checks, as in Redis
	q.send("QUIT now please\r\n")
	q.expect("+OK\r\n")
	q.xclosed()

	xdo(t, tn, "PING")
}

// Redis 3 stops reading a connection's requests at QUIT
// (CLIENT_CLOSE_AFTER_REPLY): commands pipelined after it never run.
func TestAdminQUITPipelined(t *testing.T) {
	tn := startNode(t)
	q := tn.raw(t)
	q.send("PING\r\nQUIT\r\nADDJOB afterquit x 0\r\nPING\r\n")
	q.expect("+PONG\r\n+OK\r\n")
	q.xclosed()
	if v := xdo(t, tn, "QLEN", "afterquit"); v != int64(0) {
		t.Fatalf("a command pipelined after QUIT ran: QLEN afterquit = %v", v)
	}
}

// ------------------------------------------------------------------- AUTH ---

func TestAdminAUTHWithoutPassword(t *testing.T) {
	tn := startNode(t)
	xerr(t, tn, "ERR Client sent AUTH, but no password is set", "AUTH", "x")
	xerr(t, tn, "ERR wrong number of arguments for 'auth' command", "AUTH")
}

func TestAdminAUTHRequirePass(t *testing.T) {
	tn := startNode(t, func(c *config.Config) { c.RequirePass = "s3cret" })
	r := tn.raw(t)
	for _, cmd := range []string{"PING", "INFO", "ADDJOB q b 0", "QLEN q", "HELLO", "CONFIG GET *",
		"SHUTDOWN", "DEBUG FLUSHALL", "COMMAND", "CLUSTER MYID", "GETJOB FROM q"} {
		r.send(cmd + "\r\n")
		r.expect("-NOAUTH Authentication required.\r\n")
	}
	// Unknown command and arity are checked first, as Redis' processCommand.
	r.send("NOSUCH\r\n")
	r.expect("-ERR unknown command 'NOSUCH'\r\n")
	r.send("QLEN\r\n")
	r.expect("-ERR wrong number of arguments for 'qlen' command\r\n")
	q := tn.raw(t) // QUIT needs no password
	q.send("QUIT\r\n")
	q.expect("+OK\r\n")
	q.xclosed()
	r.send("AUTH wrong\r\n")
	r.expect("-ERR invalid password\r\n")
	r.send("PING\r\n")
	r.expect("-NOAUTH Authentication required.\r\n")
	r.send("AUTH s3cret\r\n")
	r.expect("+OK\r\n")
	r.send("PING\r\n")
	r.expect("+PONG\r\n")
	r.send("QLEN q\r\n")
	r.expect(":0\r\n")

	// The harness' client has no password: every command is refused.
	xerr(t, tn, "NOAUTH Authentication required.", "PING")

	// go-redis with the password: HELLO fails (arity), it falls back to AUTH.
	c := xclient(t, tn, func(o *redis.Options) { o.Password = "s3cret" })
	if v, err := c.Do(tn.ctx, "ADDJOB", "aq", "body", 0).Result(); err != nil || len(v.(string)) != 40 {
		t.Fatalf("ADDJOB with password = %v, %v", v, err)
	}
	if v, err := c.Do(tn.ctx, "QLEN", "aq").Result(); err != nil || v != int64(1) {
		t.Fatalf("QLEN with password = %v, %v", v, err)
	}
	c2 := xclient(t, tn, func(o *redis.Options) { o.Password = "bad" })
	if err := c2.Ping(tn.ctx).Err(); err == nil || !strings.Contains(err.Error(), "ERR invalid password") {
		t.Fatalf("PING with a bad password = %v", err)
	}
}

func TestAdminAUTHSetAtRunTime(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("PING\r\n")
	r.expect("+PONG\r\n")
	r.send("CONFIG SET requirepass pw\r\n")
	r.expect("+OK\r\n")
	// A new connection must authenticate.
	n := tn.raw(t)
	n.send("PING\r\n")
	n.expect("-NOAUTH Authentication required.\r\n")
	n.send("AUTH pw\r\n")
	n.expect("+OK\r\n")
	n.send("CONFIG SET requirepass \"\"\r\n")
	n.expect("+OK\r\n")
	n2 := tn.raw(t)
	n2.send("PING\r\n")
	n2.expect("+PONG\r\n")
	n2.send("AUTH pw\r\n")
	n2.expect("-ERR Client sent AUTH, but no password is set\r\n")

	// SPEC §2: NOAUTH for a client that has not authenticated while
	// requirepass is set — also one that was connected before it was set.
	r.send("CONFIG SET requirepass pw2\r\n")
	r.expect("+OK\r\n")
	r.send("PING\r\n")
	if got := r.xread(); got.String() != "-NOAUTH Authentication required." {
		t.Fatalf("a connection that never authenticated keeps running commands after CONFIG SET requirepass: PING = %s", got)
	}
}

// ----------------------------------------------------------------- CONFIG ---

var configGetOrder = strings.Fields(`requirepass unixsocket logfile pidfile maxmemory maxmemory-samples
	timeout auto-aof-rewrite-percentage auto-aof-rewrite-min-size slowlog-log-slower-than
	latency-monitor-threshold slowlog-max-len port tcp-backlog databases maxclients watchdog-period hz
	cluster-node-timeout tcp-keepalive no-appendfsync-on-rewrite daemonize activerehashing
	aof-rewrite-incremental-fsync aof-load-truncated aof-enqueue-jobs-once maxmemory-policy loglevel
	appendfsync syslog-facility appendonly dir client-output-buffer-limit unixsocketperm bind`)

func TestAdminCONFIGGET(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	all := r.xcmd("CONFIG", "GET", "*")
	if all.kind != '*' || len(all.arr) != 70 {
		t.Fatalf("CONFIG GET * = %d elements (%s), want 70", len(all.arr), all)
	}
	values := map[string]string{}
	for i, name := range configGetOrder {
		k, v := all.arr[2*i], all.arr[2*i+1]
		if k.kind != '$' || k.str != name || v.kind != '$' {
			t.Fatalf("CONFIG GET * pair %d = %s %s, want name %s", i, k, v, name)
		}
		values[name] = v.str
	}
	for name, want := range map[string]string{
		"maxmemory": "1073741824", "maxclients": "10000", "hz": "10", "appendonly": "no",
		"activerehashing": "yes", "daemonize": "no", "appendfsync": "everysec",
		"maxmemory-policy": "acks", "requirepass": "", "cluster-node-timeout": "15000",
		"databases": "16", "tcp-backlog": "511",
	} {
		if values[name] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", name, values[name], want)
		}
	}

	r.send("CONFIG GET save\r\n")
	r.expect("*0\r\n")
	r.send("CONFIG GET nosuch*\r\n")
	r.expect("*0\r\n")
	if got := r.xcmd("CONFIG", "GET", "maxmemory*").String(); got !=
		`[$"maxmemory" $"1073741824" $"maxmemory-samples" $"5" $"maxmemory-policy" $"acks"]` {
		t.Fatalf("CONFIG GET maxmemory* = %s", got)
	}
	if got := r.xcmd("CONFIG", "GET", "h?").String(); got != `[$"hz" $"10"]` {
		t.Fatalf("CONFIG GET h? = %s", got)
	}
	if got := r.xcmd("CONFIG", "GET", "*port").String(); got != `[$"port" $"`+values["port"]+`"]` {
		t.Fatalf("CONFIG GET *port = %s", got)
	}
	if got := r.xcmd("CONFIG", "GET", "[mh]*z").String(); got != `[$"hz" $"10"]` {
		t.Fatalf("CONFIG GET [mh]*z = %s", got)
	}
}

func TestAdminCONFIGSET(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	set := func(name, value, want string) {
		t.Helper()
		if got := r.xcmd("CONFIG", "SET", name, value).String(); got != want {
			t.Fatalf("CONFIG SET %s %q = %s, want %s", name, value, got, want)
		}
	}
	get := func(name, want string) {
		t.Helper()
		if got := r.xcmd("CONFIG", "GET", name).String(); got != fmt.Sprintf(`[$%q $%q]`, name, want) {
			t.Fatalf("CONFIG GET %s = %s, want %s", name, got, want)
		}
	}
	set("hz", "20", "+OK")
	get("hz", "20")
	set("maxmemory", "3mb", "+OK")
	get("maxmemory", "3145728")
	set("maxmemory", "2GB", "+OK")
	get("maxmemory", "2147483648")
	set("maxmemory", "1024", "+OK")
	get("maxmemory", "1024")
	set("maxmemory", "1gb", "+OK")
	get("maxmemory", "1073741824")
	set("MAXCLIENTS", "500", "+OK")
	get("maxclients", "500")
	set("activerehashing", "no", "+OK")
	get("activerehashing", "no")
	set("maxmemory-policy", "noeviction", "+OK")
	get("maxmemory-policy", "noeviction")
	set("appendfsync", "always", "+OK")
	get("appendfsync", "always")

	set("nosuch", "1", "-ERR Unsupported CONFIG parameter: nosuch")
	set("port", "7000", "-ERR Unsupported CONFIG parameter: port")
	set("hz", "abc", "-ERR Invalid argument 'abc' for CONFIG SET 'hz'")
	set("maxmemory", "lots", "-ERR Invalid argument 'lots' for CONFIG SET 'maxmemory'")
	set("maxclients", "x", "-ERR Invalid argument 'x' for CONFIG SET 'maxclients'")
	set("activerehashing", "maybe", "-ERR Invalid argument 'maybe' for CONFIG SET 'activerehashing'")
	set("appendfsync", "sometimes", "-ERR Invalid argument 'sometimes' for CONFIG SET 'appendfsync'")
	get("maxmemory", "1073741824")
	get("hz", "20")

	r.send("CONFIG REWRITE\r\n")
	r.expect("-ERR The server is running without a config file\r\n")
	r.send("CONFIG RESETSTAT\r\n")
	r.expect("+OK\r\n")
	for _, bad := range []string{"CONFIG FOO", "CONFIG GETALL x"} {
		r.send(bad + "\r\n")
		r.expect("-ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE\r\n")
	}
	r.send("CONFIG\r\n")
	r.expect("-ERR wrong number of arguments for 'config' command\r\n")
}

// SPEC.md §5.19 and Disque's configCommand: a known subcommand with the
// wrong number of arguments is "Wrong number of arguments for CONFIG <sub>",
// the subcommand echoed as sent; only unknown subcommands get the list.
func TestAdminCONFIGArity(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	var bad []string
	for cmd, want := range map[string]string{
		"CONFIG GET":           "-ERR Wrong number of arguments for CONFIG GET",
		"CONFIG GET a b":       "-ERR Wrong number of arguments for CONFIG GET",
		"CONFIG SET hz":        "-ERR Wrong number of arguments for CONFIG SET",
		"CONFIG SET hz 10 x":   "-ERR Wrong number of arguments for CONFIG SET",
		"CONFIG RESETSTAT now": "-ERR Wrong number of arguments for CONFIG RESETSTAT",
		"CONFIG REWRITE x":     "-ERR Wrong number of arguments for CONFIG REWRITE",
		"config get":           "-ERR Wrong number of arguments for CONFIG get",
		"Config Set x":         "-ERR Wrong number of arguments for CONFIG Set",
	} {
		if got := r.xcmd(strings.Fields(cmd)...).String(); got != want {
			bad = append(bad, fmt.Sprintf("%q = %s, want %s", cmd, got, want))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("CONFIG arity errors: %s", strings.Join(bad, "; "))
	}
}

// SPEC.md §14: CONFIG SET maxmemory 1 (policy acks, nothing evictable):
// ADDJOB, ENQUEUE and NACK answer -OOM, which Disque checks before running
// the command (so before ADDJOB's replication checks); other commands work.
func TestAdminMaxmemoryOOM(t *testing.T) {
	tn := startNode(t)
	id := xdo(t, tn, "ADDJOB", "mq", "kept", 0).(string)
	xdo(t, tn, "GETJOB", "FROM", "mq")
	xdo(t, tn, "CONFIG", "SET", "maxmemory", "1")
	const oom = "OOM command not allowed when used memory > 'maxmemory'."
	_, err := tn.do("ADDJOB", "mq", "x", 0)
	if err == nil || err.Error() != oom {
		t.Fatalf("ADDJOB at maxmemory 1 = %v, want %s", err, oom)
	}
	// Checked before the command runs: OOM wins over a syntax error.
	xerr(t, tn, oom, "ADDJOB", "mq", "x", "notanumber", "BOGUS")
	xerr(t, tn, oom, "ENQUEUE", id)
	xerr(t, tn, oom, "NACK", id)
	if v := xdo(t, tn, "QLEN", "mq"); v != int64(0) {
		t.Fatalf("QLEN = %v", v)
	}
	xdo(t, tn, "PING")
	xdo(t, tn, "SHOW", id)
	xdo(t, tn, "CONFIG", "SET", "maxmemory-policy", "noeviction")
	xerr(t, tn, oom, "ADDJOB", "mq", "x", 0)
	xdo(t, tn, "CONFIG", "SET", "maxmemory", "1gb")
	if v := xdo(t, tn, "ENQUEUE", id); v != int64(1) {
		t.Fatalf("ENQUEUE after raising maxmemory = %v", v)
	}
	if v := xdo(t, tn, "ADDJOB", "mq", "x", 0).(string); len(v) != 40 {
		t.Fatalf("ADDJOB after raising maxmemory = %v", v)
	}
}

// SPEC.md §14 / §5.1 step 6: maxmemory 0 is not "unlimited": the node
// replicates externally, and alone it cannot, so ADDJOB is refused with the
// out-of-memory NOREPL (never -OOM: that check is skipped at maxmemory 0).
func TestAdminMaxmemoryZero(t *testing.T) {
	tn := startNode(t)
	xdo(t, tn, "CONFIG", "SET", "maxmemory", "0")
	xerr(t, tn, "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm out of memory",
		"ADDJOB", "zq", "x", 0, "REPLICATE", 1)
	xerr(t, tn, "NOREPL Not enough reachable nodes for the requested replication level",
		"ADDJOB", "zq", "x", 0, "REPLICATE", 3)
}

// SPEC.md §14 level 1 (used > 75% of maxmemory): ADDJOB replicates
// externally, which a node alone cannot do; commands that may use memory
// are not refused with -OOM below 95%.
func TestAdminMaxmemoryLevel1(t *testing.T) {
	tn := startNode(t)
	id := xdo(t, tn, "ADDJOB", "m1", "x", 0).(string)
	xdo(t, tn, "GETJOB", "FROM", "m1")
	used, err := strconv.ParseInt(xinfo(t, tn, "used_memory"), 10, 64)
	if err != nil || used <= 0 {
		t.Fatalf("used_memory = %d, %v", used, err)
	}
	xdo(t, tn, "CONFIG", "SET", "maxmemory", strconv.FormatInt(used*100/85, 10)) // used = 85%
	xerr(t, tn, "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm out of memory",
		"ADDJOB", "m1", "y", 0)
	if v := xdo(t, tn, "ENQUEUE", id); v != int64(1) {
		t.Fatalf("ENQUEUE at level 1 = %v", v)
	}
	if v := xdo(t, tn, "QLEN", "m1"); v != int64(1) {
		t.Fatalf("QLEN = %v", v)
	}
}

// SPEC.md §14: the reference test suite relies on CONFIG SET maxmemory 1
// making empty queues vanish within seconds (idle eviction at 2 s).
func TestAdminMaxmemoryEvictsIdleQueues(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	_, _ = tn.do("GETJOB", "NOHANG", "FROM", "idleq")
	r := tn.raw(t)
	if v := r.xcmd("QSTAT", "idleq"); v.kind != '*' || len(v.arr) != 20 {
		t.Fatalf("QSTAT idleq = %s: GETJOB NOHANG must create the queue", v)
	}
	xdo(t, tn, "PAUSE", "pausedq", "in")
	xdo(t, tn, "CONFIG", "SET", "maxmemory", "1")
	deadline := time.Now().Add(15 * time.Second)
	for r.xcmd("QSTAT", "idleq").String() != "*nil" {
		if time.Now().After(deadline) {
			t.Fatal("an idle empty queue survives 15 s at maxmemory 1")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Paused queues are never garbage-collected (SPEC.md §5.15).
	if v := r.xcmd("QSTAT", "pausedq"); v.kind != '*' || len(v.arr) != 20 {
		t.Fatalf("QSTAT pausedq = %s: a paused queue was evicted", v)
	}
}

// ------------------------------------------------------------------ DEBUG ---

func TestAdminDEBUG(t *testing.T) {
	tn := startNode(t)
	ids := []string{
		xdo(t, tn, "ADDJOB", "dq1", "a", 0).(string),
		xdo(t, tn, "ADDJOB", "dq2", "b", 0).(string),
		xdo(t, tn, "ADDJOB", "dq2", "c", 0, "DELAY", 100).(string),
	}
	xdo(t, tn, "PAUSE", "dq3", "in")
	_, _ = tn.do("GETJOB", "NOHANG", "FROM", "dq4") // creates an empty queue

	r := tn.raw(t)
	r.send("DEBUG FLUSHALL\r\n")
	r.expect("+OK\r\n")
	xwaitInfo(t, tn, "registered_jobs", "0")
	xwaitInfo(t, tn, "registered_queues", "0")
	for _, id := range ids {
		r.send("SHOW " + id + "\r\n")
		r.expect("$-1\r\n")
	}
	for _, q := range []string{"dq1", "dq2", "dq3", "dq4"} {
		r.send("QSTAT " + q + "\r\n")
		r.expect("*-1\r\n")
	}
	r.send("QSCAN BUSYLOOP\r\n")
	r.expect("*2\r\n$1\r\n0\r\n*0\r\n")

	r.send("DEBUG SLEEP 0\r\n")
	r.expect("+OK\r\n")
	r.send("DEBUG SLEEP 0.05\r\n")
	r.expect("+OK\r\n")
	r.send("DEBUG ERROR \"Some error text\"\r\n")
	r.expect("-Some error text\r\n")
	r.send("DEBUG ERROR NOJOB custom\r\n")
	r.expect("-ERR Unknown DEBUG subcommand or wrong number of arguments for 'ERROR'\r\n")
	r.send("DEBUG NOSUCH\r\n")
	r.expect("-ERR Unknown DEBUG subcommand or wrong number of arguments for 'NOSUCH'\r\n")
	r.send("debug nosuch 1 2\r\n")
	r.expect("-ERR Unknown DEBUG subcommand or wrong number of arguments for 'nosuch'\r\n")
	r.send(xmbulk("DEBUG", "ERROR", "two\r\nlines\nhere")) // no newlines in errors
	r.expect("-two  lines here\r\n")
	r.send("DEBUG\r\n")
	r.expect("-ERR wrong number of arguments for 'debug' command\r\n")
	xdo(t, tn, "ADDJOB", "dq1", "after", 0)
	xwaitInfo(t, tn, "registered_jobs", "1")
}

// ---------------------------------------------------------------- COMMAND ---

// The command table of Disque 1.0-rc1 (SPEC.md §5, §5.22: 32 commands).
var disqueArity = map[string]int{
	"addjob": -4, "getjob": -2, "ackjob": -1, "fastack": -1, "working": 2, "nack": -1, "enqueue": -1,
	"dequeue": -1, "deljob": -1, "show": 2, "qlen": 2, "qpeek": 3, "qstat": 2, "qscan": -1, "jscan": -1,
	"pause": -3, "hello": 1, "info": -1, "cluster": -2, "config": -2, "debug": -2, "bgrewriteaof": 1,
	"shutdown": -1, "loadjob": 2, "ping": -1, "auth": 2, "time": 1, "command": 0, "monitor": 1,
	"client": -2, "slowlog": -2, "latency": -2,
}

func TestAdminCOMMAND(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	all := r.xcmd("COMMAND")
	if all.kind != '*' {
		t.Fatalf("COMMAND = %s", all)
	}
	seen := map[string]xval{}
	for _, e := range all.arr {
		if e.kind != '*' || len(e.arr) != 6 || e.arr[0].kind != '$' || e.arr[1].kind != ':' ||
			e.arr[2].kind != '*' || e.arr[3].kind != ':' || e.arr[4].kind != ':' || e.arr[5].kind != ':' {
			t.Fatalf("COMMAND entry %s: want [name arity [flags] first last step]", e)
		}
		for _, f := range e.arr[2].arr {
			if f.kind != '+' {
				t.Fatalf("COMMAND %s flag %s is not a status reply", e.arr[0].str, f)
			}
		}
		seen[e.arr[0].str] = e
	}
	for name, arity := range disqueArity {
		e, ok := seen[name]
		if !ok {
			t.Errorf("COMMAND lacks %s", name)
			continue
		}
		if e.arr[1].num != int64(arity) {
			t.Errorf("COMMAND %s arity %d, want %d", name, e.arr[1].num, arity)
		}
	}
	var extra []string
	for name := range seen {
		if _, ok := disqueArity[name]; !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)

	r.send("COMMAND INFO addjob GETJOB nosuch\r\n")
	got := r.xread()
	if got.kind != '*' || len(got.arr) != 3 || got.arr[0].String() != seen["addjob"].String() ||
		got.arr[1].String() != seen["getjob"].String() || got.arr[2].String() != "$nil" {
		t.Fatalf("COMMAND INFO addjob GETJOB nosuch = %s", got)
	}
	r.send("COMMAND INFO\r\n")
	r.expect("*0\r\n")
	r.send("COMMAND NOSUCH\r\n")
	r.expect("-ERR Unknown subcommand or wrong number of arguments.\r\n")
	r.send("COMMAND COUNT\r\n")
	cnt := r.xread()
	if cnt.kind != ':' || cnt.num != int64(len(all.arr)) {
		t.Fatalf("COMMAND COUNT = %s, COMMAND lists %d", cnt, len(all.arr))
	}
	if len(extra) > 0 || cnt.num != 32 {
		t.Fatalf("COMMAND lists %d commands, SPEC §5.22 says 32; not in Disque's table: %v", cnt.num, extra)
	}
}

// The flags of Disque 1.0-rc1's command table (server.c), in the order its
// COMMAND prints them: write readonly denyoom admin random loading
// skip_monitor fast.
var disqueFlags = map[string]string{
	"auth": "readonly loading fast", "ping": "readonly fast", "info": "readonly loading",
	"shutdown": "readonly admin loading", "monitor": "readonly admin", "debug": "admin",
	"config": "readonly admin", "cluster": "readonly admin", "client": "readonly admin",
	"slowlog": "readonly", "time": "readonly fast", "command": "readonly loading",
	"latency": "readonly admin loading", "hello": "readonly fast",
	"addjob": "write denyoom fast", "getjob": "write fast", "ackjob": "write fast",
	"fastack": "write fast", "deljob": "write fast", "show": "readonly fast", "loadjob": "write",
	"bgrewriteaof": "readonly admin", "qlen": "readonly fast", "qpeek": "readonly",
	"qstat": "readonly fast", "qscan": "readonly", "jscan": "readonly",
	"enqueue": "write denyoom fast", "nack": "write denyoom fast", "dequeue": "write fast",
	"working": "write fast", "pause": "readonly fast",
}

func TestAdminCOMMANDFlags(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	var diff []string
	for _, e := range r.xcmd("COMMAND").arr {
		name := e.arr[0].str
		var flags []string
		for _, f := range e.arr[2].arr {
			flags = append(flags, f.str)
		}
		if got, want := strings.Join(flags, " "), disqueFlags[name]; got != want {
			diff = append(diff, fmt.Sprintf("%s [%s] want [%s]", name, got, want))
		}
	}
	sort.Strings(diff)
	if len(diff) > 0 {
		t.Fatalf("COMMAND flags differ from Disque's table: %s", strings.Join(diff, "; "))
	}
}

// ---------------------------------------------------------------- CLUSTER ---

func TestAdminCLUSTER(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	id := tn.ID()

	info := r.xcmd("CLUSTER", "INFO")
	if info.kind != '$' {
		t.Fatalf("CLUSTER INFO = %s", info)
	}
	for _, l := range []string{"cluster_state:ok", "cluster_known_nodes:1", "cluster_reachable_nodes:0", "cluster_size:1"} {
		if !strings.Contains(info.str, l+"\r\n") {
			t.Errorf("CLUSTER INFO lacks %q: %q", l, info.str)
		}
	}
	for _, f := range []string{"cluster_stats_messages_sent:", "cluster_stats_messages_received:"} {
		if !strings.Contains(info.str, f) {
			t.Errorf("CLUSTER INFO lacks %q", f)
		}
	}
	nodes := r.xcmd("CLUSTER", "NODES")
	re := regexp.MustCompile(`^` + id + ` [0-9.]*:(\d+) myself \d+ \d+ connected\n$`)
	m := re.FindStringSubmatch(nodes.str)
	if nodes.kind != '$' || m == nil || m[1] != xport(t, tn) {
		t.Fatalf("CLUSTER NODES = %s (port %s)", nodes, xport(t, tn))
	}
	if r.xcmd("CLUSTER", "MYID").String() != fmt.Sprintf("$%q", id) {
		t.Fatal("CLUSTER MYID is not the node ID")
	}

	// LEAVING: status replies.
	r.send("CLUSTER LEAVING\r\n")
	r.expect("+no\r\n")
	r.send("CLUSTER LEAVING yes\r\n")
	r.expect("+OK\r\n")
	r.send("CLUSTER leaving\r\n")
	r.expect("+yes\r\n")
	r.send("ADDJOB lq x 0\r\n")
	r.expect("-NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm leaving the cluster\r\n")
	r.send("GETJOB NOHANG FROM lq\r\n")
	r.expect("*-1\r\n")
	r.send("GETJOB TIMEOUT 5000 FROM lq\r\n")
	r.expect("-LEAVING This node is leaving the cluster, please connect to a different one\r\n")
	nodesLeaving := r.xcmd("CLUSTER", "NODES").str
	r.send("CLUSTER LEAVING maybe\r\n")
	r.expect("-ERR Wrong argument for CLUSTER LEAVING. Use 'yes' or 'no'\r\n")
	r.send("CLUSTER LEAVING NO\r\n")
	r.expect("+OK\r\n")
	r.send("CLUSTER LEAVING\r\n")
	r.expect("+no\r\n")

	// FORGET.
	r.send("CLUSTER FORGET abc\r\n")
	r.expect("-ERR Invalid node identifier\r\n")
	r.send("CLUSTER FORGET " + id + "\r\n")
	r.expect("-ERR I tried hard but I can't forget myself...\r\n")
	other := strings.Repeat("ab", 20)
	r.send("CLUSTER FORGET " + other + "\r\n")
	r.expect("-ERR Unknown node " + other + "\r\n")

	for _, bad := range []string{"CLUSTER NOSUCH", "CLUSTER INFO x", "CLUSTER MYID x", "CLUSTER NODES x",
		"CLUSTER FORGET", "CLUSTER LEAVING yes no", "CLUSTER RESET HARD now"} {
		r.send(bad + "\r\n")
		r.expect("-ERR Wrong CLUSTER subcommand or number of arguments\r\n")
	}
	r.send("CLUSTER\r\n")
	r.expect("-ERR wrong number of arguments for 'cluster' command\r\n")
	r.send("CLUSTER RESET MEDIUM\r\n")
	r.expect("-ERR syntax error\r\n")

	// RESET SOFT: jobs and queues gone, same ID; blocked GETJOB gets *-1.
	jid := xdo(t, tn, "ADDJOB", "rq", "x", 0).(string)
	r.send("CLUSTER RESET SOFT\r\n")
	r.expect("+OK\r\n")
	r.send("SHOW " + jid + "\r\n")
	r.expect("$-1\r\n")
	xwaitInfo(t, tn, "registered_jobs", "0")
	xwaitInfo(t, tn, "registered_queues", "0")
	if r.xcmd("CLUSTER", "MYID").str != id {
		t.Fatal("CLUSTER RESET SOFT changed the node ID")
	}
	xdo(t, tn, "ADDJOB", "rq", "x", 0)
	r.send("CLUSTER RESET\r\n")
	r.expect("+OK\r\n")
	xwaitInfo(t, tn, "registered_jobs", "0")

	// RESET HARD: a new ID, seen by MYID, HELLO and new job IDs.
	jid = xdo(t, tn, "ADDJOB", "rq", "x", 0).(string)
	r.send("CLUSTER RESET HARD\r\n")
	r.expect("+OK\r\n")
	nid := r.xcmd("CLUSTER", "MYID").str
	if len(nid) != 40 || nid == id || !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(nid) {
		t.Fatalf("CLUSTER RESET HARD: ID %q (was %q)", nid, id)
	}
	hello := r.xcmd("HELLO")
	if len(hello.arr) != 3 || hello.arr[1].str != nid || !strings.Contains(hello.arr[2].String(), nid) {
		t.Fatalf("HELLO after RESET HARD = %s, want ID %s", hello, nid)
	}
	r.send("SHOW " + jid + "\r\n")
	r.expect("$-1\r\n")
	xwaitInfo(t, tn, "registered_jobs", "0")
	njid := xdo(t, tn, "ADDJOB", "rq", "x", 0).(string)
	if njid[2:10] != nid[:8] {
		t.Fatalf("job ID %s after RESET HARD does not carry the new node ID %s", njid, nid)
	}

	// SPEC.md §5.18: the flags of a LEAVING node are "myself,leaving".
	if !strings.Contains(nodesLeaving, " myself,leaving ") {
		t.Fatalf("CLUSTER NODES while LEAVING = %q, want flags myself,leaving", nodesLeaving)
	}
}

// SPEC.md §5.2, §5.18, §5.20: DEBUG FLUSHALL and CLUSTER RESET answer a
// blocked GETJOB with *-1, and the connection is usable afterwards.
func TestAdminFlushWakesBlocked(t *testing.T) {
	for _, cmd := range []string{"DEBUG FLUSHALL", "CLUSTER RESET SOFT", "CLUSTER RESET HARD"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			tn := startNode(t)
			xdo(t, tn, "ADDJOB", "other", "a", 0)
			b := tn.raw(t)
			b.send("GETJOB TIMEOUT 500 FROM blockq\r\n")
			xwaitInfo(t, tn, "blocked_clients", "1")
			var args []any
			for _, a := range strings.Fields(cmd) {
				args = append(args, a)
			}
			xdo(t, tn, args...)
			got, err := b.xreadWithin(4 * time.Second)
			if err != nil {
				t.Fatalf("a GETJOB blocked during %s is never answered (not even at its TIMEOUT): %v", cmd, err)
			}
			if got.String() != "*nil" {
				t.Fatalf("blocked GETJOB after %s = %s, want *-1", cmd, got)
			}
			xwaitInfo(t, tn, "blocked_clients", "0")
			xwaitInfo(t, tn, "registered_queues", "0")
			xwaitInfo(t, tn, "registered_jobs", "0")
			b.send("PING\r\n")
			b.expect("+PONG\r\n")
		})
	}
}

// SPEC.md §5.2: a GETJOB blocked when the node starts LEAVING is answered
// -LEAVING at once; jobs already queued can still be fetched.
func TestAdminLeavingKicksBlocked(t *testing.T) {
	tn := startNode(t)
	id := xdo(t, tn, "ADDJOB", "full", "x", 0).(string)
	b := tn.raw(t)
	b.send("GETJOB TIMEOUT 30000 FROM emptyq\r\n")
	xwaitInfo(t, tn, "blocked_clients", "1")
	xdo(t, tn, "CLUSTER", "LEAVING", "yes")
	b.expect("-LEAVING This node is leaving the cluster, please connect to a different one\r\n")
	xwaitInfo(t, tn, "blocked_clients", "0")
	b.send("GETJOB FROM emptyq full\r\n")
	b.expect("*1\r\n*3\r\n$4\r\nfull\r\n$40\r\n" + id + "\r\n$1\r\nx\r\n")
	xdo(t, tn, "CLUSTER", "LEAVING", "no")
	b.send("GETJOB TIMEOUT 100 FROM emptyq\r\n")
	b.expect("*-1\r\n")
}

// ------------------------------------------ Errors shared by every command ---

func TestAdminGenericErrors(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("LOADJOB somedata\r\n")
	r.expect("-ERR LOADJOB is a special command only processed from AOF\r\n")
	r.send("LOADJOB\r\n")
	r.expect("-ERR wrong number of arguments for 'loadjob' command\r\n")
	// Unknown command: the name echoed exactly as sent.
	for _, name := range []string{"FooBar", "foobar", "SET", "x.y-z", "ÄÖ"} {
		r.send(name + " a b\r\n")
		r.expect("-ERR unknown command '" + name + "'\r\n")
	}
	r.send("*2\r\n$6\r\nNoSuCh\r\n$1\r\nx\r\n")
	r.expect("-ERR unknown command 'NoSuCh'\r\n")
	// Arity: the table name in lower case, whatever the case sent.
	for cmd, name := range map[string]string{"QLEN": "qlen", "AddJob q b": "addjob", "Show": "show",
		"WORKING a b": "working", "GETJOB": "getjob", "pause q": "pause", "QPEEK q": "qpeek", "QSTAT": "qstat"} {
		r.send(cmd + "\r\n")
		r.expect("-ERR wrong number of arguments for '" + name + "' command\r\n")
	}
}

// --------------------------------------------------------------- SHUTDOWN ---

func TestAdminSHUTDOWN(t *testing.T) {
	tn := startNode(t)
	jid := xdo(t, tn, "ADDJOB", "sq", "x", 0).(string)
	r := tn.raw(t)
	r.send("SHUTDOWN now\r\n")
	r.expect("-ERR syntax error\r\n")
	r.send("SHOW " + jid + "\r\n")
	if v := r.xread(); v.kind != '*' {
		t.Fatalf("SHOW after refused SHUTDOWN = %s", v)
	}
	other := tn.raw(t)
	other.send("PING\r\n")
	other.expect("+PONG\r\n")

	r.send("SHUTDOWN\r\n")
	r.xclosed() // no reply at all
	select {
	case <-tn.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("node still running 15 s after SHUTDOWN")
	}
	other.xclosed()
	if c, err := net.DialTimeout("tcp", tn.Addr(), time.Second); err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write([]byte("PING\r\n"))
		if b, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			t.Fatalf("a stopped node still answers: %q", b)
		}
	}
}

// ================================================================ helpers ===

// xval is one RESP reply as read from the wire, its type kept.
type xval struct {
	kind byte // '+' status, '-' error, ':' integer, '$' bulk, '*' array
	str  string
	num  int64
	arr  []xval
	null bool
}

// String renders a reply compactly with its types, for exact comparisons:
// +status -error :int $"bulk" $nil [a b] *nil.
func (v xval) String() string {
	switch v.kind {
	case '+', '-':
		return string(v.kind) + v.str
	case ':':
		return ":" + strconv.FormatInt(v.num, 10)
	case '$':
		if v.null {
			return "$nil"
		}
		return "$" + strconv.Quote(v.str)
	case '*':
		if v.null {
			return "*nil"
		}
		parts := make([]string, len(v.arr))
		for i, e := range v.arr {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return "?"
}

func xparse(rd *bufio.Reader) (xval, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return xval{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return xval{}, fmt.Errorf("bad reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', '-':
		return xval{kind: kind, str: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return xval{kind: kind, num: n}, err
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return xval{}, err
		}
		if n < 0 {
			return xval{kind: kind, null: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return xval{}, err
		}
		if string(buf[n:]) != "\r\n" {
			return xval{}, fmt.Errorf("bulk not followed by CRLF")
		}
		return xval{kind: kind, str: string(buf[:n])}, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return xval{}, err
		}
		if n < 0 {
			return xval{kind: kind, null: true}, nil
		}
		v := xval{kind: kind, arr: make([]xval, 0, n)}
		for i := 0; i < n; i++ {
			e, err := xparse(rd)
			if err != nil {
				return xval{}, err
			}
			v.arr = append(v.arr, e)
		}
		return v, nil
	}
	return xval{}, fmt.Errorf("bad reply type %q", line)
}

// xread reads one whole reply.
func (r *raw) xread() xval {
	r.t.Helper()
	v, err := r.xreadWithin(15 * time.Second)
	if err != nil {
		r.t.Fatalf("read reply: %v", err)
	}
	return v
}

// xreadWithin reads one whole reply, failing after d.
func (r *raw) xreadWithin(d time.Duration) (xval, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	return xparse(r.rd)
}

// xcmd sends one multibulk request and reads its reply.
func (r *raw) xcmd(args ...string) xval {
	r.t.Helper()
	r.send(xmbulk(args...))
	return r.xread()
}

// xclosed checks that the server closed the connection without sending
// anything more.
func (r *raw) xclosed() {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	b, err := r.rd.ReadByte()
	if err == nil {
		rest, _ := r.rd.Peek(r.rd.Buffered())
		r.t.Fatalf("connection still open, got %q", append([]byte{b}, rest...))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatal("connection still open (read timed out)")
	}
}

// xmbulk encodes a multibulk request.
func xmbulk(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// xdo runs a command through go-redis and fails the test on an error.
func xdo(t *testing.T, tn *testNode, args ...any) any {
	t.Helper()
	v, err := tn.do(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// xerr runs a command through go-redis and checks its error reply.
func xerr(t *testing.T, tn *testNode, want string, args ...any) {
	t.Helper()
	v, err := tn.do(args...)
	if err == nil || err.Error() != want {
		t.Fatalf("%v = %v, %v; want error %q", args, v, err, want)
	}
}

// xinfo is one INFO field (any section but commandstats).
func xinfo(t *testing.T, tn *testNode, field string) string {
	t.Helper()
	text := xdo(t, tn, "INFO").(string)
	for _, l := range strings.Split(text, "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == field {
			return v
		}
	}
	t.Fatalf("INFO has no %s", field)
	return ""
}

// xwaitInfo polls INFO until field has the wanted value.
func xwaitInfo(t *testing.T, tn *testNode, field, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := xinfo(t, tn, field)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("INFO %s = %s, want %s", field, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// xport is the port the node serves on.
func xport(t *testing.T, tn *testNode) string {
	t.Helper()
	_, port, err := net.SplitHostPort(tn.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return port
}
