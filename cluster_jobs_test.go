package disque_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/godisque/godisque/config"
	"github.com/godisque/godisque/internal/clustertest"
	"github.com/godisque/godisque/internal/etcdtest"
	"github.com/godisque/godisque/protocol"
	"github.com/godisque/godisque/protocol/wire"
)

// ------------------------- Jobs across a real cluster ------------------------
//
// Several real nodes in one process (each its own actor system and RESP
// port, joined over an in-memory network that serializes every message like
// the real remoting), driven by go-redis as a user would (SPEC.md §10-§13).

// showState is SHOW's state of a job on a node, "" when the node does not
// know it.
func showState(t *testing.T, c *redis.Client, id string) string {
	t.Helper()
	v, err := c.Do(context.Background(), "SHOW", id).Result()
	if err == redis.Nil || v == nil {
		return ""
	}
	if err != nil {
		t.Fatalf("SHOW %s: %v", id, err)
	}
	fields, ok := v.([]any)
	if !ok {
		t.Fatalf("SHOW %s answered %T", id, v)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == "state" {
			return fmt.Sprint(fields[i+1])
		}
	}
	t.Fatalf("SHOW %s has no state: %v", id, fields)
	return ""
}

func addJob(t *testing.T, c *redis.Client, args ...any) string {
	t.Helper()
	id, err := c.Do(context.Background(), append([]any{"ADDJOB"}, args...)...).Text()
	if err != nil {
		t.Fatalf("ADDJOB %v: %v", args, err)
	}
	return id
}

func states(t *testing.T, cl *clustertest.Cluster, id string) []string {
	out := make([]string, cl.Len())
	for i := range out {
		if cl.N(i).Alive() {
			out[i] = showState(t, cl.Client(i), id)
		}
	}
	return out
}

func TestClusterReplicate3IsHeldByThreeNodes(t *testing.T) {
	cl := clustertest.Start(t, 3)
	id := addJob(t, cl.Client(0), "q", "body", 5000, "REPLICATE", 3)
	got := states(t, cl, id)
	want := []string{"queued", "active", "active"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("SHOW on each node: %v, want %v", got, want)
	}
	// The default REPLICATE of a 3-node cluster is 3 as well.
	id = addJob(t, cl.Client(1), "q", "body", 5000)
	cl.WaitFor("three copies of a default ADDJOB", func() bool {
		s := states(t, cl, id)
		return s[0] != "" && s[1] != "" && s[2] != ""
	})
}

func TestClusterNOREPLWhenTooFewNodesAreReachable(t *testing.T) {
	cl := clustertest.Start(t, 2)
	_, err := cl.Try(0, "ADDJOB", "q", "x", 1000, "REPLICATE", 3)
	if err == nil || err.Error() != "NOREPL Not enough reachable nodes for the requested replication level" {
		t.Fatalf("REPLICATE 3 on 2 nodes: %v", err)
	}
	// With the other node cut off, REPLICATE 2 times out and is cleaned up.
	cl.Partition([]int{0}, []int{1})
	_, err = cl.Try(0, "ADDJOB", "q", "x", 300, "REPLICATE", 2)
	if err == nil || !strings.HasPrefix(err.Error(), "NOREPL") {
		t.Fatalf("REPLICATE 2 across a partition: %v", err)
	}
	if n, _ := cl.Client(0).Do(context.Background(), "QLEN", "q").Int(); n != 0 {
		t.Fatalf("QLEN after a failed ADDJOB = %d", n)
	}
}

func TestClusterConsumerOnAnotherNodeGetsTheJob(t *testing.T) {
	cl := clustertest.Start(t, 3)
	ctx := context.Background()
	id := addJob(t, cl.Client(0), "fed", "hello", 5000, "REPLICATE", 1)
	// A blocking GETJOB on node 3 is served by federation within its timeout.
	v, err := cl.Client(2).Do(ctx, "GETJOB", "TIMEOUT", 10000, "FROM", "fed").Result()
	if err != nil {
		t.Fatalf("GETJOB on node 3: %v", err)
	}
	jobs := v.([]any)
	job := jobs[0].([]any)
	if job[1] != id || job[2] != "hello" {
		t.Fatalf("node 3 got %v, want %s", job, id)
	}
	// A consumer blocked before the job exists gets it too.
	done := make(chan []any, 1)
	go func() {
		v, err := cl.Client(1).Do(ctx, "GETJOB", "TIMEOUT", 15000, "FROM", "later").Result()
		if err != nil {
			done <- nil
			return
		}
		done <- v.([]any)
	}()
	time.Sleep(200 * time.Millisecond) // let it block; the test holds either way
	id2 := addJob(t, cl.Client(2), "later", "world", 5000, "REPLICATE", 1)
	got := <-done
	if got == nil || got[0].([]any)[1] != id2 {
		t.Fatalf("blocked consumer on node 2 got %v, want %s", got, id2)
	}
}

