package gateway

import (
	"github.com/tidwall/redcon"

	"github.com/godisque/godisque/protocol"
)

// Reply encoders: protocol replies to RESP bytes, in the exact reply types of
// SPEC.md §2 and §5. They append to a []byte like redcon's Append* functions
// (which they are built on), so they are tested without sockets; a handler
// writes the result with conn.WriteRaw:
//
//	c.WriteRaw(appendShow(nil, reply))
//
// The quirks are the compatibility surface and are kept on purpose:
// ADDJOB's ID is a status reply, JSCAN's IDs are status replies inside the
// array, scan cursors are bulk strings, "nothing" is *-1 for GETJOB and
// QSTAT but $-1 for SHOW. No encoder panics on a nil or half-filled reply.

// ------------------------------------------------------- Small replies -----

// appendAddJobReply encodes ADDJOB's success: the job ID as a status reply
// (+D-...), not a bulk string.
func appendAddJobReply(b []byte, r *protocol.AddJobReply) []byte {
	if r == nil {
		return redcon.AppendString(b, "")
	}
	return redcon.AppendString(b, r.Id)
}

// appendCount encodes an integer reply (ACKJOB, FASTACK, NACK, ENQUEUE,
// DEQUEUE, DELJOB, WORKING, QLEN).
func appendCount(b []byte, r *protocol.Count) []byte {
	if r == nil {
		return redcon.AppendInt(b, 0)
	}
	return redcon.AppendInt(b, r.N)
}

// appendPause encodes PAUSE's reply, the queue's pause state after the
// command, as a status reply: +none, +in, +out or +all.
func appendPause(b []byte, r *protocol.PauseReply) []byte {
	if r == nil || r.State == "" {
		return redcon.AppendString(b, "none")
	}
	return redcon.AppendString(b, r.State)
}

// appendError encodes an error reply from its wire text (no leading '-').
// CR and LF in the text become spaces, as in Redis' addReplyErrorFormat. An
// empty text still yields a well-formed error.
func appendError(b []byte, r *protocol.Error) []byte {
	if r == nil || r.Text == "" {
		return redcon.AppendError(b, "ERR")
	}
	return redcon.AppendError(b, r.Text)
}

// appendNullArray encodes the null multibulk *-1.
func appendNullArray(b []byte) []byte {
	return redcon.AppendArray(b, -1)
}

// -------------------------------------------------------- GETJOB, QPEEK -----

// appendJobs encodes the jobs of a GETJOB or QPEEK reply. Each job is the
// array [queue, id, body] of bulk strings or, withCounters (GETJOB
// WITHCOUNTERS), the 7 elements
//
//	[queue, id, body, "nacks", <int>, "additional-deliveries", <int>]
//
// No job at all is the null multibulk *-1 when nullIfEmpty (GETJOB after
// NOHANG or a timeout) and the empty array *0 otherwise (QPEEK).
func appendJobs(b []byte, r *protocol.Jobs, withCounters, nullIfEmpty bool) []byte {
	var jobs []*protocol.JobItem
	if r != nil {
		jobs = r.Jobs
	}
	if len(jobs) == 0 && nullIfEmpty {
		return appendNullArray(b)
	}
	b = redcon.AppendArray(b, len(jobs))
	for _, j := range jobs {
		if j == nil {
			j = &protocol.JobItem{}
		}
		if withCounters {
			b = redcon.AppendArray(b, 7)
		} else {
			b = redcon.AppendArray(b, 3)
		}
		b = redcon.AppendBulkString(b, j.Queue)
		b = redcon.AppendBulkString(b, j.Id)
		b = redcon.AppendBulk(b, j.Body)
		if withCounters {
			b = redcon.AppendBulkString(b, "nacks")
			b = redcon.AppendInt(b, int64(j.Nacks))
			b = redcon.AppendBulkString(b, "additional-deliveries")
			b = redcon.AppendInt(b, int64(j.AdditionalDeliveries))
		}
	}
	return b
}

// ----------------------------------------------------------------- SHOW -----

