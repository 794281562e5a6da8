package chaos

// ---------------------------------- The history ---------------------------------
//
// One Op per client operation, its invocation and its completion, written
// as JSON lines so that a run can be checked again, by this package or by
// any other tool, long after it ended. The cluster and the nemeses are in it
// too: the nodes (Member ops, first), the schedule drawn from the seed
// (Schedule ops) and each fault as it really was applied and healed
// (Nemesis ops), so that the history alone says which nodes lost their
// memory and when.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Kind is what an operation did.
type Kind string

// Operation kinds.
const (
	Enqueue Kind = "enqueue" // ADDJOB of a unique value
	Dequeue Kind = "dequeue" // GETJOB; Value is the body received, "" for none
	Ack     Kind = "ack"     // ACKJOB of a job received

	// Schedule is a fault as the seed planned it: Start and End are the
	// planned offsets, Fault and Detail what it is. Outcome is OK.
	Schedule Kind = "schedule"
	// Nemesis is a fault as it happened: Start when it was applied, End
	// when it was healed, Node the addresses of the nodes it hit (comma
	// separated), MemoryLost for a node killed without an append-only
	// file. Outcome Fail when the harness could not apply it.
	Nemesis Kind = "nemesis"
	// Member is a node of the cluster, written once at the start: Node is
	// its address, Detail its name in the run (n1, n2...) and its ID.
	Member Kind = "member"
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
// Schedule and Nemesis ops describe a fault in the same shape.
type Op struct {
	Client    int           `json:"client"`
	Kind      Kind          `json:"kind"`
	Value     string        `json:"value,omitempty"`     // the unique job body
	JobID     string        `json:"job_id,omitempty"`    // as the server named it
	Node      string        `json:"node,omitempty"`      // the address the client used
	Replicate int           `json:"replicate,omitempty"` // an enqueue's REPLICATE
	Start     time.Duration `json:"start"`
	End       time.Duration `json:"end"`
	Outcome   Outcome       `json:"outcome"`
	Error     string        `json:"error,omitempty"`

	Fault      string `json:"fault,omitempty"`       // a nemesis: kill, pause, partition...
	Detail     string `json:"detail,omitempty"`      // a nemesis: what exactly, in words
	MemoryLost bool   `json:"memory_lost,omitempty"` // a kill without an append-only file
}

// Nodes splits a nemesis' Node into addresses.
func (op Op) Nodes() []string {
	if op.Node == "" {
		return nil
	}
	return strings.Split(op.Node, ",")
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
		case Enqueue, Dequeue, Ack, Schedule, Nemesis, Member:
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