func TestClusterAckOnAnyNodeRemovesEveryCopy(t *testing.T) {
	cl := clustertest.Start(t, 3)
	ctx := context.Background()
	for acker := 0; acker < 3; acker++ {
		id := addJob(t, cl.Client(0), "q", "x", 5000, "REPLICATE", 3)
		n, err := cl.Client(acker).Do(ctx, "ACKJOB", id).Int()
		if err != nil || n != 1 {
			t.Fatalf("ACKJOB on node %d = %d, %v", acker+1, n, err)
		}
		cl.WaitFor("every copy gone after an ack on node "+fmt.Sprint(acker+1), func() bool {
			return strings.Join(states(t, cl, id), "") == ""
		})
	}
	// FASTACK too, and an ACKJOB on the node without a copy (a dummy ack).
	id := addJob(t, cl.Client(0), "q", "x", 5000, "REPLICATE", 3)
	if n, _ := cl.Client(2).Do(ctx, "FASTACK", id).Int(); n != 1 {
		t.Fatalf("FASTACK = %d", n)
	}
	cl.WaitFor("every copy gone after FASTACK", func() bool { return strings.Join(states(t, cl, id), "") == "" })
	id = addJob(t, cl.Client(0), "q", "x", 5000, "REPLICATE", 2)
	outsider := outsiderOf(t, cl, id)
	if n, _ := cl.Client(outsider).Do(ctx, "ACKJOB", id).Int(); n != 0 {
		t.Fatalf("ACKJOB of an unknown job counted %d", n)
	}
	cl.WaitFor("every copy gone after a dummy ack", func() bool { return strings.Join(states(t, cl, id), "") == "" })

	// ACKJOBs in one pipeline (the gateway batches them) on the node
	// without a copy of the last job: the two it holds are acked, the last
	// is a dummy ack; each is answered in order and every copy goes.
	a := addJob(t, cl.Client(0), "q", "a", 5000, "REPLICATE", 3)
	b := addJob(t, cl.Client(0), "q", "b", 5000, "REPLICATE", 3)
	c := addJob(t, cl.Client(0), "q", "c", 5000, "REPLICATE", 2)
	p := cl.Client(outsiderOf(t, cl, c)).Pipeline()
	acks := []*redis.Cmd{p.Do(ctx, "ACKJOB", a), p.Do(ctx, "ACKJOB", b), p.Do(ctx, "ACKJOB", c)}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{1, 1, 0} {
		if n, err := acks[i].Int64(); err != nil || n != want {
			t.Fatalf("pipelined ACKJOB %d = %d, %v; want %d", i+1, n, err, want)
		}
	}
	cl.WaitFor("every copy gone after pipelined acks", func() bool {
		return strings.Join(append(append(states(t, cl, a), states(t, cl, b)...), states(t, cl, c)...), "") == ""
	})

	// FASTACKs in one pipeline: a held job, then one the node does not
	// know; every copy of both goes.
	d := addJob(t, cl.Client(0), "q", "d", 5000, "REPLICATE", 3)
	e := addJob(t, cl.Client(0), "q", "e", 5000, "REPLICATE", 2)
	p = cl.Client(outsiderOf(t, cl, e)).Pipeline()
	fast := []*redis.Cmd{p.Do(ctx, "FASTACK", d), p.Do(ctx, "FASTACK", e)}
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{1, 0} {
		if n, err := fast[i].Int64(); err != nil || n != want {
			t.Fatalf("pipelined FASTACK %d = %d, %v; want %d", i+1, n, err, want)
		}
	}
	cl.WaitFor("every copy gone after pipelined FASTACKs", func() bool {
		return strings.Join(append(states(t, cl, d), states(t, cl, e)...), "") == ""
	})
}

// outsiderOf is a node that holds no copy of the job id.
func outsiderOf(t *testing.T, cl *clustertest.Cluster, id string) int {
	t.Helper()
	for i, s := range states(t, cl, id) {
		if s == "" {
			return i
		}
	}
	t.Fatalf("every node holds a copy of %s", id)
	return -1
}

