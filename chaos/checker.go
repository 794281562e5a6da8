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
// was lost, unless the nemeses took the memory of as many nodes as held the
// job: the rule of at-least-once is that a job acknowledged with REPLICATE
// n survives while fewer than n of its holders lose their memory. The
// checker cannot see which nodes held a job, so it counts, for each lost
// job, the distinct nodes killed without an append-only file from the
// moment its ADDJOB was invoked (a kill destroys only copies that exist)
// to the end of the run (a lost job was never dequeued, so its life lasts
// that long). When that count reaches the job's REPLICATE, the loss is
// excused: reported, and not a failure. The count is an upper bound of the
// holders lost, so the rule errs towards excusing; a kill with any
// appendfsync policy loses nothing that was answered (the records reach the
// kernel before the reply, actors/aof) and is not counted.

// CheckOptions is what the checker must know beyond the history.
type CheckOptions struct {
	// Replicate is the REPLICATE of enqueues whose op does not say it (a
	// history written before ops carried it).
	Replicate int
	// MemoryLost is how many nodes lost their memory during the run (killed
	// and restarted without an append-only file), for a history without
	// Nemesis ops: every job is judged as if they were all lost during its
	// life. With Nemesis ops in the history the larger count wins.
	MemoryLost int
}

// Percentiles are an operation kind's latencies, of its completed ops.
type Percentiles struct {
	Count                    int
	P50, P90, P99, P999, Max time.Duration
}

// Tally counts one kind of operation by outcome.
type Tally struct{ OK, Failed, Unknown int }

// Total is every operation counted.
func (t Tally) Total() int { return t.OK + t.Failed + t.Unknown }