// jobStateName is the state as SHOW prints it ("unknown" for a value out of
// the enum, like Disque's jobStateToString).
func jobStateName(s protocol.JobState) string {
	switch s {
	case protocol.JobState_WAIT_REPL:
		return "wait-repl"
	case protocol.JobState_ACTIVE:
		return "active"
	case protocol.JobState_QUEUED:
		return "queued"
	case protocol.JobState_ACKED:
		return "acked"
	}
	return "unknown"
}

// showFields is the number of elements of a SHOW array: 15 field-value pairs.
const showFields = 30

// appendJobInfo encodes one job as SHOW does (SPEC.md §5.9): a flat array
// of 30 elements, field names as bulk strings, in this order and with these
// value types:
//
//	id bulk | queue bulk or $-1 (dummy ack) | state bulk | repl int |
//	ttl int | ctime int | delay int | retry int | nacks int |
//	additional-deliveries int | nodes-delivered array of bulk |
//	nodes-confirmed array of bulk | next-requeue-within int or $-1 |
//	next-awake-within int or $-1 | body bulk or $-1 (dummy ack)
//
// A nil info is encoded as $-1.
func appendJobInfo(b []byte, j *protocol.JobInfo) []byte {
	if j == nil {
		return redcon.AppendNull(b)
	}
	b = redcon.AppendArray(b, showFields)

	b = redcon.AppendBulkString(b, "id")
	b = redcon.AppendBulkString(b, j.Id)

	b = redcon.AppendBulkString(b, "queue")
	if j.HasQueue {
		b = redcon.AppendBulkString(b, j.Queue)
	} else {
		b = redcon.AppendNull(b)
	}

	b = redcon.AppendBulkString(b, "state")
	b = redcon.AppendBulkString(b, jobStateName(j.State))

	b = redcon.AppendBulkString(b, "repl")
	b = redcon.AppendInt(b, int64(j.Repl))

	b = redcon.AppendBulkString(b, "ttl")
	b = redcon.AppendInt(b, j.Ttl)

	b = redcon.AppendBulkString(b, "ctime")
	b = redcon.AppendInt(b, j.Ctime)

	b = redcon.AppendBulkString(b, "delay")
	b = redcon.AppendInt(b, int64(j.Delay))

	b = redcon.AppendBulkString(b, "retry")
	b = redcon.AppendInt(b, int64(j.Retry))

	b = redcon.AppendBulkString(b, "nacks")
	b = redcon.AppendInt(b, int64(j.Nacks))

	b = redcon.AppendBulkString(b, "additional-deliveries")
	b = redcon.AppendInt(b, int64(j.AdditionalDeliveries))

	b = redcon.AppendBulkString(b, "nodes-delivered")
	b = appendBulkStrings(b, j.NodesDelivered)

	b = redcon.AppendBulkString(b, "nodes-confirmed")
	b = appendBulkStrings(b, j.NodesConfirmed)

	b = redcon.AppendBulkString(b, "next-requeue-within")
	if j.HasNextRequeue {
		b = redcon.AppendInt(b, j.NextRequeueWithin)
	} else {
		b = redcon.AppendNull(b)
	}

	b = redcon.AppendBulkString(b, "next-awake-within")
	if j.HasNextAwake {
		b = redcon.AppendInt(b, j.NextAwakeWithin)
	} else {
		b = redcon.AppendNull(b)
	}

	b = redcon.AppendBulkString(b, "body")
	if j.HasBody {
		b = redcon.AppendBulk(b, j.Body)
	} else {
		b = redcon.AppendNull(b)
	}
	return b
}

// appendShow encodes SHOW's reply: the null bulk $-1 for a job this node
// does not know, else the 30-element array of appendJobInfo.
func appendShow(b []byte, r *protocol.ShowReply) []byte {
	if r == nil || !r.Found || r.Job == nil {
		return redcon.AppendNull(b)
	}
	return appendJobInfo(b, r.Job)
}

// appendBulkStrings encodes a list of strings as an array of bulk strings.
func appendBulkStrings(b []byte, items []string) []byte {
	b = redcon.AppendArray(b, len(items))
	for _, s := range items {
		b = redcon.AppendBulkString(b, s)
	}
	return b
}