func TestClusterReplicaRequeuesAJobWhoseNodeDied(t *testing.T) {
	cl := clustertest.Start(t, 3)
	ctx := context.Background()
	id := addJob(t, cl.Client(0), "q", "x", 5000, "REPLICATE", 3, "RETRY", 1)
	// A consumer takes it on node 1, which then dies before the ack.
	v, err := cl.Client(0).Do(ctx, "GETJOB", "NOHANG", "FROM", "q").Result()
	if err != nil || v.([]any)[0].([]any)[1] != id {
		t.Fatalf("GETJOB on node 1: %v %v", v, err)
	}
	died := time.Now()
	cl.Kill(0)
	var at int
	cl.WaitFor("a replica to requeue the job", func() bool {
		for i := 1; i < 3; i++ {
			if showState(t, cl.Client(i), id) == "queued" {
				at = i
				return true
			}
		}
		return false
	})
	t.Logf("requeued on node %d %v after the death", at+1, time.Since(died).Round(time.Millisecond))
	v, err = cl.Client(at).Do(ctx, "GETJOB", "NOHANG", "FROM", "q").Result()
	if err != nil || v.([]any)[0].([]any)[1] != id {
		t.Fatalf("GETJOB on node %d: %v %v", at+1, v, err)
	}
}

func TestClusterPartitionThenHealLosesNoAcknowledgedJob(t *testing.T) {
	cl := clustertest.Start(t, 3)
	ctx := context.Background()
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, addJob(t, cl.Client(i%3), "p", fmt.Sprint(i), 5000, "REPLICATE", 2, "RETRY", 1))
	}
	cl.Partition([]int{0}, []int{1, 2})
	// Consumers on both sides take and ack what they can.
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		for {
			v, err := cl.Client(i).Do(ctx, "GETJOB", "NOHANG", "COUNT", 5, "FROM", "p").Result()
			if err != nil || v == nil {
				break
			}
			for _, j := range v.([]any) {
				id := j.([]any)[1].(string)
				seen[id] = true
				cl.Client(i).Do(ctx, "ACKJOB", id)
			}
		}
	}
	cl.Heal()
	// Every job added is delivered again (if its ack was cut off) or acked
	// everywhere: none may vanish unseen.
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < len(ids) && time.Now().Before(deadline) {
		for i := 0; i < 3; i++ {
			v, err := cl.Client(i).Do(ctx, "GETJOB", "TIMEOUT", 200, "COUNT", 10, "FROM", "p").Result()
			if err != nil || v == nil {
				continue
			}
			for _, j := range v.([]any) {
				id := j.([]any)[1].(string)
				seen[id] = true
				cl.Client(i).Do(ctx, "ACKJOB", id)
			}
		}
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("job %s was added and acknowledged by ADDJOB, and never delivered", id)
		}
	}
}

func TestClusterPauseBcastReachesEveryNode(t *testing.T) {
	cl := clustertest.Start(t, 3)
	ctx := context.Background()
	if s, err := cl.Client(0).Do(ctx, "PAUSE", "pq", "in", "bcast").Text(); err != nil || s != "in" {
		t.Fatalf("PAUSE bcast = %q %v", s, err)
	}
	cl.WaitFor("the pause on every node", func() bool {
		for i := 0; i < 3; i++ {
			if s, _ := cl.Client(i).Do(ctx, "PAUSE", "pq", "state").Text(); s != "in" {
				return false
			}
		}
		return true
	})
	if _, err := cl.Try(2, "ADDJOB", "pq", "x", 0, "REPLICATE", 1); err == nil || !strings.HasPrefix(err.Error(), "PAUSED") {
		t.Fatalf("ADDJOB on a paused node: %v", err)
	}
}

func TestClusterNackAndWorkingReachTheOtherCopies(t *testing.T) {
	cl := clustertest.Start(t, 2)
	ctx := context.Background()
	id := addJob(t, cl.Client(0), "q", "x", 5000, "REPLICATE", 2, "RETRY", 30)
	cl.Client(0).Do(ctx, "GETJOB", "NOHANG", "FROM", "q")
	if n, _ := cl.Client(0).Do(ctx, "NACK", id).Int(); n != 1 {
		t.Fatalf("NACK = %d", n)
	}
	cl.WaitFor("the nack counted on the replica", func() bool {
		v, _ := cl.Client(1).Do(ctx, "SHOW", id).Result()
		f, _ := v.([]any)
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] == "nacks" {
				return fmt.Sprint(f[i+1]) == "1"
			}
		}
		return false
	})
}

