package disque_test

// Black-box tests of the append-only file (SPEC.md §15, DESIGN.md
// "Persistence" and "Decisions"), in-process: nodes started with
// disque.Start on a directory of the test's, stopped and started again on
// the same directory, talked to over RESP with go-redis. The crash tests
// with real processes and kill -9 are in cmd/disque-server/crash_test.go.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"bufio"
	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/actors/aof"
	"github.com/godisque/godisque/config"
	"github.com/godisque/godisque/protocol"
	"io"
)

// --------------------------------- Harness -----------------------------------

// pnode is a node on a directory that outlives it.
type pnode struct {
	t   *testing.T
	n   *disque.Node
	rdb *redis.Client
	dir string
	ctx context.Context
}

// aofAlways turns the log on with a fsync before every reply.
func aofAlways(c *config.Config) { c.AppendOnly, c.AppendFsync = true, config.FsyncAlways }

// startAt starts a node on dir; opts may carry a logger.
func startAt(t *testing.T, dir string, logger *zap.Logger, mutate ...func(*config.Config)) (*pnode, error) {
	t.Helper()
	cfg := config.Default()
	cfg.Dir = dir
	for _, m := range mutate {
		m(cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := disque.Start(context.Background(), disque.Config{Server: cfg, Listener: ln, Logger: logger})
	if err != nil {
		ln.Close()
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2, MaxRetries: -1, ReadTimeout: 20 * time.Second})
	p := &pnode{t: t, n: n, rdb: rdb, dir: dir, ctx: context.Background()}
	t.Cleanup(p.stop)
	return p, nil
}

func mustStartAt(t *testing.T, dir string, mutate ...func(*config.Config)) *pnode {
	t.Helper()
	p, err := startAt(t, dir, nil, mutate...)
	if err != nil {
		t.Fatalf("start on %s: %v", dir, err)
	}
	return p
}

func (p *pnode) stop() {
	p.rdb.Close()
	if err := p.n.Stop(); err != nil {
		p.t.Logf("stop: %v", err)
	}
}

func (p *pnode) do(args ...any) (any, error) { return p.rdb.Do(p.ctx, args...).Result() }

// must sends a command that must not fail (a nil reply is not a failure).
func (p *pnode) must(args ...any) any {
	p.t.Helper()
	v, err := p.do(args...)
	if err != nil && !errors.Is(err, redis.Nil) {
		p.t.Fatalf("%v: %v", args, err)
	}
	return v
}

func (p *pnode) addJob(queue, body string, opts ...any) string {
	p.t.Helper()
	args := append([]any{"ADDJOB", queue, body, 0}, opts...)
	id, ok := p.must(args...).(string)
	if !ok || len(id) != 40 {
		p.t.Fatalf("%v: reply %q", args, id)
	}
	return id
}

func (p *pnode) qlen(queue string) int64 {
	p.t.Helper()
	n, _ := p.must("QLEN", queue).(int64)
	return n
}

// show is SHOW as a map, nil for an unknown job.
func (p *pnode) show(id string) map[string]any {
	p.t.Helper()
	v, err := p.do("SHOW", id)
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		p.t.Fatalf("SHOW %s: %v", id, err)
	}
	return pairs(p.t, v)
}

func pairs(t *testing.T, v any) map[string]any {
	t.Helper()
	a, ok := v.([]any)
	if !ok || len(a)%2 != 0 {
		t.Fatalf("not a flat array of pairs: %#v", v)
	}
	m := make(map[string]any, len(a)/2)
	for i := 0; i < len(a); i += 2 {
		m[fmt.Sprint(a[i])] = a[i+1]
	}
	return m
}

// getJobs is GETJOB NOHANG, the IDs it gave.
func (p *pnode) getJobs(queue string, count int) []string {
	p.t.Helper()
	v := p.must("GETJOB", "NOHANG", "COUNT", count, "FROM", queue)
	var ids []string
	if a, ok := v.([]any); ok {
		for _, it := range a {
			ids = append(ids, it.([]any)[1].(string))
		}
	}
	return ids
}

// info is INFO <section> as a map.
func (p *pnode) info(section string) map[string]string {
	p.t.Helper()
	s, _ := p.must("INFO", section).(string)
	return infoFields(s)
}

