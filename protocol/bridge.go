package protocol

// ------------------------- The remoting bridge -----------------------------
//
// protoactor's remote serialises only google.golang.org/protobuf (APIv2)
// messages; ours are gogo. So one APIv2 message, wire.Carrier{Kind, Data},
// crosses the network for all of them, and two hooks of the remote package
// move between the two worlds (PROTOACTOR.md §2.2):
//
//	sender:   *protocol.ReplJob --Serialize()--> *wire.Carrier --proto--> bytes
//	receiver: bytes --proto--> *wire.Carrier --Deserialize()--> *protocol.ReplJob
//
// Every gogo message implements remote.RootSerializable (bridge_gen.go,
// generated from the Kind list below), and *wire.Carrier implements
// remote.RootSerialized through the wire.Decode hook this package installs.
//
// The receiver must never fail: protoactor closes the whole stream, and
// drops the rest of its batch, when Deserialize returns an error. A carrier
// of a kind this node does not know (a newer node speaking), or whose bytes
// do not parse, arrives as *Unknown, which the receiving actor logs and
// drops.
//
// Pack and Unpack are the same conversion without remoting, for the
// append-only file and for tests.

//go:generate go run ./internal/genbridge -consts bridge.go -pb disque.pb.go -out bridge_gen.go

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol/wire"
)

// Kind names a message type of disque.proto on the wire and in the
// append-only file.
//
// WARNING: ONLY APPEND TO THIS LIST. The numbers are part of the protocol
// between nodes of different versions and of files written by older ones:
// never renumber, reuse or remove one. A message added to disque.proto gets
// the next number here, then `go generate ./protocol` (the generator refuses
// to run while a message has no Kind).
const (
	KindUnknown Kind = 0 // never sent: the zero carrier

	// Jobs.
	KindJob     Kind = 1 // the full job record
	KindJobItem Kind = 2 // one job of a GETJOB or QPEEK reply
	KindJobInfo Kind = 3 // what SHOW reports of a job

	// Commands and their replies.
	KindAddJob         Kind = 4  // ADDJOB
	KindAddJobReply    Kind = 5  // the new job's ID
	KindGetJob         Kind = 6  // GETJOB
	KindJobs           Kind = 7  // reply to GETJOB and QPEEK
	KindAckJob         Kind = 8  // ACKJOB
	KindFastAck        Kind = 9  // FASTACK
	KindNack           Kind = 10 // NACK
	KindEnqueue        Kind = 11 // ENQUEUE
	KindDequeue        Kind = 12 // DEQUEUE
	KindDelJob         Kind = 13 // DELJOB
	KindWorking        Kind = 14 // WORKING
	KindShow           Kind = 15 // SHOW
	KindShowReply      Kind = 16 // SHOW's answer
	KindCount          Kind = 17 // an integer reply
	KindError          Kind = 18 // an error reply
	KindQlen           Kind = 19 // QLEN
	KindQpeek          Kind = 20 // QPEEK
	KindQstat          Kind = 21 // QSTAT
	KindQueueInfo      Kind = 22 // QSTAT's answer
	KindPause          Kind = 23 // PAUSE
	KindPauseReply     Kind = 24 // PAUSE's answer
	KindQscan          Kind = 25 // QSCAN
	KindJscan          Kind = 26 // JSCAN
	KindScanReply      Kind = 27 // QSCAN and JSCAN answers
	KindNodeStats      Kind = 28 // counts for INFO and HELLO
	KindNodeStatsReply Kind = 29 // their answer
	KindFlush          Kind = 30 // DEBUG FLUSHALL
	KindOk             Kind = 31 // a +OK reply

	// Between the nodes (cluster.h's CLUSTERMSG_TYPE_*).
	KindPeer       Kind = 32 // who sent a cluster message
	KindGossip     Kind = 33 // HELLO-style heartbeat (PING/PONG/MEET)
	KindReplJob    Kind = 34 // REPLJOB: hold a copy of this job
	KindGotJob     Kind = 35 // GOTJOB: copy held
	KindEnqueueJob Kind = 36 // ENQUEUE: queue your copy
	KindQueued     Kind = 37 // QUEUED: I queued it
	KindSetAck     Kind = 38 // SETACK: it is acknowledged
	KindWillQueue  Kind = 39 // WILLQUEUE: I am about to requeue it
	KindGotAck     Kind = 40 // GOTACK: answer to SETACK
	KindDelJobMsg  Kind = 41 // DELJOB: forget it
	KindNeedJobs   Kind = 42 // NEEDJOBS: federation request
	KindYourJobs   Kind = 43 // YOURJOBS: federation reply, jobs moved
	KindWorkingMsg Kind = 44 // WORKING: postpone the requeue
	KindPauseMsg   Kind = 45 // PAUSE ... BCAST
	KindFail       Kind = 46 // FAIL: this node is failing
)

