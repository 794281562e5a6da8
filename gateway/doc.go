// Package gateway is the client face of a godisque node: a RESP server that
// speaks Disque's command language (SPEC.md §2 and §5) to existing Disque
// clients and turns every command into a typed request for the node's
// actors.
//
// # What the gateway is, and what it is not
//
// The gateway holds no job state. Jobs and queues live in the actors (see
// package actors); the gateway only asks. Its whole job is translation, in
// both directions, and the compatibility of a Disque reimplementation lives
// almost entirely in that translation: command names and arities, the
// order in which options are checked (which error wins when two are wrong),
// the exact error texts, and the reply types, quirks included. Clients
// switch on "-BADID" and "-NOREPL", parse "+D-..." as a status reply, and
// expect "*-1" from an empty GETJOB but "$-1" from an unknown SHOW. So the
// package is built to keep those things in one place each, pure and tested
// byte for byte.
//
// A request goes through four layers, cheapest first:
//
//	bytes  --guard-->  redcon  --table-->  parser  --ask-->  node
//	                                                          |
//	bytes  <--------------  reply encoder  <------------------'
//
// # The guard (guard.go)
//
// redcon, the RESP library under the server, parses requests but enforces
// none of Redis' limits, and words the protocol errors it does detect
// differently from Redis. The guard is a net.Listener wrapper whose
// connections pass every byte they read through an incremental framing
// validator before redcon sees it. The validator is a byte-at-a-time state
// machine in the style of nats-server's parser, resumable across partial
// reads, that never copies a byte and counts its way through argument
// bodies. It refuses an inline line or a "*N"/"$L" header longer than 64 KB,
// more than 1048576 arguments, an argument longer than 512 MB, a request
// longer than 1 GB, malformed lengths and missing '$', with Redis 3's exact
// "-ERR Protocol error: ..." texts; it also refuses, first and in Redis'
// words, the few streams redcon would refuse on its own (inline quoting
// redcon cannot tokenize, "*0"), so a client never sees a redcon-worded
// protocol error. On a violation the requests before it are still served
// and answered in order; then the error is written and the connection
// closed.
//
// # The command table (server.go and one file per command family)
//
// Commands are registered explicitly in one table, and registering a name
// twice panics. Dispatch follows Disque's processCommand: unknown command
// ("-ERR unknown command 'NAME'", the name as sent), then arity ("-ERR wrong
// number of arguments for 'name' command", lower case; N means exactly N
// arguments counting the name, -N at least N), then authentication. Each
// handler is three steps, marked in its body:
//
//	>> Args       a pure parser turns argv into a protocol message
//	>> Operation  the node is asked (actors.Node); only this may block
//	>> Response   a reply encoder appends the exact RESP bytes
//
// Handlers live with their family: jobs.go (ADDJOB GETJOB ACKJOB FASTACK
// NACK WORKING SHOW DELJOB ENQUEUE DEQUEUE), queues.go (QLEN QPEEK QSTAT
// PAUSE), scan.go (QSCAN JSCAN), admin.go and info.go for the rest. A
// blocking GETJOB blocks only its own connection's goroutine, which keeps
// that connection's pipeline in order and leaves every other client alone.
//
// # Parsers (parse_jobs.go, parse_queues.go, parse_scan.go)
//
// A parser is a function of argv alone, parseNAME(args [][]byte) (*protocol.X,
// error): no connection, no actor, no clock. It mirrors the option loop of
// Disque's C command, so precedence is Disque's: ADDJOB checks its options
// left to right, then the timeout, then RETRY 0 against REPLICATE, then
// DELAY against TTL; GETJOB takes everything after FROM as a queue name;
// ID-list commands validate every ID before doing anything; QSCAN and JSCAN
// take any token that is not an option as the cursor. Errors are values of
// type Error whose text is exactly the wire text. Integers are parsed like
// Redis' string2ll, strictly (no '+', no leading zeros, no overflow).
//
// What a parser cannot know it leaves to the node, and says so: the default
// REPLICATE is min(3, cluster size), so "RETRY 0" without REPLICATE is
// decided by checkADDJOB once the node knows its size.
//
// Every parser has a table test covering each option and each error with
// its precedence, and a fuzz target that builds argvs from the fuzz input
// (split on spaces, and cut in two halves like nats' FuzzParser), checks
// that nothing panics, that every error is one the command may return, and
// that every success survives a round trip through its canonical argv.
//
// # Replies (reply.go)
//
// Reply encoders append to a []byte, built on redcon's Append* functions, so
// they are tested without a socket by comparing bytes. The encoders keep
// Disque's reply-type quirks on purpose: ADDJOB answers the ID as a status
// reply, JSCAN's IDs are status replies inside the array while QSCAN's
// queue names and GETJOB's IDs are bulk strings, the scan cursor is a bulk
// string, "nothing" is a null multibulk for GETJOB and QSTAT but a null bulk
// for SHOW, QPEEK of nothing is an empty array. SHOW's 30 elements and
// QSTAT's 20 come in Disque's order with Disque's types.
//
// # Errors (errors.go)
//
// Every client-visible error text of SPEC.md §2 and §6 is a constant there,
// without the leading '-' that the encoder adds. Tests assert them verbatim,
// down to the double space in "explicitly set  REPLICATE".
package gateway