// infoFields is the field:value lines of an INFO reply as a map.
func infoFields(info string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(info, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

func (p *pnode) infoInt(field string) int64 {
	p.t.Helper()
	v, ok := p.info("persistence")[field]
	if !ok {
		p.t.Fatalf("INFO persistence has no %s", field)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.t.Fatalf("INFO %s:%s", field, v)
	}
	return n
}

// live is the node's live set: the IDs of its active and queued jobs, with
// their bodies.
func (p *pnode) live() map[string]string {
	p.t.Helper()
	v := p.must("JSCAN", "0", "BUSYLOOP", "STATE", "active", "STATE", "queued", "REPLY", "all")
	a := v.([]any)
	if a[0] != "0" {
		p.t.Fatalf("JSCAN BUSYLOOP ended at cursor %v", a[0])
	}
	out := map[string]string{}
	for _, it := range a[1].([]any) {
		m := pairs(p.t, it)
		out[m["id"].(string)] = m["body"].(string)
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// loadFile replays an AOF the way the node does (LOADJOB replaces, DELJOB
// deletes): the live set it describes, ID -> body.
func loadFile(t *testing.T, path string) (map[string]string, aof.LoadResult) {
	t.Helper()
	live := map[string]string{}
	res, err := aof.Load(path, aof.LoadOptions{}, func(rec protocol.Message) error {
		switch r := rec.(type) {
		case *protocol.Job:
			live[r.Id] = string(r.Body)
		case *protocol.DelJobMsg:
			delete(live, r.Id)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("aof.Load %s: %v", path, err)
	}
	return live, res
}

func sameSet(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var missing, extra, differ []string
	for id, body := range want {
		g, ok := got[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case g != body:
			differ = append(differ, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra)+len(differ) > 0 {
		t.Fatalf("%s: %d jobs, want %d: missing %d %v, extra %d %v, other body %d %v", what,
			len(got), len(want), len(missing), head(missing), len(extra), head(extra), len(differ), head(differ))
	}
}

func head(s []string) []string {
	slices.Sort(s)
	return s[:min(len(s), 5)]
}

// frameStarts is the offset of every frame of an AOF's bytes (doc.go's
// format: a header, then frames of an 8-byte length+CRC header and the
// payload).
func frameStarts(t *testing.T, b []byte) []int64 {
	t.Helper()
	var starts []int64
	off := aof.HeaderSize
	for off < int64(len(b)) {
		starts = append(starts, off)
		off += aof.FrameHeaderSize + int64(binary.LittleEndian.Uint32(b[off:]))
	}
	if off != int64(len(b)) {
		t.Fatalf("frames end at %d, the file at %d", off, len(b))
	}
	return starts
}

// ------------------------------ Restart semantics ----------------------------

// TestPersistRestartAfterAcks: what comes back after a clean restart is
// exactly what was live, in the state DESIGN.md "Decisions" promises.
func TestPersistRestartAfterAcks(t *testing.T) {
	dir := t.TempDir()
	p := mustStartAt(t, dir, aofAlways)

	// 20 queued jobs; two delivered; ten of them acked, fast-acked or
	// deleted (the two delivered ones among the acked).
	var ids []string
	for i := range 20 {
		ids = append(ids, p.addJob("pa", fmt.Sprintf("pa-%d", i), "RETRY", 60))
	}
	if got := p.getJobs("pa", 2); !slices.Equal(got, ids[:2]) {
		t.Fatalf("GETJOB gave %v, want %v", got, ids[:2])
	}
	if n := p.must("ACKJOB", ids[0], ids[1], ids[2], ids[3]); n != int64(4) {
		t.Fatalf("ACKJOB: %v", n)
	}
	if n := p.must("FASTACK", ids[4], ids[5], ids[6]); n != int64(3) {
		t.Fatalf("FASTACK: %v", n)
	}
	if n := p.must("DELJOB", ids[7], ids[8], ids[9]); n != int64(3) {
		t.Fatalf("DELJOB: %v", n)
	}
	gone, kept := ids[:10], ids[10:]

	// An at-most-once job delivered, one queued and never delivered, one
	// delayed, and a job about to expire.
	amoDelivered := p.addJob("p0", "p0", "RETRY", 0, "REPLICATE", 1)
	if got := p.getJobs("p0", 1); !slices.Equal(got, []string{amoDelivered}) {
		t.Fatalf("GETJOB p0: %v", got)
	}
	amoQueued := p.addJob("p0q", "p0q", "RETRY", 0, "REPLICATE", 1)
	amoDelayed := p.addJob("pd", "pd", "RETRY", 0, "REPLICATE", 1, "DELAY", 3)
	expiring := p.addJob("pt", "pt", "TTL", 1)
	addedAt := time.Now()
	wantLive := p.live()
	if len(wantLive) != 14 {
		t.Fatalf("live set before the restart: %d jobs, want 14", len(wantLive))
	}
	p.stop()

	time.Sleep(1500 * time.Millisecond) // the TTL 1 job expires while the node is down
	p = mustStartAt(t, dir, aofAlways)

	if n := p.qlen("pa"); n != 10 {
		t.Errorf("QLEN pa after restart = %d, want 10 (queued jobs are queued again at once)", n)
	}
	for _, id := range kept {
		if s := p.show(id); s == nil || s["state"] != "queued" {
			t.Errorf("kept job %s after restart: %v, want queued", id, s)
		}
	}
	for _, id := range gone {
		if s := p.show(id); s != nil {
			t.Errorf("acked/deleted job %s came back: state %v", id, s["state"])
		}
	}
	if s := p.show(expiring); s != nil {
		t.Errorf("expired job came back: %v", s)
	}
	if n := p.qlen("p0q"); n != 1 {
		t.Errorf("QLEN p0q = %d: a queued RETRY 0 job that was never delivered must be queued again", n)
	}
	if got := p.getJobs("p0q", 1); !slices.Equal(got, []string{amoQueued}) {
		t.Errorf("GETJOB p0q: %v, want %s", got, amoQueued)
	}
	s := p.show(amoDelivered)
	if s == nil || s["state"] != "active" || s["next-requeue-within"] != nil {
		t.Errorf("delivered RETRY 0 job after restart: %v, want active with no requeue", s)
	}
	if s := p.show(amoDelayed); s == nil {
		t.Fatalf("delayed RETRY 0 job lost")
	} else if time.Since(addedAt) < 2500*time.Millisecond && s["state"] != "active" {
		t.Errorf("delayed job before its time: state %v, want active", s["state"])
	}
	eventually(t, 10*time.Second, "the delayed RETRY 0 job is queued at its time", func() bool { return p.qlen("pd") == 1 })
	if got := p.getJobs("pd", 1); !slices.Equal(got, []string{amoDelayed}) {
		t.Errorf("GETJOB pd: %v", got)
	}
	time.Sleep(300 * time.Millisecond)
	if n := p.qlen("p0"); n != 0 {
		t.Errorf("the delivered RETRY 0 job was queued again: QLEN p0 = %d", n)
	}
	if got := p.getJobs("p0", 10); len(got) != 0 {
		t.Errorf("the delivered RETRY 0 job was delivered again: %v", got)
	}

	// A second restart replays the same file to the same set: replay is
	// idempotent, and what the restart did (queueing) was not a new record.
	p.stop()
	p = mustStartAt(t, dir, aofAlways)
	if n := p.qlen("pa"); n != 10 {
		t.Errorf("QLEN pa after a second restart = %d, want 10", n)
	}
	if n := p.qlen("p0"); n != 0 {
		t.Errorf("QLEN p0 after a second restart = %d, want 0", n)
	}
	for _, id := range gone {
		if s := p.show(id); s != nil {
			t.Errorf("acked/deleted job %s came back after a second restart", id)
		}
	}
}

// TestPersistDeliveredRetryJobRequeuesLater: an at-least-once job handed to
// a consumer is active after a restart and requeues after its retry, not at
// once (it was not queued when the node stopped).
func TestPersistDeliveredRetryJobRequeuesLater(t *testing.T) {
	dir := t.TempDir()
	p := mustStartAt(t, dir, aofAlways)
	id := p.addJob("pr", "pr", "RETRY", 2)
	other := p.addJob("pr", "still queued", "RETRY", 2)
	if got := p.getJobs("pr", 1); !slices.Equal(got, []string{id}) {
		t.Fatalf("GETJOB pr: %v", got)
	}
	p.stop()
	p = mustStartAt(t, dir, aofAlways)

	s := p.show(id)
	if s == nil {
		t.Fatal("the delivered job is gone")
	}
	if s["state"] != "active" {
		t.Fatalf("delivered RETRY 2 job after restart: state %v, want active (it was not queued when the node stopped)", s["state"])
	}
	if w, _ := s["next-requeue-within"].(int64); w <= 0 {
		t.Errorf("next-requeue-within %v, want > 0", s["next-requeue-within"])
	}
	if n := p.qlen("pr"); n != 1 {
		t.Errorf("QLEN pr = %d, want 1 (%s)", n, other)
	}
	eventually(t, 10*time.Second, "the delivered job requeues after its retry", func() bool { return p.qlen("pr") == 2 })
}

// TestPersistRequeuedJobQueuedAtOnce: a job that was delivered and then put
// back in its queue (NACK, ENQUEUE, its retry timer) was queued when the
// node stopped, so it is queued again at once after the restart.
func TestPersistRequeuedJobQueuedAtOnce(t *testing.T) {
	dir := t.TempDir()
	p := mustStartAt(t, dir, aofAlways)
	nacked := p.addJob("pn", "nacked", "RETRY", 60)
	enqueued := p.addJob("pn", "enqueued", "RETRY", 60)
	timed := p.addJob("pn", "timed", "RETRY", 1)
	if got := p.getJobs("pn", 3); len(got) != 3 {
		t.Fatalf("GETJOB pn: %v", got)
	}
	p.must("NACK", nacked)
	p.must("ENQUEUE", enqueued)
	eventually(t, 10*time.Second, "the RETRY 1 job requeues", func() bool { return p.qlen("pn") == 3 })
	p.stop()

	p = mustStartAt(t, dir, aofAlways)
	var bad []string
	for name, id := range map[string]string{"NACK": nacked, "ENQUEUE": enqueued, "retry timer": timed} {
		s := p.show(id)
		if s == nil {
			t.Fatalf("job requeued by %s lost", name)
		}
		if s["state"] != "queued" {
			bad = append(bad, fmt.Sprintf("requeued by %s: state %v", name, s["state"]))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("jobs queued when the node stopped are not queued at once after the restart: %v", bad)
	}
	if n := p.qlen("pn"); n != 3 {
		t.Errorf("QLEN pn after restart = %d, want 3", n)
	}
}

// TestPersistAlwaysReplyMeansWritten: with appendfsync always, when ADDJOB
// (or ACKJOB) is answered its record is in the file.
func TestPersistAlwaysReplyMeansWritten(t *testing.T) {
	dir := t.TempDir()
	p := mustStartAt(t, dir, aofAlways)
	path := filepath.Join(dir, "disque.aof")
	for i := range 10 {
		id := p.addJob("pw", fmt.Sprintf("w-%d", i))
		if live, _ := loadFile(t, path); live[id] != fmt.Sprintf("w-%d", i) {
			t.Fatalf("ADDJOB %d answered, record not in the file", i)
		}
		if i%2 == 0 {
			p.must("ACKJOB", id)
			if live, _ := loadFile(t, path); live[id] != "" {
				t.Fatalf("ACKJOB %d answered, DELJOB not in the file", i)
			}
		}
	}
	for _, pol := range []string{"everysec", "no", "always"} {
		p.must("CONFIG", "SET", "appendfsync", pol)
		if got := p.must("CONFIG", "GET", "appendfsync").([]any); got[1] != pol {
			t.Errorf("CONFIG GET appendfsync = %v, want %s", got, pol)
		}
		p.addJob("pw", "after "+pol)
	}
	p.stop()
	p = mustStartAt(t, dir, aofAlways)
	if n := p.qlen("pw"); n != 8 {
		t.Errorf("QLEN pw after restart = %d, want 8", n)
	}
}

// --------------------------------- Corruption --------------------------------

// aofWithJobs writes a file of n queued jobs (queue "pc") with a node, and
// returns its path, bytes and frame offsets.
func aofWithJobs(t *testing.T, n int) (string, []byte, []int64) {
	t.Helper()
	dir := t.TempDir()
	p := mustStartAt(t, dir, aofAlways)
	for i := range n {
		p.addJob("pc", fmt.Sprintf("body-%02d-%s", i, strings.Repeat("x", 50)))
	}
	p.stop()
	path := filepath.Join(dir, "disque.aof")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	starts := frameStarts(t, b)
	if len(starts) != n {
		t.Fatalf("%d frames for %d jobs", len(starts), n)
	}
	return path, b, starts
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// tornCopy is the file cut in the middle of its last record.
func tornCopy(b []byte, starts []int64) []byte {
	last := starts[len(starts)-1]
	cut := last + aof.FrameHeaderSize + (int64(len(b))-last-aof.FrameHeaderSize)/2
	return slices.Clone(b[:cut])
}

func TestPersistTornTailTruncated(t *testing.T) {
	path, b, starts := aofWithJobs(t, 10)
	writeFile(t, path, tornCopy(b, starts))

	core, logs := observer.New(zapcore.InfoLevel)
	p, err := startAt(t, filepath.Dir(path), zap.New(core), aofAlways)
	if err != nil {
		t.Fatalf("a torn last record must be cut (aof-load-truncated yes): %v", err)
	}
	if n := p.qlen("pc"); n != 9 {
		t.Errorf("QLEN after loading a torn file = %d, want the 9 whole records", n)
	}
	if sz := fileSize(t, path); sz != starts[9] {
		t.Errorf("file is %d bytes, want it truncated at the last good record (%d)", sz, starts[9])
	}
	var warned bool
	for _, e := range logs.All() {
		if e.Level >= zapcore.WarnLevel && strings.Contains(strings.ToLower(e.Message), "trunc") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no warning logged about the truncation; logs: %v", logs.All())
	}
	// The node appends after the cut: a new job survives the next restart.
	id := p.addJob("pc", "after the cut")
	p.stop()
	p = mustStartAt(t, filepath.Dir(path), aofAlways)
	if n := p.qlen("pc"); n != 10 {
		t.Errorf("QLEN after the next restart = %d, want 10", n)
	}
	if p.show(id) == nil {
		t.Error("the job added after the cut is lost")
	}
}

func TestPersistTornTailRefused(t *testing.T) {
	path, b, starts := aofWithJobs(t, 10)
	torn := tornCopy(b, starts)
	writeFile(t, path, torn)
	_, err := startAt(t, filepath.Dir(path), nil, aofAlways, func(c *config.Config) { c.AOFLoadTruncated = false })
	if err == nil {
		t.Fatal("aof-load-truncated no: the node started on a torn file")
	}
	if want := fmt.Sprintf("offset %d", starts[9]); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %q", err, want)
	}
	if got, _ := os.ReadFile(path); !slices.Equal(got, torn) {
		t.Error("the refused file was modified")
	}
}

func TestPersistCorruptMiddleRefused(t *testing.T) {
	path, b, starts := aofWithJobs(t, 10)
	bad := slices.Clone(b)
	bad[starts[1]+aof.FrameHeaderSize+10] ^= 0x40 // inside the second record's payload
	writeFile(t, path, bad)
	for _, truncated := range []bool{true, false} {
		_, err := startAt(t, filepath.Dir(path), nil, aofAlways, func(c *config.Config) { c.AOFLoadTruncated = truncated })
		if err == nil {
			t.Fatalf("aof-load-truncated %v: the node started on a file damaged in the middle", truncated)
		}
		for _, want := range []string{fmt.Sprintf("offset %d", starts[1]), "disque-check-aof --fix"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if got, _ := os.ReadFile(path); !slices.Equal(got, bad) {
			t.Fatal("the refused file was modified")
		}
	}
}

func TestPersistBadHeaderRefused(t *testing.T) {
	path, b, _ := aofWithJobs(t, 3)
	for name, content := range map[string][]byte{
		"flipped magic":   append([]byte("XODISQUE-AOF 1\n"), b[aof.HeaderSize:]...),
		"future version":  append([]byte("GODISQUE-AOF 9\n"), b[aof.HeaderSize:]...),
		"original disque": []byte("*2\r\n$7\r\nLOADJOB\r\n$3\r\nabc\r\n"),
	} {
		writeFile(t, path, content)
		_, err := startAt(t, filepath.Dir(path), nil, aofAlways)
		if err == nil {
			t.Errorf("%s: the node started", name)
			continue
		}
		if !strings.Contains(err.Error(), "offset 0") {
			t.Errorf("%s: error %q does not name offset 0", name, err)
		}
		if got, _ := os.ReadFile(path); !slices.Equal(got, content) {
			t.Errorf("%s: the refused file was modified", name)
		}
	}
}

// An empty file is "nothing to load" (SPEC.md §15), and stays usable.
func TestPersistEmptyFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "disque.aof"), nil)
	p := mustStartAt(t, dir, aofAlways)
	id := p.addJob("pe", "x")
	p.stop()
	p = mustStartAt(t, dir, aofAlways)
	if p.show(id) == nil {
		t.Error("job lost after starting on an empty file")
	}
}

// checkAOF builds cmd/disque-check-aof for one test.
func checkAOF(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "disque-check-aof")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/disque-check-aof").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runCheckAOF(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("disque-check-aof: %v", err)
	return 0, ""
}

func TestPersistCheckAOFFix(t *testing.T) {
	bin := checkAOF(t)
	path, b, starts := aofWithJobs(t, 10)
	writeFile(t, path, tornCopy(b, starts))
	if code, out := runCheckAOF(t, bin, path); code != 1 || !strings.Contains(out, "not valid") {
		t.Errorf("check of a torn file: exit %d, %q", code, out)
	}
	code, out := runCheckAOF(t, bin, "--fix", "--yes", path)
	if code != 0 || !strings.Contains(out, "Successfully truncated") {
		t.Fatalf("--fix --yes: exit %d, %q", code, out)
	}
	if code, out := runCheckAOF(t, bin, path); code != 0 || !strings.Contains(out, "AOF is valid") {
		t.Errorf("check after --fix: exit %d, %q", code, out)
	}
	if sz := fileSize(t, path); sz != starts[9] {
		t.Errorf("fixed file is %d bytes, want %d", sz, starts[9])
	}
	p, err := startAt(t, filepath.Dir(path), nil, aofAlways, func(c *config.Config) { c.AOFLoadTruncated = false })
	if err != nil {
		t.Fatalf("start on the fixed file with aof-load-truncated no: %v", err)
	}
	if n := p.qlen("pc"); n != 9 {
		t.Errorf("QLEN on the fixed file = %d, want 9", n)
	}
	p.stop()

	// Damage in the middle: --fix cuts before it, and the node starts.
	bad := slices.Clone(b)
	bad[starts[3]+aof.FrameHeaderSize+5] ^= 0x01
	writeFile(t, path, bad)
	if code, out := runCheckAOF(t, bin, "--fix", "--yes", path); code != 0 {
		t.Fatalf("--fix of a damaged middle: exit %d, %q", code, out)
	}
	p = mustStartAt(t, filepath.Dir(path), aofAlways)
	if n := p.qlen("pc"); n != 3 {
		t.Errorf("QLEN after fixing damage at the 4th record = %d, want 3", n)
	}
}

// --------------------------------- Disk full ---------------------------------

func TestPersistDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a 256k tmpfs on %s (%v): needs root on Linux", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	filler := filepath.Join(dir, "filler")
	writeFile(t, filler, make([]byte, 96<<10))
	p := mustStartAt(t, dir, aofAlways)

	const misconf = "MISCONF Errors writing to the AOF file: No space left on device"
	body := strings.Repeat("b", 4000)
	var added []string
	var failedAt int
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatal("256k tmpfs never filled up")
		}
		v, err := p.do("ADDJOB", "pf", fmt.Sprintf("%d-%s", i, body), 0)
		if err != nil {
			if err.Error() != misconf {
				t.Fatalf("ADDJOB %d on a full disk: %q, want %q", i, err, misconf)
			}
			failedAt = i
			break
		}
		added = append(added, v.(string))
	}
	t.Logf("disk full after %d jobs", failedAt)

	for _, cmd := range [][]any{
		{"ADDJOB", "pf", "more", 0},
		{"ACKJOB", added[0]},
		{"DELJOB", added[1]},
		{"PING"},
	} {
		if _, err := p.do(cmd...); err == nil || err.Error() != misconf {
			t.Errorf("%v on a full disk: %v, want %q", cmd, err, misconf)
		}
	}
	// Reads still work.
	if v, err := p.do("QLEN", "pf"); err != nil || v.(int64) < int64(len(added)) {
		t.Errorf("QLEN on a full disk: %v %v, want >= %d", v, err, len(added))
	}
	if v, err := p.do("SHOW", added[0]); err != nil || len(v.([]any)) != 30 {
		t.Errorf("SHOW on a full disk: %v", err)
	}
	if v, err := p.do("QPEEK", "pf", 1); err != nil || len(v.([]any)) != 1 {
		t.Errorf("QPEEK on a full disk: %v", err)
	}
	if v, err := p.do("JSCAN", "0", "BUSYLOOP"); err != nil || len(v.([]any)) != 2 {
		t.Errorf("JSCAN on a full disk: %v", err)
	}
	inf := p.info("persistence")
	if inf["aof_last_write_status"] != "err" || inf["aof_enabled"] != "1" {
		t.Errorf("INFO persistence on a full disk: aof_last_write_status:%s aof_enabled:%s",
			inf["aof_last_write_status"], inf["aof_enabled"])
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "PING answers PONG once space is back", func() bool {
		v, err := p.do("PING")
		return err == nil && v == "PONG"
	})
	if inf := p.info("persistence"); inf["aof_last_write_status"] != "ok" {
		t.Errorf("after recovery aof_last_write_status:%s", inf["aof_last_write_status"])
	}
	id := p.addJob("pf", "after recovery")
	p.must("ACKJOB", added[0])
	want := p.live()
	if _, ok := want[id]; !ok {
		t.Fatal("the job added after recovery is not live")
	}
	p.stop()
	// What was in memory when the disk filled (its records buffered) and
	// what came after is all in the file.
	got, _ := loadFile(t, filepath.Join(dir, "disque.aof"))
	sameSet(t, "AOF after a disk-full episode", got, want)
	p = mustStartAt(t, dir, aofAlways)
	sameSet(t, "live set after restarting", p.live(), want)
}

// --------------------------------- Rewrites ----------------------------------

// TestPersistRewriteUnderLoad: BGREWRITEAOF while two clients add, take,
// ack and delete jobs; the file then replays to exactly the live set.
func TestPersistRewriteUnderLoad(t *testing.T) {
	dir := t.TempDir()
	p := mustStartAt(t, dir, func(c *config.Config) { c.AppendOnly, c.AppendFsync = true, config.FsyncEverySec })

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: p.n.Addr(), Protocol: 2, MaxRetries: -1})
			defer c.Close()
			ctx := context.Background()
			q := fmt.Sprintf("rw%d", g)
			for i := 0; !stop.Load(); i++ {
				args := []any{"ADDJOB", q, fmt.Sprintf("g%d-%d", g, i), 0}
				switch i % 6 {
				case 1:
					args = append(args, "RETRY", 0, "REPLICATE", 1)
				case 2:
					args = append(args, "DELAY", 30)
				}
				id, err := c.Do(ctx, args...).Text()
				if err != nil {
					errs <- fmt.Errorf("ADDJOB: %w", err)
					return
				}
				switch i % 5 {
				case 0:
					v, err := c.Do(ctx, "GETJOB", "NOHANG", "COUNT", 2, "FROM", q).Result()
					if err != nil && !errors.Is(err, redis.Nil) {
						errs <- fmt.Errorf("GETJOB: %w", err)
						return
					}
					if a, ok := v.([]any); ok && len(a) > 0 && i%10 == 0 {
						err = c.Do(ctx, "ACKJOB", a[0].([]any)[1]).Err()
					}
				case 1:
					err = c.Do(ctx, "FASTACK", id).Err()
				case 3:
					if i%3 == 0 {
						err = c.Do(ctx, "DELJOB", id).Err()
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}

	rewrites := 0
	deadline := time.Now().Add(20 * time.Second)
	for rewrites < 5 && time.Now().Before(deadline) {
		time.Sleep(80 * time.Millisecond)
		v, err := p.do("BGREWRITEAOF")
		if err != nil {
			if strings.Contains(err.Error(), "already in progress") {
				continue
			}
			t.Fatalf("BGREWRITEAOF: %v", err)
		}
		if v != "Background append only file rewriting started" {
			t.Fatalf("BGREWRITEAOF: %q", v)
		}
		eventually(t, 10*time.Second, "the rewrite ends", func() bool {
			return p.info("persistence")["aof_rewrite_in_progress"] == "0"
		})
		if st := p.info("persistence")["aof_last_bgrewrite_status"]; st != "ok" {
			t.Fatalf("aof_last_bgrewrite_status:%s", st)
		}
		rewrites++
	}
	time.Sleep(50 * time.Millisecond) // some writes after the last rewrite
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if rewrites < 5 {
		t.Fatalf("only %d rewrites in 20 s", rewrites)
	}
	want := p.live()
	if len(want) == 0 {
		t.Fatal("no live jobs: the load did nothing")
	}
	p.stop()
	got, res := loadFile(t, filepath.Join(dir, "disque.aof"))
	t.Logf("%d rewrites, %d live jobs, the file has %d records (%d DELJOB)", rewrites, len(want), res.Records, res.Deletes)
	sameSet(t, "AOF replay after rewrites under load", got, want)
	p = mustStartAt(t, dir, aofAlways)
	sameSet(t, "live set after restarting", p.live(), want)
}

// TestPersistAutoRewrite: a log that has doubled over its base size is
// rewritten by itself, and the rewrite compacts it.
func TestPersistAutoRewrite(t *testing.T) {
	p := mustStartAt(t, t.TempDir(), aofAlways)
	p.must("CONFIG", "SET", "auto-aof-rewrite-min-size", "1")
	p.must("CONFIG", "SET", "auto-aof-rewrite-percentage", "100")
	base0 := p.infoInt("aof_base_size")
	var ids []string
	for i := range 50 {
		ids = append(ids, p.addJob("pz", fmt.Sprintf("auto-%d-%s", i, strings.Repeat("z", 100))))
	}
	eventually(t, 10*time.Second, "an automatic rewrite changes aof_base_size", func() bool {
		inf := p.info("persistence")
		return inf["aof_base_size"] != strconv.FormatInt(base0, 10) && inf["aof_rewrite_in_progress"] == "0"
	})
	if st := p.info("persistence")["aof_last_bgrewrite_status"]; st != "ok" {
		t.Fatalf("aof_last_bgrewrite_status:%s", st)
	}
	// Ack everything, then add and ack as much again: the file doubles
	// over its new base, and the next automatic rewrite leaves a file
	// of no jobs.
	for _, id := range ids {
		p.must("ACKJOB", id)
	}
	for i := range 60 {
		p.must("ACKJOB", p.addJob("pz", fmt.Sprintf("again-%d-%s", i, strings.Repeat("z", 100))))
	}
	eventually(t, 10*time.Second, "an automatic rewrite compacts the acked jobs away", func() bool {
		inf := p.info("persistence")
		return inf["aof_current_size"] == strconv.FormatInt(aof.HeaderSize, 10) && inf["aof_rewrite_in_progress"] == "0"
	})
	if live, res := loadFile(t, filepath.Join(p.dir, "disque.aof")); len(live) != 0 || res.Records != 0 {
		t.Errorf("after compaction the file describes %d jobs in %d records", len(live), res.Records)
	}
}

// ------------------------- Run-time switches and SHUTDOWN --------------------

func TestPersistConfigSetAppendOnly(t *testing.T) {
	dir := t.TempDir()
	p := mustStartAt(t, dir)
	path := filepath.Join(dir, "disque.aof")
	var ids []string
	for i := range 5 {
		ids = append(ids, p.addJob("ps", fmt.Sprintf("before-%d", i)))
	}
	if inf := p.info("persistence"); inf["aof_enabled"] != "0" || inf["aof_state"] != "off" {
		t.Fatalf("AOF off: %v", inf)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("an AOF exists with appendonly no")
	}
	if v := p.must("CONFIG", "SET", "appendonly", "yes"); v != "OK" {
		t.Fatalf("CONFIG SET appendonly yes: %v", v)
	}
	eventually(t, 10*time.Second, "aof_enabled:1 aof_state:on", func() bool {
		inf := p.info("persistence")
		return inf["aof_enabled"] == "1" && inf["aof_state"] == "on" && inf["aof_rewrite_in_progress"] == "0"
	})
	if got := p.must("CONFIG", "GET", "appendonly").([]any); got[1] != "yes" {
		t.Errorf("CONFIG GET appendonly: %v", got)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no AOF after CONFIG SET appendonly yes: %v", err)
	}
	ids = append(ids, p.addJob("ps", "after on"))
	if v := p.must("CONFIG", "SET", "appendonly", "no"); v != "OK" {
		t.Fatalf("CONFIG SET appendonly no: %v", v)
	}
	if inf := p.info("persistence"); inf["aof_enabled"] != "0" || inf["aof_state"] != "off" {
		t.Errorf("after CONFIG SET appendonly no: aof_enabled:%s aof_state:%s", inf["aof_enabled"], inf["aof_state"])
	}
	offID := p.addJob("ps", "after off")
	p.stop()

	p = mustStartAt(t, dir, aofAlways)
	if n := p.qlen("ps"); n != 6 {
		t.Errorf("QLEN after restart = %d, want the 6 jobs live while the log was on", n)
	}
	for _, id := range ids {
		if p.show(id) == nil {
			t.Errorf("job %s lost", id)
		}
	}
	if p.show(offID) != nil {
		t.Error("a job added with appendonly no was logged")
	}
}

// TestPersistShutdownRewriteAOF: SHUTDOWN REWRITE-AOF stops the node with a
// compact file that replays to the live set, delivered jobs included.
func TestPersistShutdownRewriteAOF(t *testing.T) {
	dir := t.TempDir()
	p := mustStartAt(t, dir, func(c *config.Config) { c.AppendOnly, c.AppendFsync = true, config.FsyncEverySec })
	var ids []string
	for i := range 12 {
		ids = append(ids, p.addJob("pq", fmt.Sprintf("q-%d", i), "RETRY", 60))
	}
	p.must("ACKJOB", ids[0], ids[1])
	p.must("DELJOB", ids[2])
	delivered := p.getJobs("pq", 2) // ids[3], ids[4]
	amo := p.addJob("pq0", "amo", "RETRY", 0, "REPLICATE", 1)
	p.getJobs("pq0", 1)
	want := p.live()
	if len(want) != 10 {
		t.Fatalf("live set: %d, want 10", len(want))
	}

	_, err := p.do("SHUTDOWN", "REWRITE-AOF")
	if err == nil {
		t.Fatal("SHUTDOWN answered instead of closing the connection")
	}
	select {
	case <-p.n.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the node did not stop after SHUTDOWN REWRITE-AOF")
	}
	got, res := loadFile(t, filepath.Join(dir, "disque.aof"))
	sameSet(t, "AOF after SHUTDOWN REWRITE-AOF", got, want)
	if res.Records != res.Jobs || res.Jobs != int64(len(want)) {
		t.Errorf("the rewritten file has %d records, %d LOADJOB: want only %d LOADJOB", res.Records, res.Jobs, len(want))
	}

	// The rewrite logged the deliveries: after a restart the delivered
	// at-least-once jobs are active with a requeue ahead, the at-most-once
	// one is never queued again, the rest is queued at once.
	p = mustStartAt(t, dir, aofAlways)
	sameSet(t, "live set after restarting", p.live(), want)
	if n := p.qlen("pq"); n != 7 {
		t.Errorf("QLEN pq = %d, want 7", n)
	}
	for _, id := range delivered {
		s := p.show(id)
		if w, _ := s["next-requeue-within"].(int64); s["state"] != "active" || w <= 0 {
			t.Errorf("delivered RETRY 60 job after restart: state %v next-requeue-within %v, want active, > 0",
				s["state"], s["next-requeue-within"])
		}
	}
	if s := p.show(amo); s["state"] != "active" || s["next-requeue-within"] != nil {
		t.Errorf("delivered RETRY 0 job after restart: state %v next-requeue-within %v", s["state"], s["next-requeue-within"])
	}
	if n := p.qlen("pq0"); n != 0 {
		t.Errorf("QLEN pq0 = %d, want 0", n)
	}
}

// TestPersistEnqueueJobsOnce: with appendonly no, aof-enqueue-jobs-once
// yes loads an existing file once (the queued jobs back in their queues)
// and turns itself off, in the config file too.
func TestPersistEnqueueJobsOnce(t *testing.T) {
	dir := t.TempDir()
	p := mustStartAt(t, dir, aofAlways)
	var ids []string
	for i := range 4 {
		ids = append(ids, p.addJob("po", fmt.Sprintf("once-%d", i)))
	}
	p.stop()

	confPath := filepath.Join(dir, "disque.conf")
	writeFile(t, confPath, []byte("appendonly no\naof-enqueue-jobs-once yes\ndir "+dir+"\n"))
	start := func() *pnode {
		t.Helper()
		cfg, _, err := config.Load(confPath, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n, err := disque.Start(context.Background(), disque.Config{Server: cfg, ConfigPath: confPath, Listener: ln})
		if err != nil {
			ln.Close()
			t.Fatal(err)
		}
		p := &pnode{t: t, n: n, rdb: redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2, MaxRetries: -1}), dir: dir, ctx: context.Background()}
		t.Cleanup(p.stop)
		return p
	}
	p = start()
	if n := p.qlen("po"); n != 4 {
		t.Errorf("QLEN with aof-enqueue-jobs-once = %d, want 4", n)
	}
	if got := p.must("CONFIG", "GET", "aof-enqueue-jobs-once").([]any); got[1] != "no" {
		t.Errorf("CONFIG GET aof-enqueue-jobs-once after loading: %v, want no", got)
	}
	if inf := p.info("persistence"); inf["aof_enabled"] != "0" {
		t.Errorf("aof_enabled:%s with appendonly no", inf["aof_enabled"])
	}
	if b, _ := os.ReadFile(confPath); !strings.Contains(string(b), "aof-enqueue-jobs-once no") {
		t.Errorf("the config file still asks to enqueue once:\n%s", b)
	}
	p.stop()
	p = start()
	if n := p.qlen("po"); n != 0 {
		t.Errorf("QLEN on the next start = %d: the file was loaded twice", n)
	}

	// With the log off and no file, enqueue-once has nothing to load: fatal.
	_, err := startAt(t, t.TempDir(), nil, func(c *config.Config) { c.AOFEnqueueJobsOnce = true })
	if err == nil {
		t.Error("aof-enqueue-jobs-once yes, appendonly no, no file: the node started")
	}
}

// ------------------------------------ INFO -----------------------------------

func TestPersistInfo(t *testing.T) {
	p := mustStartAt(t, t.TempDir())
	off := p.info("persistence")
	for k, want := range map[string]string{"loading": "0", "aof_enabled": "0", "aof_state": "off",
		"aof_rewrite_in_progress": "0", "aof_last_write_status": "ok", "aof_last_bgrewrite_status": "ok"} {
		if off[k] != want {
			t.Errorf("AOF off: %s:%q, want %q", k, off[k], want)
		}
	}
	if _, ok := off["aof_current_size"]; ok {
		t.Error("AOF off: aof_current_size reported")
	}
	p.stop()

	p = mustStartAt(t, t.TempDir(), aofAlways)
	p.addJob("pi", "info")
	on := p.info("persistence")
	for k, want := range map[string]string{"loading": "0", "aof_enabled": "1", "aof_state": "on",
		"aof_rewrite_in_progress": "0", "aof_rewrite_scheduled": "0", "aof_last_write_status": "ok",
		"aof_last_bgrewrite_status": "ok", "aof_current_rewrite_time_sec": "-1"} {
		if on[k] != want {
			t.Errorf("AOF on: %s:%q, want %q", k, on[k], want)
		}
	}
	for _, k := range []string{"aof_current_size", "aof_base_size", "aof_pending_rewrite", "aof_buffer_length",
		"aof_rewrite_buffer_length", "aof_pending_bio_fsync", "aof_delayed_fsync", "aof_last_rewrite_time_sec"} {
		if _, err := strconv.ParseInt(on[k], 10, 64); err != nil {
			t.Errorf("AOF on: %s:%q is not an integer", k, on[k])
		}
	}
	cur, base := p.infoInt("aof_current_size"), p.infoInt("aof_base_size")
	if cur <= aof.HeaderSize || base < aof.HeaderSize || base > cur {
		t.Errorf("aof_current_size:%d aof_base_size:%d", cur, base)
	}
	if sz := fileSize(t, filepath.Join(p.dir, "disque.aof")); sz != cur {
		t.Errorf("aof_current_size:%d, the file has %d bytes", cur, sz)
	}
	if on["aof_buffer_length"] != "0" {
		t.Errorf("aof_buffer_length:%s after an answered ADDJOB under always", on["aof_buffer_length"])
	}
}

// A read-only directory, for real: a tmpfs remounted read-only. (Linux
// refuses to make a filesystem read-only while a file on it is open for
// writing, so a running log cannot be flipped under the node; that path,
// EROFS on write, is covered with an injected filesystem in actors/aof.)
// A node asked to start with its append-only file there refuses to start,
// with an error, instead of serving without durability; a node running in
// memory answers CONFIG SET appendonly yes with Disque's error and keeps
// serving, still in memory.
func TestPersistReadOnlyDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (%v): needs root on Linux", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	// nodes.conf lives elsewhere: only the log's directory is read-only.
	nodes := filepath.Join(t.TempDir(), "nodes.conf")
	withNodes := func(c *config.Config) { c.ClusterConfigFile = nodes }
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, "size=1m"); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}
	if p, err := startAt(t, dir, nil, aofAlways, withNodes); err == nil {
		p.stop()
		t.Fatal("a node started with its append-only file in a read-only directory")
	} else if !strings.Contains(err.Error(), "Read-only file system") {
		t.Fatalf("start error = %v, want the system's reason", err)
	}

	p := mustStartAt(t, dir, withNodes) // in memory
	id := p.addJob("ro", "x")
	if _, err := p.do("CONFIG", "SET", "appendonly", "yes"); err == nil ||
		err.Error() != "ERR Unable to turn on AOF. Check server logs." {
		t.Fatalf("CONFIG SET appendonly yes in a read-only directory: %v", err)
	}
	if inf := p.info("persistence"); inf["aof_enabled"] != "0" {
		t.Fatalf("aof_enabled = %q after the failed CONFIG SET", inf["aof_enabled"])
	}
	if v, err := p.do("PING"); err != nil || v != "PONG" {
		t.Fatalf("PING after the failed CONFIG SET: %v %v", v, err)
	}
	if p.show(id) == nil {
		t.Fatal("the job is gone after the failed CONFIG SET")
	}
	if got := p.addJob("ro", "y"); got == "" {
		t.Fatal("ADDJOB after the failed CONFIG SET")
	}
	p.stop()
}

