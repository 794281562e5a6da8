// Command disque-chaos is the chaos playground: it starts a cluster of
// disque-server processes on this machine, runs a queue workload through
// it while nemeses break it (kill -9 and restart, SIGSTOP, partitions,
// message loss, delay and duplication, clock skew), heals it, drains it,
// and checks from the recorded history that no acknowledged job was lost.
//
//	disque-chaos run --nodes 5 --replicate 3 --retry 1s --clients 10 --time 60s \
//	    --nemesis partition,kill,pause --seed 42 [--aof always|everysec|no] [--out DIR]
//	disque-chaos check [--html FILE] [--svg FILE] DIR/history.jsonl
//	disque-chaos plan --nodes 5 --time 60s --nemesis all --seed 42
//
// run writes DIR/summary.txt (also printed), DIR/history.jsonl (every
// operation and fault, one JSON object a line), DIR/report.html (one
// self-contained page: faults, throughput and latency over time, lost and
// duplicated jobs) and DIR/nodes/n1... (each node's directory and
// server.log). check reads a history again and judges it; plan prints the
// faults a seed draws, without running anything.
//
// The exit status is 0 when the verdict is valid, 1 when it is not
// (acknowledged jobs lost, or values that nobody enqueued), 2 when the
// harness itself failed (no binary, a cluster that never formed).
//
// The disque-server binary is --server, else the one next to this
// executable, else the one in PATH: `make chaos` builds both into bin/.
package main

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/godisque/godisque/chaos"
)

