package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ---------------------------------- A run -------------------------------------
//
// Run is the whole experiment, in five phases:
//
//  1. start: the nodes, joined by CLUSTER MEET, until every node reaches
//     every other one;
//  2. workload: the clients for Options.Time, while the Nemesis applies
//     the schedule drawn from the seed;
//  3. heal: every fault off, every node up, and a wait for the full mesh
//     again (the settle);
//  4. drain: every node asked for jobs (GETJOB NOHANG, then ACKJOB) until
//     every acknowledged value has come out and nothing more comes for a
//     little while, or until nothing has come for DrainQuiet, or until
//     DrainTimeout;
//  5. check: the history, alone, through Check.
//
// The drain's dequeues are recorded like the clients' (as client number
// Options.Clients), so the history holds everything the checker reads.

// Options configure a run. Zero values take the defaults of the
// disque-chaos command line (DefaultOptions).
type Options struct {
	Server    string // the disque-server binary
	Out       string // where node directories and the report go
	Nodes     int
	Replicate int
	Retry     time.Duration // whole seconds, at least 1 s
	Clients   int
	Time      time.Duration
	Nemeses   []string
	Interval  time.Duration // mean fault length; 0: DefaultInterval(Time)
	Seed      uint64
	AOF       string // appendfsync policy, "" for no append-only file

	NodeTimeout  time.Duration // cluster-node-timeout of the servers
	Rate         float64       // steps per second per client; 0 unbounded
	EnqueueShare float64
	AddTimeout   time.Duration
	GetTimeout   time.Duration
	Settle       time.Duration // how long the heal waits for the full mesh
	DrainQuiet   time.Duration
	DrainTimeout time.Duration
	// Broken is passed to the servers as GODISQUE_CHAOS_BROKEN: a
	// deliberately broken cluster, to see the checker fail.
	Broken string
	// Log receives progress lines; nil is silent.
	Log io.Writer
}

// DefaultOptions are the defaults of `disque-chaos run`.
func DefaultOptions() Options {
	return Options{
		Nodes: 5, Replicate: 3, Retry: time.Second, Clients: 10, Time: 60 * time.Second,
		NodeTimeout: time.Second, Rate: 50, EnqueueShare: 0.5,
		AddTimeout: time.Second, GetTimeout: 200 * time.Millisecond,
		Settle: 30 * time.Second, DrainQuiet: 30 * time.Second, DrainTimeout: 120 * time.Second,
	}
}

// orDefault sets an option left at zero to its default.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// queueName is the one queue of the workload.
const queueName = "chaos"

func (o *Options) validate() error {
	d := DefaultOptions()
	orDefault(&o.Nodes, d.Nodes)
	orDefault(&o.Replicate, min(d.Replicate, o.Nodes))
	orDefault(&o.Retry, d.Retry)
	orDefault(&o.Clients, d.Clients)
	orDefault(&o.Time, d.Time)
	orDefault(&o.NodeTimeout, d.NodeTimeout)
	orDefault(&o.EnqueueShare, d.EnqueueShare)
	orDefault(&o.AddTimeout, d.AddTimeout)
	orDefault(&o.GetTimeout, d.GetTimeout)
	orDefault(&o.Settle, d.Settle)
	orDefault(&o.DrainQuiet, d.DrainQuiet)
	orDefault(&o.DrainTimeout, d.DrainTimeout)
	switch {
	case o.Server == "":
		return errors.New("chaos: no disque-server binary")
	case o.Out == "":
		return errors.New("chaos: no output directory")
	case o.Nodes < 1:
		return errors.New("chaos: --nodes must be at least 1")
	case o.Replicate < 1 || o.Replicate > o.Nodes:
		return fmt.Errorf("chaos: --replicate must be between 1 and --nodes (%d)", o.Nodes)
	case o.Retry < time.Second || o.Retry%time.Second != 0:
		return errors.New("chaos: --retry must be whole seconds, at least 1s (RETRY 0 is at-most-once)")
	case o.Clients < 1:
		return errors.New("chaos: --clients must be at least 1")
	case o.Time <= 0:
		return errors.New("chaos: --time must be positive")
	case o.EnqueueShare <= 0 || o.EnqueueShare >= 1:
		return errors.New("chaos: the enqueue share must be between 0 and 1")
	case o.Rate < 0:
		return errors.New("chaos: --rate must not be negative")
	}
	switch o.AOF {
	case "", "always", "everysec", "no":
	default:
		return fmt.Errorf("chaos: --aof %q: want always, everysec or no", o.AOF)
	}
	return nil
}

