package gateway_test

// Black-box tests of ADDJOB and GETJOB through a real client against a real
// node (SPEC.md §2, §3, §4, §5.1, §5.2, §6, §18.3). Error texts are compared
// verbatim; reply types are checked byte for byte on a raw connection where
// the type matters (+status vs $bulk, *-1 vs $-1).
//
// The helpers in this file (prefix jc) are shared with lifecycle_cmd_test.go.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ------------------------------------------------------------- Helpers -----

// Exact error texts of SPEC.md §6, without the leading '-' (go-redis strips it).
const (
	jcErrSyntax       = "ERR syntax error"
	jcErrBadID        = "BADID Invalid Job ID format."
	jcErrNoRepl       = "NOREPL Not enough reachable nodes for the requested replication level"
	jcErrNoReplLeav   = "NOREPL Not enough reachable nodes for the requested replication level, since I'm unable to hold a copy of the message for the following reason: I'm leaving the cluster"
	jcErrMaxlen       = "MAXLEN Queue is already longer than the specified MAXLEN count"
	jcErrPaused       = "PAUSED Queue paused in input, try later"
	jcErrNoJob        = "NOJOB Job not known in the context of this node."
	jcErrTooLate      = "TOOLATE Half of job TTL already elapsed, you are no longer allowed to postpone the next delivery."
	jcErrLeaving      = "LEAVING This node is leaving the cluster, please connect to a different one"
	jcErrReplicate    = "ERR REPLICATE must be between 1 and 65535"
	jcErrTTL          = "ERR TTL must be a number > 0"
	jcErrRetry        = "ERR RETRY time must be a non negative number"
	jcErrDelay        = "ERR DELAY time must be a non negative number"
	jcErrMaxlenOpt    = "ERR MAXLEN must be a positive number"
	jcErrRetry0Repl   = "ERR With RETRY set to 0 please explicitly set  REPLICATE to 1 (at-most-once delivery)"
	jcErrDelayTTL     = "ERR The specified DELAY is greater than TTL. Job refused since would never be delivered"
	jcErrCount        = "ERR COUNT must be a number greater than zero"
	jcErrTimeoutNaN   = "ERR timeout is not an integer or out of range"
	jcErrTimeoutNeg   = "ERR timeout is negative"
	jcErrArityAddjob  = "ERR wrong number of arguments for 'addjob' command"
	jcErrArityGetjob  = "ERR wrong number of arguments for 'getjob' command"
	jcErrArityWorking = "ERR wrong number of arguments for 'working' command"
	jcErrArityShow    = "ERR wrong number of arguments for 'show' command"
)

// jcMust sends a command and fails the test on an error reply.
func jcMust(t *testing.T, tn *testNode, args ...any) any {
	t.Helper()
	v, err := tn.do(args...)
	if err != nil {
		t.Fatalf("%v: unexpected error %v", args, err)
	}
	return v
}

// jcErr sends a command and checks it fails with exactly want.
func jcErr(t *testing.T, tn *testNode, want string, args ...any) {
	t.Helper()
	v, err := tn.do(args...)
	if err == nil {
		t.Fatalf("%v = %#v, want error %q", args, v, want)
	}
	if err.Error() != want {
		t.Fatalf("%v error = %q, want %q", args, err.Error(), want)
	}
}

// jcInt sends a command that must answer an integer.
func jcInt(t *testing.T, tn *testNode, args ...any) int64 {
	t.Helper()
	v := jcMust(t, tn, args...)
	n, ok := v.(int64)
	if !ok {
		t.Fatalf("%v = %#v, want an integer", args, v)
	}
	return n
}

// jcAdd adds a job (timeout 0) and returns its ID.
func jcAdd(t *testing.T, tn *testNode, queue, body string, opts ...any) string {
	t.Helper()
	args := append([]any{"ADDJOB", queue, body, 0}, opts...)
	v := jcMust(t, tn, args...)
	id, ok := v.(string)
	if !ok || len(id) != 40 {
		t.Fatalf("%v = %#v, want a 40-char job ID", args, v)
	}
	return id
}

// jcJob is one job of a GETJOB reply.
type jcJob struct {
	queue, id, body string
	counters        []any // the 4 trailing elements with WITHCOUNTERS
}

// jcGet runs a GETJOB and decodes its jobs; nil for a null reply.
func jcGet(t *testing.T, tn *testNode, args ...any) []jcJob {
	t.Helper()
	v, err := tn.do(append([]any{"GETJOB"}, args...)...)
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		t.Fatalf("GETJOB %v: %v", args, err)
	}
	return jcDecodeJobs(t, v)
}

func jcDecodeJobs(t *testing.T, v any) []jcJob {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("GETJOB reply = %#v, want an array", v)
	}
	out := make([]jcJob, 0, len(arr))
	for _, e := range arr {
		f, ok := e.([]any)
		if !ok || (len(f) != 3 && len(f) != 7) {
			t.Fatalf("GETJOB job = %#v, want 3 or 7 elements", e)
		}
		j := jcJob{queue: f[0].(string), id: f[1].(string), body: f[2].(string)}
		if len(f) == 7 {
			j.counters = f[3:]
		}
		out = append(out, j)
	}
	return out
}

// jcBodies lists the bodies of jobs, in order.
func jcBodies(jobs []jcJob) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.body
	}
	return out
}

// jcShow returns SHOW's fields as a map, nil for $-1. It checks the reply
// has exactly 30 elements with the field names of SPEC.md §5.9 in order.
func jcShow(t *testing.T, tn *testNode, id string) map[string]any {
	t.Helper()
	v, err := tn.do("SHOW", id)
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		t.Fatalf("SHOW %s: %v", id, err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr) != 30 {
		t.Fatalf("SHOW %s = %#v, want 30 elements", id, v)
	}
	m := make(map[string]any, 15)
	for i := 0; i < 30; i += 2 {
		name, _ := arr[i].(string)
		if name != jcShowFields[i/2] {
			t.Fatalf("SHOW field %d = %q, want %q", i/2, name, jcShowFields[i/2])
		}
		m[name] = arr[i+1]
	}
	return m
}

var jcShowFields = []string{"id", "queue", "state", "repl", "ttl", "ctime", "delay", "retry",
	"nacks", "additional-deliveries", "nodes-delivered", "nodes-confirmed",
	"next-requeue-within", "next-awake-within", "body"}

// jcShowMust is jcShow for a job that must exist.
func jcShowMust(t *testing.T, tn *testNode, id string) map[string]any {
	t.Helper()
	m := jcShow(t, tn, id)
	if m == nil {
		t.Fatalf("SHOW %s = nil, want the job", id)
	}
	return m
}

// jcField checks one SHOW field.
func jcField(t *testing.T, m map[string]any, name string, want any) {
	t.Helper()
	if got := m[name]; got != want {
		t.Fatalf("SHOW %s = %#v, want %#v", name, got, want)
	}
}

// jcQlen is QLEN.
func jcQlen(t *testing.T, tn *testNode, q string) int64 {
	t.Helper()
	return jcInt(t, tn, "QLEN", q)
}

// jcQstat returns QSTAT's fields as a map, nil for *-1.
func jcQstat(t *testing.T, tn *testNode, q string) map[string]any {
	t.Helper()
	v, err := tn.do("QSTAT", q)
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		t.Fatalf("QSTAT %s: %v", q, err)
	}
	arr, ok := v.([]any)
	if !ok || len(arr)%2 != 0 {
		t.Fatalf("QSTAT %s = %#v", q, v)
	}
	m := make(map[string]any)
	for i := 0; i < len(arr); i += 2 {
		m[arr[i].(string)] = arr[i+1]
	}
	return m
}

// jcBlocked is the number of clients blocked on q (QSTAT blocked), 0 if
// the queue does not exist.
func jcBlocked(t *testing.T, tn *testNode, q string) int64 {
	t.Helper()
	m := jcQstat(t, tn, q)
	if m == nil {
		return 0
	}
	n, _ := m["blocked"].(int64)
	return n
}

