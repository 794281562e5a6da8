package gateway_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Black-box tests of the queue commands QLEN QPEEK QSTAT PAUSE and the
// iterators QSCAN JSCAN (SPEC.md §5.10–5.15, §8), through a raw connection
// so that reply types are checked on the wire.

func TestQueuesQLEN(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("QLEN nosuch\r\n")
	r.expect(":0\r\n")
	for i := 0; i < 3; i++ {
		xdo(t, tn, "ADDJOB", "lq", i, 0)
	}
	xdo(t, tn, "ADDJOB", "lq", "later", 0, "DELAY", 60) // active, not queued
	r.send("QLEN lq\r\n")
	r.expect(":3\r\n")
	xdo(t, tn, "GETJOB", "FROM", "lq")
	r.send("QLEN lq\r\n")
	r.expect(":2\r\n")
	r.send("QLEN LQ\r\n") // queue names are case-sensitive
	r.expect(":0\r\n")
	// QLEN does not create the queue.
	r.send("QSTAT nosuch\r\n")
	r.expect("*-1\r\n")
	r.send("QLEN\r\n")
	r.expect("-ERR wrong number of arguments for 'qlen' command\r\n")
	r.send("QLEN a b\r\n")
	r.expect("-ERR wrong number of arguments for 'qlen' command\r\n")
}

func TestQueuesQPEEK(t *testing.T) {
	tn := startNode(t)
	var ids []string
	for _, b := range []string{"a", "b", "c"} {
		ids = append(ids, xdo(t, tn, "ADDJOB", "pq", b, 0).(string))
	}
	job := func(i int) string {
		return fmt.Sprintf("*3\r\n$2\r\npq\r\n$40\r\n%s\r\n$1\r\n%s\r\n", ids[i], "abc"[i:i+1])
	}
	r := tn.raw(t)
	for _, c := range []struct {
		count string
		order []int
	}{
		{"1", []int{0}}, {"2", []int{0, 1}}, {"3", []int{0, 1, 2}}, {"100", []int{0, 1, 2}},
		{"-1", []int{2}}, {"-2", []int{2, 1}}, {"-100", []int{2, 1, 0}},
		{"9223372036854775807", []int{0, 1, 2}}, {"-9223372036854775807", []int{2, 1, 0}},
	} {
		want := fmt.Sprintf("*%d\r\n", len(c.order))
		for _, i := range c.order {
			want += job(i)
		}
		r.send("QPEEK pq " + c.count + "\r\n")
		r.expect(want)
	}
	r.send("QPEEK pq 0\r\n")
	r.expect("*0\r\n")
	r.send("QPEEK nosuch 5\r\n")
	r.expect("*0\r\n")
	r.send("QPEEK nosuch -5\r\n")
	r.expect("*0\r\n")
	for _, bad := range []string{"abc", "1.5", "", "99999999999999999999", "0x10", " 1", "+1"} {
		r.send(xmbulk("QPEEK", "pq", bad))
		r.expect("-ERR value is not an integer or out of range\r\n")
	}
	r.send("QPEEK pq\r\n")
	r.expect("-ERR wrong number of arguments for 'qpeek' command\r\n")

	// No side effects: the missing queue is not created, jobs stay queued.
	r.send("QSTAT nosuch\r\n")
	r.expect("*-1\r\n")
	r.send("QLEN pq\r\n")
	r.expect(":3\r\n")
	if v := r.xcmd("SHOW", ids[0]); len(v.arr) != 30 || v.arr[5].str != "queued" {
		t.Fatalf("SHOW after QPEEK = %s", v)
	}
	xwaitInfo(t, tn, "registered_queues", "1")

	// An emptied queue peeks as *0 too.
	xdo(t, tn, "GETJOB", "COUNT", 3, "FROM", "pq")
	r.send("QPEEK pq 10\r\n")
	r.expect("*0\r\n")
	// Empty and binary bodies.
	id := xdo(t, tn, "ADDJOB", "bq", "", 0).(string)
	id2 := xdo(t, tn, "ADDJOB", "bq", "a\r\nb\x00", 0).(string)
	r.send("QPEEK bq 2\r\n")
	r.expect("*2\r\n*3\r\n$2\r\nbq\r\n$40\r\n" + id + "\r\n$0\r\n\r\n*3\r\n$2\r\nbq\r\n$40\r\n" + id2 + "\r\n$5\r\na\r\nb\x00\r\n")
}

