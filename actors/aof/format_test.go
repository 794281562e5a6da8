package aof

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"

	"github.com/godisque/godisque/protocol"
)

// Every record shape survives EncodeRecord, a file, and Load.
func TestRecordRoundTrip(t *testing.T) {
	full := testJob(42)
	minimal := &protocol.Job{Id: "D-00000000-000000000000000000000000-0000"}
	empty := &protocol.Job{Id: "x", Body: []byte{}} // empty body, zero everything
	binaryBody := &protocol.Job{Id: "bin", Queue: "q", Body: []byte{0, 1, 2, 0xff, '\r', '\n'}}
	large := &protocol.Job{Id: "large", Queue: "q", Body: bytes.Repeat([]byte("0123456789"), 200_000), State: protocol.JobState_ACKED}
	acked := testJob(7)
	acked.State = protocol.JobState_ACKED
	negative := &protocol.Job{Id: "neg", Ctime: -1, EtimeMs: -5, QtimeMs: -7, TtlMs: -9}
	del := DelJob("D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1")
	delFrom := &protocol.DelJobMsg{Id: "with-sender", From: &protocol.Peer{NodeId: "n1", Address: "a:1"}}

	recs := []protocol.Message{full, minimal, empty, binaryBody, large, acked, negative, del, delFrom}
	for _, m := range recs {
		frame, err := EncodeRecord(nil, m)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		plen := binary.LittleEndian.Uint32(frame[0:4])
		if int(plen) != len(frame)-FrameHeaderSize {
			t.Fatalf("length %d, frame %d", plen, len(frame))
		}
		payload := frame[FrameHeaderSize:]
		if binary.LittleEndian.Uint32(frame[4:8]) != crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)) {
			t.Fatal("bad checksum")
		}
		got, err := DecodeRecord(payload)
		if err != nil {
			t.Fatal(err)
		}
		want := m
		if d, ok := m.(*protocol.DelJobMsg); ok {
			want = DelJob(d.Id) // the sender is not written
		}
		if j, ok := got.(*protocol.Job); ok {
			got, want = normalize(j), normalize(want.(*protocol.Job))
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %v\nwant %v", got, want)
		}
		// The payload is not aliased.
		for i := range payload {
			payload[i] = 0
		}
		if j, ok := got.(*protocol.Job); ok && len(j.Body) > 0 && j.Body[0] == 0 && m.(*protocol.Job).Body[0] != 0 {
			t.Fatal("decoded record aliases the payload")
		}
	}
	if delFrom.From == nil {
		t.Fatal("EncodeRecord modified its argument")
	}

	// Through a file, in order.
	data, _ := encodeFile(t, recs...)
	p := writeTemp(t, data)
	var got []protocol.Message
	res, err := Load(p, LoadOptions{}, func(m protocol.Message) error { got = append(got, m); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) || res.Records != int64(len(recs)) || res.Jobs != 7 || res.Deletes != 2 {
		t.Fatalf("loaded %d records, result %+v", len(got), res)
	}
	if res.ValidSize != res.Size || res.Size != int64(len(data)) || res.Truncated || res.Missing {
		t.Fatalf("result %+v", res)
	}
	if got[7].(*protocol.DelJobMsg).Id != del.Id || got[8].(*protocol.DelJobMsg).From != nil {
		t.Fatalf("deljobs %v %v", got[7], got[8])
	}
}

// EncodeRecord appends to what dst holds and leaves it alone on an error.
func TestEncodeRecordAppends(t *testing.T) {
	dst := []byte("prefix")
	out, err := EncodeRecord(dst, DelJob("a"))
	if err != nil || !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatalf("%q %v", out, err)
	}
	for _, m := range []protocol.Message{
		nil, (*protocol.Job)(nil), (*protocol.DelJobMsg)(nil), &protocol.Job{}, DelJob(""),
		&protocol.AddJob{Queue: "q"}, &protocol.ReplJob{},
	} {
		out, err := EncodeRecord(dst, m)
		if err == nil {
			t.Fatalf("%T %v encoded", m, m)
		}
		if string(out) != "prefix" {
			t.Fatalf("%T: dst changed to %q", m, out)
		}
	}
	if _, err := EncodeRecord(nil, &protocol.Job{}); !errors.Is(err, ErrNoID) {
		t.Fatalf("empty id: %v", err)
	}
	if _, err := EncodeRecord(nil, &protocol.AddJob{}); !errors.Is(err, ErrNotRecord) {
		t.Fatalf("not a record: %v", err)
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	addjob, _ := (&protocol.AddJob{Queue: "q"}).Marshal()
	jobNoID, _ := (&protocol.Job{Queue: "q"}).Marshal()
	for name, payload := range map[string][]byte{
		"empty":           nil,
		"bad varint":      {0x80, 0x80},
		"unknown kind":    append([]byte{byte(protocol.KindAddJob)}, addjob...),
		"kind 0":          {0},
		"huge kind":       {0xff, 0xff, 0xff, 0xff, 0x0f},
		"garbage job":     {byte(protocol.KindJob), 0xff, 0xff, 0xff},
		"job without id":  append([]byte{byte(protocol.KindJob)}, jobNoID...),
		"deljob no id":    {byte(protocol.KindDelJobMsg)},
		"truncated field": {byte(protocol.KindJob), 0x0a, 0x10, 'a'},
	} {
		if m, err := DecodeRecord(payload); err == nil {
			t.Errorf("%s: decoded %v", name, m)
		}
	}
}

func TestParseFsync(t *testing.T) {
	for s, want := range map[string]Fsync{"always": Always, "everysec": EverySec, "no": No, "EVERYSEC": EverySec} {
		got, err := ParseFsync(s)
		if err != nil || got != want {
			t.Fatalf("%s: %v %v", s, got, err)
		}
		if !strings.EqualFold(got.String(), s) {
			t.Fatalf("String %q", got.String())
		}
	}
	if _, err := ParseFsync("sometimes"); err == nil {
		t.Fatal("accepted sometimes")
	}
	var zero Fsync
	if zero != EverySec {
		t.Fatal("the zero policy is not the default")
	}
}