// jcInfoInt reads an integer field of INFO <section>.
func jcInfoInt(t *testing.T, tn *testNode, section, field string) int64 {
	t.Helper()
	v := jcMust(t, tn, "INFO", section)
	s, _ := v.(string)
	for _, line := range strings.Split(s, "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok && k == field {
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("INFO %s has no %s: %q", section, field, s)
	return 0
}

// jcWait polls cond every 20 ms until it holds or within elapses.
func jcWait(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jcWaitBlocked waits until n clients are blocked on q.
func jcWaitBlocked(t *testing.T, tn *testNode, q string, n int64) {
	t.Helper()
	jcWait(t, 5*time.Second, fmt.Sprintf("%d clients blocked on %s", n, q), func() bool {
		return jcBlocked(t, tn, q) == n
	})
}

// jcMyID is CLUSTER MYID.
func jcMyID(t *testing.T, tn *testNode) string {
	t.Helper()
	id, _ := jcMust(t, tn, "CLUSTER", "MYID").(string)
	if len(id) != 40 {
		t.Fatalf("CLUSTER MYID = %q", id)
	}
	return id
}

// jcLine reads one CRLF-terminated line of a raw connection, without CRLF.
func jcLine(r *raw) string {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := r.rd.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read line: %v (got %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		r.t.Fatalf("line %q does not end in CRLF", s)
	}
	return s[:len(s)-2]
}

// jcBulk is the RESP encoding of a bulk string.
func jcBulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// jcTriple is the RESP encoding of one GETJOB job [queue, id, body].
func jcTriple(q, id, body string) string {
	return "*3\r\n" + jcBulk(q) + jcBulk(id) + jcBulk(body)
}

// jcRespCmd encodes a command as a RESP multibulk (binary-safe).
func jcRespCmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		b.WriteString(jcBulk(a))
	}
	return b.String()
}

// ---------------------------------------------------------------- ADDJOB -----

func TestJobsAddJobIDFormat(t *testing.T) {
	tn := startNode(t)
	myid := jcMyID(t, tn)
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	cases := []struct {
		opts []any
		ttl  string
	}{
		{nil, "05a1"}, // default TTL 86400, retry 300
		{[]any{"RETRY", 0, "REPLICATE", 1}, "05a0"},
		{[]any{"RETRY", 0}, "05a0"}, // bare RETRY 0: default REPLICATE is 1 on one node
		{[]any{"TTL", 30}, "0001"},
		{[]any{"TTL", 100, "RETRY", 0}, "0000"},
		{[]any{"TTL", 600}, "000b"},
		{[]any{"TTL", 1}, "0001"},
		{[]any{"TTL", 120, "RETRY", 5}, "0003"},        // 2 minutes, forced odd
		{[]any{"TTL", 180, "RETRY", 0}, "0002"},        // 3 minutes, forced even
		{[]any{"TTL", 4000000000}, "ffff"},             // clamped to 65535
		{[]any{"TTL", 4000000000, "RETRY", 0}, "fffe"}, // clamped, then even
	}
	seen := map[string]bool{}
	for _, c := range cases {
		id := jcAdd(t, tn, "q", "body", c.opts...)
		if !strings.HasPrefix(id, "D-"+myid[:8]+"-") {
			t.Errorf("%v: ID %q does not start with D-%s-", c.opts, id, myid[:8])
		}
		if id[35] != '-' {
			t.Errorf("%v: ID %q has no '-' at offset 35", c.opts, id)
		}
		for _, ch := range id[11:35] {
			if !strings.ContainsRune(b64, ch) {
				t.Errorf("%v: ID %q has %q in its random part", c.opts, id, ch)
			}
		}
		if got := id[36:]; got != c.ttl {
			t.Errorf("%v: ID %q TTL field = %q, want %q", c.opts, id, got, c.ttl)
		}
		if seen[id] {
			t.Errorf("duplicate ID %q", id)
		}
		seen[id] = true
	}
	for i := 0; i < 200; i++ {
		id := jcAdd(t, tn, "many", "x")
		if seen[id] {
			t.Fatalf("duplicate ID %q", id)
		}
		seen[id] = true
	}
}

func TestJobsAddJobReplyIsStatus(t *testing.T) {
	tn := startNode(t)
	myid := jcMyID(t, tn)
	r := tn.raw(t)
	r.send("ADDJOB q body 0\r\n")
	r.expect("+D-" + myid[:8] + "-")
	rest := jcLine(r)
	if len(rest) != 40-11 || !strings.HasSuffix(rest, "-05a1") {
		t.Fatalf("ADDJOB reply tail = %q", rest)
	}
	// Also as a multibulk request, with a timeout and options.
	r.send(jcRespCmd("ADDJOB", "q", "body", "5000", "REPLICATE", "1", "RETRY", "0"))
	r.expect("+D-" + myid[:8] + "-")
	if rest := jcLine(r); len(rest) != 29 || !strings.HasSuffix(rest, "-05a0") {
		t.Fatalf("ADDJOB reply tail = %q", rest)
	}
}

func TestJobsAddJobDefaults(t *testing.T) {
	tn := startNode(t)
	myid := jcMyID(t, tn)
	id := jcAdd(t, tn, "q", "hello")
	m := jcShowMust(t, tn, id)
	jcField(t, m, "id", id)
	jcField(t, m, "queue", "q")
	jcField(t, m, "state", "queued")
	jcField(t, m, "repl", int64(1)) // min(3, cluster size 1)
	jcField(t, m, "delay", int64(0))
	jcField(t, m, "retry", int64(300))
	jcField(t, m, "nacks", int64(0))
	jcField(t, m, "additional-deliveries", int64(0))
	jcField(t, m, "body", "hello")
	if ttl := m["ttl"].(int64); ttl < 86390 || ttl > 86400 {
		t.Fatalf("SHOW ttl = %d, want about 86400", ttl)
	}
	if nd, _ := m["nodes-delivered"].([]any); len(nd) != 1 || nd[0] != myid {
		t.Fatalf("SHOW nodes-delivered = %#v, want [%s]", m["nodes-delivered"], myid)
	}
	if qlen := jcQlen(t, tn, "q"); qlen != 1 {
		t.Fatalf("QLEN = %d, want 1", qlen)
	}
	// Default RETRY is ttl/10, between 1 and 300 s.
	for _, c := range []struct{ ttl, retry int64 }{{50, 5}, {5, 1}, {1, 1}, {3000, 300}, {3010, 300}, {2990, 299}} {
		id := jcAdd(t, tn, "q", "x", "TTL", c.ttl)
		jcField(t, jcShowMust(t, tn, id), "retry", c.retry)
	}
}

func TestJobsAddJobOptions(t *testing.T) {
	tn := startNode(t)

	// REPLICATE 1.
	id := jcAdd(t, tn, "q", "b", "REPLICATE", 1)
	jcField(t, jcShowMust(t, tn, id), "repl", int64(1))

	// RETRY.
	id = jcAdd(t, tn, "q", "b", "RETRY", 7)
	m := jcShowMust(t, tn, id)
	jcField(t, m, "retry", int64(7))
	jcField(t, m, "state", "queued")

	// RETRY 0: at-most-once, never requeued once queued.
	id = jcAdd(t, tn, "q", "b", "RETRY", 0)
	m = jcShowMust(t, tn, id)
	jcField(t, m, "retry", int64(0))
	jcField(t, m, "next-requeue-within", nil)

	// TTL.
	id = jcAdd(t, tn, "q", "b", "TTL", 100)
	m = jcShowMust(t, tn, id)
	if ttl := m["ttl"].(int64); ttl < 95 || ttl > 100 {
		t.Fatalf("SHOW ttl = %d, want about 100", ttl)
	}
	jcField(t, m, "retry", int64(10))

	// DELAY: not queued, active until the delay is over.
	before := jcQlen(t, tn, "q")
	id = jcAdd(t, tn, "q", "b", "DELAY", 30)
	m = jcShowMust(t, tn, id)
	jcField(t, m, "state", "active")
	jcField(t, m, "delay", int64(30))
	if nr, ok := m["next-requeue-within"].(int64); !ok || nr < 25000 || nr > 30000 {
		t.Fatalf("SHOW next-requeue-within = %#v, want about 30000", m["next-requeue-within"])
	}
	if qlen := jcQlen(t, tn, "q"); qlen != before {
		t.Fatalf("QLEN after a delayed job = %d, want %d", qlen, before)
	}

	// MAXLEN under the queue length: accepted.
	id = jcAdd(t, tn, "q", "b", "MAXLEN", 1000)
	jcField(t, jcShowMust(t, tn, id), "state", "queued")
	// MAXLEN on a queue that does not exist: accepted.
	jcAdd(t, tn, "fresh", "b", "MAXLEN", 1)

	// ASYNC on one node: immediate reply, job queued.
	id = jcAdd(t, tn, "async", "b", "ASYNC")
	m = jcShowMust(t, tn, id)
	jcField(t, m, "state", "queued")
	jcField(t, m, "repl", int64(1))
	if qlen := jcQlen(t, tn, "async"); qlen != 1 {
		t.Fatalf("QLEN async = %d, want 1", qlen)
	}

	// All together.
	id = jcAdd(t, tn, "all", "b", "REPLICATE", 1, "DELAY", 2, "RETRY", 4, "TTL", 60, "MAXLEN", 5, "ASYNC")
	m = jcShowMust(t, tn, id)
	jcField(t, m, "repl", int64(1))
	jcField(t, m, "delay", int64(2))
	jcField(t, m, "retry", int64(4))
	jcField(t, m, "state", "active")
	if ttl := m["ttl"].(int64); ttl < 55 || ttl > 60 {
		t.Fatalf("SHOW ttl = %d, want about 60", ttl)
	}
	if !strings.HasSuffix(id, "-0001") {
		t.Fatalf("ID %q, want TTL field 0001", id)
	}

	// A non-zero timeout on one node with REPLICATE 1 answers at once.
	start := time.Now()
	if v := jcMust(t, tn, "ADDJOB", "q", "b", 10000); len(v.(string)) != 40 {
		t.Fatalf("ADDJOB with timeout = %#v", v)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("ADDJOB with a timeout and REPLICATE 1 took %v", d)
	}
}

