package disque_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/redis/go-redis/v9"

	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/protocol"
)

// An embedded node with no RESP port: the program talks to it with typed
// protocol messages. Dir is where the node keeps nodes.conf (its ID); a
// real program points it at its own data directory.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "godisque-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg := disque.DefaultConfig()
	cfg.NoGateway = true
	cfg.Server.Dir = dir
	n, err := disque.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Stop()

	// ADDJOB emails hello 0: Retry -1 asks for the default retry (TTL/10).
	id, err := n.AddJob(ctx, &protocol.AddJob{Queue: "emails", Body: []byte("hello"), Retry: -1})
	if err != nil {
		log.Fatal(err)
	}
	qlen, _ := n.Qlen(ctx, "emails")
	fmt.Println("queued:", qlen)

	// GETJOB NOHANG FROM emails
	jobs, err := n.GetJob(ctx, &protocol.GetJob{Queues: []string{"emails"}, Nohang: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range jobs {
		fmt.Printf("got %s from %s (same job: %v)\n", j.Body, j.Queue, j.Id == id)
	}
	info, _ := n.Show(ctx, id)
	fmt.Println("state:", info.State)

	// ACKJOB: on a node alone the acknowledged job is deleted at once.
	acked, err := n.AckJob(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("acked:", acked)
	info, _ = n.Show(ctx, id)
	fmt.Println("still known:", info != nil)

	// An empty queue with NOHANG is no jobs, not an error.
	jobs, _ = n.GetJob(ctx, &protocol.GetJob{Queues: []string{"emails"}, Nohang: true})
	fmt.Println("left:", len(jobs))
	// Output:
	// queued: 1
	// got hello from emails (same job: true)
	// state: ACTIVE
	// acked: 1
	// still known: false
	// left: 0
}

// Ask sends any protocol message, including those without a typed helper;
// errors come back as a *protocol.Error with the text a RESP client would
// read. The typed helpers turn that into a *disque.ReplyError.
func ExampleNode_Ask() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "godisque-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	cfg := disque.DefaultConfig()
	cfg.NoGateway = true
	cfg.Server.Dir = dir
	n, err := disque.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Stop()

	a, _ := n.AddJob(ctx, &protocol.AddJob{Queue: "emails", Body: []byte("a"), Retry: -1})
	_, _ = n.AddJob(ctx, &protocol.AddJob{Queue: "emails", Body: []byte("b"), Retry: -1})

	// QPEEK emails 10
	if peek, ok := n.Ask(ctx, &protocol.Qpeek{Queue: "emails", Count: 10}).(*protocol.Jobs); ok {
		for _, j := range peek.Jobs {
			fmt.Printf("%s\n", j.Body)
		}
	}

	// DELJOB a, then WORKING a: the node no longer knows it.
	if r, ok := n.Ask(ctx, &protocol.DelJob{Ids: []string{a}}).(*protocol.Count); ok {
		fmt.Println("deleted:", r.N)
	}
	_, err = n.Working(ctx, a)
	var re *disque.ReplyError
	if errors.As(err, &re) {
		fmt.Println(re.Text)
	}
	// Output:
	// a
	// b
	// deleted: 1
	// NOJOB Job not known in the context of this node.
}

// The same node serving Disque clients: any Redis client library can send
// Disque's commands with its generic "do" call. Here go-redis v9, which
// must speak RESP2 (Protocol: 2): Disque has no RESP3.
func Example_redisClient() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "godisque-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A free port on loopback; leave Listener nil to serve on bind:port
	// (127.0.0.1:7711 with DefaultConfig).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	cfg := disque.DefaultConfig()
	cfg.Listener = ln
	cfg.Server.Dir = dir
	n, err := disque.Start(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer n.Stop()

	rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2})
	defer rdb.Close()

	id, err := rdb.Do(ctx, "ADDJOB", "emails", "hello", 0).Text()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("job ID length:", len(id))

	// GETJOB replies [[queue, id, body], ...].
	jobs, err := rdb.Do(ctx, "GETJOB", "NOHANG", "FROM", "emails").Slice()
	if err != nil {
		log.Fatal(err)
	}
	for _, j := range jobs {
		job := j.([]any)
		fmt.Printf("got %s from %s\n", job[2], job[0])
	}

	acked, _ := rdb.Do(ctx, "ACKJOB", id).Int64()
	fmt.Println("acked:", acked)

	// SHOW of a job the node no longer knows is a null reply.
	err = rdb.Do(ctx, "SHOW", id).Err()
	fmt.Println("show:", err == redis.Nil)

	// Errors read exactly as Disque's.
	err = rdb.Do(ctx, "ADDJOB", "emails", "hello", 0, "REPLICATE", 0).Err()
	fmt.Println(err)
	// Output:
	// job ID length: 40
	// got hello from emails
	// acked: 1
	// show: true
	// ERR REPLICATE must be between 1 and 65535
}
