package disque_test

import (
	"bytes"
	"context"
	"testing"

	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/protocol"
)

func TestEmbedderMayReuseItsBodyBuffer(t *testing.T) {
	// A Go program that adds jobs from one buffer, rewriting it between
	// ADDJOBs, must find each body as it was added, small or large.
	ctx := context.Background()
	cfg := disque.DefaultConfig()
	cfg.NoGateway = true
	cfg.Server.Dir = t.TempDir()
	n, err := disque.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	buf := make([]byte, 4096)
	want := map[string][]byte{}
	for i, size := range []int{24, 200, 300, 4096} {
		for k := range buf[:size] {
			buf[k] = byte('a' + i)
		}
		id, err := n.AddJob(ctx, &protocol.AddJob{Queue: "q", Body: buf[:size], Retry: -1})
		if err != nil {
			t.Fatal(err)
		}
		want[id] = bytes.Clone(buf[:size])
	}
	for k := range buf {
		buf[k] = 'X'
	}
	jobs, err := n.GetJob(ctx, &protocol.GetJob{Queues: []string{"q"}, Nohang: true, Count: 10})
	if err != nil || len(jobs) != len(want) {
		t.Fatalf("GETJOB: %d jobs, %v", len(jobs), err)
	}
	for _, j := range jobs {
		if !bytes.Equal(j.Body, want[j.Id]) {
			t.Errorf("job %s of %d bytes came back as %.20q..., want %.20q...", j.Id, len(want[j.Id]), j.Body, want[j.Id])
		}
	}
}