// While a node loads its append-only file its port is already open: a
// client gets -LOADING for ordinary commands, INFO (loading:1) and the other
// loading-safe commands answer, and once the load is done everything is
// served. disque.Start itself returns only after the load.
func TestPersistLoadingAnswersLOADING(t *testing.T) {
	dir := t.TempDir()
	const jobs = 100_000
	w, err := aof.Create(filepath.Join(dir, "disque.aof"), aof.No)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	for i := 0; i < jobs; i++ {
		id := fmt.Sprintf("D-00000000-%024d-05a1", i)
		if err := w.Append(&protocol.Job{Id: id, Queue: "big", Body: []byte("012345678901234567890123"),
			State: protocol.JobState_QUEUED, Repl: 1, Ctime: now*1_000_000 + int64(i),
			EtimeMs: now + 3_600_000, QtimeMs: now + 60_000, Retry: 60}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Dir, cfg.AppendOnly = dir, true
	started := make(chan *disque.Node, 1)
	go func() {
		n, err := disque.Start(context.Background(), disque.Config{Server: cfg, Listener: ln})
		if err != nil {
			t.Error(err)
		}
		started <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String()) // accepted by the kernel before Start serves
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := bufio.NewReader(c)
	send := func(cmd string) string {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
			t.Fatal(err)
		}
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "$") { // a bulk reply: read its body
			size, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
			buf := make([]byte, size+2)
			if _, err := io.ReadFull(rd, buf); err != nil {
				t.Fatal(err)
			}
			return line + string(buf)
		}
		return line
	}
	sawLoading := false
	for {
		r := send("QLEN big")
		if r == "-LOADING Disque is loading the dataset in memory\r\n" {
			if !sawLoading {
				if info := send("INFO persistence"); !strings.Contains(info, "loading:1\r\n") {
					t.Fatalf("INFO during the load = %q, want loading:1", info)
				}
			}
			sawLoading = true
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if r != fmt.Sprintf(":%d\r\n", jobs) {
			t.Fatalf("QLEN = %q, want -LOADING or :%d", r, jobs)
		}
		break
	}
	if !sawLoading {
		t.Fatalf("never saw -LOADING while %d jobs loaded", jobs)
	}
	if info := send("INFO persistence"); !strings.Contains(info, "loading:0\r\n") {
		t.Fatalf("INFO after the load = %q, want loading:0", info)
	}
	n := <-started
	if n == nil {
		t.FailNow()
	}
	_ = n.Stop()
}
