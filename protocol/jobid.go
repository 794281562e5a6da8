package protocol

// ------------------------------- Job IDs -----------------------------------
//
// A job ID is 40 bytes of printable ASCII (SPEC.md §3, Disque's job.c
// generateJobID):
//
//	D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1
//	0 2        11                       36
//
//	+--+-----------------+-+-------------------------------+-+-----+
//	|D-| 8 chars node ID |-| 144 random bits, 24 base64 ch. |-| TTL |
//	+--+-----------------+-+-------------------------------+-+-----+
//
// The TTL field is the job's TTL in minutes as four lower-case hex digits,
// with its lowest bit overwritten: odd when the job may be delivered again
// (retry > 0), even when it is at-most-once (retry == 0). A node that gets
// ACKJOB for an ID it never saw reads the parity to decide whether a "dummy
// ack" is needed, and the minutes to know when that ack may be forgotten.

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"sync/atomic"
)

// JobIDLen is the length of every job ID.
const JobIDLen = 40

// Offsets of the parts of a job ID.
const (
	jobIDNodeAt   = 2  // 8 chars of the creating node's ID
	jobIDNodeLen  = 8  //
	jobIDRandAt   = 11 // 24 base64 chars
	jobIDRandLen  = 24 //
	jobIDTTLAt    = 36 // 4 hex digits, TTL in minutes with forced parity
	jobIDRandSize = 18 // digest bytes behind the 24 base64 chars
	maxTTLMinutes = 65535
)

// IDGen makes job IDs for one node. Its random part is SHA1(seed ‖ counter)
// in counter mode, as in Disque: unique as long as the seed is, and
// deterministic given the seed, so tests can replay it. The node picks the
// seed at start-up (Disque's jobid_seed: 40 random hex characters).
//
// An IDGen is safe for concurrent use: the counter is the only state and it
// is advanced atomically.
type IDGen struct {
	prefix  [jobIDNodeLen]byte
	seed    []byte
	counter atomic.Uint64
}

// NewIDGen returns a generator for the node whose 40-hex-char ID is nodeID;
// only its first 8 characters appear in the IDs. The seed is copied. It
// panics if nodeID is shorter than 8 characters, which is a programming
// error: node IDs come from NewNodeID.
func NewIDGen(nodeID string, seed []byte) *IDGen {
	if len(nodeID) < jobIDNodeLen {
		panic("protocol: NewIDGen: node ID shorter than 8 characters: " + nodeID)
	}
	g := &IDGen{seed: append([]byte(nil), seed...)}
	copy(g.prefix[:], nodeID)
	return g
}

// Next returns a new job ID for a job with the given TTL (seconds) and retry
// (seconds). Only whether retry is greater than zero matters: resolve a
// defaulted retry before calling.
func (g *IDGen) Next(ttlSeconds int64, retry int64) string {
	var id [JobIDLen]byte
	g.next(&id, ttlSeconds, retry)
	return string(id[:])
}

// AppendNext appends a new job ID (as Next makes it) to b, for a caller that
// keeps the ID in a buffer of its own.
func (g *IDGen) AppendNext(b []byte, ttlSeconds int64, retry int64) []byte {
	var id [JobIDLen]byte
	g.next(&id, ttlSeconds, retry)
	return append(b, id[:]...)
}

func (g *IDGen) next(id *[JobIDLen]byte, ttlSeconds int64, retry int64) {
	n := g.counter.Add(1)

	// SHA1(seed ‖ counter), the counter as 8 little-endian bytes like
	// Disque's on x86. The buffer stays on the stack for the usual 40-byte
	// seed.
	var buf [64]byte
	in := append(buf[:0], g.seed...)
	in = binary.LittleEndian.AppendUint64(in, n)
	sum := sha1.Sum(in)

	id[0], id[1] = 'D', '-'
	copy(id[jobIDNodeAt:], g.prefix[:])
	id[10] = '-'
	base64.RawStdEncoding.Encode(id[jobIDRandAt:jobIDRandAt+jobIDRandLen], sum[:jobIDRandSize])
	id[35] = '-'
	putHex4(id[jobIDTTLAt:], jobIDTTLField(ttlSeconds, retry))
}

// jobIDTTLField is the number the last four digits of an ID encode: the TTL
// in minutes, clamped to 16 bits (a negative value becomes 1), odd if the job
// retries and even if it is at-most-once.
func jobIDTTLField(ttlSeconds, retry int64) uint16 {
	m := ttlSeconds / 60
	if m > maxTTLMinutes {
		m = maxTTLMinutes
	}
	if m < 0 {
		m = 1
	}
	if retry > 0 {
		m |= 1
	} else {
		m &^= 1
	}
	return uint16(m)
}

const hexDigits = "0123456789abcdef"

func putHex4(dst []byte, v uint16) {
	dst[0] = hexDigits[v>>12&0xf]
	dst[1] = hexDigits[v>>8&0xf]
	dst[2] = hexDigits[v>>4&0xf]
	dst[3] = hexDigits[v&0xf]
}

// ---------------------------- Reading an ID --------------------------------

// ValidJobID reports whether id looks like a job ID. It is the only
// validation Disque does, and deliberately no more: the length and the three
// separators. A well-formed ID of a job nobody knows is simply not found.
// Commands answer a failure with -BADID.
func ValidJobID(id []byte) bool { return validJobID(id) }

// ValidJobIDString is ValidJobID for a string.
func ValidJobIDString(id string) bool { return validJobID(id) }

func validJobID[T string | []byte](id T) bool {
	return len(id) == JobIDLen &&
		id[0] == 'D' && id[1] == '-' && id[10] == '-' && id[35] == '-'
}

// JobIDTTLMinutes returns the TTL field of a job ID: the job's TTL in
// minutes, its lowest bit being the retry parity. The digits are read
// case-insensitively. ok is false if id is not a valid job ID or a digit is
// not hex; minutes is then what Disque's hexToInt would read (an invalid
// digit counts as zero, an invalid ID gives 0).
func JobIDTTLMinutes(id string) (minutes int, ok bool) {
	if !validJobID(id) {
		return 0, false
	}
	ok = true
	for i := jobIDTTLAt; i < JobIDLen; i++ {
		d, valid := hexValue(id[i])
		ok = ok && valid
		minutes = minutes<<4 | d
	}
	return minutes, ok
}

func hexValue(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// JobIDAtMostOnce reports whether the ID was made for an at-most-once job
// (RETRY 0): its TTL field is even. ACKJOB of an unknown ID creates a dummy
// ack only when this is false. As in Disque, an invalid last digit counts as
// zero (even); an invalid ID is not at-most-once.
func JobIDAtMostOnce(id string) bool {
	if !validJobID(id) {
		return false
	}
	m, _ := JobIDTTLMinutes(id)
	return m&1 == 0
}

// JobIDNodePrefix returns the 8 characters of the creating node's ID that
// the job ID carries, or "" if id is not a valid job ID. Compare it with the
// first 8 characters of a node ID to find where a job was produced.
func JobIDNodePrefix(id string) string {
	if !validJobID(id) {
		return ""
	}
	return id[jobIDNodeAt : jobIDNodeAt+jobIDNodeLen]
}