// Exit statuses.
const (
	exitValid   = 0
	exitInvalid = 1
	exitHarness = 2
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `Usage:
  disque-chaos run [flags]          run a cluster through faults and check it
  disque-chaos check [flags] FILE   judge a history.jsonl again
  disque-chaos plan [flags]         print the faults a seed draws

disque-chaos <command> -h lists the flags of a command.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitHarness
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "plan":
		return cmdPlan(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitValid
	}
	fmt.Fprintf(stderr, "disque-chaos: unknown command %q\n%s", args[0], usage)
	return exitHarness
}

// planFlags are the flags that decide a schedule, shared by run and plan.
type planFlags struct {
	nodes    *int
	time     *time.Duration
	nemesis  *string
	seed     *uint64
	interval *time.Duration
}

func addPlanFlags(fs *flag.FlagSet, d chaos.Options) planFlags {
	return planFlags{
		nodes:   fs.Int("nodes", d.Nodes, "number of disque-server processes"),
		time:    fs.Duration("time", d.Time, "how long the workload runs"),
		nemesis: fs.String("nemesis", "partition,kill,pause", "comma-separated nemeses: "+strings.Join(chaos.Kinds, ", ")+", or all, or none"),
		seed:    fs.Uint64("seed", 0, "seed of the schedule and the clients (0: a random one, printed)"),
		interval: fs.Duration("interval", 0,
			"mean length of a fault and of the quiet gap before it (0: a tenth of --time, 2s to 10s)"),
	}
}

func (p planFlags) options() (chaos.PlanOptions, error) {
	nem, err := chaos.ParseNemeses(*p.nemesis)
	if err != nil {
		return chaos.PlanOptions{}, err
	}
	seed := *p.seed
	if seed == 0 {
		var b [8]byte
		_, _ = cryptorand.Read(b[:])
		seed = binary.LittleEndian.Uint64(b[:])>>1 | 1
	}
	return chaos.PlanOptions{Seed: seed, Nemeses: nem, Nodes: *p.nodes, Time: *p.time, Interval: *p.interval}, nil
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	d := chaos.DefaultOptions()
	fs := flag.NewFlagSet("disque-chaos run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf := addPlanFlags(fs, d)
	replicate := fs.Int("replicate", d.Replicate, "REPLICATE of every ADDJOB")
	retry := fs.Duration("retry", d.Retry, "RETRY of every ADDJOB (whole seconds)")
	clients := fs.Int("clients", d.Clients, "concurrent clients")
	aof := fs.String("aof", "", "append-only file: always, everysec or no (its appendfsync); unset: none, a killed node comes back empty")
	out := fs.String("out", "", "directory of the report and the nodes (default tmp/chaos/NEMESES-seedSEED)")
	server := fs.String("server", "", "the disque-server binary (default: next to disque-chaos, else in PATH)")
	rate := fs.Float64("rate", d.Rate, "operations per second of each client (0: as fast as the cluster answers)")
	share := fs.Float64("enqueue-share", d.EnqueueShare, "share of the operations that enqueue (the others dequeue and ack)")
	nodeTimeout := fs.Duration("node-timeout", d.NodeTimeout, "cluster-node-timeout of the servers")
	addTimeout := fs.Duration("add-timeout", d.AddTimeout, "ADDJOB's replication timeout")
	getTimeout := fs.Duration("get-timeout", d.GetTimeout, "GETJOB's TIMEOUT")
	settle := fs.Duration("settle", d.Settle, "how long the heal waits for every node to see every other")
	drainQuiet := fs.Duration("drain-quiet", d.DrainQuiet, "the drain gives up after this long with no job coming out")
	drainTimeout := fs.Duration("drain-timeout", d.DrainTimeout, "the drain stops after this long whatever happens")
	broken := fs.String("broken", "", "for testing the checker only: start deliberately broken servers (ack-before-replication)")
	quiet := fs.Bool("quiet", false, "print only the summary")
	if err := fs.Parse(args); err != nil {
		return exitHarness
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "disque-chaos run: unexpected argument %q\n", fs.Arg(0))
		return exitHarness
	}
	po, err := pf.options()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitHarness
	}
	if *aof == "off" {
		*aof = ""
	}
	bin, err := findServer(*server)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitHarness
	}
	dir := *out
	if dir == "" {
		name := *pf.nemesis
		if name == "" {
			name = "none"
		}
		dir = filepath.Join("tmp", "chaos", strings.ReplaceAll(name, ",", "+")+fmt.Sprintf("-seed%d", po.Seed))
	}
	o := chaos.Options{
		Server: bin, Out: dir, Nodes: po.Nodes, Replicate: *replicate, Retry: *retry, Clients: *clients,
		Time: po.Time, Nemeses: po.Nemeses, Interval: po.Interval, Seed: po.Seed, AOF: *aof,
		NodeTimeout: *nodeTimeout, Rate: *rate, EnqueueShare: *share, AddTimeout: *addTimeout, GetTimeout: *getTimeout,
		Settle: *settle, DrainQuiet: *drainQuiet, DrainTimeout: *drainTimeout, Broken: *broken,
	}
	if !*quiet {
		o.Log = stderr
		fmt.Fprintf(stderr, "disque-chaos: seed %d, output in %s\n", po.Seed, dir)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := chaos.Run(ctx, o)
	if res != nil {
		if werr := res.WriteFiles(dir); werr != nil {
			fmt.Fprintln(stderr, "disque-chaos: writing the report:", werr)
			if err == nil {
				err = werr
			}
		}
		fmt.Fprint(stdout, res.Summary())
		fmt.Fprintf(stdout, "report: %s\n", filepath.Join(dir, "report.html"))
	}
	if err != nil {
		fmt.Fprintln(stderr, "disque-chaos:", err)
		return exitHarness
	}
	if !res.Report.Valid {
		return exitInvalid
	}
	return exitValid
}

// findServer is the disque-server binary to run.
func findServer(flagValue string) (string, error) {
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", fmt.Errorf("disque-chaos: --server: %w", err)
		}
		return filepath.Abs(flagValue)
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "disque-server")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("disque-server")
	if err != nil {
		return "", errors.New("disque-chaos: no disque-server binary next to disque-chaos or in PATH; " +
			"build both with `make chaos`, or give --server PATH")
	}
	return filepath.Abs(p)
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("disque-chaos check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	replicate := fs.Int("replicate", 0, "REPLICATE of enqueues whose record does not say it")
	html := fs.String("html", "", "also write the HTML report to this file")
	svg := fs.String("svg", "", "also write the report's picture alone to this file")
	title := fs.String("title", "", "title of the report (default: the history's file name)")
	if err := fs.Parse(args); err != nil {
		return exitHarness
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "disque-chaos check: want one history file")
		return exitHarness
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitHarness
	}
	h, err := chaos.ReadHistory(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitHarness
	}
	r := chaos.Check(h, chaos.CheckOptions{Replicate: *replicate})
	summary := r.String()
	for _, line := range chaos.LostEvidence(h, r) {
		summary += line + "\n"
	}
	fmt.Fprint(stdout, summary)
	if *title == "" {
		*title = "godisque chaos: " + fs.Arg(0)
	}
	d := chaos.ReportData{Title: *title, Summary: summary, History: h, Report: r}
	for _, o := range []struct {
		path  string
		write func(io.Writer, chaos.ReportData) error
	}{{*html, chaos.WriteHTML}, {*svg, chaos.WriteSVG}} {
		if o.path == "" {
			continue
		}
		out, err := os.Create(o.path)
		if err == nil {
			err = o.write(out, d)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitHarness
		}
	}
	if !r.Valid {
		return exitInvalid
	}
	return exitValid
}

func cmdPlan(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("disque-chaos plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pf := addPlanFlags(fs, chaos.DefaultOptions())
	if err := fs.Parse(args); err != nil {
		return exitHarness
	}
	po, err := pf.options()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitHarness
	}
	fmt.Fprintf(stdout, "seed %d: %d nodes, %v, nemeses %s\n", po.Seed, po.Nodes, po.Time, strings.Join(po.Nemeses, ","))
	for _, f := range chaos.Plan(po) {
		fmt.Fprintf(stdout, "%7.1fs %7.1fs  %s\n", f.Start.Seconds(), f.End.Seconds(), f.Describe())
	}
	return exitValid
}
