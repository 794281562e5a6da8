// Package actors is a godisque node's inside: the actor tree, the pure job
// and queue state machines it runs, the awake scheduler and memory
// accounting.
//
// # The actor tree
//
//	node                the well-known "node" actor: supervisor of the queue
//	 |                  actors, spawns them on demand, answers remote embedders
//	 '- queue (one per queue name)
//	                    owns every job record of its name, the ordered set of
//	                    queued jobs, blocked GETJOB clients, pause flags,
//	                    counters, and one awake index with one timer
//
// A job is an actor in the virtual-actor sense: addressable by its ID
// (through the Directory), with its own behaviour (the state machine of
// queue.go and commands.go), supervised by its queue. It rests passivated as
// a compact record in its queue actor; a protoactor actor costs 660-950
// bytes, a record about 300 (PROTOACTOR.md §4). The cluster issue adds
// resident job actors for the conversations that span nodes (replication,
// ack garbage collection, requeue negotiation).
//
// # A job's life (SPEC.md §1, §7)
//
//	ADDJOB --> wait-repl --(replicated)--> active --(queued now, or at DELAY)--> queued
//	                                         ^                                     |
//	                                         |  GETJOB (delivered)                 |
//	                                         '-------------------------------------'
//	                     requeued RETRY seconds after it was last queued, unless acked
//	ACKJOB --> acked --(every copy confirmed)--> deleted      TTL --> deleted
//
// At-least-once is the default: a job that is not acknowledged comes back
// RETRY seconds after it was last queued, so a consumer that dies loses
// nothing, and one that is merely slow may see the job twice (WORKING
// postpones the requeue). RETRY 0 asks for at-most-once: the job is queued
// once, never again, and a delivered at-most-once job is the first thing
// dropped under memory pressure.
//
// # Pure cores, thin actors
//
// Queue (queue.go, commands.go) is a plain type: no goroutines, clocks,
// sockets or protoactor. The queue actor reads the time from the node's
// Clock, calls the core with `now` in unix milliseconds, and carries out
// the effects the core appended to its outbox (hand a job to a blocked
// client; persist; later, send to other nodes). Jitter comes from a seeded
// generator in the core's Env. So the state machines are tested with a fixed
// clock and no sleeping (queue_test.go), and a chaos run can be replayed.
//
// # What is shared, and why
//
// Actors share state only through messages, with two documented exceptions
// (directory.go): the Directory (job ID -> record, written only by the
// owning queue actor, read by anyone for the record's immutable ID and
// Queue) and the queue table (name -> queue actor). Both exist so that a
// command reaches its queue actor in one hop, without a central actor
// serialising the node. A few counters are atomics (accounted memory,
// visible queues, blocked clients) and a blocked GETJOB's Waiter has one
// atomic claim flag: the first queue to claim it delivers.
//
// # The facade
//
// Node.Ask (ask.go) answers a protocol request: the gateway, the embedder
// API and remote embedders all come through it. It routes by queue name or
// job ID straight to the owning queue actor and waits on a channel rather
// than a protoactor future: a future costs a temporary process and a timer
// per call, a channel one allocation.
package actors