var qstatNames = []string{"name", "len", "age", "idle", "blocked", "import-from", "import-rate", "jobs-in", "jobs-out", "pause"}

// qstat reads QSTAT q and checks the shape of SPEC.md §5.12: 20 elements,
// field names in order, values typed bulk/int/int/int/int/array/int/int/int/bulk.
func qstat(t *testing.T, r *raw, q string) map[string]xval {
	t.Helper()
	v := r.xcmd("QSTAT", q)
	if v.kind != '*' || len(v.arr) != 20 {
		t.Fatalf("QSTAT %s = %s, want 20 elements", q, v)
	}
	out := map[string]xval{}
	for i, name := range qstatNames {
		k, val := v.arr[2*i], v.arr[2*i+1]
		if k.kind != '$' || k.str != name {
			t.Fatalf("QSTAT %s element %d = %s, want field %q", q, 2*i, k, name)
		}
		want := byte(':')
		switch name {
		case "import-from":
			want = '*'
		case "name", "pause":
			want = '$'
		}
		if val.kind != want || val.null {
			t.Fatalf("QSTAT %s %s = %s, want type %c", q, name, val, want)
		}
		out[name] = val
	}
	return out
}

func TestQueuesQSTAT(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("QSTAT nosuch\r\n")
	r.expect("*-1\r\n")
	r.send("QSTAT\r\n")
	r.expect("-ERR wrong number of arguments for 'qstat' command\r\n")

	for i := 0; i < 3; i++ {
		xdo(t, tn, "ADDJOB", "sq", i, 0)
	}
	xdo(t, tn, "GETJOB", "FROM", "sq")
	s := qstat(t, r, "sq")
	for name, want := range map[string]string{
		"name": `$"sq"`, "len": ":2", "blocked": ":0", "import-from": "[]", "import-rate": ":0",
		"jobs-in": ":3", "jobs-out": ":1", "pause": `$"none"`,
	} {
		if s[name].String() != want {
			t.Errorf("QSTAT sq %s = %s, want %s", name, s[name], want)
		}
	}
	if s["age"].num < 0 || s["age"].num > 5 || s["idle"].num < 0 || s["idle"].num > 5 {
		t.Errorf("QSTAT sq age %d idle %d", s["age"].num, s["idle"].num)
	}

	// A queue made by GETJOB has length 0 and counts its blocked clients.
	b1, b2 := tn.raw(t), tn.raw(t)
	b1.send("GETJOB FROM bq\r\n")
	waitQstat(t, r, "bq", "blocked", ":1")
	b2.send("GETJOB TIMEOUT 60000 FROM other bq\r\n")
	waitQstat(t, r, "bq", "blocked", ":2")
	s = qstat(t, r, "bq")
	if s["len"].String() != ":0" || s["jobs-in"].String() != ":0" || s["jobs-out"].String() != ":0" {
		t.Fatalf("QSTAT bq = %v", s)
	}
	id := xdo(t, tn, "ADDJOB", "bq", "x", 0).(string)
	b1.expect("*1\r\n*3\r\n$2\r\nbq\r\n$40\r\n" + id + "\r\n$1\r\nx\r\n")
	waitQstat(t, r, "bq", "blocked", ":1")
	id = xdo(t, tn, "ADDJOB", "bq", "y", 0).(string)
	b2.expect("*1\r\n*3\r\n$2\r\nbq\r\n$40\r\n" + id + "\r\n$1\r\ny\r\n")
	waitQstat(t, r, "bq", "blocked", ":0")
	s = qstat(t, r, "bq")
	if s["jobs-in"].String() != ":2" || s["jobs-out"].String() != ":2" || s["len"].String() != ":0" {
		t.Fatalf("QSTAT bq after two deliveries = %v", s)
	}

	// The pause field follows PAUSE.
	for _, st := range []string{"in", "out", "all", "none"} {
		r.send("PAUSE sq " + st + "\r\n")
		r.expect("+" + st + "\r\n")
		if got := qstat(t, r, "sq")["pause"].String(); got != `$"`+st+`"` {
			t.Fatalf("QSTAT pause after PAUSE %s = %s", st, got)
		}
	}
}