// ---------------------------------------------------------------- QSTAT -----

// qstatFields is the number of elements of a QSTAT array: 10 pairs.
const qstatFields = 20

// appendQstat encodes QSTAT's reply (SPEC.md §5.12): the null multibulk
// *-1 when the queue does not exist locally, else a flat 20-element array
//
//	name bulk | len int | age int | idle int | blocked int |
//	import-from array of bulk | import-rate int | jobs-in int |
//	jobs-out int | pause bulk (none|in|out|all)
func appendQstat(b []byte, r *protocol.QueueInfo) []byte {
	if r == nil || !r.Found {
		return appendNullArray(b)
	}
	b = redcon.AppendArray(b, qstatFields)
	b = redcon.AppendBulkString(b, "name")
	b = redcon.AppendBulkString(b, r.Name)
	b = redcon.AppendBulkString(b, "len")
	b = redcon.AppendInt(b, r.Len)
	b = redcon.AppendBulkString(b, "age")
	b = redcon.AppendInt(b, r.Age)
	b = redcon.AppendBulkString(b, "idle")
	b = redcon.AppendInt(b, r.Idle)
	b = redcon.AppendBulkString(b, "blocked")
	b = redcon.AppendInt(b, r.Blocked)
	b = redcon.AppendBulkString(b, "import-from")
	b = appendBulkStrings(b, r.ImportFrom)
	b = redcon.AppendBulkString(b, "import-rate")
	b = redcon.AppendInt(b, r.ImportRate)
	b = redcon.AppendBulkString(b, "jobs-in")
	b = redcon.AppendInt(b, r.JobsIn)
	b = redcon.AppendBulkString(b, "jobs-out")
	b = redcon.AppendInt(b, r.JobsOut)
	b = redcon.AppendBulkString(b, "pause")
	pause := r.Pause
	if pause == "" {
		pause = "none"
	}
	b = redcon.AppendBulkString(b, pause)
	return b
}

// --------------------------------------------------------- QSCAN, JSCAN -----

// appendScan encodes a QSCAN or JSCAN reply: [cursor, [items...]], the
// cursor as a bulk string (e.g. $1\r\n0).
//
//   - QSCAN (statusIDs false): Items are queue names, bulk strings.
//   - JSCAN REPLY id (statusIDs true): Items are job IDs, status replies.
//   - JSCAN REPLY all: Infos are SHOW arrays (appendJobInfo).
//
// A reply carries Items or Infos, not both; if both are set the inner array
// holds the Items first, then the Infos, so the count is always right.
func appendScan(b []byte, r *protocol.ScanReply, statusIDs bool) []byte {
	if r == nil {
		r = &protocol.ScanReply{}
	}
	b = redcon.AppendArray(b, 2)
	b = redcon.AppendBulkUint(b, r.Cursor)
	b = redcon.AppendArray(b, len(r.Items)+len(r.Infos))
	for _, it := range r.Items {
		if statusIDs {
			b = redcon.AppendString(b, it)
		} else {
			b = redcon.AppendBulkString(b, it)
		}
	}
	for _, info := range r.Infos {
		b = appendJobInfo(b, info)
	}
	return b
}

// ------------------------------------------------------- Generic reply -----

// appendReply encodes the replies whose shape needs no context from the
// request: Count, Error, PauseReply, AddJobReply, ShowReply, QueueInfo and
// Ok (+OK). It reports false, appending nothing, for any other message:
// Jobs and ScanReply need appendJobs and appendScan with the request's
// flags.
func appendReply(b []byte, msg interface{}) ([]byte, bool) {
	switch r := msg.(type) {
	case *protocol.Count:
		return appendCount(b, r), true
	case *protocol.Error:
		return appendError(b, r), true
	case *protocol.PauseReply:
		return appendPause(b, r), true
	case *protocol.AddJobReply:
		return appendAddJobReply(b, r), true
	case *protocol.ShowReply:
		return appendShow(b, r), true
	case *protocol.QueueInfo:
		return appendQstat(b, r), true
	case *protocol.Ok:
		return redcon.AppendOK(b), true
	}
	return b, false
}
