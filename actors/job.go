package actors

import (
	"slices"
	"unsafe"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------- The job record ------------------------------
//
// A Job is the resting form of a Disque job: a compact record owned by the
// queue actor of its queue (DESIGN.md, "passivated"). Only the owning queue
// actor reads or writes it, with one exception: ID and Queue never change
// after the job is published in the Directory, so any goroutine holding a
// *Job from the Directory may read those two fields, and nothing else.
//
// Times are unix milliseconds. Ctime is Disque's creation time, ms*1e6 plus a
// per-node uniquifier (SPEC.md §5.1 step 9), so it orders jobs of a queue.

// Job states, as SHOW prints them (SPEC.md §1). Values match protocol.JobState.
const (
	StateWaitRepl = uint8(protocol.JobState_WAIT_REPL) // waiting for synchronous replication
	StateActive   = uint8(protocol.JobState_ACTIVE)    // known, not queued here, not acked
	StateQueued   = uint8(protocol.JobState_QUEUED)    // in the local queue
	StateAcked    = uint8(protocol.JobState_ACKED)     // acknowledged, kept to propagate the ack
)

// Job flags (SPEC.md §16.3), values match protocol.JobFlag.
const (
	flagBcastQueued    = uint8(protocol.JobFlag_BCAST_QUEUED)    // next queueing is a redelivery
	flagBcastWillQueue = uint8(protocol.JobFlag_BCAST_WILLQUEUE) // announce WILLQUEUE before requeue
	flagDelivered      = uint8(protocol.JobFlag_DELIVERED)       // handed to a consumer here
)

var stateNames = [...]string{"wait-repl", "active", "queued", "acked"}

// StateName is the name SHOW prints for a state.
func StateName(s uint8) string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Job is one job's record on this node.
type Job struct {
	ID    string // immutable; readable by anyone holding the pointer
	Queue string // immutable; readable by anyone holding the pointer
	Body  string // immutable, like every body: see ownString

	Ctime int64 // creation, ms*1e6 + uniquifier
	Etime int64 // expiry, unix ms
	Qtime int64 // next requeue, unix ms; 0 = never
	awake int64 // next time the queue must look at this job (awake index key)

	Delay, Retry  uint32 // seconds
	Nacks, AddDel uint32 // NACK and additional-deliveries counters
	Repl          uint16
	State         uint8
	Flags         uint8
	heapIdx       int32 // position in the awake index, -1 when not in it

	// dl is Disque's nodes_delivered (SPEC.md §12), the node IDs that may
	// hold a copy: see Delivered. nodes_confirmed is kept by the queue
	// (Queue.confirmedOf), for the few jobs that have one.
	dl *[]string
}

// Delivered is the job's nodes_delivered. The list is shared with other
// jobs naming the same nodes (Node.selfOnly, nodeNames.list), which is why
// a job holds a pointer to it and not a slice of its own: never write to
// an element in place; append copies (shared lists have no spare room).
func (j *Job) Delivered() []string {
	if j.dl == nil {
		return nil
	}
	return *j.dl
}

// setDelivered gives the job a list of its own; shareDelivered one that
// other jobs may hold too.
func (j *Job) setDelivered(l []string) {
	if len(l) == 0 {
		j.dl = nil
		return
	}
	j.dl = &l
}

func (j *Job) shareDelivered(l *[]string) { j.dl = l }

// The field order keeps Job at 112 bytes, a Go size class: one more byte
// and every resting job costs 128. TestJobRecordSize watches it.

// A job's body is never written once it is made: ADDJOB copies it (newJob),
// a peer's or the log's message decodes into bytes of its own. So the
// record keeps it as a string (16 bytes, not a slice's 24) made from those
// bytes without a copy, and messages that only read it (replies, the wire,
// the log) get the same bytes back without one.
func ownString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// sharedUpTo is the longest body kept in its job's own block (see newJob).
const sharedUpTo = blockRoom - protocol.JobIDLen

// newJob makes a job record with a new ID and a copy of body (the caller
// keeps its bytes: an embedder may reuse its buffer, the gateway's
// arguments share a block with the rest of their pipeline); the rest of
// the record is the caller's to fill. Up to sharedUpTo bytes of body, the
// record, its ID and its body are one block: one object per resting job
// for the collector to mark, not three. The blocks are sized to Go's size
// classes (112 for the record, then 16 to 32 bytes apart), so joining never
// costs more than the separate blocks would; a longer body gets its own.
func newJob(ids *protocol.IDGen, ttl, retry int64, body []byte) *Job {
	if len(body) > sharedUpTo {
		return &Job{ID: ids.Next(ttl, retry), Body: string(body), heapIdx: -1}
	}
	j, b := allocJob(protocol.JobIDLen + len(body))
	return j.inBlock(append(ids.AppendNext(b, ttl, retry), body...), protocol.JobIDLen)
}

// jobWith is newJob for an ID already made (a copy from a peer, a record of
// the log): one block for the record and copies of id and body, when they
// fit, else the record alone keeping the strings given.
func jobWith(id string, body []byte) *Job {
	if len(id)+len(body) > blockRoom {
		return &Job{ID: id, Body: ownString(body), heapIdx: -1}
	}
	j, b := allocJob(len(id) + len(body))
	return j.inBlock(append(append(b, id...), body...), len(id))
}

// inBlock points the job's ID and body at b, the bytes allocJob gave it
// (appended within their room): the ID's idLen bytes, then the body.
func (j *Job) inBlock(b []byte, idLen int) *Job {
	j.ID = ownString(b[:idLen])
	if len(b) > idLen {
		j.Body = ownString(b[idLen:])
	}
	return j
}

// allocJob returns a new record followed by room for need bytes (at most
// blockRoom), and that room as an empty slice of it. The sizes put the
// block (record and room) exactly in one of Go's size classes.
func allocJob(need int) (*Job, []byte) {
	switch {
	case need <= 48:
		return placeJob[[48]byte]() // 160
	case need <= 64:
		return placeJob[[64]byte]() // 176
	case need <= 80:
		return placeJob[[80]byte]() // 192
	case need <= 96:
		return placeJob[[96]byte]() // 208
	case need <= 112:
		return placeJob[[112]byte]() // 224
	case need <= 128:
		return placeJob[[128]byte]() // 240
	case need <= 144:
		return placeJob[[144]byte]() // 256
	case need <= 176:
		return placeJob[[176]byte]() // 288
	case need <= 208:
		return placeJob[[208]byte]() // 320
	case need <= 240:
		return placeJob[[240]byte]() // 352
	}
	return placeJob[[blockRoom]byte]() // 384
}

// blockRoom is the most a job's block holds beyond the record.
const blockRoom = 272

// jobBlock is a job record followed by the bytes of its ID and body; the
// record's strings point into buf, and keep the block alive.
type jobBlock[B any] struct {
	Job
	buf B
}

func placeJob[B any]() (*Job, []byte) {
	blk := new(jobBlock[B])
	blk.heapIdx = -1
	return &blk.Job, unsafe.Slice((*byte)(unsafe.Pointer(&blk.buf)), unsafe.Sizeof(blk.buf))[:0]
}

// bodyBytes is the body for a message that only reads it.
func (j *Job) bodyBytes() []byte { return unsafe.Slice(unsafe.StringData(j.Body), len(j.Body)) }

// jobOverhead is what accounting charges for a job beyond its body and ID:
// the record, its places in the awake index, the queued set and the directory.
const jobOverhead = 200

// cost is the accounted size of a job (memory levels, SPEC.md §14).
func (j *Job) cost() int64 {
	return jobOverhead + int64(len(j.Body)) + int64(len(j.ID)) + 16*int64(len(j.Delivered()))
}

// ctimeMs is the creation time in milliseconds.
func (j *Job) ctimeMs() int64 { return j.Ctime / 1_000_000 }

func containsNode(list []string, id string) bool {
	for _, n := range list {
		if n == id {
			return true
		}
	}
	return false
}

// ToProto is the job as REPLJOB, YOURJOBS and the append-only file carry it.
func (j *Job) ToProto() *protocol.Job {
	return &protocol.Job{
		Id: j.ID, Queue: j.Queue, Body: j.bodyBytes(), State: protocol.JobState(j.State),
		Repl: uint32(j.Repl), Ctime: j.Ctime, EtimeMs: j.Etime, QtimeMs: j.Qtime,
		Delay: j.Delay, Retry: j.Retry, Nacks: j.Nacks, AdditionalDeliveries: j.AddDel,
		NodesDelivered: append([]string(nil), j.Delivered()...), Flags: uint32(j.Flags),
	}
}

// JobFromProto rebuilds a record from its stored or shipped form.
func JobFromProto(p *protocol.Job) *Job { return jobFromProto(p, nil) }

// jobFromProto is JobFromProto with the node IDs of nodes_delivered taken
// from names: a replica keeps a copy of most jobs of its cluster, and each
// would otherwise hold its own copies of the same few node IDs.
func jobFromProto(p *protocol.Job, names *nodeNames) *Job {
	j := jobWith(p.Id, p.Body)
	j.Queue, j.State, j.Repl = p.Queue, uint8(p.State), uint16(p.Repl)
	j.Ctime, j.Etime, j.Qtime = p.Ctime, p.EtimeMs, p.QtimeMs
	j.Delay, j.Retry, j.Nacks, j.AddDel = p.Delay, p.Retry, p.Nacks, p.AdditionalDeliveries
	j.Flags = uint8(p.Flags)
	if names == nil {
		j.setDelivered(slices.Clone(p.NodesDelivered))
		return j
	}
	j.shareDelivered(names.list(p.NodesDelivered))
	return j
}

// nodeNames keeps one copy of each node ID, and of each nodes_delivered
// list, it is given: in a cluster most jobs name the same few nodes in the
// same few orders, so a replica's copies (and the origin's jobs once
// replicated) share their lists instead of holding one each. Lists are
// never written in place (Job.Delivered), and the shared ones have no room
// to append into, so an append copies. The tables are forgotten once they
// hold maxNodeNames entries (nodes long gone, or a peer sending garbage),
// which costs only copies.
type nodeNames struct {
	ids   map[string]string
	lists map[string]*[]string
	key   []byte // scratch for a list's key
}

const maxNodeNames = 1024

func (n *nodeNames) intern(id string) string {
	if s, ok := n.ids[id]; ok {
		return s
	}
	if n.ids == nil || len(n.ids) >= maxNodeNames {
		n.ids = make(map[string]string)
	}
	n.ids[id] = id
	return id
}

// list returns the shared list equal to ids, made (of interned IDs) if
// there is none yet. ids itself is not kept.
func (n *nodeNames) list(ids []string) *[]string {
	if len(ids) == 0 {
		return nil
	}
	n.key = n.key[:0]
	for _, id := range ids {
		n.key = append(append(n.key, id...), 0)
	}
	if l, ok := n.lists[string(n.key)]; ok {
		return l
	}
	if n.lists == nil || len(n.lists) >= maxNodeNames {
		n.lists = make(map[string]*[]string)
	}
	l := make([]string, len(ids))
	for i, id := range ids {
		l[i] = n.intern(id)
	}
	n.lists[string(n.key)] = &l
	return &l
}