func TestJobsAddJobOptionErrors(t *testing.T) {
	tn := startNode(t)
	cases := []struct {
		want string
		args []any
	}{
		{jcErrArityAddjob, []any{"ADDJOB"}},
		{jcErrArityAddjob, []any{"ADDJOB", "q"}},
		{jcErrArityAddjob, []any{"ADDJOB", "q", "b"}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", 0, "FOO"}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", 0, "ASYNC", "extra"}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", 0, "REPLICATE"}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", 0, "DELAY"}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", 0, "RETRY"}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", 0, "TTL"}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", 0, "MAXLEN"}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", 0, "TTL", 10, "RETRY"}},
		{jcErrReplicate, []any{"ADDJOB", "q", "b", 0, "REPLICATE", 0}},
		{jcErrReplicate, []any{"ADDJOB", "q", "b", 0, "REPLICATE", -1}},
		{jcErrReplicate, []any{"ADDJOB", "q", "b", 0, "REPLICATE", 65536}},
		{jcErrReplicate, []any{"ADDJOB", "q", "b", 0, "REPLICATE", "abc"}},
		{jcErrReplicate, []any{"ADDJOB", "q", "b", 0, "REPLICATE", "99999999999999999999"}},
		{jcErrTTL, []any{"ADDJOB", "q", "b", 0, "TTL", 0}},
		{jcErrTTL, []any{"ADDJOB", "q", "b", 0, "TTL", -5}},
		{jcErrTTL, []any{"ADDJOB", "q", "b", 0, "TTL", "x"}},
		{jcErrTTL, []any{"ADDJOB", "q", "b", 0, "TTL", "99999999999999999999"}},
		{jcErrRetry, []any{"ADDJOB", "q", "b", 0, "RETRY", -1}},
		{jcErrRetry, []any{"ADDJOB", "q", "b", 0, "RETRY", "x"}},
		{jcErrRetry, []any{"ADDJOB", "q", "b", 0, "RETRY", "99999999999999999999"}},
		{jcErrDelay, []any{"ADDJOB", "q", "b", 0, "DELAY", -1}},
		{jcErrDelay, []any{"ADDJOB", "q", "b", 0, "DELAY", "x"}},
		{jcErrDelay, []any{"ADDJOB", "q", "b", 0, "DELAY", "-99999999999999999999"}},
		{jcErrMaxlenOpt, []any{"ADDJOB", "q", "b", 0, "MAXLEN", 0}},
		{jcErrMaxlenOpt, []any{"ADDJOB", "q", "b", 0, "MAXLEN", -1}},
		{jcErrMaxlenOpt, []any{"ADDJOB", "q", "b", 0, "MAXLEN", "x"}},
		{jcErrTimeoutNaN, []any{"ADDJOB", "q", "b", "x"}},
		{jcErrTimeoutNaN, []any{"ADDJOB", "q", "b", "1.5"}},
		{jcErrTimeoutNaN, []any{"ADDJOB", "q", "b", "99999999999999999999"}},
		{jcErrTimeoutNeg, []any{"ADDJOB", "q", "b", -1}},
		{jcErrRetry0Repl, []any{"ADDJOB", "q", "b", 0, "RETRY", 0, "REPLICATE", 2}},
		{jcErrRetry0Repl, []any{"ADDJOB", "q", "b", 0, "REPLICATE", 3, "RETRY", 0}},
		{jcErrDelayTTL, []any{"ADDJOB", "q", "b", 0, "DELAY", 10, "TTL", 10}},
		{jcErrDelayTTL, []any{"ADDJOB", "q", "b", 0, "DELAY", 11, "TTL", 10}},
		{jcErrDelayTTL, []any{"ADDJOB", "q", "b", 0, "DELAY", 86400}}, // default TTL
		{jcErrNoRepl, []any{"ADDJOB", "q", "b", 0, "REPLICATE", 2}},
		{jcErrNoRepl, []any{"ADDJOB", "q", "b", 0, "REPLICATE", 65535}},
		{jcErrNoRepl, []any{"ADDJOB", "q", "b", 0, "REPLICATE", 2, "ASYNC"}},
		{jcErrNoRepl, []any{"ADDJOB", "q", "b", 100, "REPLICATE", 3}},
	}
	for _, c := range cases {
		jcErr(t, tn, c.want, c.args...)
	}
	// Nothing was created by any of them.
	if n := jcInfoInt(t, tn, "jobs", "registered_jobs"); n != 0 {
		t.Fatalf("registered_jobs = %d after refused ADDJOBs, want 0", n)
	}
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN = %d after refused ADDJOBs, want 0", qlen)
	}
	// Accepted borders.
	jcAdd(t, tn, "q", "b", "DELAY", 9, "TTL", 10)
	jcAdd(t, tn, "q", "b", "DELAY", 86399)
	jcAdd(t, tn, "q", "b", "RETRY", 0, "REPLICATE", 1)
}

