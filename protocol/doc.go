// Package protocol is godisque's vocabulary: every word the parts of a node,
// and the nodes of a cluster, say to each other.
//
// # The messages
//
// disque.proto declares them, in three families, and gogo generates their Go
// types (disque.pb.go):
//
//   - The job record, Job: what a node holds, what REPLJOB and YOURJOBS
//     carry, and what the append-only file stores.
//   - Commands and replies: one message per Disque command (AddJob is ADDJOB,
//     GetJob is GETJOB, ...) and one per reply shape (Jobs, Count, Error,
//     ShowReply, ...). The gateway parses RESP into these; an embedder sends
//     them to a node's actor directly, with no RESP in between.
//   - Between the nodes: Disque's cluster bus, message for message (cluster.h,
//     SPEC.md §16.2): ReplJob and GotJob replicate a job; EnqueueJob, Queued,
//     WillQueue and WorkingMsg coordinate who queues it; SetAck, GotAck and
//     DelJobMsg garbage-collect an acknowledged job; NeedJobs and YourJobs
//     move jobs between queues of different nodes (federation); PauseMsg,
//     Gossip and Fail keep membership and pauses in step. Each carries a
//     Peer: the sender's node ID and its incarnation, so a restarted node is
//     told apart from its previous life.
//
// The messages are plain data: no behaviour lives here.
//
// # Job IDs
//
// A job ID is 40 printable bytes (jobid.go, SPEC.md §3):
//
//	D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1
//	| |        |                        |
//	| |        |                        TTL in minutes, 4 hex digits;
//	| |        |                        odd: retries, even: at-most-once
//	| |        144 pseudo-random bits, base64, SHA1(seed ‖ counter)
//	| first 8 hex chars of the creating node's ID
//	"D-"
//
// An ID tells a node that never saw the job two things: whether it is
// at-most-once (no dummy ack is needed for an ACKJOB of it) and how long an
// ack of it must be remembered. Commands validate IDs exactly as Disque
// does, and no more: length and the three separators. Node IDs are 40 random
// lower-case hex characters (nodeid.go).
//
// # The carrier
//
// Nodes talk through protoactor remoting, which serialises only
// google.golang.org/protobuf messages, and ours are gogo. So exactly one
// standard-protobuf message crosses the network: wire.Carrier, a Kind number
// and the gogo bytes. Every message here implements remote.RootSerializable,
// which protoactor calls to turn it into a Carrier on the way out; the
// Carrier implements remote.RootSerialized, which turns it back on the way
// in. Actors send and receive *protocol.ReplJob and never see a Carrier. To
// send one message to many peers, Pack it once and send the Carrier: each
// peer's writer would otherwise marshal it again.
//
// A Carrier this node cannot read, whether of a kind it does not know or
// with bytes that do not parse, arrives as *Unknown, never as an error. In
// the pinned protoactor an error there closes the whole stream between two
// nodes, and a message type the receiver does not link crashes its process:
// a newer node must never crash an older one. Actors log an Unknown and
// drop it; the protocol above (retries, GC, requeue) already assumes lost
// messages.
//
// Pack, Unpack and Decode do the same conversion without remoting, for the
// append-only file and for tests.
//
// # Only append
//
// Field numbers in disque.proto and Kind numbers in bridge.go are read by
// nodes of other versions and by files written long ago. They are only ever
// appended to: never renumbered, reused or removed. Adding a message means
// adding it to disque.proto, regenerating it (make proto), appending its Kind
// to the list in bridge.go, and running go generate ./protocol, which writes
// bridge_gen.go and refuses to while any message lacks a Kind.
package protocol
