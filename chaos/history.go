// Package chaos is the chaos playground: it runs a queue workload against a
// cluster while nemeses break it, records every operation, and proves from
// that history alone whether an acknowledged job was lost.
//
// This file is the history: one Op per client operation, its invocation and
// its completion, written as JSON lines so that a run can be checked again,
// by this package or by any other tool, long after it ended.
package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Kind is what an operation did.
type Kind string

// Operation kinds.
const (
	Enqueue Kind = "enqueue" // ADDJOB of a unique value
	Dequeue Kind = "dequeue" // GETJOB; Value is the body received
	Ack     Kind = "ack"     // ACKJOB of a job received
)

// Outcome is how an operation completed, from the client's side.
type Outcome string

// Outcomes. Unknown is an operation whose connection broke before the
// reply: it may or may not have taken effect.
const (
	OK      Outcome = "ok"
	Fail    Outcome = "fail"
	Unknown Outcome = "unknown"
)

// Op is one operation of one client: when it was invoked and completed
// (offsets from the start of the run), what it carried, and how it ended.
type Op struct {
	Client  int           `json:"client"`
	Kind    Kind          `json:"kind"`
	Value   string        `json:"value,omitempty"`  // the unique job body
	JobID   string        `json:"job_id,omitempty"` // as the server named it
	Node    string        `json:"node,omitempty"`   // the address the client used
	Start   time.Duration `json:"start"`
	End     time.Duration `json:"end"`
	Outcome Outcome       `json:"outcome"`
	Error   string        `json:"error,omitempty"`
}

// History is a run's operations, in completion order.
type History []Op

// WriteJSONL writes one JSON object per line.
func (h History) WriteJSONL(w io.Writer) error {
	enc := json.NewEncoder(w)
	for i := range h {
		if err := enc.Encode(&h[i]); err != nil {
			return err
		}
	}
	return nil
}

// ReadHistory reads what WriteJSONL wrote. A malformed line is an error
// naming the line: a history is evidence, and is not guessed at.
func ReadHistory(r io.Reader) (History, error) {
	var h History
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
			return nil, fmt.Errorf("chaos: history line %d: %w", line, err)
		}
		switch op.Kind {
		case Enqueue, Dequeue, Ack:
		default:
			return nil, fmt.Errorf("chaos: history line %d: unknown kind %q", line, op.Kind)
		}
		switch op.Outcome {
		case OK, Fail, Unknown:
		default:
			return nil, fmt.Errorf("chaos: history line %d: unknown outcome %q", line, op.Outcome)
		}
		h = append(h, op)
	}
	return h, sc.Err()
}
