package bench

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// ---------------------------------- The suite ---------------------------------
//
// RunSuite is the standard benchmark as code, what `make bench` runs: in one
// process and one run, each of our single-node scenarios right beside its
// Redis equivalent and, where it has one, the bare redcon ceiling, with and
// without pipelining:
//
//	ADDJOB              vs  LPUSH                        (and redcon LPUSH)
//	GETJOB NOHANG       vs  RPOP                         (and redcon RPOP)
//	ADDJOB+GETJOB+ACKJOB vs LPUSH+BLMOVE+LREM (reliable queue)
//
// then, given a cluster, ADDJOB REPLICATE 3 over it beside plain ADDJOB on
// one of its nodes, and the federated lifecycle. Every pair prints its ratio
// and the target; the lifecycle pair prints the server CPU per job.
// Every server is flushed before each scenario.

// SuiteOptions configures RunSuite.
type SuiteOptions struct {
	Disque    string   // godisque address
	Redis     string   // redis-server address; "" skips the Redis side
	Ceiling   string   // the redcon LPUSH server's address; "" skips it
	Cluster   []string // a cluster's addresses; empty skips the cluster scenarios
	Base      Options  // connections, body, count or duration, warm-up...
	Pipelines []int    // default 1 and 16
	MemJobs   int      // jobs per body size for the memory figures; 0 skips
	// Rounds runs every comparison this many times, its sides interleaved
	// (ours, Redis, ceiling, ours, ...), and judges the median run of each
	// side; the table shows the ratio's range over the rounds. On a shared
	// machine one run can be off by a third. 0 or 1: once.
	Rounds int
	Out    io.Writer
}

// Comparison is one of our scenarios beside its equivalents.
type Comparison struct {
	Name     string
	Pipeline int
	Ours     *Result
	Redis    *Result // nil when not run
	Ceiling  *Result // nil when not run
	// Target says what the issue asks of this pair; Met is nil when it has
	// none or it cannot be judged.
	Target string
	Met    *bool
	// With several rounds, the median run of each side is above and
	// these are the lowest and highest per-round ratios (zero otherwise).
	Rounds                 int
	RatioMin, RatioMax     float64 // ours / Redis (or the baseline)
	CeilingMin, CeilingMax float64 // ours / ceiling
}

// ComparisonJSON is a Comparison as --json prints it.
type ComparisonJSON struct {
	Name         string   `json:"name"`
	Pipeline     int      `json:"pipeline"`
	Ours         float64  `json:"ours_ops_per_sec"`
	Redis        float64  `json:"redis_ops_per_sec,omitempty"`
	Ratio        float64  `json:"ratio_to_redis,omitempty"`
	Ceiling      float64  `json:"ceiling_ops_per_sec,omitempty"`
	CeilingRatio float64  `json:"ratio_to_ceiling,omitempty"`
	OursP99      float64  `json:"ours_p99_us"`
	RedisP99     float64  `json:"redis_p99_us,omitempty"`
	P99Ratio     float64  `json:"p99_ratio_to_redis,omitempty"`
	CeilingP99   float64  `json:"ceiling_p99_us,omitempty"`
	OursCPU      float64  `json:"ours_cpu_per_op_us,omitempty"`
	RedisCPU     float64  `json:"redis_cpu_per_op_us,omitempty"`
	RatioMin     float64  `json:"ratio_min,omitempty"`
	RatioMax     float64  `json:"ratio_max,omitempty"`
	CeilingMin   float64  `json:"ratio_to_ceiling_min,omitempty"`
	CeilingMax   float64  `json:"ratio_to_ceiling_max,omitempty"`
	Rounds       int      `json:"rounds,omitempty"`
	Target       string   `json:"target,omitempty"`
	Met          *bool    `json:"met,omitempty"`
	Notes        []string `json:"notes,omitempty"`
}

// SuiteReport is everything RunSuite measured.
type SuiteReport struct {
	Results     []*Result
	Comparisons []*Comparison
	Memory      []MemResult
	Notes       []string
}