func TestClusterPeerMessageOfUnknownKindIsDroppedWithALogLine(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	cl := clustertest.Start(t, 2, clustertest.WithLogger(zap.New(core)))
	stranger := cl.Network().Join("127.0.0.1:1", func(any) {})
	defer stranger.Close()
	stranger.Send(cl.N(0).BusAddr, &wire.Carrier{Kind: 9999, Data: []byte("from a newer node")})
	stranger.Send(cl.N(0).BusAddr, &wire.Carrier{Kind: 5, Data: []byte{0xff, 0xff, 0xff}}) // does not decode
	cl.WaitFor("the log line about the unknown kind", func() bool {
		return logs.FilterMessageSnippet("unknown kind").Len() >= 2
	})
	// The node keeps serving clients and its cluster.
	id := addJob(t, cl.Client(0), "q", "x", 5000, "REPLICATE", 2)
	if s := showState(t, cl.Client(1), id); s != "active" {
		t.Fatalf("after the unknown messages the replica shows %q", s)
	}
}

func TestClusterLeavingNodeKeepsNoCopyAndDrains(t *testing.T) {
	cl := clustertest.Start(t, 3)
	ctx := context.Background()
	// A job queued on node 1 before it starts leaving.
	old := addJob(t, cl.Client(0), "drain", "old", 5000, "REPLICATE", 1)
	cl.Do(0, "CLUSTER", "LEAVING", "yes")
	// SPEC §9: a leaving node replicates new jobs elsewhere and keeps none.
	id := addJob(t, cl.Client(0), "q", "x", 5000, "REPLICATE", 2)
	got := states(t, cl, id)
	if got[0] != "" || got[1] == "" || got[2] == "" {
		t.Fatalf("SHOW on each node after an ADDJOB on a leaving node: %v", got)
	}
	cl.WaitFor("exactly one node to queue it", func() bool {
		s := states(t, cl, id)
		return (s[1] == "queued") != (s[2] == "queued")
	})
	// SPEC §18.8, fixed: an at-most-once job added on a leaving node is
	// queued on the node that holds it (Disque left it active forever).
	amo := addJob(t, cl.Client(0), "lq0", "y", 5000, "REPLICATE", 1, "RETRY", 0)
	cl.WaitFor("the at-most-once job queued elsewhere", func() bool {
		s := states(t, cl, amo)
		return s[0] == "" && (s[1] == "queued" || s[2] == "queued")
	})
	if _, err := cl.Try(0, "GETJOB", "TIMEOUT", 100, "FROM", "q"); err == nil ||
		!strings.HasPrefix(err.Error(), "LEAVING") {
		t.Fatalf("blocking GETJOB on a leaving node: %v", err)
	}
	// Its queue drains to a consumer elsewhere.
	v, err := cl.Client(1).Do(ctx, "GETJOB", "TIMEOUT", 10000, "FROM", "drain").Result()
	if err != nil || v.([]any)[0].([]any)[1] != old {
		t.Fatalf("GETJOB on node 2 for the leaving node's job: %v %v", v, err)
	}
	// Replication never picks a leaving node.
	for i := 0; i < 5; i++ {
		id := addJob(t, cl.Client(1), "q", "y", 5000, "REPLICATE", 2)
		if s := showState(t, cl.Client(0), id); s != "" {
			t.Fatalf("a leaving node got a copy (%s)", s)
		}
	}
	if _, err := cl.Try(1, "ADDJOB", "q", "z", 1000, "REPLICATE", 3); err == nil ||
		!strings.HasPrefix(err.Error(), "NOREPL") {
		t.Fatalf("REPLICATE 3 with one of 3 nodes leaving: %v", err)
	}
}

func TestClusterReplicaWithAOFKeepsItsCopyAcrossARestart(t *testing.T) {
	cl := clustertest.Start(t, 2, clustertest.WithConfig(func(_ int, c *config.Config) {
		c.AppendOnly = true
		c.AppendFsync = "always"
	}))
	id := addJob(t, cl.Client(0), "q", "kept", 5000, "REPLICATE", 2, "RETRY", 1)
	cl.Kill(1)
	cl.Restart(1)
	if s := showState(t, cl.Client(1), id); s != "active" && s != "queued" {
		t.Fatalf("after a restart the replica shows %q", s)
	}
	// The origin dies for good: the replica requeues the job from its file.
	cl.Kill(0)
	cl.WaitFor("the restarted replica to queue the job", func() bool {
		return showState(t, cl.Client(1), id) == "queued"
	})
}