// Kind is the number of a message type; see the list above.
type Kind uint32

// Message is every message of disque.proto: a gogo message that knows how
// to cross protoactor remoting.
type Message interface {
	proto.Message
	Marshal() ([]byte, error)
	Unmarshal(data []byte) error
	Size() int
	remote.RootSerializable
}

// Errors of Pack and Unpack.
var (
	ErrUnknownKind = errors.New("protocol: unknown message kind")
	ErrNotAMessage = errors.New("protocol: not a message of disque.proto")
	errSendUnknown = errors.New("protocol: an Unknown message cannot be sent")
)

// KindOf returns the kind of m, or KindUnknown if m is not a message of
// disque.proto.
func KindOf(m any) Kind { return kindOf(m) }

// New returns a new empty message of the given kind, or nil if the kind is
// unknown.
func New(k Kind) Message {
	if int(k) >= len(factories) || factories[k] == nil {
		return nil
	}
	return factories[k]()
}

// Pack puts m in a carrier: its kind and its gogo bytes.
func Pack(m Message) (*wire.Carrier, error) {
	k := kindOf(m)
	if k == KindUnknown {
		return nil, fmt.Errorf("%w: %T", ErrNotAMessage, m)
	}
	return pack(k, m)
}

// Unpack returns the message a carrier holds. It fails on an unknown kind
// (ErrUnknownKind) or on bytes that do not parse.
func Unpack(c *wire.Carrier) (Message, error) {
	return Decode(Kind(c.GetKind()), c.GetData())
}

// Decode parses data as a message of kind k.
func Decode(k Kind, data []byte) (Message, error) {
	m := New(k)
	if m == nil {
		return nil, fmt.Errorf("%w %d", ErrUnknownKind, k)
	}
	if err := m.Unmarshal(data); err != nil {
		return nil, fmt.Errorf("protocol: decoding %v (%d bytes): %w", k, len(data), err)
	}
	return m, nil
}

// pack marshals m. An empty message (Size 0), or a nil pointer, becomes a
// carrier with no data; gogo's Marshal would dereference the nil pointer.
func pack(k Kind, m Message) (*wire.Carrier, error) {
	if m.Size() == 0 {
		return &wire.Carrier{Kind: uint32(k)}, nil
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("protocol: encoding %v: %w", k, err)
	}
	return &wire.Carrier{Kind: uint32(k), Data: data}, nil
}

// serialize is the body of every generated Serialize method. On an error it
// returns a nil interface, not a nil *wire.Carrier, so the endpoint writer
// sees the error alone (it logs it and drops the message).
func serialize(k Kind, m Message) (remote.RootSerialized, error) {
	c, err := pack(k, m)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ------------------------------- Unknown -----------------------------------

// Unknown is what a carrier becomes on the receiving node when it cannot be
// read: a kind this node does not know (sent by a newer version) or bytes
// that do not parse. Actors log it and drop it. It is a plain Go value, never
// a message of disque.proto: it cannot be sent on.
type Unknown struct {
	Kind Kind  // the carrier's kind
	Len  int   // the length of its data
	Err  error // why it could not be read
}

// Serialize refuses: an Unknown is a placeholder, not something to forward.
// It exists so that Unknown satisfies remote.RootSerializable, which is what
// a carrier must deserialise to.
func (u *Unknown) Serialize() (remote.RootSerialized, error) { return nil, errSendUnknown }

func (u *Unknown) String() string {
	return fmt.Sprintf("protocol: unreadable carrier of kind %d, %d bytes: %v", uint32(u.Kind), u.Len, u.Err)
}

// decodeCarrier is wire.Decode: it never fails and never panics, because the
// remote package closes the stream on an error and a panic in its gRPC
// handler kills the process.
func decodeCarrier(kind uint32, data []byte) (out remote.RootSerializable) {
	defer func() {
		if r := recover(); r != nil {
			out = &Unknown{Kind: Kind(kind), Len: len(data), Err: fmt.Errorf("protocol: panic decoding: %v", r)}
		}
	}()
	m, err := Decode(Kind(kind), data)
	if err != nil {
		return &Unknown{Kind: Kind(kind), Len: len(data), Err: err}
	}
	return m
}

func init() { wire.Decode = decodeCarrier }
