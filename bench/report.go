package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// ---------------------------------- Reports -----------------------------------

// FormatLatency prints nanoseconds in µs below a millisecond, else in ms.
func FormatLatency(ns uint64) string {
	switch {
	case ns < 1000:
		return fmt.Sprintf("%dns", ns)
	case ns < 1_000_000:
		return fmt.Sprintf("%.0fµs", float64(ns)/1e3)
	case ns < 10_000_000:
		return fmt.Sprintf("%.2fms", float64(ns)/1e6)
	default:
		return fmt.Sprintf("%.1fms", float64(ns)/1e6)
	}
}

// FormatRate prints operations per second with thousands separators.
func FormatRate(r float64) string {
	s := fmt.Sprintf("%.0f", r)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// WriteTable prints results as a table: throughput and latency percentiles,
// with a row per command under a scenario that sends several.
func WriteTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\ttarget\tconns\tP\tbody\tops\tops/s\tp50\tp90\tp99\tp99.9\tmax\terrors\tcpu/op\t")
	for _, r := range results {
		cpu := "-"
		if d := r.CPUPerOp(); d > 0 {
			cpu = FormatLatency(uint64(d))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n",
			r.Scenario, r.Label, r.Connections, r.Pipeline, r.BodySize, r.Ops, FormatRate(r.OpsPerSec()),
			FormatLatency(r.Latency.Percentile(50)), FormatLatency(r.Latency.Percentile(90)),
			FormatLatency(r.Latency.Percentile(99)), FormatLatency(r.Latency.Percentile(99.9)),
			FormatLatency(r.Latency.Max()), r.Errors, cpu)
		if len(r.PerCommand) > 1 {
			for _, name := range sortedKeys(r.PerCommand) {
				h := r.PerCommand[name]
				fmt.Fprintf(tw, "  %s\t\t\t\t\t%d\t\t%s\t%s\t%s\t%s\t%s\t\t\t\n", name, h.Count(),
					FormatLatency(h.Percentile(50)), FormatLatency(h.Percentile(90)),
					FormatLatency(h.Percentile(99)), FormatLatency(h.Percentile(99.9)), FormatLatency(h.Max()))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.Errors > 0 {
			fmt.Fprintf(w, "%s %s: %d error replies, the first: %s\n", r.Label, r.Scenario, r.Errors, r.FirstError)
		}
		if r.Dry {
			fmt.Fprintf(w, "%s %s: the queues ran dry after %.1fs and the run stopped there; raise -prefill\n",
				r.Label, r.Scenario, r.Elapsed.Seconds())
		} else if r.Empty > 0 {
			fmt.Fprintf(w, "%s %s: %d replies held no job\n", r.Label, r.Scenario, r.Empty)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// LatencyJSON is a latency distribution in microseconds.
type LatencyJSON struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

func latencyJSON(h *Histogram) LatencyJSON {
	us := func(ns uint64) float64 { return float64(ns) / 1e3 }
	return LatencyJSON{
		Count: h.Count(), Min: us(h.Min()), Mean: h.Mean() / 1e3,
		P50: us(h.Percentile(50)), P90: us(h.Percentile(90)), P99: us(h.Percentile(99)),
		P999: us(h.Percentile(99.9)), Max: us(h.Max()),
	}
}

// SeriesJSON is a throughput series.
type SeriesJSON struct {
	StepSeconds float64   `json:"step_s"`
	OpsPerSec   []float64 `json:"ops_per_sec"`
}

// ServerJSON is the server process's CPU during the measured phase.
type ServerJSON struct {
	PID           int     `json:"pid"`
	CPUSeconds    float64 `json:"cpu_s"`
	CPUPerOpMicro float64 `json:"cpu_per_op_us"`
}

// ResultJSON is a Result as --json prints it.
type ResultJSON struct {
	Scenario    string                 `json:"scenario"`
	Target      string                 `json:"target"`
	Addrs       []string               `json:"addrs"`
	Connections int                    `json:"connections"`
	Pipeline    int                    `json:"pipeline"`
	BodySize    int                    `json:"body_size"`
	Queues      int                    `json:"queues"`
	Ops         int64                  `json:"ops"`
	Commands    int64                  `json:"commands"`
	Errors      int64                  `json:"errors"`
	FirstError  string                 `json:"first_error,omitempty"`
	Empty       int64                  `json:"empty"`
	Dry         bool                   `json:"ran_dry,omitempty"`
	Elapsed     float64                `json:"elapsed_s"`
	OpsPerSec   float64                `json:"ops_per_sec"`
	LatencyUs   LatencyJSON            `json:"latency_us"`
	PerCommand  map[string]LatencyJSON `json:"per_command_latency_us"`
	Series      SeriesJSON             `json:"series"`
	Server      *ServerJSON            `json:"server,omitempty"`
}

// JSON converts a result for --json.
func (r *Result) JSON() ResultJSON {
	out := ResultJSON{
		Scenario: r.Scenario, Target: r.Label, Addrs: r.Addrs, Connections: r.Connections,
		Pipeline: r.Pipeline, BodySize: r.BodySize, Queues: r.Queues, Ops: r.Ops,
		Commands: r.Commands, Errors: r.Errors, FirstError: r.FirstError, Empty: r.Empty, Dry: r.Dry,
		Elapsed: r.Elapsed.Seconds(), OpsPerSec: r.OpsPerSec(), LatencyUs: latencyJSON(r.Latency),
		PerCommand: map[string]LatencyJSON{},
		Series:     SeriesJSON{StepSeconds: r.SampleEvery.Seconds(), OpsPerSec: r.Series},
	}
	if out.Series.OpsPerSec == nil {
		out.Series.OpsPerSec = []float64{}
	}
	for name, h := range r.PerCommand {
		out.PerCommand[name] = latencyJSON(h)
	}
	if r.ServerPID > 0 {
		out.Server = &ServerJSON{PID: r.ServerPID, CPUSeconds: r.ServerCPU.Seconds(),
			CPUPerOpMicro: float64(r.CPUPerOp()) / float64(time.Microsecond)}
	}
	return out
}

// ReportJSON is the whole --json document.
type ReportJSON struct {
	Tool    string       `json:"tool"`
	Started time.Time    `json:"started"`
	Results []ResultJSON `json:"results"`
	// Comparisons and Memory are filled by the suite and the mem command.
	Comparisons []ComparisonJSON `json:"comparisons,omitempty"`
	Memory      []MemResult      `json:"memory,omitempty"`
}

// WriteJSON writes results (and, from the suite, comparisons and memory
// figures) as one indented JSON document.
func WriteJSON(w io.Writer, started time.Time, results []*Result, cmp []ComparisonJSON, mem []MemResult) error {
	doc := ReportJSON{Tool: "disque-bench", Started: started, Results: []ResultJSON{}, Comparisons: cmp, Memory: mem}
	for _, r := range results {
		doc.Results = append(doc.Results, r.JSON())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
