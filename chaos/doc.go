// Package chaos is the chaos playground: it runs a queue workload against a
// cluster of real disque-server processes while nemeses break it, records
// every operation, and proves from that history alone whether an
// acknowledged job was lost. cmd/disque-chaos is its command line.
//
// # A run
//
// Run (run.go) starts N servers on loopback ports (Cluster, cluster.go),
// joins them with CLUSTER MEET and waits until every node reaches every
// other one. Then, for Options.Time, clients (workload.go) enqueue unique
// values with ADDJOB REPLICATE n RETRY r on random nodes, and dequeue them
// with GETJOB and ACKJOB on random nodes, while an Injector (faults.go)
// applies the schedule of faults drawn from the seed (Plan, nemesis.go).
// Then everything is healed, the cluster settles, every queue of every node
// is drained, and Check (checker.go) judges the History (history.go). The
// report (report.go) is a text summary, the history as JSON lines, and one
// self-contained HTML page with a hand-drawn SVG.
//
// # The nemeses
//
// kill (kill -9, and a restart on the same directory later: with an
// append-only file the node comes back with its jobs, without one it comes
// back empty), pause (SIGSTOP, SIGCONT), partition (halves, one node
// isolated, a majority ring, a bridge; every node blocks the node IDs of
// the other side with DEBUG LINK BLOCK), loss, delay and dup (DEBUG LINK
// DROP, DELAY, DUP on some nodes' links), skew (DEBUG CLOCK-SKEW on some
// nodes), and all of them. A fault is on for an interval drawn around
// Options.Interval, then healed; the same seed draws the same schedule.
//
// # What the checker proves
//
// Disque promises at-least-once delivery: a job whose ADDJOB answered with
// REPLICATE n is delivered at least once unless n of the nodes holding it
// lose their memory. Duplicates are allowed and counted. So the checker
// reports lost jobs (acknowledged, never dequeued), duplicated ones,
// unexpected values (dequeued, never enqueued) and recovered ones (enqueue
// outcome unknown or failed, yet dequeued), and fails the run on any
// unexpected value and on any loss it cannot excuse by enough nodes killed
// without an append-only file during the job's life.
//
// The harness can only prove what its history shows: a run that loses
// nothing is evidence, not proof, and a broken server (GODISQUE_CHAOS_BROKEN,
// gateway.Breakage) shows that the checker does catch losses.
package chaos
