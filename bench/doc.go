// Package bench is godisque's load generator and its standard benchmark
// suite; cmd/disque-bench is its command line and `make bench` its usual
// entry point.
//
// # What it measures
//
// A run (Run, Options) drives one scenario against one Disque-compatible
// endpoint, or a cluster given as several addresses: ADDJOB alone, GETJOB
// NOHANG on filled queues, the whole job lifecycle by separate producers and
// consumers, ADDJOB REPLICATE n across a cluster, and the federated
// lifecycle (produce on one node, consume on another); and, for comparison,
// the Redis list equivalents (LPUSH, RPOP, and the reliable-queue pattern
// BLMOVE + LREM). scenario.go describes each. A run reports throughput, the
// latency of every reply (a log-linear histogram, hist.go: p50 to p99.9 and
// the maximum), throughput over time, and, when the server is a process on
// this machine, the server's CPU time per operation read from /proc.
//
// The suite (RunSuite) puts our scenarios beside redis-server and beside a
// bare redcon server (package redconlpush, the ceiling for a Go server on
// redcon) in one run, with ratios and the targets of issue 5. Mem measures
// bytes per resting job.
//
// # Why its own client
//
// A load generator must not be the bottleneck: on two cores it shares the
// machine with the server it measures. Conn (resp.go) is a minimal pipelined
// RESP2 client: commands are pre-encoded once per scenario and copied per
// operation, replies are parsed into reused buffers, and each connection is
// one goroutine with its own histogram, so the measured loop allocates
// nothing and takes no lock. It sustains over 500,000 operations a second
// with 16 commands in flight on the same two cores as redis-server.
//
// # Reading the numbers
//
// Every server and the generator share one machine, and a shared machine is
// noisy: compare ratios taken in the same run rather than absolute numbers
// across runs, and prefer timed runs of several seconds after a warm-up.
package bench
