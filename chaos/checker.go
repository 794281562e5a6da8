package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// ------------------------------- The checker ---------------------------------
//
// The checker reads a history and nothing else. It is the analysis the
// famous Jepsen test of Disque made, in the same terms:
//
//   - lost: enqueued with an acknowledged ADDJOB, never dequeued;
//   - duplicated: dequeued more than once (at-least-once allows it: counted,
//     not a failure);
//   - unexpected: dequeued but never enqueued by anyone (a failure: the
//     queue made a value up, or mixed two up);
//   - recovered: the enqueue's outcome is unknown (its connection broke),
//     yet the value was dequeued: it did happen.
//
// A run is valid when nothing unexpected came out and nothing acknowledged
// was lost, unless the run's nemeses took the memory of at least as many
// nodes as held each job (REPLICATE n, n nodes restarted without a log):
// then losses are possible by design, reported, and do not fail the run.

// CheckOptions is what the checker must know beyond the history.
type CheckOptions struct {
	// Replicate is the REPLICATE the workload used.
	Replicate int
	// MemoryLost is how many nodes lost their memory during the run (killed
	// and restarted without an append-only file).
	MemoryLost int
}

// Percentiles are an operation kind's latencies, of its completed ops.
type Percentiles struct {
	Count                    int
	P50, P90, P99, P999, Max time.Duration
}

// Report is the checker's verdict and the evidence for it.
type Report struct {
	Enqueues        int // attempted
	EnqueuesOK      int
	EnqueuesFailed  int
	EnqueuesUnknown int
	Dequeued        int // distinct values dequeued
	Deliveries      int // successful dequeues, duplicates included

	Lost       []string       // sorted values
	Duplicated map[string]int // value -> times dequeued (> 1)
	Unexpected []string
	Recovered  []string

	Latency map[Kind]Percentiles

	// LossAllowed is set when the nemeses destroyed enough copies that a
	// loss proves nothing against the cluster.
	LossAllowed bool
	Valid       bool
}

// DuplicateRate is the share of dequeued values delivered more than once.
func (r Report) DuplicateRate() float64 {
	if r.Dequeued == 0 {
		return 0
	}
	return float64(len(r.Duplicated)) / float64(r.Dequeued)
}

// Check analyses a history.
func Check(h History, opts CheckOptions) Report {
	r := Report{Duplicated: map[string]int{}, Latency: map[Kind]Percentiles{}}
	enqueued := map[string]Outcome{} // value -> best outcome seen
	dequeued := map[string]int{}
	lat := map[Kind][]time.Duration{}
	for _, op := range h {
		if op.Outcome == OK {
			lat[op.Kind] = append(lat[op.Kind], op.End-op.Start)
		}
		switch op.Kind {
		case Enqueue:
			r.Enqueues++
			switch op.Outcome {
			case OK:
				r.EnqueuesOK++
			case Fail:
				r.EnqueuesFailed++
			case Unknown:
				r.EnqueuesUnknown++
			}
			if best, seen := enqueued[op.Value]; !seen || rank(op.Outcome) > rank(best) {
				enqueued[op.Value] = op.Outcome
			}
		case Dequeue:
			if op.Outcome == OK && op.Value != "" {
				dequeued[op.Value]++
				r.Deliveries++
			}
		}
	}
	r.Dequeued = len(dequeued)
	for v, n := range dequeued {
		if n > 1 {
			r.Duplicated[v] = n
		}
		switch out, seen := enqueued[v]; {
		case !seen:
			r.Unexpected = append(r.Unexpected, v)
		case out != OK:
			// A failed ADDJOB may still have created the job (a timeout
			// after it was stored): it did happen, like an unknown one.
			r.Recovered = append(r.Recovered, v)
		}
	}
	for v, out := range enqueued {
		if out == OK && dequeued[v] == 0 {
			r.Lost = append(r.Lost, v)
		}
	}
	sort.Strings(r.Lost)
	sort.Strings(r.Unexpected)
	sort.Strings(r.Recovered)
	for k, ds := range lat {
		r.Latency[k] = percentiles(ds)
	}
	r.LossAllowed = opts.Replicate > 0 && opts.MemoryLost >= opts.Replicate
	r.Valid = len(r.Unexpected) == 0 && (len(r.Lost) == 0 || r.LossAllowed)
	return r
}

// rank orders outcomes by what they prove: OK > Unknown > Fail.
func rank(o Outcome) int {
	switch o {
	case OK:
		return 2
	case Unknown:
		return 1
	}
	return 0
}

func percentiles(ds []time.Duration) Percentiles {
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.5) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	return Percentiles{Count: len(ds), P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Max: ds[len(ds)-1]}
}

// String is the report as a person reads it at the end of a run.
func (r Report) String() string {
	var b strings.Builder
	verdict := "VALID"
	if !r.Valid {
		verdict = "INVALID"
	}
	fmt.Fprintf(&b, "verdict: %s\n", verdict)
	fmt.Fprintf(&b, "enqueues: %d (ok %d, failed %d, unknown %d)\n",
		r.Enqueues, r.EnqueuesOK, r.EnqueuesFailed, r.EnqueuesUnknown)
	fmt.Fprintf(&b, "dequeued: %d values in %d deliveries\n", r.Dequeued, r.Deliveries)
	fmt.Fprintf(&b, "lost: %d", len(r.Lost))
	if r.LossAllowed && len(r.Lost) > 0 {
		b.WriteString(" (allowed: the nemeses destroyed every copy some jobs had)")
	}
	fmt.Fprintf(&b, "\nduplicated: %d (%.2f%% of dequeued values)\n", len(r.Duplicated), 100*r.DuplicateRate())
	fmt.Fprintf(&b, "unexpected: %d\nrecovered: %d\n", len(r.Unexpected), len(r.Recovered))
	kinds := []Kind{Enqueue, Dequeue, Ack}
	for _, k := range kinds {
		if p, ok := r.Latency[k]; ok {
			fmt.Fprintf(&b, "latency %-7s n=%d p50=%v p90=%v p99=%v p99.9=%v max=%v\n",
				k, p.Count, p.P50, p.P90, p.P99, p.P999, p.Max)
		}
	}
	list := func(name string, vs []string) {
		if len(vs) == 0 {
			return
		}
		const show = 20
		fmt.Fprintf(&b, "%s values: %s", name, strings.Join(vs[:min(len(vs), show)], " "))
		if len(vs) > show {
			fmt.Fprintf(&b, " ... (%d more)", len(vs)-show)
		}
		b.WriteByte('\n')
	}
	list("lost", r.Lost)
	list("unexpected", r.Unexpected)
	return b.String()
}