// TestJobsAddJobErrorPrecedence checks the order of SPEC.md §5.1: options (left
// to right), then the timeout, then RETRY 0 with REPLICATE > 1, then
// DELAY >= TTL, then NOREPL, then MAXLEN, then PAUSED.
func TestJobsAddJobErrorPrecedence(t *testing.T) {
	tn := startNode(t)
	// Make queue "q" hold one job and be paused in input.
	jcAdd(t, tn, "q", "first")
	if v := jcMust(t, tn, "PAUSE", "q", "in"); v != "in" {
		t.Fatalf("PAUSE q in = %#v", v)
	}
	cases := []struct {
		want string
		args []any
	}{
		// Options are checked left to right; the first bad one wins.
		{jcErrTTL, []any{"ADDJOB", "q", "b", 0, "TTL", 0, "REPLICATE", 0}},
		{jcErrReplicate, []any{"ADDJOB", "q", "b", 0, "REPLICATE", 0, "TTL", 0}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", 0, "FOO", "TTL", 0}},
		{jcErrTTL, []any{"ADDJOB", "q", "b", 0, "TTL", 0, "FOO"}},
		{jcErrDelay, []any{"ADDJOB", "q", "b", 0, "DELAY", -1, "RETRY", -1}},
		{jcErrMaxlenOpt, []any{"ADDJOB", "q", "b", 0, "MAXLEN", 0, "DELAY"}},
		// Options before the timeout.
		{jcErrTTL, []any{"ADDJOB", "q", "b", -1, "TTL", 0}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", "x", "FOO"}},
		{jcErrSyntax, []any{"ADDJOB", "q", "b", "x", "TTL"}},
		// The timeout before RETRY 0 + REPLICATE > 1 and DELAY >= TTL.
		{jcErrTimeoutNeg, []any{"ADDJOB", "q", "b", -1, "RETRY", 0, "REPLICATE", 2}},
		{jcErrTimeoutNaN, []any{"ADDJOB", "q", "b", "x", "DELAY", 10, "TTL", 5}},
		// RETRY 0 + REPLICATE > 1 before DELAY >= TTL.
		{jcErrRetry0Repl, []any{"ADDJOB", "q", "b", 0, "RETRY", 0, "REPLICATE", 2, "DELAY", 10, "TTL", 5}},
		// DELAY >= TTL before NOREPL.
		{jcErrDelayTTL, []any{"ADDJOB", "q", "b", 0, "REPLICATE", 2, "DELAY", 10, "TTL", 10}},
		// NOREPL before MAXLEN and PAUSED.
		{jcErrNoRepl, []any{"ADDJOB", "q", "b", 0, "REPLICATE", 2, "MAXLEN", 1}},
		// MAXLEN before PAUSED.
		{jcErrMaxlen, []any{"ADDJOB", "q", "b", 0, "MAXLEN", 1}},
		// PAUSED last.
		{jcErrPaused, []any{"ADDJOB", "q", "b", 0, "MAXLEN", 2}},
		{jcErrPaused, []any{"ADDJOB", "q", "b", 0}},
	}
	for _, c := range cases {
		jcErr(t, tn, c.want, c.args...)
	}
	if qlen := jcQlen(t, tn, "q"); qlen != 1 {
		t.Fatalf("QLEN = %d, want 1", qlen)
	}
}

func TestJobsAddJobMaxlen(t *testing.T) {
	tn := startNode(t)
	jcAdd(t, tn, "q", "1")
	jcAdd(t, tn, "q", "2", "MAXLEN", 2)
	jcErr(t, tn, jcErrMaxlen, "ADDJOB", "q", "3", 0, "MAXLEN", 2)
	jcErr(t, tn, jcErrMaxlen, "ADDJOB", "q", "3", 0, "MAXLEN", 1)
	jcAdd(t, tn, "q", "3", "MAXLEN", 3)
	if qlen := jcQlen(t, tn, "q"); qlen != 3 {
		t.Fatalf("QLEN = %d, want 3", qlen)
	}
	// MAXLEN counts queued jobs only: a fetched job frees a place...
	if got := jcGet(t, tn, "NOHANG", "FROM", "q"); len(got) != 1 {
		t.Fatalf("GETJOB = %v", got)
	}
	jcAdd(t, tn, "q", "4", "MAXLEN", 3)
	jcErr(t, tn, jcErrMaxlen, "ADDJOB", "q", "5", 0, "MAXLEN", 3)
	// ... and a delayed job does not take one.
	jcAdd(t, tn, "d", "delayed", "DELAY", 60)
	jcAdd(t, tn, "d", "now", "MAXLEN", 1)
	jcErr(t, tn, jcErrMaxlen, "ADDJOB", "d", "again", 0, "MAXLEN", 1)
}

func TestJobsAddJobPaused(t *testing.T) {
	tn := startNode(t)
	for _, c := range []struct {
		state  string
		paused bool
	}{{"in", true}, {"out", false}, {"all", true}, {"none", false}} {
		if v := jcMust(t, tn, "PAUSE", "q", c.state); v != c.state {
			t.Fatalf("PAUSE q %s = %#v", c.state, v)
		}
		if c.paused {
			jcErr(t, tn, jcErrPaused, "ADDJOB", "q", "b", 0)
			jcErr(t, tn, jcErrPaused, "ADDJOB", "q", "b", 0, "DELAY", 5)
			jcErr(t, tn, jcErrPaused, "ADDJOB", "q", "b", 0, "ASYNC")
		} else {
			jcAdd(t, tn, "q", "b")
		}
	}
	// Raw: the error type and text on the wire.
	jcMust(t, tn, "PAUSE", "q", "in")
	r := tn.raw(t)
	r.send("ADDJOB q b 0\r\n")
	r.expect("-" + jcErrPaused + "\r\n")
	// Other queues are not affected.
	jcAdd(t, tn, "other", "b")
}

func TestJobsAddJobBinaryBody(t *testing.T) {
	tn := startNode(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	bodies := []string{string(all), "", "\r\n", "a\r\nb\x00c", "$3\r\nfoo\r\n", strings.Repeat("x", 100000)}
	for _, body := range bodies {
		id := jcAdd(t, tn, "bin", body)
		jcField(t, jcShowMust(t, tn, id), "body", body)
		got := jcGet(t, tn, "NOHANG", "FROM", "bin")
		if len(got) != 1 || got[0].id != id || got[0].body != body {
			t.Fatalf("GETJOB of a %d-byte body = %q", len(body), got)
		}
	}
	// Raw: an empty body is an empty bulk string, not a null.
	id := jcAdd(t, tn, "empty", "")
	r := tn.raw(t)
	r.send("GETJOB NOHANG FROM empty\r\n")
	r.expect("*1\r\n" + jcTriple("empty", id, ""))
	// Raw: the 256 byte values round-trip through a multibulk request.
	r.send(jcRespCmd("ADDJOB", "raw", string(all), "0"))
	r.expect("+D-")
	id = "D-" + jcLine(r)
	r.send("GETJOB NOHANG FROM raw\r\n")
	r.expect("*1\r\n" + jcTriple("raw", id, string(all)))
	// Queue names are binary-safe too.
	q := "q\x00\r\n\xff"
	id = jcAdd(t, tn, q, "b")
	got := jcGet(t, tn, "NOHANG", "FROM", q)
	if len(got) != 1 || got[0].id != id || got[0].queue != q {
		t.Fatalf("GETJOB from a binary queue name = %q", got)
	}
}

func TestJobsAddJobRepeatedOptionsLastWins(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b", "TTL", 100, "TTL", 200)
	if ttl := jcShowMust(t, tn, id)["ttl"].(int64); ttl < 195 || ttl > 200 {
		t.Fatalf("TTL 100 TTL 200: ttl = %d, want about 200", ttl)
	}
	id = jcAdd(t, tn, "q", "b", "RETRY", 5, "RETRY", 0)
	jcField(t, jcShowMust(t, tn, id), "retry", int64(0))
	if !strings.HasSuffix(id, "05a0") {
		t.Fatalf("RETRY 5 RETRY 0: ID %q, want even TTL field 05a0", id)
	}
	id = jcAdd(t, tn, "q", "b", "RETRY", 0, "RETRY", 9)
	jcField(t, jcShowMust(t, tn, id), "retry", int64(9))
	if !strings.HasSuffix(id, "05a1") {
		t.Fatalf("RETRY 0 RETRY 9: ID %q, want odd TTL field 05a1", id)
	}
	id = jcAdd(t, tn, "q", "b", "REPLICATE", 2, "REPLICATE", 1)
	jcField(t, jcShowMust(t, tn, id), "repl", int64(1))
	jcErr(t, tn, jcErrNoRepl, "ADDJOB", "q", "b", 0, "REPLICATE", 1, "REPLICATE", 2)
	id = jcAdd(t, tn, "q", "b", "DELAY", 100, "DELAY", 0, "TTL", 50)
	m := jcShowMust(t, tn, id)
	jcField(t, m, "delay", int64(0))
	jcField(t, m, "state", "queued")
	jcErr(t, tn, jcErrDelayTTL, "ADDJOB", "q", "b", 0, "DELAY", 0, "DELAY", 100, "TTL", 50)
	id = jcAdd(t, tn, "q", "b", "ASYNC", "ASYNC")
	jcField(t, jcShowMust(t, tn, id), "state", "queued")
	jcAdd(t, tn, "q", "b", "MAXLEN", 1, "MAXLEN", 1000)
	jcErr(t, tn, jcErrMaxlen, "ADDJOB", "q", "b", 0, "MAXLEN", 1000, "MAXLEN", 1)
	// A bad earlier value is not saved by a good later one.
	jcErr(t, tn, jcErrTTL, "ADDJOB", "q", "b", 0, "TTL", 0, "TTL", 10)
}

func TestJobsAddJobCaseInsensitive(t *testing.T) {
	tn := startNode(t)
	for _, cmd := range []string{"addjob", "AddJob", "ADDJOB"} {
		v := jcMust(t, tn, cmd, "q", "b", 0, "replicate", 1, "Delay", 3, "rEtRy", 4, "ttl", 100, "MaxLen", 50, "async")
		m := jcShowMust(t, tn, v.(string))
		jcField(t, m, "delay", int64(3))
		jcField(t, m, "retry", int64(4))
		jcField(t, m, "repl", int64(1))
	}
	// Queue names are case-sensitive.
	jcAdd(t, tn, "Case", "b")
	if got := jcGet(t, tn, "NOHANG", "FROM", "case"); got != nil {
		t.Fatalf("GETJOB FROM case = %v, want nothing (queue Case is different)", got)
	}
	if got := jcGet(t, tn, "nohang", "from", "Case"); len(got) != 1 {
		t.Fatalf("GETJOB from Case = %v", got)
	}
}

func TestJobsAddJobHugeNumbers(t *testing.T) {
	tn := startNode(t)
	// Large but sensible values are kept as given.
	id := jcAdd(t, tn, "q", "b", "TTL", 4000000000, "RETRY", 3000000, "DELAY", 3999999999)
	if !strings.HasSuffix(id, "-ffff") {
		t.Fatalf("ID %q, want TTL field ffff", id)
	}
	m := jcShowMust(t, tn, id)
	jcField(t, m, "retry", int64(3000000))
	jcField(t, m, "delay", int64(3999999999))
	jcField(t, m, "state", "active")
	if ttl := m["ttl"].(int64); ttl < 3999999990 || ttl > 4000000000 {
		t.Fatalf("SHOW ttl = %d, want about 4000000000", ttl)
	}
	// A huge timeout is fine (REPLICATE 1 answers at once).
	if v := jcMust(t, tn, "ADDJOB", "q", "b", "9223372036854775807"); len(v.(string)) != 40 {
		t.Fatalf("ADDJOB with the largest timeout = %#v", v)
	}
	// A huge COUNT takes what there is.
	jcAdd(t, tn, "c", "1")
	jcAdd(t, tn, "c", "2")
	if got := jcGet(t, tn, "NOHANG", "COUNT", "9223372036854775807", "FROM", "c"); len(got) != 2 {
		t.Fatalf("GETJOB COUNT 2^63-1 = %v, want the 2 jobs", got)
	}
	// Beyond int64: the option's own error.
	jcErr(t, tn, jcErrTTL, "ADDJOB", "q", "b", 0, "TTL", "9223372036854775808")
	jcErr(t, tn, jcErrTimeoutNaN, "ADDJOB", "q", "b", "9223372036854775808")
	jcErr(t, tn, jcErrCount, "GETJOB", "COUNT", "9223372036854775808", "FROM", "q")
	jcErr(t, tn, jcErrTimeoutNaN, "GETJOB", "TIMEOUT", "9223372036854775808", "FROM", "q")
}

// jcAddHuge adds a job with a huge option value: the node may refuse it with
// the option's own error (want), or accept it; it returns "" if refused.
func jcAddHuge(t *testing.T, tn *testNode, want, queue string, opts ...any) string {
	t.Helper()
	v, err := tn.do(append([]any{"ADDJOB", queue, "b", 0}, opts...)...)
	if err != nil {
		if err.Error() != want {
			t.Fatalf("ADDJOB %v: error %q, want %q or success", opts, err.Error(), want)
		}
		return ""
	}
	return v.(string)
}

// TestJobsAddJobRetryDelayBeyond32Bits: RETRY and DELAY are any non-negative
// integers (SPEC.md §5.1) and SHOW reports them as given (§5.9). A value
// of 2^32 must not silently become 0 (an at-most-once job, or no delay):
// the node either keeps it or refuses it with the option's error.
func TestJobsAddJobRetryDelayBeyond32Bits(t *testing.T) {
	tn := startNode(t)
	if id := jcAddHuge(t, tn, jcErrRetry, "q", "RETRY", 4294967296, "TTL", 9999999999); id != "" {
		if !strings.HasSuffix(id, "-ffff") {
			t.Fatalf("ID %q, want odd TTL field ffff (retry > 0)", id)
		}
		jcField(t, jcShowMust(t, tn, id), "retry", int64(4294967296))
	}
	if id := jcAddHuge(t, tn, jcErrDelay, "d", "DELAY", 4294967296, "TTL", 9999999999); id != "" {
		m := jcShowMust(t, tn, id)
		jcField(t, m, "delay", int64(4294967296))
		jcField(t, m, "state", "active")
		if qlen := jcQlen(t, tn, "d"); qlen != 0 {
			t.Fatalf("QLEN of a job delayed by 2^32 s = %d, want 0", qlen)
		}
	}
}

// TestJobsAddJobMaxTTL: TTL is any integer > 0 (SPEC.md §5.1); the largest one
// must make a job that lives (ID TTL field clamped to ffff), not one that
// expires at once (or be refused with the TTL error).
func TestJobsAddJobMaxTTL(t *testing.T) {
	tn := startNode(t)
	id := jcAddHuge(t, tn, jcErrTTL, "q", "TTL", "9223372036854775807")
	if id == "" {
		return
	}
	if !strings.HasSuffix(id, "-ffff") {
		t.Fatalf("ID %q, want TTL field ffff", id)
	}
	time.Sleep(300 * time.Millisecond)
	m := jcShow(t, tn, id)
	if m == nil {
		t.Fatalf("job with TTL 2^63-1 is gone after 300 ms")
	}
	if ttl := m["ttl"].(int64); ttl < 1<<32 {
		t.Fatalf("SHOW ttl = %d for TTL 2^63-1", ttl)
	}
	if got := jcGet(t, tn, "NOHANG", "FROM", "q"); len(got) != 1 || got[0].id != id {
		t.Fatalf("GETJOB = %v, want the job", got)
	}
}

func TestJobsAddJobLeaving(t *testing.T) {
	tn := startNode(t)
	if v := jcMust(t, tn, "CLUSTER", "LEAVING", "yes"); v != "OK" {
		t.Fatalf("CLUSTER LEAVING yes = %#v", v)
	}
	// A leaving node keeps no copy: with no other node the job is refused.
	jcErr(t, tn, jcErrNoReplLeav, "ADDJOB", "q", "b", 0)
	jcErr(t, tn, jcErrNoReplLeav, "ADDJOB", "q", "b", 0, "REPLICATE", 1, "RETRY", 0)
	jcErr(t, tn, jcErrNoRepl, "ADDJOB", "q", "b", 0, "REPLICATE", 3)
	jcMust(t, tn, "CLUSTER", "LEAVING", "no")
	jcAdd(t, tn, "q", "b")
}

// ---------------------------------------------------------------- GETJOB -----

func TestJobsGetJobNohangEmptyIsNullMultibulk(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("QSTAT nq\r\n")
	r.expect("*-1\r\n")
	r.send("GETJOB NOHANG FROM nq\r\n")
	r.expect("*-1\r\n")
	// The missing queue was created by GETJOB, even with NOHANG.
	m := jcQstat(t, tn, "nq")
	if m == nil {
		t.Fatal("QSTAT after GETJOB NOHANG = nil, want the created queue")
	}
	if m["name"] != "nq" || m["len"] != int64(0) {
		t.Fatalf("QSTAT = %v", m)
	}
	// Several queues, all missing: all created.
	r.send("GETJOB NOHANG COUNT 5 FROM m1 m2\r\n")
	r.expect("*-1\r\n")
	for _, q := range []string{"m1", "m2"} {
		if jcQstat(t, tn, q) == nil {
			t.Fatalf("QSTAT %s = nil after GETJOB", q)
		}
	}
	// WITHCOUNTERS does not change the null.
	r.send("GETJOB NOHANG WITHCOUNTERS FROM nq\r\n")
	r.expect("*-1\r\n")
}

func TestJobsGetJobCountAndFIFO(t *testing.T) {
	tn := startNode(t)
	var ids []string
	for i := 0; i < 10; i++ {
		ids = append(ids, jcAdd(t, tn, "q", fmt.Sprint("j", i)))
	}
	// One at a time by default.
	got := jcGet(t, tn, "NOHANG", "FROM", "q")
	if len(got) != 1 || got[0].id != ids[0] || got[0].body != "j0" || got[0].queue != "q" {
		t.Fatalf("GETJOB = %v, want j0", got)
	}
	got = jcGet(t, tn, "COUNT", 3, "FROM", "q")
	if b := jcBodies(got); fmt.Sprint(b) != "[j1 j2 j3]" {
		t.Fatalf("GETJOB COUNT 3 = %v, want [j1 j2 j3]", b)
	}
	for i, j := range got {
		if j.id != ids[i+1] {
			t.Fatalf("GETJOB COUNT 3 job %d id %s, want %s", i, j.id, ids[i+1])
		}
	}
	got = jcGet(t, tn, "NOHANG", "COUNT", 100, "FROM", "q")
	if b := jcBodies(got); fmt.Sprint(b) != "[j4 j5 j6 j7 j8 j9]" {
		t.Fatalf("GETJOB COUNT 100 = %v", b)
	}
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN = %d, want 0", qlen)
	}
	// Fetched jobs are active, and the queue counters moved.
	jcField(t, jcShowMust(t, tn, ids[0]), "state", "active")
	m := jcQstat(t, tn, "q")
	if m["jobs-in"] != int64(10) || m["jobs-out"] != int64(10) {
		t.Fatalf("QSTAT jobs-in/out = %v/%v, want 10/10", m["jobs-in"], m["jobs-out"])
	}
}

func TestJobsGetJobRoundRobin(t *testing.T) {
	tn := startNode(t)
	jcAdd(t, tn, "qa", "a1")
	jcAdd(t, tn, "qa", "a2")
	for i := 1; i <= 5; i++ {
		jcAdd(t, tn, "qb", fmt.Sprint("b", i))
	}
	got := jcGet(t, tn, "NOHANG", "COUNT", 4, "FROM", "qa", "qb")
	if b := jcBodies(got); fmt.Sprint(b) != "[a1 b1 a2 b2]" {
		t.Fatalf("GETJOB COUNT 4 FROM qa qb = %v, want [a1 b1 a2 b2]", b)
	}
	for _, j := range got {
		if j.queue != "q"+j.body[:1] {
			t.Fatalf("job %v reported from queue %q", j.body, j.queue)
		}
	}
	got = jcGet(t, tn, "NOHANG", "COUNT", 10, "FROM", "qa", "qb")
	if b := jcBodies(got); fmt.Sprint(b) != "[b3 b4 b5]" {
		t.Fatalf("GETJOB COUNT 10 = %v, want [b3 b4 b5]", b)
	}

	// Three queues, the empty one in the middle, order of FROM respected.
	for _, j := range []string{"x1", "x2", "x3"} {
		jcAdd(t, tn, "qx", j)
	}
	for _, j := range []string{"z1", "z2"} {
		jcAdd(t, tn, "qz", j)
	}
	got = jcGet(t, tn, "COUNT", 10, "FROM", "qz", "qempty", "qx")
	if b := jcBodies(got); fmt.Sprint(b) != "[z1 x1 z2 x2 x3]" {
		t.Fatalf("GETJOB COUNT 10 FROM qz qempty qx = %v, want [z1 x1 z2 x2 x3]", b)
	}
}

// TestJobsGetJobDuplicateQueuesSweep: the non-blocking sweep walks the queue
// list as given, one job per listed queue per sweep (SPEC.md §5.2; only a
// blocking GETJOB ignores duplicates), so FROM qa qa qb takes two jobs of
// qa per sweep.
func TestJobsGetJobDuplicateQueuesSweep(t *testing.T) {
	tn := startNode(t)
	for _, j := range []string{"a1", "a2", "a3"} {
		jcAdd(t, tn, "qa", j)
	}
	for _, j := range []string{"b1", "b2"} {
		jcAdd(t, tn, "qb", j)
	}
	got := jcGet(t, tn, "NOHANG", "COUNT", 3, "FROM", "qa", "qa", "qb")
	if b := jcBodies(got); fmt.Sprint(b) != "[a1 a2 b1]" {
		t.Fatalf("GETJOB COUNT 3 FROM qa qa qb = %v, want [a1 a2 b1]", b)
	}
}

func TestJobsGetJobEverythingAfterFromIsAQueue(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "COUNT", "in-count")
	// Reads queues q, COUNT and 2 with the default COUNT 1.
	got := jcGet(t, tn, "NOHANG", "FROM", "q", "COUNT", "2")
	if len(got) != 1 || got[0].id != id || got[0].queue != "COUNT" {
		t.Fatalf("GETJOB NOHANG FROM q COUNT 2 = %v, want the job of queue COUNT", got)
	}
	for _, q := range []string{"q", "COUNT", "2"} {
		if jcQstat(t, tn, q) == nil {
			t.Fatalf("queue %q not created", q)
		}
	}
	id = jcAdd(t, tn, "NOHANG", "x")
	got = jcGet(t, tn, "NOHANG", "FROM", "NOHANG")
	if len(got) != 1 || got[0].id != id {
		t.Fatalf("GETJOB NOHANG FROM NOHANG = %v", got)
	}
	id = jcAdd(t, tn, "FROM", "y")
	got = jcGet(t, tn, "NOHANG", "FROM", "FROM")
	if len(got) != 1 || got[0].id != id || got[0].queue != "FROM" {
		t.Fatalf("GETJOB NOHANG FROM FROM = %v", got)
	}
	// WITHCOUNTERS after FROM is a queue name, not the option.
	jcAdd(t, tn, "wq", "z")
	got = jcGet(t, tn, "NOHANG", "FROM", "wq", "WITHCOUNTERS")
	if len(got) != 1 || got[0].counters != nil {
		t.Fatalf("GETJOB NOHANG FROM wq WITHCOUNTERS = %#v, want a 3-element job", got)
	}
}

func TestJobsGetJobSyntaxErrors(t *testing.T) {
	tn := startNode(t)
	jcAdd(t, tn, "q", "b")
	cases := []struct {
		want string
		args []any
	}{
		{jcErrArityGetjob, []any{"GETJOB"}},
		{jcErrSyntax, []any{"GETJOB", "FROM"}},
		{jcErrSyntax, []any{"GETJOB", "q"}},
		{jcErrSyntax, []any{"GETJOB", "NOHANG"}},
		{jcErrSyntax, []any{"GETJOB", "NOHANG", "q"}},
		{jcErrSyntax, []any{"GETJOB", "FOO", "FROM", "q"}},
		{jcErrSyntax, []any{"GETJOB", "NOHANG", "FROM"}},
		{jcErrSyntax, []any{"GETJOB", "COUNT"}},
		{jcErrSyntax, []any{"GETJOB", "TIMEOUT"}},
		{jcErrSyntax, []any{"GETJOB", "NOHANG", "COUNT", 2}},
		{jcErrSyntax, []any{"GETJOB", "REPLICATE", 1, "FROM", "q"}},
		{jcErrCount, []any{"GETJOB", "COUNT", 0, "FROM", "q"}},
		{jcErrCount, []any{"GETJOB", "COUNT", -3, "FROM", "q"}},
		{jcErrCount, []any{"GETJOB", "NOHANG", "COUNT", 0, "FROM", "q"}},
		{jcErrTimeoutNeg, []any{"GETJOB", "TIMEOUT", -1, "FROM", "q"}},
		{jcErrTimeoutNaN, []any{"GETJOB", "TIMEOUT", "abc", "FROM", "q"}},
		{jcErrTimeoutNaN, []any{"GETJOB", "TIMEOUT", "1.5", "FROM", "q"}},
	}
	for _, c := range cases {
		jcErr(t, tn, c.want, c.args...)
	}
	// Nothing was taken by the failed commands.
	if qlen := jcQlen(t, tn, "q"); qlen != 1 {
		t.Fatalf("QLEN = %d, want 1", qlen)
	}
	// Raw: error type on the wire.
	r := tn.raw(t)
	r.send("GETJOB COUNT 0 FROM q\r\n")
	r.expect("-" + jcErrCount + "\r\n")
	// Keywords are case-insensitive; options in any order, repeated: last wins.
	jcAdd(t, tn, "q", "c")
	got := jcGet(t, tn, "count", 1, "WithCounters", "NoHang", "timeout", 10, "Count", 5, "from", "q")
	if len(got) != 2 || got[0].counters == nil {
		t.Fatalf("GETJOB with mixed-case options = %#v", got)
	}
}

func TestJobsGetJobWithCounters(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "body")
	r := tn.raw(t)
	r.send("GETJOB NOHANG WITHCOUNTERS FROM q\r\n")
	r.expect("*1\r\n*7\r\n" + jcBulk("q") + jcBulk(id) + jcBulk("body") +
		jcBulk("nacks") + ":0\r\n" + jcBulk("additional-deliveries") + ":0\r\n")
	// After a NACK and an ENQUEUE the counters show.
	if n := jcInt(t, tn, "NACK", id); n != 1 {
		t.Fatalf("NACK = %d", n)
	}
	r.send("GETJOB WITHCOUNTERS FROM q\r\n")
	r.expect("*1\r\n*7\r\n" + jcBulk("q") + jcBulk(id) + jcBulk("body") +
		jcBulk("nacks") + ":1\r\n" + jcBulk("additional-deliveries") + ":0\r\n")
	if n := jcInt(t, tn, "ENQUEUE", id); n != 1 {
		t.Fatalf("ENQUEUE = %d", n)
	}
	// Two jobs, two 7-element arrays.
	id2 := jcAdd(t, tn, "q", "second")
	r.send("GETJOB COUNT 2 WITHCOUNTERS FROM q\r\n")
	r.expect("*2\r\n*7\r\n" + jcBulk("q") + jcBulk(id) + jcBulk("body") +
		jcBulk("nacks") + ":1\r\n" + jcBulk("additional-deliveries") + ":1\r\n" +
		"*7\r\n" + jcBulk("q") + jcBulk(id2) + jcBulk("second") +
		jcBulk("nacks") + ":0\r\n" + jcBulk("additional-deliveries") + ":0\r\n")
	// Without WITHCOUNTERS: 3 elements.
	jcMust(t, tn, "NACK", id)
	r.send("GETJOB FROM q\r\n")
	r.expect("*1\r\n" + jcTriple("q", id, "body"))
}