// Report is the checker's verdict and the evidence for it.
type Report struct {
	Enqueues        int // attempted
	EnqueuesOK      int
	EnqueuesFailed  int
	EnqueuesUnknown int
	Dequeued        int // distinct values dequeued
	Deliveries      int // successful dequeues, duplicates included
	// Ops counts every client operation by kind and outcome; a GETJOB
	// that found nothing is an OK dequeue, also counted in EmptyDequeues.
	Ops           map[Kind]Tally
	EmptyDequeues int

	Lost       []string       // sorted values
	Duplicated map[string]int // value -> times dequeued (> 1)
	Unexpected []string
	Recovered  []string
	// Excused are the lost values whose loss the rule allows: at least
	// REPLICATE nodes lost their memory during the job's life.
	Excused []string

	// Latency is per kind, of OK ops; a GETJOB that found nothing is left
	// out (it measures its own TIMEOUT, not the cluster).
	Latency map[Kind]Percentiles

	// Faults is how many faults the nemeses applied; MemoryLost how many
	// distinct nodes lost their memory (the larger of CheckOptions'
	// figure and the Nemesis ops').
	Faults     int
	MemoryLost int

	Valid bool
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
	r := Report{Duplicated: map[string]int{}, Latency: map[Kind]Percentiles{}, Ops: map[Kind]Tally{}}
	type enq struct {
		out       Outcome // best outcome seen
		start     time.Duration
		replicate int
	}
	enqueued := map[string]enq{}
	dequeued := map[string]int{}
	lat := map[Kind][]time.Duration{}
	type kill struct {
		node string
		at   time.Duration
	}
	var kills []kill
	lostNodes := map[string]bool{}
	for _, op := range h {
		switch op.Kind {
		case Schedule, Member:
			continue
		case Nemesis:
			if op.Outcome == OK {
				r.Faults++
			}
			if op.MemoryLost && op.Outcome != Fail {
				for _, n := range op.Nodes() {
					kills = append(kills, kill{n, op.Start})
					lostNodes[n] = true
				}
			}
			continue
		}
		t := r.Ops[op.Kind]
		switch op.Outcome {
		case OK:
			t.OK++
		case Fail:
			t.Failed++
		case Unknown:
			t.Unknown++
		}
		r.Ops[op.Kind] = t
		if op.Outcome == OK && !(op.Kind == Dequeue && op.Value == "") {
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
			e, seen := enqueued[op.Value]
			if !seen || rank(op.Outcome) > rank(e.out) ||
				op.Outcome == e.out && op.Start < e.start {
				repl := op.Replicate
				if repl == 0 {
					repl = opts.Replicate
				}
				enqueued[op.Value] = enq{out: op.Outcome, start: op.Start, replicate: repl}
			}
		case Dequeue:
			if op.Outcome == OK && op.Value == "" {
				r.EmptyDequeues++
			}
			if op.Outcome == OK && op.Value != "" {
				dequeued[op.Value]++
				r.Deliveries++
			}
		}
	}
	r.MemoryLost = max(opts.MemoryLost, len(lostNodes))
	r.Dequeued = len(dequeued)
	for v, n := range dequeued {
		if n > 1 {
			r.Duplicated[v] = n
		}
		switch e, seen := enqueued[v]; {
		case !seen:
			r.Unexpected = append(r.Unexpected, v)
		case e.out != OK:
			// A failed ADDJOB may still have created the job (a timeout
			// after it was stored): it did happen, like an unknown one.
			r.Recovered = append(r.Recovered, v)
		}
	}
	for v, e := range enqueued {
		if e.out != OK || dequeued[v] > 0 {
			continue
		}
		r.Lost = append(r.Lost, v)
		// Distinct nodes whose memory went during the job's life.
		during := map[string]bool{}
		for _, k := range kills {
			if k.at >= e.start {
				during[k.node] = true
			}
		}
		if e.replicate > 0 && max(len(during), opts.MemoryLost) >= e.replicate {
			r.Excused = append(r.Excused, v)
		}
	}
	sort.Strings(r.Lost)
	sort.Strings(r.Unexpected)
	sort.Strings(r.Recovered)
	sort.Strings(r.Excused)
	for k, ds := range lat {
		r.Latency[k] = percentiles(ds)
	}
	r.Valid = len(r.Unexpected) == 0 && len(r.Lost) == len(r.Excused)
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
	if t, ok := r.Ops[Dequeue]; ok {
		fmt.Fprintf(&b, "dequeues: %d (ok %d of which %d empty, failed %d, unknown %d)\n",
			t.Total(), t.OK, r.EmptyDequeues, t.Failed, t.Unknown)
	}
	if t, ok := r.Ops[Ack]; ok {
		fmt.Fprintf(&b, "acks: %d (ok %d, failed %d, unknown %d)\n", t.Total(), t.OK, t.Failed, t.Unknown)
	}
	fmt.Fprintf(&b, "dequeued: %d values in %d deliveries\n", r.Dequeued, r.Deliveries)
	if r.Faults > 0 || r.MemoryLost > 0 {
		fmt.Fprintf(&b, "faults: %d; nodes that lost their memory: %d\n", r.Faults, r.MemoryLost)
	}
	fmt.Fprintf(&b, "lost: %d", len(r.Lost))
	if len(r.Excused) > 0 {
		fmt.Fprintf(&b, " (%d excused: the nemeses took the memory of as many nodes as held them)", len(r.Excused))
	}
	fmt.Fprintf(&b, "\nduplicated: %d (%.2f%% of dequeued values)\n", len(r.Duplicated), 100*r.DuplicateRate())
	fmt.Fprintf(&b, "unexpected: %d\nrecovered: %d\n", len(r.Unexpected), len(r.Recovered))
	kinds := []Kind{Enqueue, Dequeue, Ack}
	for _, k := range kinds {
		if p, ok := r.Latency[k]; ok {
			fmt.Fprintf(&b, "latency %-7s n=%d p50=%v p90=%v p99=%v p99.9=%v max=%v\n",
				k, p.Count, round(p.P50), round(p.P90), round(p.P99), round(p.P999), round(p.Max))
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
	dups := make([]string, 0, len(r.Duplicated))
	for v := range r.Duplicated {
		dups = append(dups, v)
	}
	sort.Strings(dups)
	for i, v := range dups {
		dups[i] = fmt.Sprintf("%s×%d", v, r.Duplicated[v])
	}
	list("duplicated", dups)
	return b.String()
}

// round trims a latency to what a person reads: microseconds.
func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