// JSON converts the comparisons for --json.
func (s *SuiteReport) JSON() []ComparisonJSON {
	var out []ComparisonJSON
	for _, c := range s.Comparisons {
		j := ComparisonJSON{Name: c.Name, Pipeline: c.Pipeline, Ours: c.Ours.OpsPerSec(),
			OursP99: float64(c.Ours.Latency.Percentile(99)) / 1e3, Target: c.Target, Met: c.Met,
			OursCPU: micros(c.Ours.CPUPerOp()), Rounds: c.Rounds,
			RatioMin: c.RatioMin, RatioMax: c.RatioMax, CeilingMin: c.CeilingMin, CeilingMax: c.CeilingMax}
		if c.Redis != nil {
			j.Redis, j.Ratio = c.Redis.OpsPerSec(), ratio(c.Ours.OpsPerSec(), c.Redis.OpsPerSec())
			j.RedisP99 = float64(c.Redis.Latency.Percentile(99)) / 1e3
			j.P99Ratio = ratio(j.OursP99, j.RedisP99)
			j.RedisCPU = micros(c.Redis.CPUPerOp())
		}
		if c.Ceiling != nil {
			j.Ceiling, j.CeilingRatio = c.Ceiling.OpsPerSec(), ratio(c.Ours.OpsPerSec(), c.Ceiling.OpsPerSec())
			j.CeilingP99 = float64(c.Ceiling.Latency.Percentile(99)) / 1e3
		}
		out = append(out, j)
	}
	return out
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// suitePair is one row of the suite: our scenario and its equivalents.
type suitePair struct {
	name, ours, redis, ceiling string
}

var suitePairs = []suitePair{
	{"ADDJOB vs LPUSH", ScenarioAddJob, ScenarioLPush, ScenarioLPush},
	{"GETJOB NOHANG vs RPOP", ScenarioGetJob, ScenarioRPop, ScenarioRPop},
	{"lifecycle vs reliable queue", ScenarioLifecycle, ScenarioReliable, ""},
}

// RunSuite runs the standard suite; results come back even when a later
// scenario fails.
func RunSuite(ctx context.Context, so SuiteOptions) (*SuiteReport, error) {
	if len(so.Pipelines) == 0 {
		so.Pipelines = []int{1, 16}
	}
	if so.Out == nil {
		so.Out = io.Discard
	}
	rep := &SuiteReport{}
	run := func(scenario, label string, addrs []string, pipeline int) (*Result, error) {
		o := so.Base
		o.Scenario, o.Label, o.Addrs, o.Pipeline, o.Flush = scenario, label, addrs, pipeline, true
		r, err := Run(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("%s %s P%d: %w", label, scenario, pipeline, err)
		}
		rep.Results = append(rep.Results, r)
		fmt.Fprintf(so.Out, "%-10s %-10s P%-3d %12s ops/s  p50 %-8s p99 %-8s max %s\n", label, scenario, pipeline,
			FormatRate(r.OpsPerSec()), FormatLatency(r.Latency.Percentile(50)),
			FormatLatency(r.Latency.Percentile(99)), FormatLatency(r.Latency.Max()))
		return r, nil
	}
	if so.Redis == "" {
		rep.Notes = append(rep.Notes, "no redis-server: godisque-only numbers (apt-get install -y redis-server)")
	}
	rounds := max(so.Rounds, 1)
	for _, p := range so.Pipelines {
		for _, pair := range suitePairs {
			var ours, redis, ceiling []*Result
			for range rounds {
				r, err := run(pair.ours, "godisque", []string{so.Disque}, p)
				if err != nil {
					return rep, err
				}
				ours = append(ours, r)
				if so.Redis != "" {
					if r, err = run(pair.redis, "redis", []string{so.Redis}, p); err != nil {
						return rep, err
					}
					redis = append(redis, r)
				}
				if so.Ceiling != "" && pair.ceiling != "" {
					if r, err = run(pair.ceiling, "redcon", []string{so.Ceiling}, p); err != nil {
						return rep, err
					}
					ceiling = append(ceiling, r)
				}
			}
			c := &Comparison{Name: pair.name, Pipeline: p}
			c.settle(ours, redis, ceiling)
			judge(c)
			rep.Comparisons = append(rep.Comparisons, c)
		}
	}
	if len(so.Cluster) == 0 {
		rep.Notes = append(rep.Notes, "replicated and federated skipped: no cluster given "+
			"(make bench starts three nodes; or --cluster host:port,host:port,host:port)")
	} else {
		if err := waitMesh(ctx, so.Cluster); err != nil {
			return rep, err
		}
		for _, p := range so.Pipelines {
			// The target compares with one node alone: the lone node's ADDJOB
			// of this run, its median over the rounds (a cluster node's plain
			// ADDJOB would replicate too, REPLICATE being min(3, cluster size)
			// by default). The single-node pairs ran above, or RunSuite
			// returned.
			single := rep.ours(ScenarioAddJob, p)
			var repl []*Result
			for range rounds {
				r, err := run(ScenarioReplicated, "cluster", so.Cluster, p)
				if err != nil {
					return rep, err
				}
				repl = append(repl, r)
			}
			c := &Comparison{Name: fmt.Sprintf("ADDJOB REPLICATE %d vs one node", so.Base.Replicate), Pipeline: p,
				Target: ">= 0.5x one node's ADDJOB"}
			c.settle(repl, []*Result{single}, nil)
			met := ratio(c.Ours.OpsPerSec(), single.OpsPerSec()) >= 0.5
			c.Met = &met
			rep.Comparisons = append(rep.Comparisons, c)
			if len(so.Cluster) >= 2 {
				if _, err := run(ScenarioFederated, "cluster", so.Cluster, p); err != nil {
					return rep, err
				}
			}
		}
	}
	if so.MemJobs > 0 {
		mem, err := Mem(ctx, MemOptions{Jobs: so.MemJobs, BodySizes: []int{24, 1024}})
		if err != nil {
			return rep, fmt.Errorf("mem: %w", err)
		}
		// And what the three copies of a replicated job cost, on three
		// nodes in this process.
		repl, err := Mem(ctx, MemOptions{Jobs: so.MemJobs, BodySizes: []int{24}, Replicate: 3})
		if err != nil {
			return rep, fmt.Errorf("mem, REPLICATE 3: %w", err)
		}
		rep.Memory = append(mem, repl...)
	}
	return rep, nil
}

// settle puts the median run of each side in c and, over several rounds,
// the range of the per-round ratios. A side with one run (a baseline
// shared by the rounds) is that run in every round.
func (c *Comparison) settle(ours, redis, ceiling []*Result) {
	c.Ours, c.Redis, c.Ceiling = median(ours), median(redis), median(ceiling)
	if len(ours) < 2 {
		return
	}
	c.Rounds = len(ours)
	spread := func(other []*Result) (lo, hi float64) {
		for i, r := range ours {
			o := other[min(i, len(other)-1)]
			x := ratio(r.OpsPerSec(), o.OpsPerSec())
			if i == 0 || x < lo {
				lo = x
			}
			if i == 0 || x > hi {
				hi = x
			}
		}
		return lo, hi
	}
	if len(redis) > 0 {
		c.RatioMin, c.RatioMax = spread(redis)
	}
	if len(ceiling) > 0 {
		c.CeilingMin, c.CeilingMax = spread(ceiling)
	}
}

// median is the run with the median throughput (the lower middle of an
// even count), nil for none.
func median(rs []*Result) *Result {
	if len(rs) == 0 {
		return nil
	}
	s := slices.Clone(rs)
	slices.SortStableFunc(s, func(a, b *Result) int { return cmp.Compare(a.OpsPerSec(), b.OpsPerSec()) })
	return s[(len(s)-1)/2]
}

// judge sets the target for a pair.
func judge(c *Comparison) {
	ours := c.Ours.OpsPerSec()
	switch {
	case c.Ours.Scenario == ScenarioLifecycle:
		c.Target = "report CPU/job"
	case c.Pipeline == 1 && c.Redis != nil:
		c.Target = ">= 0.9x redis"
		met := ours >= 0.9*c.Redis.OpsPerSec()
		c.Met = &met
	case c.Pipeline == 1:
		c.Target = ">= 0.9x redis"
	case c.Pipeline >= 16:
		c.Target = ">= 400k/s"
		met := ours >= 400_000
		c.Met = &met
	}
}

// WriteSuite prints the comparison table, the CPU per job, the memory
// figures and the notes.
func WriteSuite(w io.Writer, rep *SuiteReport) error {
	for _, c := range rep.Comparisons {
		if c.Rounds > 1 {
			fmt.Fprintf(w, "each figure is the median of %d interleaved rounds; (lowest-highest) is the ratio over the rounds\n", c.Rounds)
			break
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// The ceiling's p99 beside Redis': what a bare Go server on redcon
	// shows of the runtime's own tail on this machine.
	fmt.Fprintln(tw, "comparison\tP\tgodisque ops/s\tredis ops/s\tratio\tredcon ops/s\tratio\tp99 ours\tp99 redis\tp99 ratio\tp99 redcon\ttarget\tmet")
	for _, c := range rep.Comparisons {
		redis, rr, cl, cr, p99r, rp99, cp99 := "-", "-", "-", "-", "-", "-", "-"
		if c.Redis != nil {
			redis = FormatRate(c.Redis.OpsPerSec())
			rr = fmt.Sprintf("%.2f", ratio(c.Ours.OpsPerSec(), c.Redis.OpsPerSec())) + spreadString(c.RatioMin, c.RatioMax)
			rp99 = FormatLatency(c.Redis.Latency.Percentile(99))
			ratioP99 := ratio(float64(c.Ours.Latency.Percentile(99)), float64(c.Redis.Latency.Percentile(99)))
			p99r = fmt.Sprintf("%.2f", ratioP99)
			if ratioP99 > 2 {
				p99r += " (>2)"
			}
		}
		if c.Ceiling != nil {
			cl = FormatRate(c.Ceiling.OpsPerSec())
			cr = fmt.Sprintf("%.2f", ratio(c.Ours.OpsPerSec(), c.Ceiling.OpsPerSec())) + spreadString(c.CeilingMin, c.CeilingMax)
			cp99 = FormatLatency(c.Ceiling.Latency.Percentile(99))
		}
		met := "-"
		if c.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*c.Met]
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Pipeline,
			FormatRate(c.Ours.OpsPerSec()), redis, rr, cl, cr,
			FormatLatency(c.Ours.Latency.Percentile(99)), rp99, p99r, cp99, c.Target, met)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range rep.Comparisons {
		if c.Ours.Scenario != ScenarioLifecycle {
			continue
		}
		line := fmt.Sprintf("server CPU per job, whole lifecycle, P%d: godisque (ADDJOB+GETJOB+ACKJOB) %s",
			c.Pipeline, cpuString(c.Ours))
		if c.Redis != nil {
			line += fmt.Sprintf(", redis (LPUSH+BLMOVE+LREM) %s", cpuString(c.Redis))
			if a, b := c.Ours.CPUPerOp(), c.Redis.CPUPerOp(); a > 0 && b > 0 {
				line += fmt.Sprintf(", ratio %.2f", float64(a)/float64(b))
			}
		}
		fmt.Fprintln(w, line)
	}
	WriteMem(w, rep.Memory)
	for _, r := range rep.Results {
		if r.Errors > 0 {
			fmt.Fprintf(w, "%s %s P%d: %d error replies, the first: %s\n", r.Label, r.Scenario, r.Pipeline, r.Errors, r.FirstError)
		}
		if r.Dry {
			fmt.Fprintf(w, "%s %s P%d: the queues ran dry after %.1fs; the rate is of that part\n",
				r.Label, r.Scenario, r.Pipeline, r.Elapsed.Seconds())
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

// spreadString is " (lo-hi)" over several rounds, "" otherwise.
func spreadString(lo, hi float64) string {
	if lo == 0 && hi == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.2f-%.2f)", lo, hi)
}

func cpuString(r *Result) string {
	if d := r.CPUPerOp(); d > 0 {
		return fmt.Sprintf("%.1fµs", micros(d))
	}
	return "unknown (server not on this machine)"
}

// ParseAddrs splits "host:port,host:port".
func ParseAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// ours is the judged godisque run of scenario at pipeline depth p (the
// median over the rounds), or nil.
func (rep *SuiteReport) ours(scenario string, p int) *Result {
	for _, c := range rep.Comparisons {
		if c.Ours.Scenario == scenario && c.Pipeline == p {
			return c.Ours
		}
	}
	return nil
}

// meshWait bounds how long the suite waits for a cluster to be formed.
var meshWait = 30 * time.Second

// waitMesh waits until every node of a cluster reaches all the others
// (CLUSTER INFO's cluster_reachable_nodes), as nodes just started by seeds
// or CLUSTER MEET need a moment. A server whose CLUSTER INFO has no such
// line is taken as it is.
func waitMesh(ctx context.Context, addrs []string) error {
	deadline := time.Now().Add(meshWait)
	for _, addr := range addrs {
		want := fmt.Sprintf("cluster_reachable_nodes:%d", len(addrs)-1)
		for {
			info, err := clusterInfo(addr)
			if err == nil && (strings.Contains(info, want) || !strings.Contains(info, "cluster_reachable_nodes:")) {
				break
			}
			if time.Now().After(deadline) {
				if err == nil {
					err = fmt.Errorf("it does not reach the %d other nodes", len(addrs)-1)
				}
				return fmt.Errorf("bench: cluster node %s: %w", addr, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func clusterInfo(addr string) (string, error) {
	c, err := Dial(addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	r, err := c.Do("CLUSTER", "INFO")
	if err != nil {
		return "", err
	}
	if err := r.Err(); err != nil {
		return "", err
	}
	return string(r.Str), nil
}