func TestJobsGetJobTimeout(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	r := tn.raw(t)
	for _, ms := range []int{300, 1} {
		start := time.Now()
		r.send(fmt.Sprintf("GETJOB TIMEOUT %d FROM empty\r\n", ms))
		r.expect("*-1\r\n")
		if d := time.Since(start); d < time.Duration(ms)*time.Millisecond {
			t.Fatalf("GETJOB TIMEOUT %d returned after %v, before the timeout", ms, d)
		}
	}
	// WITHCOUNTERS, several queues: same null.
	start := time.Now()
	r.send("GETJOB TIMEOUT 200 WITHCOUNTERS COUNT 3 FROM e1 e2\r\n")
	r.expect("*-1\r\n")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("GETJOB TIMEOUT 200 returned after %v", d)
	}
	// No client left blocked.
	jcWait(t, 5*time.Second, "blocked_clients 0", func() bool {
		return jcInfoInt(t, tn, "clients", "blocked_clients") == 0
	})
	for _, q := range []string{"empty", "e1", "e2"} {
		if b := jcBlocked(t, tn, q); b != 0 {
			t.Fatalf("QSTAT %s blocked = %d after the timeout", q, b)
		}
	}
	// The timed-out clients do not swallow later jobs.
	for _, q := range []string{"empty", "e1", "e2"} {
		jcAdd(t, tn, q, "later")
	}
	time.Sleep(50 * time.Millisecond)
	for _, q := range []string{"empty", "e1", "e2"} {
		if qlen := jcQlen(t, tn, q); qlen != 1 {
			t.Fatalf("QLEN %s = %d after a timed-out GETJOB, want 1", q, qlen)
		}
	}
	// A TIMEOUT with a job present answers at once with the job.
	id := jcAdd(t, tn, "full", "b")
	r.send("GETJOB TIMEOUT 100000 FROM full\r\n")
	r.expect("*1\r\n" + jcTriple("full", id, "b"))
}

