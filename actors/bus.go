package actors

import (
	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol"
)

// --------------------------------- The bus -----------------------------------
//
// Bus is a node's view of, and way to, the other nodes of its cluster. The
// cluster package implements it (membership, the Link, a transport); a node
// started without one is alone, as a fresh Disque node is before CLUSTER
// MEET. Membership is advisory (DESIGN.md, "The cluster"): every job carries
// its own list of the nodes that may hold it, and the protocol of SPEC.md
// §10-§13 re-sends on its own timers, so a stale view costs retries, never
// a job.

// Bus is what the node needs from its cluster; see the chapter comment.
type Bus interface {
	// Send hands msg to the node with this ID. It never blocks for long
	// and may lose the message.
	Send(to string, msg proto.Message)
	// Self is this node as peers see it; it goes into every message's From.
	Self() *protocol.Peer
	// Reachable lists the other nodes replication may use now: known,
	// not in handshake, not LEAVING, not failing (SPEC.md §9).
	Reachable() []string
	// Others lists every other known node, failing or not (broadcasts).
	Others() []string
	// Size is cluster_size: the known nodes, myself and failing ones
	// included, handshakes excluded.
	Size() int
	// Known tells whether id is a known node. Job messages from unknown
	// senders are ignored (SPEC.md §16.1).
	Known(id string) bool
	// Receive is given every message a peer sent to the node actor, first.
	// It handles membership messages (Gossip, Fail) and answers true for
	// them; job messages it only observes, answering false.
	Receive(msg proto.Message) bool
}
