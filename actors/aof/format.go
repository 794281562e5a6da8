package aof

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/godisque/godisque/protocol"
)

// ------------------------------- The format ----------------------------------
//
// See doc.go for the diagram. A file is Magic followed by frames; a frame is
// an 8-byte header (payload length, CRC-32C of the payload, both u32
// little-endian) and the payload, uvarint(protocol.Kind) followed by the gogo
// bytes of the record. Three kinds are records: KindJob (LOADJOB),
// KindDelJobMsg (DELJOB), KindWorkingMsg (DELIVERED: the job was handed
// to a consumer, so after a restart it requeues only after its retry, and an
// at-most-once job never again) and KindQueued (QUEUED: a delivered job went
// back to its queue, so after a restart it is queued at once).

// Magic is the first line of every file: the format's name and version. A
// file that starts with anything else is not ours (or is from a version this
// code cannot read) and is never appended to.
const Magic = "GODISQUE-AOF 1\n"

// HeaderSize is the length of Magic: the size of a file with no records.
const HeaderSize = int64(len(Magic))

// FrameHeaderSize is the size of a frame's length and checksum.
const FrameHeaderSize = 8

// MaxFrameSize bounds a payload's length. It is above the largest job a node
// accepts (a 512 MB body plus its fields), so every record fits, and below
// the length a few garbage bytes usually decode to, so a damaged length field
// is reported instead of sending the loader off to allocate gigabytes.
const MaxFrameSize = 600 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of EncodeRecord and DecodeRecord.
var (
	ErrNotRecord = errors.New("aof: only *protocol.Job (LOADJOB), *protocol.DelJobMsg (DELJOB), *protocol.WorkingMsg (DELIVERED) and *protocol.Queued (QUEUED) are records")
	ErrNoID      = errors.New("aof: record without a job ID")
	ErrTooLarge  = errors.New("aof: record larger than the maximum frame size")
)

// DelJob is the DELJOB record of a job: a DelJobMsg with only the ID.
func DelJob(id string) *protocol.DelJobMsg { return &protocol.DelJobMsg{Id: id} }

// Requeued is the QUEUED record of a job that was delivered and then
// queued again (NACK, ENQUEUE, its retry): a Queued with only the ID.
// Replay puts a known job back in state queued.
func Requeued(id string) *protocol.Queued { return &protocol.Queued{Id: id} }

// Delivered is the DELIVERED record of a job: a WorkingMsg with only the ID.
// Replay marks a known job active and delivered; an unknown one is ignored.
func Delivered(id string) *protocol.WorkingMsg { return &protocol.WorkingMsg{Id: id} }

// marshaler is what gogo generates for every message besides Marshal: it
// writes into a buffer the caller sized, so EncodeRecord allocates nothing.
type marshaler interface {
	MarshalToSizedBuffer(dAtA []byte) (int, error)
}

// record checks that m is a record and returns its kind and the message to
// marshal: a DELJOB keeps only its ID (the sender, needed on the bus, means
// nothing in a file).
func record(m protocol.Message) (protocol.Kind, protocol.Message, error) {
	switch r := m.(type) {
	case *protocol.Job:
		if r == nil {
			return 0, nil, fmt.Errorf("%w: nil *protocol.Job", ErrNotRecord)
		}
		if r.Id == "" {
			return 0, nil, ErrNoID
		}
		return protocol.KindJob, r, nil
	case *protocol.DelJobMsg:
		if r == nil {
			return 0, nil, fmt.Errorf("%w: nil *protocol.DelJobMsg", ErrNotRecord)
		}
		if r.Id == "" {
			return 0, nil, ErrNoID
		}
		if r.From != nil {
			r = DelJob(r.Id)
		}
		return protocol.KindDelJobMsg, r, nil
	case *protocol.WorkingMsg:
		if r == nil {
			return 0, nil, fmt.Errorf("%w: nil *protocol.WorkingMsg", ErrNotRecord)
		}
		if r.Id == "" {
			return 0, nil, ErrNoID
		}
		if r.From != nil {
			r = Delivered(r.Id)
		}
		return protocol.KindWorkingMsg, r, nil
	case *protocol.Queued:
		if r == nil {
			return 0, nil, fmt.Errorf("%w: nil *protocol.Queued", ErrNotRecord)
		}
		if r.Id == "" {
			return 0, nil, ErrNoID
		}
		if r.From != nil || r.IncrNacks || r.IncrDeliveries {
			r = Requeued(r.Id)
		}
		return protocol.KindQueued, r, nil
	}
	return 0, nil, fmt.Errorf("%w, not %T", ErrNotRecord, m)
}

// EncodeRecord appends the frame of m to dst and returns the extended slice.
// m must be a *protocol.Job in storage form (absolute etime_ms, state and
// flags as they are) or a *protocol.DelJobMsg; of the latter only the ID is
// written. On an error dst is returned unchanged.
func EncodeRecord(dst []byte, m protocol.Message) ([]byte, error) {
	k, r, err := record(m)
	if err != nil {
		return dst, err
	}
	n := r.Size()
	klen := uvarintLen(uint64(k))
	plen := klen + n
	if plen > MaxFrameSize {
		return dst, fmt.Errorf("%w: %d bytes", ErrTooLarge, plen)
	}
	start := len(dst)
	dst = grow(dst, FrameHeaderSize+plen)
	frame := dst[start:]
	payload := frame[FrameHeaderSize:]
	binary.PutUvarint(payload, uint64(k))
	if n > 0 {
		var werr error
		if ms, ok := r.(marshaler); ok {
			_, werr = ms.MarshalToSizedBuffer(payload[klen:])
		} else {
			var b []byte
			if b, werr = r.Marshal(); werr == nil {
				copy(payload[klen:], b)
			}
		}
		if werr != nil {
			return dst[:start], fmt.Errorf("aof: encoding %T: %w", r, werr)
		}
	}
	binary.LittleEndian.PutUint32(frame[0:4], uint32(plen))
	binary.LittleEndian.PutUint32(frame[4:8], crc32.Checksum(payload, castagnoli))
	return dst, nil
}

// DecodeRecord parses the payload of a frame whose checksum matched: a
// *protocol.Job or a *protocol.DelJobMsg. It fails on another kind, on bytes
// that do not parse and on a record without a job ID. The message does not
// alias payload.
func DecodeRecord(payload []byte) (protocol.Message, error) {
	k, n := binary.Uvarint(payload)
	if n <= 0 {
		return nil, errors.New("aof: unreadable record kind")
	}
	switch protocol.Kind(k) {
	case protocol.KindJob, protocol.KindDelJobMsg, protocol.KindWorkingMsg, protocol.KindQueued:
	default:
		return nil, fmt.Errorf("aof: unknown record kind %d", k)
	}
	m, err := protocol.Decode(protocol.Kind(k), payload[n:])
	if err != nil {
		return nil, err
	}
	switch r := m.(type) {
	case *protocol.Job:
		if r.Id == "" {
			return nil, ErrNoID
		}
	case *protocol.DelJobMsg:
		if r.Id == "" {
			return nil, ErrNoID
		}
	case *protocol.WorkingMsg:
		if r.Id == "" {
			return nil, ErrNoID
		}
	case *protocol.Queued:
		if r.Id == "" {
			return nil, ErrNoID
		}
	}
	return m, nil
}

// grow extends b by n bytes, reallocating at most once.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