func TestJobsGetJobBlockingWokenByAddJob(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("GETJOB COUNT 3 FROM qb\r\n")
	jcWaitBlocked(t, tn, "qb", 1)
	if n := jcInfoInt(t, tn, "clients", "blocked_clients"); n != 1 {
		t.Fatalf("blocked_clients = %d, want 1", n)
	}
	// Three jobs arrive; the blocked client gets exactly one.
	ids := []string{jcAdd(t, tn, "qb", "b1"), jcAdd(t, tn, "qb", "b2"), jcAdd(t, tn, "qb", "b3")}
	r.expect("*1\r\n" + jcTriple("qb", ids[0], "b1"))
	if qlen := jcQlen(t, tn, "qb"); qlen != 2 {
		t.Fatalf("QLEN = %d, want 2 (the blocked GETJOB takes one job)", qlen)
	}
	jcField(t, jcShowMust(t, tn, ids[0]), "state", "active")
	jcWaitBlocked(t, tn, "qb", 0)
	// The same connection works normally afterwards.
	r.send("GETJOB NOHANG COUNT 3 FROM qb\r\n")
	r.expect("*2\r\n" + jcTriple("qb", ids[1], "b2") + jcTriple("qb", ids[2], "b3"))

	// WITHCOUNTERS is honoured by a blocked GETJOB.
	r.send("GETJOB WITHCOUNTERS FROM qc\r\n")
	jcWaitBlocked(t, tn, "qc", 1)
	id := jcAdd(t, tn, "qc", "c")
	r.expect("*1\r\n*7\r\n" + jcBulk("qc") + jcBulk(id) + jcBulk("c") +
		jcBulk("nacks") + ":0\r\n" + jcBulk("additional-deliveries") + ":0\r\n")

	// Blocked clients of one queue are served in blocking order, one job each.
	r1, r2 := tn.raw(t), tn.raw(t)
	r1.send("GETJOB FROM qd\r\n")
	jcWaitBlocked(t, tn, "qd", 1)
	r2.send("GETJOB FROM qd\r\n")
	jcWaitBlocked(t, tn, "qd", 2)
	d1 := jcAdd(t, tn, "qd", "d1")
	r1.expect("*1\r\n" + jcTriple("qd", d1, "d1"))
	d2 := jcAdd(t, tn, "qd", "d2")
	r2.expect("*1\r\n" + jcTriple("qd", d2, "d2"))
}

