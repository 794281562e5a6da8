package actors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/godisque/godisque/protocol"
)

const testNodeID = "0123456789abcdef0123456789abcdef01234567"

func startNode(t *testing.T, opts Options) *Node {
	t.Helper()
	if opts.NodeID == "" {
		opts.NodeID = testNodeID
	}
	n, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

func TestNodeLifecycle(t *testing.T) {
	n := startNode(t, Options{})
	ctx := context.Background()
	r := n.Ask(ctx, &protocol.AddJob{Queue: "q", Body: []byte("hello"), Retry: -1})
	add, ok := r.(*protocol.AddJobReply)
	if !ok {
		t.Fatalf("ADDJOB answered %T %v", r, r)
	}
	if got := n.Ask(ctx, &protocol.Qlen{Queue: "q"}).(*protocol.Count).N; got != 1 {
		t.Fatalf("QLEN = %d, want 1", got)
	}
	jobs := n.Ask(ctx, &protocol.GetJob{Queues: []string{"q"}, Nohang: true}).(*protocol.Jobs)
	if len(jobs.Jobs) != 1 || jobs.Jobs[0].Id != add.Id || string(jobs.Jobs[0].Body) != "hello" {
		t.Fatalf("GETJOB = %+v", jobs)
	}
	show := n.Ask(ctx, &protocol.Show{Id: add.Id}).(*protocol.ShowReply)
	if !show.Found || show.Job.State != protocol.JobState_ACTIVE {
		t.Fatalf("SHOW = %+v", show)
	}
	if got := n.Ask(ctx, &protocol.AckJob{Ids: []string{add.Id}}).(*protocol.Count).N; got != 1 {
		t.Fatalf("ACKJOB = %d", got)
	}
	if show := n.Ask(ctx, &protocol.Show{Id: add.Id}).(*protocol.ShowReply); show.Found {
		t.Fatalf("acked job still shown: %+v", show)
	}
}

func TestBlockedGetJobWakesOnAdd(t *testing.T) {
	n := startNode(t, Options{})
	ctx := context.Background()
	got := make(chan *protocol.Jobs, 1)
	go func() { got <- n.Ask(ctx, &protocol.GetJob{Queues: []string{"a", "b"}}).(*protocol.Jobs) }()
	for n.Stats().BlockedClients != 1 { // one client, on two queues
		time.Sleep(time.Millisecond)
	}
	n.Ask(ctx, &protocol.AddJob{Queue: "b", Body: []byte("x"), Retry: -1})
	select {
	case j := <-got:
		if len(j.Jobs) != 1 || j.Jobs[0].Queue != "b" {
			t.Fatalf("woke with %+v", j)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked GETJOB never woke")
	}
	for n.Stats().BlockedClients != 0 {
		time.Sleep(time.Millisecond)
	}
}

// Stopping a node answers every call in flight, and every later one, with
// an error: none waits forever on a queue actor that is gone.
func TestStopAnswersEveryCall(t *testing.T) {
	n, err := Start(Options{NodeID: testNodeID})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func(i int) {
			defer func() { done <- struct{}{} }()
			q := fmt.Sprint("q", i%3)
			for {
				r := n.Ask(ctx, &protocol.AddJob{Queue: q, Body: []byte("x"), Retry: -1})
				if _, ok := r.(*protocol.AddJobReply); ok {
					n.Ask(ctx, &protocol.GetJob{Queues: []string{q}, Nohang: true, Count: 2})
					continue
				}
				if e, ok := r.(*protocol.Error); !ok || e.Text != errStopped.Text {
					t.Errorf("ADDJOB while stopping = %v", r)
				}
				return
			}
		}(i)
	}
	time.Sleep(50 * time.Millisecond)
	n.Stop()
	for i := 0; i < 8; i++ {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("a call was still waiting 10 s after Stop")
		}
	}
	// The mechanism itself, deterministically: an answer a stopped queue
	// actor dropped never comes, and waiting for it must end.
	got := make(chan any, 1)
	go func() { got <- n.recv(make(chan any)) }()
	select {
	case r := <-got:
		if r != errStopped {
			t.Fatalf("waiting on a stopped node = %v, want %v", r, errStopped)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting for a dropped answer hangs after Stop")
	}
}