func waitQstat(t *testing.T, r *raw, q, field, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := "(no queue)"
		if v := r.xcmd("QSTAT", q); v.kind == '*' && !v.null { // the queue may not exist yet
			got = qstat(t, r, q)[field].String()
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("QSTAT %s %s = %s, want %s", q, field, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestQueuesPAUSE(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	pause := func(args, want string) {
		t.Helper()
		r.send("PAUSE " + args + "\r\n")
		r.expect(want + "\r\n")
	}
	xdo(t, tn, "ADDJOB", "q", "x", 0)
	pause("q state", "+none")
	pause("q in", "+in")
	pause("q state", "+in")
	pause("q out", "+out") // replaces, does not add
	pause("q state", "+out")
	pause("q in out", "+all")
	pause("q all", "+all")
	pause("q none", "+none")
	pause("q none in", "+in")
	pause("q in none", "+none")
	pause("q out none in", "+in")
	pause("q in out none out", "+out")
	pause("q all state", "+all")
	pause("q state none", "+none")
	pause("q IN", "+in")
	pause("q NoNe", "+none")
	pause("q bcast in", "+in")
	pause("q BCAST", "+in")
	pause("q bcast none", "+none")
	pause("q in bcast out", "+all")
	// Syntax errors change nothing, wherever the bad option is.
	pause("q foo", "-ERR syntax error")
	pause("q none foo", "-ERR syntax error")
	pause("q in in2", "-ERR syntax error")
	pause("q state", "+all")
	pause("q", "-ERR wrong number of arguments for 'pause' command")
	r.send("PAUSE\r\n")
	r.expect("-ERR wrong number of arguments for 'pause' command\r\n")
	pause("q none", "+none")

	// A missing queue is created only when the new state is not none.
	for _, opts := range []string{"none", "state", "in none", "bcast", "BCAST none state"} {
		pause("nq "+opts, "+none")
		r.send("QSTAT nq\r\n")
		r.expect("*-1\r\n")
	}
	pause("nq out", "+out")
	if qstat(t, r, "nq")["pause"].String() != `$"out"` {
		t.Fatal("PAUSE nq out did not create a paused queue")
	}

	// Paused in: ADDJOB refused; ENQUEUE still fine for GETJOB.
	pause("q in", "+in")
	r.send("ADDJOB q y 0\r\n")
	r.expect("-PAUSED Queue paused in input, try later\r\n")
	pause("q all", "+all")
	r.send("ADDJOB q y 0\r\n")
	r.expect("-PAUSED Queue paused in input, try later\r\n")
	pause("q out", "+out")
	if v := r.xcmd("ADDJOB", "q", "y", "0"); v.kind != '+' {
		t.Fatalf("ADDJOB on a queue paused out = %s", v)
	}
	r.send("QLEN q\r\n")
	r.expect(":2\r\n")

	// Paused out: GETJOB does not serve, blocks, and wakes on unpause.
	r.send("GETJOB NOHANG FROM q\r\n")
	r.expect("*-1\r\n")
	b := tn.raw(t)
	b.send("GETJOB TIMEOUT 60000 FROM q\r\n")
	waitQstat(t, r, "q", "blocked", ":1")
	pause("q none", "+none")
	got := b.xread()
	if got.kind != '*' || len(got.arr) != 1 || got.arr[0].arr[0].str != "q" {
		t.Fatalf("blocked GETJOB after PAUSE q none = %s", got)
	}
	r.send("QLEN q\r\n")
	r.expect(":1\r\n")
}

// scanAll iterates a scan command with the given options until the cursor
// comes back to 0, checking the cursor is a bulk string, and returns every
// item (as rendered by xval.String) with the number of calls.
func scanAll(t *testing.T, r *raw, cmd string, opts ...string) (items []xval, calls int) {
	t.Helper()
	cursor := "0"
	for {
		calls++
		if calls > 10000 {
			t.Fatalf("%s did not come back to cursor 0", cmd)
		}
		v := r.xcmd(append([]string{cmd, cursor}, opts...)...)
		if v.kind != '*' || len(v.arr) != 2 || v.arr[0].kind != '$' || v.arr[0].null || v.arr[1].kind != '*' {
			t.Fatalf("%s %s %v = %s", cmd, cursor, opts, v)
		}
		if _, err := strconv.ParseUint(v.arr[0].str, 10, 64); err != nil {
			t.Fatalf("%s cursor %q", cmd, v.arr[0].str)
		}
		items = append(items, v.arr[1].arr...)
		cursor = v.arr[0].str
		if cursor == "0" {
			return items, calls
		}
	}
}

// names returns the distinct strings of bulk or status items, sorted.
func names(t *testing.T, items []xval, kind byte) []string {
	t.Helper()
	set := map[string]bool{}
	for _, it := range items {
		if it.kind != kind || it.null {
			t.Fatalf("scan item %s: want type %c", it, kind)
		}
		set[it.str] = true
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestQueuesQSCAN(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("QSCAN\r\n")
	r.expect("*2\r\n$1\r\n0\r\n*0\r\n")
	r.send("QSCAN 0 BUSYLOOP\r\n")
	r.expect("*2\r\n$1\r\n0\r\n*0\r\n")

	var want []string
	for i := 0; i < 60; i++ {
		q := fmt.Sprintf("scanq%02d", i)
		want = append(want, q)
		for j := 0; j <= i%4; j++ { // lengths 1..4
			xdo(t, tn, "ADDJOB", q, j, 0)
		}
	}
	sort.Strings(want)
	for _, count := range []string{"1", "3", "7", "1000"} {
		items, calls := scanAll(t, r, "QSCAN", "COUNT", count)
		if got := names(t, items, '$'); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("QSCAN COUNT %s returned %v", count, got)
		}
		if count == "1" && calls < 2 {
			t.Fatalf("QSCAN COUNT 1 finished in %d call", calls)
		}
	}
	// BUSYLOOP: all at once, whatever COUNT.
	v := r.xcmd("QSCAN", "BUSYLOOP", "COUNT", "1")
	if v.arr[0].String() != `$"0"` || len(names(t, v.arr[1].arr, '$')) != 60 {
		t.Fatalf("QSCAN BUSYLOOP COUNT 1 = %s", v)
	}
	// Cursor anywhere among the options, options in any case.
	v = r.xcmd("QSCAN", "busyloop", "0", "count", "5")
	if v.arr[0].String() != `$"0"` || len(names(t, v.arr[1].arr, '$')) != 60 {
		t.Fatalf("QSCAN busyloop 0 count 5 = %s", v)
	}

	// Filters.
	byLen := func(lo, hi int) []string {
		var out []string
		for i, q := range want {
			if n := i%4 + 1; n >= lo && n <= hi {
				out = append(out, q)
			}
		}
		return out
	}
	for _, c := range []struct {
		opts   []string
		lo, hi int
	}{
		{[]string{"MINLEN", "3"}, 3, 4}, {[]string{"MAXLEN", "2"}, 1, 2},
		{[]string{"MINLEN", "2", "MAXLEN", "3"}, 2, 3}, {[]string{"minlen", "5"}, 5, 5},
		{[]string{"MAXLEN", "0"}, 1, 0}, {[]string{"MINLEN", "0"}, 1, 4},
		{[]string{"IMPORTRATE", "0"}, 1, 4}, {[]string{"IMPORTRATE", "1"}, 1, 0},
		{[]string{"MINLEN", "2", "MINLEN", "4"}, 4, 4}, // the last wins
	} {
		items, _ := scanAll(t, r, "QSCAN", append([]string{"COUNT", "4"}, c.opts...)...)
		got := names(t, items, '$')
		if strings.Join(got, " ") != strings.Join(byLen(c.lo, c.hi), " ") {
			t.Errorf("QSCAN %v = %v, want %v", c.opts, got, byLen(c.lo, c.hi))
		}
	}

	// Errors.
	for _, c := range []struct{ cmd, want string }{
		{"QSCAN foo", "-ERR invalid cursor or option name"},
		{"QSCAN -1", "-ERR invalid cursor or option name"},
		{"QSCAN 1.5", "-ERR invalid cursor or option name"},
		{"QSCAN 0 0", "-ERR syntax error"},
		{"QSCAN 0 COUNT 10 5", "-ERR syntax error"},
		{"QSCAN 0 foo", "-ERR syntax error"},
		{"QSCAN COUNT", "-ERR invalid cursor or option name"}, // a valued option without value is a cursor
		{"QSCAN 0 MINLEN", "-ERR syntax error"},
		{"QSCAN COUNT abc", "-ERR value is not an integer or out of range"},
		{"QSCAN MINLEN x", "-ERR value is not an integer or out of range"},
		{"QSCAN MAXLEN 1.0", "-ERR value is not an integer or out of range"},
		{"QSCAN IMPORTRATE 99999999999999999999", "-ERR value is not an integer or out of range"},
		{"QSCAN 99999999999999999999", "-ERR invalid cursor or option name"},
	} {
		r.send(c.cmd + "\r\n")
		r.expect(c.want + "\r\n")
	}
	// Odd but valid numbers do not break the iteration.
	for _, opts := range [][]string{{"COUNT", "0"}, {"COUNT", "-5"}, {"COUNT", "9223372036854775807"}} {
		items, _ := scanAll(t, r, "QSCAN", opts...)
		if len(names(t, items, '$')) != 60 {
			t.Fatalf("QSCAN %v missed queues", opts)
		}
	}
	// An unknown cursor is still a valid place to resume from.
	if v := r.xcmd("QSCAN", "123456789"); v.kind != '*' || len(v.arr) != 2 {
		t.Fatalf("QSCAN 123456789 = %s", v)
	}
}

func TestQueuesJSCAN(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send("JSCAN\r\n")
	r.expect("*2\r\n$1\r\n0\r\n*0\r\n")
	one := xdo(t, tn, "ADDJOB", "ja", "x", 0).(string)
	// REPLY id (default): job IDs as status replies.
	r.send("JSCAN BUSYLOOP\r\n")
	r.expect("*2\r\n$1\r\n0\r\n*1\r\n+" + one + "\r\n")
	r.send("JSCAN 0 REPLY id BUSYLOOP\r\n")
	r.expect("*2\r\n$1\r\n0\r\n*1\r\n+" + one + "\r\n")

	queued := map[string]bool{one: true}
	active := map[string]bool{}
	inA := map[string]bool{one: true}
	for i := 0; i < 40; i++ {
		q := "ja"
		if i%2 == 1 {
			q = "jb"
		}
		id := xdo(t, tn, "ADDJOB", q, i, 0).(string)
		if q == "ja" {
			inA[id] = true
		}
		queued[id] = true
	}
	for i := 0; i < 5; i++ { // deliver 5 jobs of ja: they become active
		v := xdo(t, tn, "GETJOB", "FROM", "ja").([]any)
		id := v[0].([]any)[1].(string)
		delete(queued, id)
		active[id] = true
	}
	delayed := xdo(t, tn, "ADDJOB", "jc", "d", 0, "DELAY", 60).(string) // active, never queued yet
	active[delayed] = true
	all := map[string]bool{}
	for id := range queued {
		all[id] = true
	}
	for id := range active {
		all[id] = true
	}
	keys := func(m map[string]bool) string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	check := func(want map[string]bool, opts ...string) {
		t.Helper()
		items, _ := scanAll(t, r, "JSCAN", opts...)
		if got := strings.Join(names(t, items, '+'), " "); got != keys(want) {
			t.Fatalf("JSCAN %v: got %d IDs, want %d", opts, len(strings.Fields(got)), len(want))
		}
	}
	check(all, "COUNT", "3")
	check(all, "COUNT", "1")
	check(all)
	check(inA, "QUEUE", "ja", "COUNT", "5")
	check(map[string]bool{}, "QUEUE", "nosuch")
	check(queued, "STATE", "queued", "COUNT", "4")
	check(active, "STATE", "active")
	check(active, "STATE", "ACTIVE")
	check(all, "STATE", "active", "STATE", "queued", "COUNT", "2")
	check(queued, "STATE", "queued", "STATE", "queued")
	check(map[string]bool{}, "STATE", "acked", "STATE", "wait-repl")
	check(map[string]bool{delayed: true}, "STATE", "active", "QUEUE", "jc")
	check(inA, "QUEUE", "jb", "QUEUE", "ja") // the last wins

	// REPLY all: SHOW arrays.
	items, _ := scanAll(t, r, "JSCAN", "REPLY", "all", "COUNT", "7")
	seen := map[string]bool{}
	for _, it := range items {
		if it.kind != '*' || len(it.arr) != 30 || it.arr[0].String() != `$"id"` || it.arr[4].String() != `$"state"` ||
			it.arr[28].String() != `$"body"` {
			t.Fatalf("JSCAN REPLY all item %s", it)
		}
		id, state := it.arr[1].str, it.arr[5].str
		if (state == "queued") != queued[id] || (state == "active") != active[id] {
			t.Fatalf("JSCAN REPLY all: %s in state %s", id, state)
		}
		seen[id] = true
	}
	if keys(seen) != keys(all) {
		t.Fatalf("JSCAN REPLY all returned %d jobs, want %d", len(seen), len(all))
	}
	v := r.xcmd("JSCAN", "BUSYLOOP", "REPLY", "ALL", "STATE", "active", "QUEUE", "jc")
	if v.arr[0].String() != `$"0"` || len(v.arr[1].arr) != 1 || v.arr[1].arr[0].arr[1].str != delayed {
		t.Fatalf("JSCAN REPLY ALL STATE active QUEUE jc = %s", v)
	}
	// REPLY id after REPLY all: the last wins; IDs are status replies.
	v = r.xcmd("JSCAN", "BUSYLOOP", "REPLY", "all", "REPLY", "ID", "QUEUE", "jc")
	if v.String() != `[$"0" [+`+delayed+`]]` {
		t.Fatalf("JSCAN REPLY all REPLY ID = %s", v)
	}

	// Errors.
	for _, c := range []struct{ cmd, want string }{
		{"JSCAN STATE foo", "-ERR Invalid job state name"},
		{"JSCAN STATE queued STATE nope", "-ERR Invalid job state name"},
		{"JSCAN REPLY foo", "-ERR Invalid REPLY type, try ID or ALL"},
		{"JSCAN REPLY ids", "-ERR Invalid REPLY type, try ID or ALL"},
		{"JSCAN 0 1", "-ERR syntax error"},
		{"JSCAN 0 COUNT 1 0", "-ERR syntax error"},
		{"JSCAN abc", "-ERR invalid cursor or option name"},
		{"JSCAN -5", "-ERR invalid cursor or option name"},
		{"JSCAN STATE", "-ERR invalid cursor or option name"},
		{"JSCAN 0 QUEUE", "-ERR syntax error"},
		{"JSCAN COUNT abc", "-ERR value is not an integer or out of range"},
		{"JSCAN COUNT 1e3", "-ERR value is not an integer or out of range"},
	} {
		r.send(c.cmd + "\r\n")
		r.expect(c.want + "\r\n")
	}
}

// SPEC.md §5.11: a negative count returns |count| jobs, newest first; for
// the most negative int64 that is every job (Disque's loop runs until the
// queue ends).
func TestQueuesQPEEKMinInt64(t *testing.T) {
	tn := startNode(t)
	for _, b := range []string{"a", "b", "c"} {
		xdo(t, tn, "ADDJOB", "pq", b, 0)
	}
	r := tn.raw(t)
	v := r.xcmd("QPEEK", "pq", "-9223372036854775808")
	if v.kind != '*' || len(v.arr) != 3 {
		t.Fatalf("QPEEK pq -9223372036854775808 returned %d jobs, want all 3 newest first", len(v.arr))
	}
	for i, body := range []string{"c", "b", "a"} {
		if v.arr[i].arr[2].str != body {
			t.Fatalf("QPEEK min int64 = %s", v)
		}
	}
}

// SPEC.md §5.15, §7: while a queue is paused in, the scheduled requeue of an
// active job with retry > 0 is postponed, but a delayed at-most-once job is
// still queued; unpausing lets the requeue happen.
func TestQueuesPauseInPostponesRequeue(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	r := tn.raw(t)
	start := time.Now()
	x := xdo(t, tn, "ADDJOB", "rq", "x", 0, "RETRY", 3).(string)
	y := xdo(t, tn, "ADDJOB", "rq", "y", 0, "DELAY", 1, "RETRY", 0, "REPLICATE", 1).(string)
	if v := r.xcmd("GETJOB", "FROM", "rq"); len(v.arr) != 1 || v.arr[0].arr[1].str != x {
		t.Fatalf("GETJOB = %s", v)
	}
	r.send("PAUSE rq in\r\n")
	r.expect("+in\r\n")
	if time.Since(start) > 2*time.Second {
		t.Skip("machine too slow: the pause came after x's requeue time")
	}
	waitQLEN := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			v := r.xcmd("QLEN", "rq")
			if v.String() == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("QLEN rq = %s, want %s", v, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitQLEN(":1") // y, the delayed at-most-once job, is queued anyway
	if v := r.xcmd("QPEEK", "rq", "1"); len(v.arr) != 1 || v.arr[0].arr[1].str != y {
		t.Fatalf("QPEEK rq = %s, want %s", v, y)
	}
	time.Sleep(time.Until(start.Add(4500 * time.Millisecond))) // x's requeue time (3 s) has passed
	r.send("QLEN rq\r\n")
	r.expect(":1\r\n")
	if v := r.xcmd("SHOW", x); len(v.arr) != 30 || v.arr[5].str != "active" {
		t.Fatalf("SHOW x while paused in = %s", v)
	}
	r.send("PAUSE rq none\r\n")
	r.expect("+none\r\n")
	waitQLEN(":2")
}