// NodeInfo names a node of the run.
type NodeInfo struct {
	Name, Addr, ID string
}

// Result is what a run produced.
type Result struct {
	Options  Options
	Schedule []Fault
	Nodes    []NodeInfo
	History  History
	Report   Report
	// Warnings are problems of the run that are not the checker's: a
	// fault that could not be applied, a node that did not come back, a
	// cluster that did not settle.
	Warnings []string
	// Phases are how long each phase took.
	Setup, Workload, Heal, Drain time.Duration
	Drained                      string // why the drain stopped
}

// Run runs the experiment Options describe; see the chapter comment. An
// error is a failure of the harness (no binary, a cluster that never
// formed), not of the cluster under test; the verdict is in the Report.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	logf := func(format string, args ...any) { fmt.Fprintf(logw, format+"\n", args...) }
	res := &Result{Options: o}
	res.Schedule = Plan(PlanOptions{Seed: o.Seed, Nemeses: o.Nemeses, Nodes: o.Nodes, Time: o.Time, Interval: o.Interval})

	nodesDir := filepath.Join(o.Out, "nodes")
	if err := os.RemoveAll(nodesDir); err != nil {
		return nil, err
	}
	var env []string
	if o.Broken != "" {
		env = append(env, "GODISQUE_CHAOS_BROKEN="+o.Broken)
	}
	t := time.Now()
	logf("starting %d nodes (%s)", o.Nodes, o.Server)
	c, err := StartCluster(ctx, ClusterOptions{
		Server: o.Server, Nodes: o.Nodes, Dir: nodesDir, NodeTimeout: o.NodeTimeout, AOF: o.AOF, Env: env, Logf: logf,
	})
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	res.Setup = time.Since(t)
	addrs := make([]string, len(c.Procs))
	for i, p := range c.Procs {
		addrs[i] = p.Addr()
		res.Nodes = append(res.Nodes, NodeInfo{Name: p.Name(), Addr: p.Addr(), ID: p.ID})
		logf("  %s %s %s", p.Name(), p.Addr(), p.ID)
	}

	// The workload and the nemeses, on one clock.
	t0 := time.Now()
	rec := NewRecorder(t0)
	for _, n := range res.Nodes {
		rec.Add(Op{Client: -1, Kind: Member, Node: n.Addr, Detail: n.Name + " " + n.ID, Outcome: OK})
	}
	for _, f := range res.Schedule {
		rec.Add(f.Op())
	}
	logf("workload: %d clients for %v, nemeses %s, seed %d", o.Clients, o.Time, nemesesName(o.Nemeses), o.Seed)
	nem := NewInjector(c, rec, o.AOF)
	nem.Logf = logf
	wctx, stop := context.WithTimeout(ctx, o.Time)
	defer stop()
	nemDone := make(chan struct{})
	go func() {
		defer close(nemDone)
		nem.Run(wctx, res.Schedule)
	}()
	RunWorkload(wctx, WorkloadOptions{
		Addrs: addrs, Clients: o.Clients, Queue: queueName, Replicate: o.Replicate, Retry: o.Retry,
		Rate: o.Rate, EnqueueShare: o.EnqueueShare, AddTimeout: o.AddTimeout, GetTimeout: o.GetTimeout,
		Slack: time.Second, Seed: o.Seed,
	}, rec)
	<-nemDone
	res.Workload = time.Since(t0)

	// Heal and settle.
	t = time.Now()
	logf("healing every fault; waiting up to %v for the full mesh", o.Settle)
	nem.HealAll(ctx)
	if err := c.WaitMesh(ctx, o.Settle); err != nil {
		res.Warnings = append(res.Warnings, err.Error())
		logf("warning: %v", err)
	}
	res.Heal = time.Since(t)

	// Drain.
	t = time.Now()
	res.Drained = drain(ctx, c, rec, o, logf)
	res.Drain = time.Since(t)
	logf("drain: %s (%v)", res.Drained, res.Drain.Round(100*time.Millisecond))

	res.Warnings = append(res.Warnings, nem.Warnings()...)
	res.History = rec.History()
	res.Report = Check(res.History, CheckOptions{Replicate: o.Replicate})
	if ctx.Err() != nil {
		res.Warnings = append(res.Warnings, "interrupted: the run stopped early and the drain did not finish; the verdict proves little")
		return res, ctx.Err()
	}
	return res, nil
}