func TestJobsGetJobBlockedOnTwoQueues(t *testing.T) {
	tn := startNode(t)
	for _, target := range []string{"q2", "q1"} {
		r := tn.raw(t)
		r.send("GETJOB TIMEOUT 20000 FROM q1 q2\r\n")
		jcWaitBlocked(t, tn, "q1", 1)
		jcWaitBlocked(t, tn, "q2", 1)
		id := jcAdd(t, tn, target, "for-"+target)
		r.expect("*1\r\n" + jcTriple(target, id, "for-"+target))
		// The client left both queues.
		jcWaitBlocked(t, tn, "q1", 0)
		jcWaitBlocked(t, tn, "q2", 0)
		// A second job on the other queue stays there.
		other := map[string]string{"q1": "q2", "q2": "q1"}[target]
		jcAdd(t, tn, other, "stays")
		time.Sleep(50 * time.Millisecond)
		if qlen := jcQlen(t, tn, other); qlen != 1 {
			t.Fatalf("QLEN %s = %d, want 1", other, qlen)
		}
		jcGet(t, tn, "NOHANG", "FROM", other)
	}
	// Jobs arriving on both queues at once: exactly one is taken, the other
	// stays queued.
	prod := tn.raw(t)
	for i := 0; i < 5; i++ {
		r := tn.raw(t)
		r.send("GETJOB FROM both1 both2\r\n")
		jcWaitBlocked(t, tn, "both1", 1)
		jcWaitBlocked(t, tn, "both2", 1)
		prod.send("ADDJOB both1 x 0\r\nADDJOB both2 y 0\r\n")
		jcLine(prod)
		jcLine(prod)
		r.expect("*1\r\n*3\r\n")
		q := jcLine(r)
		if q != "$5" {
			t.Fatalf("queue name header %q", q)
		}
		jcWait(t, 5*time.Second, "the untaken job to be queued", func() bool {
			return jcQlen(t, tn, "both1")+jcQlen(t, tn, "both2") == 1
		})
		time.Sleep(20 * time.Millisecond)
		if n := jcQlen(t, tn, "both1") + jcQlen(t, tn, "both2"); n != 1 {
			t.Fatalf("QLEN both1+both2 = %d, want 1", n)
		}
		if got := jcGet(t, tn, "NOHANG", "COUNT", 5, "FROM", "both1", "both2"); len(got) != 1 {
			t.Fatalf("GETJOB of the untaken job = %v", got)
		}
	}
	// Duplicate queue names when blocking are ignored: one job, one reply.
	r := tn.raw(t)
	r.send("GETJOB FROM q3 q3 q3\r\n")
	jcWaitBlocked(t, tn, "q3", 1)
	id := jcAdd(t, tn, "q3", "x")
	jcAdd(t, tn, "q3", "y")
	r.expect("*1\r\n" + jcTriple("q3", id, "x"))
	if qlen := jcQlen(t, tn, "q3"); qlen != 1 {
		t.Fatalf("QLEN q3 = %d, want 1", qlen)
	}
}

func TestJobsGetJobOtherClientsServedWhileBlocked(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("GETJOB FROM idle\r\n")
	jcWaitBlocked(t, tn, "idle", 1)
	start := time.Now()
	if v := jcMust(t, tn, "PING"); v != "PONG" {
		t.Fatalf("PING = %#v", v)
	}
	id := jcAdd(t, tn, "busy", "b")
	got := jcGet(t, tn, "NOHANG", "FROM", "busy")
	if len(got) != 1 || got[0].id != id {
		t.Fatalf("GETJOB = %v", got)
	}
	// A second blocking GETJOB on another connection, served independently.
	r2 := tn.raw(t)
	r2.send("GETJOB FROM busy\r\n")
	jcWaitBlocked(t, tn, "busy", 1)
	id = jcAdd(t, tn, "busy", "c")
	r2.expect("*1\r\n" + jcTriple("busy", id, "c"))
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("other clients took %v while one was blocked", d)
	}
	// The first one is still blocked.
	if b := jcBlocked(t, tn, "idle"); b != 1 {
		t.Fatalf("blocked on idle = %d, want 1", b)
	}
	id = jcAdd(t, tn, "idle", "finally")
	r.expect("*1\r\n" + jcTriple("idle", id, "finally"))
}

func TestJobsGetJobBlockedClientDisconnects(t *testing.T) {
	tn := startNode(t)
	// Disconnect, then ADDJOB at once: the job must not be swallowed by the
	// client that is gone (it may take the node a moment to put it back).
	r := tn.raw(t)
	r.send("GETJOB FROM qd\r\n")
	jcWaitBlocked(t, tn, "qd", 1)
	r.c.Close()
	id := jcAdd(t, tn, "qd", "precious", "RETRY", 0)
	var got []jcJob
	for deadline := time.Now().Add(5 * time.Second); got == nil; time.Sleep(20 * time.Millisecond) {
		if got = jcGet(t, tn, "NOHANG", "FROM", "qd"); got == nil && time.Now().After(deadline) {
			m := jcShow(t, tn, id)
			t.Fatalf("the job never came back after its blocked client left: SHOW state %v, QLEN %d",
				m["state"], jcQlen(t, tn, "qd"))
		}
	}
	if len(got) != 1 || got[0].id != id {
		t.Fatalf("GETJOB = %v, want the job", got)
	}
	jcWait(t, 5*time.Second, "blocked_clients 0", func() bool {
		return jcInfoInt(t, tn, "clients", "blocked_clients") == 0
	})
}

// TestJobsGetJobBlockedClientDisconnectsNoticed: once the node noticed a
// blocked client left, the next job is fetchable at once.
func TestJobsGetJobBlockedClientDisconnectsNoticed(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("GETJOB FROM qe\r\n")
	jcWaitBlocked(t, tn, "qe", 1)
	r.c.Close()
	jcWaitBlocked(t, tn, "qe", 0)
	id := jcAdd(t, tn, "qe", "again")
	got := jcGet(t, tn, "NOHANG", "FROM", "qe")
	if len(got) != 1 || got[0].id != id {
		t.Fatalf("GETJOB = %v, want the job", got)
	}
	jcField(t, jcShowMust(t, tn, id), "state", "active")
}