func TestClusterNodesFindEachOtherThroughEtcd(t *testing.T) {
	etcd := etcdtest.Start(t)
	cl := clustertest.Start(t, 3, clustertest.WithoutMesh(), clustertest.WithConfig(func(_ int, c *config.Config) {
		c.ClusterEtcdEndpoints = []string{etcd.URL}
		c.ClusterEtcdPrefix = "/godisque-test/"
	}))
	// Nobody ran CLUSTER MEET: etcd told every node about the others.
	cl.WaitMesh()
	id := addJob(t, cl.Client(0), "q", "x", 5000, "REPLICATE", 3)
	if got := states(t, cl, id); got[1] == "" || got[2] == "" {
		t.Fatalf("SHOW on each node: %v", got)
	}
}

// registeredJobs is INFO's registered_jobs of node i.
func registeredJobs(t *testing.T, cl *clustertest.Cluster, i int) int {
	t.Helper()
	info, err := cl.Client(i).Info(context.Background(), "jobs").Result()
	if err != nil {
		t.Fatalf("INFO jobs: %v", err)
	}
	v, ok := infoFields(info)["registered_jobs"]
	if !ok {
		t.Fatalf("INFO jobs has no registered_jobs: %q", info)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("registered_jobs %q", v)
	}
	return n
}

func TestClusterADDJOBOfAClientThatLeavesIsCleanedUp(t *testing.T) {
	// SPEC.md §5.1: a client that disconnects while its ADDJOB waits for
	// the replication gets the timeout's cleanup, long before the timeout.
	cl := clustertest.Start(t, 2)
	cl.Partition([]int{0}, []int{1})
	ctx := context.Background()
	// The client gives up after a second, as go-redis does on its read
	// timeout: it closes the connection.
	c := redis.NewClient(&redis.Options{Addr: cl.Addr(0), ReadTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	gaveUp := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, "ADDJOB", "q", "one", 600_000, "REPLICATE", 2).Result()
		gaveUp <- err
	}()
	cl.WaitFor("the waiting job to be registered", func() bool { return registeredJobs(t, cl, 0) == 1 })
	if err := <-gaveUp; err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("the client's ADDJOB ended with %v, want its read timeout", err)
	}
	cl.WaitFor("the abandoned job to be removed", func() bool { return registeredJobs(t, cl, 0) == 0 })

	// The same for ADDJOBs that came in one pipeline (the batch path).
	p := c.Pipeline()
	p.Do(ctx, "ADDJOB", "q", "two", 600_000, "REPLICATE", 2)
	p.Do(ctx, "ADDJOB", "q", "three", 600_000, "REPLICATE", 2)
	if _, err := p.Exec(ctx); err == nil {
		t.Fatal("a pipelined ADDJOB across the partition was answered")
	}
	cl.WaitFor("the pipeline's abandoned jobs to be removed", func() bool { return registeredJobs(t, cl, 0) == 0 })

	// Once healed, nothing of them is anywhere and a client that waits is
	// answered.
	cl.Heal()
	cl.WaitMesh()
	if n := registeredJobs(t, cl, 1); n != 0 {
		t.Fatalf("the other node holds %d jobs", n)
	}
	id := addJob(t, cl.Client(0), "q", "four", 5000, "REPLICATE", 2)
	if s := states(t, cl, id); s[0] != "queued" || s[1] != "active" {
		t.Fatalf("after the heal a replicated job is %v", s)
	}
}

func TestClusterEmbedderWhoseContextEndsAbandonsTheADDJOB(t *testing.T) {
	cl := clustertest.Start(t, 2)
	cl.Partition([]int{0}, []int{1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan error, 1)
	go func() {
		_, err := cl.N(0).Node().AddJob(ctx, &protocol.AddJob{
			Queue: "q", Body: []byte("x"), TimeoutMs: 600_000, Replicate: 2, Retry: -1,
		})
		res <- err
	}()
	cl.WaitFor("the waiting job to be registered", func() bool { return registeredJobs(t, cl, 0) == 1 })
	cancel()
	cl.WaitFor("the abandoned job to be removed", func() bool { return registeredJobs(t, cl, 0) == 0 })
	if err := <-res; err == nil || err.Error() != "NOREPL Timeout reached before replicating to the requested number of nodes" {
		t.Fatalf("AddJob whose context ended: %v", err)
	}
}