// drain empties every queue of every node; it returns why it stopped.
func drain(ctx context.Context, c *Cluster, rec *Recorder, o Options, logf func(string, ...any)) string {
	client := o.Clients // the drainer's client number
	quietShort := 2*o.Retry + time.Second
	start := time.Now()
	last := start // when a job last came out
	for {
		got := 0
		for i, p := range c.Procs {
			if !p.Answering() {
				continue
			}
			got += drainNode(c, i, rec, client)
		}
		now := time.Now()
		if got > 0 {
			last = now
			continue
		}
		pending := rec.Pending()
		switch {
		case ctx.Err() != nil:
			return "interrupted"
		case pending == 0 && now.Sub(last) >= quietShort:
			return fmt.Sprintf("every acknowledged job came out, then nothing for %v", quietShort)
		case now.Sub(last) >= o.DrainQuiet:
			return fmt.Sprintf("nothing came out for %v; %d acknowledged jobs never did", o.DrainQuiet, pending)
		case now.Sub(start) >= o.DrainTimeout:
			return fmt.Sprintf("stopped after %v; %d acknowledged jobs never came out", o.DrainTimeout, pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// drainNode takes what node i has queued now, acknowledges it on the same
// node, and records both; it returns how many jobs came out.
func drainNode(c *Cluster, i int, rec *Recorder, client int) int {
	addr := c.Procs[i].Addr()
	start := rec.Since(time.Now())
	r, err := c.Do(i, 5*time.Second, "GETJOB", "NOHANG", "COUNT", "100", "FROM", queueName)
	end := rec.Since(time.Now())
	if err != nil {
		rec.Add(Op{Client: client, Kind: Dequeue, Node: addr, Start: start, End: end, Outcome: Unknown, Error: err.Error()})
		return 0
	}
	if r.Null || len(r.Elems) == 0 {
		return 0
	}
	var ids []string
	for _, job := range r.Elems {
		if len(job.Elems) < 3 {
			continue
		}
		id, body := string(job.Elems[1].Str), string(job.Elems[2].Str)
		ids = append(ids, id)
		rec.Add(Op{Client: client, Kind: Dequeue, Value: body, JobID: id, Node: addr, Start: start, End: end, Outcome: OK})
	}
	if len(ids) == 0 {
		return 0
	}
	start = rec.Since(time.Now())
	_, err = c.Do(i, 5*time.Second, append([]string{"ACKJOB"}, ids...)...)
	end = rec.Since(time.Now())
	out, msg := OK, ""
	if err != nil {
		out, msg = Unknown, err.Error()
	}
	for _, id := range ids {
		rec.Add(Op{Client: client, Kind: Ack, JobID: id, Node: addr, Start: start, End: end, Outcome: out, Error: msg})
	}
	return len(ids)
}

func nemesesName(ns []string) string {
	if len(ns) == 0 {
		return "none"
	}
	if len(ns) == len(Kinds) {
		return "all"
	}
	return strings.Join(ns, ",")
}

// Summary is the run in text: its parameters, nodes, faults and the
// checker's report.
func (res *Result) Summary() string {
	o := res.Options
	var b strings.Builder
	aof := o.AOF
	if aof == "" {
		aof = "off"
	}
	fmt.Fprintf(&b, "disque-chaos run --nodes %d --replicate %d --retry %v --clients %d --time %v --nemesis %s --seed %d --aof %s\n",
		o.Nodes, o.Replicate, o.Retry, o.Clients, o.Time, nemesesName(o.Nemeses), o.Seed, aof)
	if o.Broken != "" {
		fmt.Fprintf(&b, "servers deliberately broken: GODISQUE_CHAOS_BROKEN=%s\n", o.Broken)
	}
	fmt.Fprintf(&b, "phases: setup %v, workload %v, heal %v, drain %v (%s)\n",
		res.Setup.Round(100*time.Millisecond), res.Workload.Round(100*time.Millisecond),
		res.Heal.Round(100*time.Millisecond), res.Drain.Round(100*time.Millisecond), res.Drained)
	for _, n := range res.Nodes {
		fmt.Fprintf(&b, "node %s %s %s\n", n.Name, n.Addr, n.ID)
	}
	for _, op := range res.History {
		if op.Kind != Nemesis {
			continue
		}
		fmt.Fprintf(&b, "fault %6.1fs-%6.1fs %s", op.Start.Seconds(), op.End.Seconds(), op.Detail)
		if op.MemoryLost {
			b.WriteString(" (memory lost)")
		}
		if op.Outcome != OK {
			fmt.Fprintf(&b, " FAILED: %s", op.Error)
		}
		b.WriteByte('\n')
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	b.WriteString(res.Report.String())
	for _, line := range LostEvidence(res.History, res.Report) {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// LostEvidence is one line per lost job (at most 20): its value, job ID,
// the node and time of its ADDJOB, and the faults during its life.
func LostEvidence(h History, r Report) []string {
	if len(r.Lost) == 0 {
		return nil
	}
	lost := map[string]bool{}
	for _, v := range r.Lost[:min(len(r.Lost), 20)] {
		lost[v] = true
	}
	var faults []Op
	for _, op := range h {
		if op.Kind == Nemesis {
			faults = append(faults, op)
		}
	}
	var out []string
	for _, op := range h {
		if op.Kind != Enqueue || op.Outcome != OK || !lost[op.Value] {
			continue
		}
		delete(lost, op.Value)
		var during []string
		for _, f := range faults {
			if f.End >= op.Start {
				during = append(during, fmt.Sprintf("%.1fs %s", f.Start.Seconds(), f.Detail))
			}
		}
		line := fmt.Sprintf("lost %s: job %s, ADDJOB on %s at %.3fs (answered at %.3fs)",
			op.Value, op.JobID, op.Node, op.Start.Seconds(), op.End.Seconds())
		if len(during) > 0 {
			line += "; faults since: " + strings.Join(during, "; ")
		}
		out = append(out, line)
	}
	return out
}

// WriteFiles writes history.jsonl, summary.txt, report.html and its picture
// alone, report.svg, into dir.
func (res *Result) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name string, fill func(io.Writer) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := fill(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write("history.jsonl", res.History.WriteJSONL); err != nil {
		return err
	}
	if err := write("summary.txt", func(w io.Writer) error {
		_, err := io.WriteString(w, res.Summary())
		return err
	}); err != nil {
		return err
	}
	if err := write("report.svg", func(w io.Writer) error { return WriteSVG(w, res.ReportData()) }); err != nil {
		return err
	}
	return write("report.html", func(w io.Writer) error { return WriteHTML(w, res.ReportData()) })
}

// ReportData is the run as its report shows it.
func (res *Result) ReportData() ReportData {
	return ReportData{
		Title: res.title(), Summary: res.Summary(), History: res.History, Report: res.Report,
		Nodes: res.Nodes, WorkloadEnd: res.Options.Time,
	}
}

func (res *Result) title() string {
	o := res.Options
	return "godisque chaos: " + nemesesName(o.Nemeses) + ", seed " + strconv.FormatUint(o.Seed, 10) +
		", " + strconv.Itoa(o.Nodes) + " nodes, REPLICATE " + strconv.Itoa(o.Replicate)
}