func TestJobsGetJobPausedOut(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b")
	if v := jcMust(t, tn, "PAUSE", "q", "out"); v != "out" {
		t.Fatalf("PAUSE q out = %#v", v)
	}
	// NOHANG: nothing, although a job is there.
	r := tn.raw(t)
	r.send("GETJOB NOHANG FROM q\r\n")
	r.expect("*-1\r\n")
	// Blocking: blocks.
	r.send("GETJOB FROM q\r\n")
	jcWaitBlocked(t, tn, "q", 1)
	time.Sleep(100 * time.Millisecond)
	if qlen := jcQlen(t, tn, "q"); qlen != 1 {
		t.Fatalf("QLEN = %d while paused out, want 1", qlen)
	}
	// A second ADDJOB (paused out accepts input) does not wake it either.
	id2 := jcAdd(t, tn, "q", "c")
	time.Sleep(100 * time.Millisecond)
	if b := jcBlocked(t, tn, "q"); b != 1 {
		t.Fatalf("blocked = %d, want 1", b)
	}
	// Clearing the pause wakes the blocked client with the oldest job.
	if v := jcMust(t, tn, "PAUSE", "q", "none"); v != "none" {
		t.Fatalf("PAUSE q none = %#v", v)
	}
	r.expect("*1\r\n" + jcTriple("q", id, "b"))
	got := jcGet(t, tn, "NOHANG", "FROM", "q")
	if len(got) != 1 || got[0].id != id2 {
		t.Fatalf("GETJOB = %v, want the second job", got)
	}
	// A paused-out queue is skipped by the sweep, the others still served.
	jcAdd(t, tn, "q", "p")
	jcMust(t, tn, "PAUSE", "q", "all")
	o := jcAdd(t, tn, "open", "o")
	got = jcGet(t, tn, "NOHANG", "COUNT", 5, "FROM", "q", "open")
	if len(got) != 1 || got[0].id != o {
		t.Fatalf("GETJOB FROM paused and open = %v, want only the open queue's job", got)
	}
}

func TestJobsGetJobLeaving(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b")
	// A client already blocked is kicked when the node starts leaving.
	blocked := tn.raw(t)
	blocked.send("GETJOB FROM empty\r\n")
	jcWaitBlocked(t, tn, "empty", 1)
	if v := jcMust(t, tn, "CLUSTER", "LEAVING", "yes"); v != "OK" {
		t.Fatalf("CLUSTER LEAVING yes = %#v", v)
	}
	blocked.expect("-" + jcErrLeaving + "\r\n")
	jcWaitBlocked(t, tn, "empty", 0)
	r := tn.raw(t)
	r.send("CLUSTER LEAVING\r\n")
	r.expect("+yes\r\n")
	// Jobs present are still served.
	r.send("GETJOB FROM q\r\n")
	r.expect("*1\r\n" + jcTriple("q", id, "b"))
	// NOHANG with nothing: the null reply.
	r.send("GETJOB NOHANG FROM q\r\n")
	r.expect("*-1\r\n")
	// A GETJOB that would block: the LEAVING error, at once.
	r.send("GETJOB FROM q\r\n")
	r.expect("-" + jcErrLeaving + "\r\n")
	r.send("GETJOB TIMEOUT 100000 COUNT 2 FROM q other\r\n")
	r.expect("-" + jcErrLeaving + "\r\n")
	// Back to normal.
	jcMust(t, tn, "CLUSTER", "LEAVING", "no")
	r.send("CLUSTER LEAVING\r\n")
	r.expect("+no\r\n")
	r.send("GETJOB TIMEOUT 50 FROM q\r\n")
	r.expect("*-1\r\n")
	// The kicked client does not swallow a later job.
	e := jcAdd(t, tn, "empty", "later")
	time.Sleep(50 * time.Millisecond)
	jcField(t, jcShowMust(t, tn, e), "state", "queued")
	// The kicked connection is usable.
	blocked.send("GETJOB NOHANG FROM empty\r\n")
	blocked.expect("*1\r\n" + jcTriple("empty", e, "later"))
}

// jcBlockForever checks GETJOB TIMEOUT <timeout> blocks (for 300 ms at
// least) until a job comes.
func jcBlockForever(t *testing.T, tn *testNode, timeout string) {
	t.Helper()
	q := "q" + timeout
	r := tn.raw(t)
	r.send("GETJOB TIMEOUT " + timeout + " FROM " + q + "\r\n")
	jcWaitBlocked(t, tn, q, 1)
	time.Sleep(300 * time.Millisecond)
	if b := jcBlocked(t, tn, q); b != 1 {
		t.Fatalf("GETJOB TIMEOUT %s no longer blocked after 300 ms", timeout)
	}
	id := jcAdd(t, tn, q, "b")
	r.expect("*1\r\n" + jcTriple(q, id, "b"))
}

// TestJobsGetJobTimeoutZero: TIMEOUT 0 blocks until a job comes.
func TestJobsGetJobTimeoutZero(t *testing.T) {
	t.Parallel()
	jcBlockForever(t, startNode(t), "0")
}

// TestJobsGetJobTimeoutHuge: the largest timeouts block too; they must not
// wrap around and fire at once.
func TestJobsGetJobTimeoutHuge(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	jcBlockForever(t, tn, "9223372036854775807")
	jcBlockForever(t, tn, "10000000000000")
}

// TestJobsGetJobFlushUnblocks: DEBUG FLUSHALL and CLUSTER RESET answer
// blocked clients with the null multibulk (SPEC.md §5.2, §5.18).
func TestJobsGetJobFlushUnblocks(t *testing.T) {
	tn := startNode(t)
	for _, cmd := range [][]any{{"DEBUG", "FLUSHALL"}, {"CLUSTER", "RESET", "SOFT"}} {
		jcAdd(t, tn, "other", "gone")
		r := tn.raw(t)
		r.send("GETJOB FROM fq\r\n")
		jcWaitBlocked(t, tn, "fq", 1)
		if v := jcMust(t, tn, cmd...); v != "OK" {
			t.Fatalf("%v = %#v", cmd, v)
		}
		r.expect("*-1\r\n")
		if n := jcInfoInt(t, tn, "jobs", "registered_jobs"); n != 0 {
			t.Fatalf("registered_jobs after %v = %d", cmd, n)
		}
		jcWait(t, 5*time.Second, "blocked_clients 0", func() bool {
			return jcInfoInt(t, tn, "clients", "blocked_clients") == 0
		})
		// The connection is usable afterwards.
		r.send("GETJOB NOHANG FROM fq\r\n")
		r.expect("*-1\r\n")
	}
}

// TestJobsPipeline: job commands pipelined in one write are answered in
// order, and a blocking GETJOB holds back the replies after it.
func TestJobsPipeline(t *testing.T) {
	tn := startNode(t)
	myid := jcMyID(t, tn)
	r := tn.raw(t)
	r.send("ADDJOB pq a 0\r\nADDJOB pq b 0\r\n" + jcRespCmd("ADDJOB", "pq", "c", "0", "RETRY", "0") +
		"QLEN pq\r\nGETJOB NOHANG COUNT 2 FROM pq\r\nQLEN pq\r\nGETJOB NOHANG FROM empty\r\nPING\r\n")
	var ids []string
	for _, tail := range []string{"-05a1", "-05a1", "-05a0"} {
		r.expect("+D-" + myid[:8] + "-")
		rest := jcLine(r)
		if !strings.HasSuffix(rest, tail) {
			t.Fatalf("ADDJOB reply tail %q, want ...%s", rest, tail)
		}
		ids = append(ids, "D-"+myid[:8]+"-"+rest)
	}
	r.expect(":3\r\n*2\r\n" + jcTriple("pq", ids[0], "a") + jcTriple("pq", ids[1], "b") +
		":1\r\n*-1\r\n+PONG\r\n")
	// ACKJOB, SHOW, NACK in one write.
	r.send("ACKJOB " + ids[0] + "\r\nSHOW " + ids[0] + "\r\nNACK " + ids[1] + "\r\nQLEN pq\r\n")
	r.expect(":1\r\n$-1\r\n:1\r\n:2\r\n")
	// A blocking GETJOB followed by PING: PING waits for the GETJOB.
	r.send("GETJOB FROM bq\r\nPING\r\n")
	jcWaitBlocked(t, tn, "bq", 1)
	id := jcAdd(t, tn, "bq", "x")
	r.expect("*1\r\n" + jcTriple("bq", id, "x") + "+PONG\r\n")
}
