package gateway_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godisque/godisque/config"
)

// Real clients as they behave on the wire: go-redis v9 with its default
// options opens every connection with HELLO 3 and CLIENT SETINFO, which a
// Disque node refuses, and must carry on in RESP2; clients that write
// commands in any case, that probe with INFO or PING before every command,
// that read CONFIG GET save, and that index SHOW's reply by position.

// xclient is a go-redis client of tn with go-redis' default options, as
// changed by mutate; it is closed when the test ends.
func xclient(t *testing.T, tn *testNode, mutate ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: tn.Addr()}
	for _, m := range mutate {
		m(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// The replies a node gives to go-redis' connection handshake: errors, which
// go-redis treats as "an older server" and falls back to RESP2.
func TestClientsHandshakeReplies(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	for _, hello := range []string{"HELLO 3", "HELLO 2", "HELLO 3 AUTH default pw", "HELLO 3 SETNAME me"} {
		r.send(hello + "\r\n")
		r.expect("-ERR wrong number of arguments for 'hello' command\r\n")
	}
	const clientSyntax = "-ERR Syntax error, try CLIENT (LIST | KILL ip:port | GETNAME | SETNAME connection-name)\r\n"
	r.send(xmbulk("CLIENT", "SETINFO", "LIB-NAME", "go-redis(,go1.24.0)"))
	r.expect(clientSyntax)
	r.send(xmbulk("client", "setinfo", "LIB-VER", "9.23.0"))
	r.expect(clientSyntax)
	r.send("PING\r\n")
	r.expect("+PONG\r\n")
}

func TestClientsDefaultGoRedis(t *testing.T) {
	tn := startNode(t)
	rdb := xclient(t, tn) // Protocol 3 (the default), identity on
	ctx := tn.ctx

	id, err := rdb.Do(ctx, "ADDJOB", "gq", "hello", 0).Text()
	if err != nil || len(id) != 40 || !strings.HasPrefix(id, "D-") {
		t.Fatalf("ADDJOB = %q, %v", id, err)
	}
	v, err := rdb.Do(ctx, "GETJOB", "FROM", "gq").Result()
	if err != nil || fmt.Sprint(v) != fmt.Sprint([]any{[]any{"gq", id, "hello"}}) {
		t.Fatalf("GETJOB = %v, %v", v, err)
	}
	if n, err := rdb.Do(ctx, "ACKJOB", id).Int64(); err != nil || n != 1 {
		t.Fatalf("ACKJOB = %d, %v", n, err)
	}
	// "Nothing" replies are go-redis' Nil.
	for _, args := range [][]any{{"GETJOB", "NOHANG", "FROM", "gq"}, {"SHOW", id}, {"QSTAT", "nosuchqueue"}} {
		if _, err := rdb.Do(ctx, args...).Result(); !errors.Is(err, redis.Nil) {
			t.Fatalf("%v: %v, want redis.Nil", args, err)
		}
	}
	// Typed commands of go-redis.
	if s, err := rdb.Ping(ctx).Result(); err != nil || s != "PONG" {
		t.Fatalf("Ping = %q, %v", s, err)
	}
	if tm, err := rdb.Time(ctx).Result(); err != nil || time.Since(tm).Abs() > time.Minute {
		t.Fatalf("Time = %v, %v", tm, err)
	}
	if s, err := rdb.Info(ctx, "jobs").Result(); err != nil || !strings.Contains(s, "registered_jobs:") {
		t.Fatalf("Info jobs = %q, %v", s, err)
	}
	if m, err := rdb.ConfigGet(ctx, "save").Result(); err != nil || len(m) != 0 {
		t.Fatalf("ConfigGet save = %v, %v", m, err)
	}
	if m, err := rdb.ConfigGet(ctx, "hz").Result(); err != nil || len(m) != 1 || m["hz"] != "10" {
		t.Fatalf("ConfigGet hz = %v, %v", m, err)
	}
	if err := rdb.ConfigSet(ctx, "hz", "12").Err(); err != nil {
		t.Fatalf("ConfigSet = %v", err)
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatalf("ConfigResetStat = %v", err)
	}

	// A pool of connections, each through the HELLO fallback, used at once.
	rdb2 := xclient(t, tn, func(o *redis.Options) { o.PoolSize = 8; o.ClientName = "worker" })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			q := fmt.Sprintf("pool%d", w)
			for i := 0; i < 20; i++ {
				body := fmt.Sprintf("%d-%d", w, i)
				id, err := rdb2.Do(ctx, "ADDJOB", q, body, 0).Text()
				if err != nil {
					errs <- err
					return
				}
				v, err := rdb2.Do(ctx, "GETJOB", "TIMEOUT", 10000, "FROM", q).Result()
				if err != nil || fmt.Sprint(v) != fmt.Sprint([]any{[]any{q, id, body}}) {
					errs <- fmt.Errorf("GETJOB = %v, %v", v, err)
					return
				}
				if n, err := rdb2.Do(ctx, "ACKJOB", id).Int64(); err != nil || n != 1 {
					errs <- fmt.Errorf("ACKJOB = %d, %v", n, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// ClientName went through CLIENT SETNAME after HELLO was refused.
	if s, err := rdb2.Do(ctx, "CLIENT", "GETNAME").Text(); err != nil || s != "worker" {
		t.Fatalf("CLIENT GETNAME = %q, %v", s, err)
	}
}

func TestClientsCommandCase(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	id1 := r.xcmd("addjob", "cq", "one", "0", "replicate", "1", "retry", "5", "ttl", "100", "maxlen", "10")
	id2 := r.xcmd("AdDjOb", "cq", "two", "0", "Replicate", "1", "aSyNc")
	if id1.kind != '+' || len(id1.str) != 40 || id2.kind != '+' || len(id2.str) != 40 {
		t.Fatalf("ADDJOB = %s, %s", id1, id2)
	}
	for _, c := range []struct{ cmd, want string }{
		{"qlen cq", ":2"}, {"QlEn cq", ":2"},
		{"qpeek cq 1", fmt.Sprintf(`[[$"cq" $%q $"one"]]`, id1.str)},
		{"Pause cq In", "+in"}, {"pause cq sTaTe", "+in"}, {"PAUSE cq NONE", "+none"},
		{"qscan busyloop", `[$"0" [$"cq"]]`},
		{"jscan busyloop state QUEUED queue cq count 1000", ""},
		{"getjob nohang withcounters count 1 from cq",
			fmt.Sprintf(`[[$"cq" $%q $"one" $"nacks" :0 $"additional-deliveries" :0]]`, id1.str)},
		{"Show " + id1.str, ""},
		{"working " + id1.str, ":5"},
		{"Nack " + id1.str, ":1"}, {"dequeue " + id1.str, ":1"}, {"enqueue " + id1.str, ":1"},
		{"Info Jobs", ""},
		{"Config Get hz", `[$"hz" $"10"]`},
		{"Cluster Leaving", "+no"},
		{"pInG", "+PONG"},
		{"fastack " + id2.str, ":1"}, {"ackJob " + id1.str, ":1"}, {"QLEN cq", ":0"},
	} {
		got := r.xcmd(strings.Fields(c.cmd)...)
		if got.kind == '-' || (c.want != "" && got.String() != c.want) {
			t.Fatalf("%s = %s, want %s", c.cmd, got, c.want)
		}
		if c.cmd == "Info Jobs" && (!strings.HasPrefix(got.str, "# Jobs\r\n") || !strings.Contains(got.str, "\r\nregistered_jobs:2\r\n")) {
			t.Fatalf("INFO Jobs = %q", got.str)
		}
	}
}

// A client that checks the connection (INFO or PING) before every command,
// one by one and in go-redis pipelines.
func TestClientsProbeBeforeEveryCommand(t *testing.T) {
	tn := startNode(t)
	rdb := xclient(t, tn)
	ctx := tn.ctx
	for i := 0; i < 25; i++ {
		probe := func() {
			t.Helper()
			if i%2 == 0 {
				if s, err := rdb.Info(ctx).Result(); err != nil || !strings.HasPrefix(s, "# Server\r\n") {
					t.Fatalf("INFO = %.40q, %v", s, err)
				}
			} else if s, err := rdb.Ping(ctx).Result(); err != nil || s != "PONG" {
				t.Fatalf("PING = %q, %v", s, err)
			}
		}
		probe()
		body := fmt.Sprint("job", i)
		id, err := rdb.Do(ctx, "ADDJOB", "pq", body, 0).Text()
		if err != nil {
			t.Fatal(err)
		}
		probe()
		v, err := rdb.Do(ctx, "GETJOB", "NOHANG", "FROM", "pq").Result()
		if err != nil || fmt.Sprint(v) != fmt.Sprint([]any{[]any{"pq", id, body}}) {
			t.Fatalf("GETJOB = %v, %v", v, err)
		}
		probe()
		if n, err := rdb.Do(ctx, "ACKJOB", id).Int64(); err != nil || n != 1 {
			t.Fatalf("ACKJOB = %d, %v", n, err)
		}
	}
	for i := 0; i < 10; i++ {
		pipe := rdb.Pipeline()
		info := pipe.Info(ctx, "jobs")
		add := pipe.Do(ctx, "ADDJOB", "pq", "p", 0)
		ping := pipe.Ping(ctx)
		qlen := pipe.Do(ctx, "QLEN", "pq")
		echo := pipe.Do(ctx, "PING", "hi")
		get := pipe.Do(ctx, "GETJOB", "NOHANG", "FROM", "pq")
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		id, _ := add.Text()
		if !strings.Contains(info.Val(), "registered_jobs:") || len(id) != 40 || ping.Val() != "PONG" ||
			qlen.Val() != int64(1) || echo.Val() != "hi" || fmt.Sprint(get.Val()) != fmt.Sprint([]any{[]any{"pq", id, "p"}}) {
			t.Fatalf("pipeline: %q %q %q %v %v %v", info.Val(), id, ping.Val(), qlen.Val(), echo.Val(), get.Val())
		}
		xdo(t, tn, "ACKJOB", id)
	}
}

func TestClientsConfigGetSave(t *testing.T) {
	tn := startNode(t)
	// Many clients read "save" at start-up to learn about persistence.
	if v := xdo(t, tn, "CONFIG", "GET", "save"); fmt.Sprint(v) != "[]" {
		t.Fatalf("CONFIG GET save = %#v", v)
	}
	if m, err := xclient(t, tn).ConfigGet(tn.ctx, "save").Result(); err != nil || len(m) != 0 {
		t.Fatalf("ConfigGet save = %v, %v", m, err)
	}
	r := tn.raw(t)
	r.send("CONFIG GET save\r\n")
	r.expect("*0\r\n")
	r.send("CONFIG GET appendonly\r\n")
	r.expect("*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n")
}

// SHOW is a flat array; clients read the value at a fixed position.
func TestClientsShowByPosition(t *testing.T) {
	tn := startNode(t)
	rdb := xclient(t, tn)
	ctx := tn.ctx
	before := time.Now().UnixMilli()
	id := xdo(t, tn, "ADDJOB", "sq", "the body", 0, "RETRY", 30, "TTL", 600).(string)
	v, err := rdb.Do(ctx, "SHOW", id).Slice()
	if err != nil || len(v) != 30 {
		t.Fatalf("SHOW = %v, %v", v, err)
	}
	names := []string{"id", "queue", "state", "repl", "ttl", "ctime", "delay", "retry", "nacks",
		"additional-deliveries", "nodes-delivered", "nodes-confirmed", "next-requeue-within",
		"next-awake-within", "body"}
	for i, n := range names {
		if v[2*i] != n {
			t.Fatalf("SHOW[%d] = %v, want %q", 2*i, v[2*i], n)
		}
	}
	val := func(i int) any { return v[2*i+1] }
	if val(0) != id || val(1) != "sq" || val(2) != "queued" || val(3) != int64(1) || val(6) != int64(0) ||
		val(7) != int64(30) || val(8) != int64(0) || val(9) != int64(0) || val(14) != "the body" {
		t.Fatalf("SHOW = %v", v)
	}
	if ttl, ok := val(4).(int64); !ok || ttl < 590 || ttl > 600 {
		t.Fatalf("SHOW ttl = %v", val(4))
	}
	if ct, ok := val(5).(int64); !ok || ct/1_000_000 < before-1000 || ct/1_000_000 > time.Now().UnixMilli()+1000 {
		t.Fatalf("SHOW ctime = %v", val(5))
	}
	if nd := fmt.Sprint(val(10)); nd != fmt.Sprint([]any{tn.ID()}) {
		t.Fatalf("SHOW nodes-delivered = %v", nd)
	}
	if nc, ok := val(11).([]any); !ok || len(nc) != 0 {
		t.Fatalf("SHOW nodes-confirmed = %#v", val(11))
	}
	for _, i := range []int{12, 13} {
		if ms, ok := val(i).(int64); !ok || ms < 0 || ms > 31000 {
			t.Fatalf("SHOW %s = %#v", names[i], val(i))
		}
	}
	// The same on the wire, with the reply types.
	r := tn.raw(t)
	got := r.xcmd("SHOW", id).String()
	want := fmt.Sprintf(`^\[\$"id" \$%q \$"queue" \$"sq" \$"state" \$"queued" \$"repl" :1 \$"ttl" :\d+ `+
		`\$"ctime" :\d+ \$"delay" :0 \$"retry" :30 \$"nacks" :0 \$"additional-deliveries" :0 `+
		`\$"nodes-delivered" \[\$%q\] \$"nodes-confirmed" \[\] \$"next-requeue-within" :\d+ `+
		`\$"next-awake-within" :\d+ \$"body" \$"the body"\]$`, id, tn.ID())
	if !regexp.MustCompile(want).MatchString(got) {
		t.Fatalf("SHOW = %s", got)
	}
	xdo(t, tn, "GETJOB", "FROM", "sq")
	if v, _ := rdb.Do(ctx, "SHOW", id).Slice(); len(v) != 30 || v[5] != "active" {
		t.Fatalf("SHOW after GETJOB = %v", v)
	}
}

func TestClientsMaxClients(t *testing.T) {
	tn := startNode(t, func(c *config.Config) { c.MaxClients = 2 })
	r1, r2 := tn.raw(t), tn.raw(t)
	r1.send("PING\r\n")
	r1.expect("+PONG\r\n")
	r2.send("PING\r\n")
	r2.expect("+PONG\r\n")
	r3 := tn.raw(t)
	r3.expect("-ERR max number of clients reached\r\n")
	r3.xclosed()
	r1.send("INFO stats\r\n")
	if v := r1.xread(); !strings.Contains(v.str, "rejected_connections:1\r\n") {
		t.Fatalf("INFO stats after a refused connection: %q", v.str)
	}
	// A slot frees up when a client leaves.
	r2.c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", tn.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write([]byte("PING\r\n"))
		buf := make([]byte, 7)
		n, _ := io.ReadFull(c, buf)
		c.Close()
		if string(buf[:n]) == "+PONG\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a client left: %q", buf[:n])
		}
		time.Sleep(50 * time.Millisecond)
	}
	r1.send("PING\r\n")
	r1.expect("+PONG\r\n")
}
