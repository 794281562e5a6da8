// Command disque-bench is a load generator for any Disque-compatible
// endpoint: godisque, the original disque-server, or a cluster of either
// given as several addresses; it also speaks the Redis list commands the
// suite compares against.
//
//	disque-bench [run] [flags]   run scenarios against one endpoint
//	disque-bench suite [flags]   the standard suite beside Redis (make bench)
//	disque-bench mem [flags]     bytes per resting job
//	disque-bench ceiling [flags] serve the bare redcon LPUSH ceiling
//	disque-bench list            the scenarios
//
// `disque-bench <command> -help` lists each command's flags. The work is in
// package bench; this file only turns flags into its options.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/godisque/godisque/bench"
	"github.com/godisque/godisque/bench/redconlpush"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage:
  disque-bench [run] [flags]    run scenarios against one endpoint (or a cluster)
  disque-bench suite [flags]    the standard suite, ours beside Redis (make bench)
  disque-bench mem [flags]      bytes per resting job (24-byte and 1 KB bodies)
  disque-bench ceiling [flags]  serve the bare redcon LPUSH server
  disque-bench list             list the scenarios
Run 'disque-bench <command> -help' for its flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = cmdRun(ctx, args, stdout, stderr)
	case "suite":
		err = cmdSuite(ctx, args, stdout, stderr)
	case "mem":
		err = cmdMem(ctx, args, stdout, stderr)
	case "ceiling":
		err = cmdCeiling(ctx, args, stderr)
	case "list":
		for _, s := range bench.Scenarios() {
			fmt.Fprintln(stdout, s)
		}
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "disque-bench: unknown command %q\n%s", cmd, usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "disque-bench:", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

// runFlags are the load flags run and suite share.
type runFlags struct {
	o         bench.Options
	jsonOut   bool
	jsonFile  string
	plot      string
	quiet     bool
	durationS time.Duration
}

func (f *runFlags) register(fs *flag.FlagSet) {
	f.o = bench.DefaultOptions()
	fs.IntVar(&f.o.Connections, "c", f.o.Connections, "connections")
	fs.IntVar(&f.o.BodySize, "d", f.o.BodySize, "job body size in bytes")
	fs.IntVar(&f.o.Queues, "queues", f.o.Queues, "number of queues the connections spread over")
	fs.Int64Var(&f.o.Count, "n", f.o.Count, "operations to measure per scenario (a lifecycle operation is one job)")
	fs.DurationVar(&f.durationS, "duration", 0, "measure for this long instead of -n operations (e.g. 10s)")
	fs.DurationVar(&f.o.Warmup, "warmup", 0, "run this long unmeasured first (e.g. 1s)")
	fs.IntVar(&f.o.Replicate, "replicate", f.o.Replicate, "REPLICATE n of the replicated scenario")
	fs.IntVar(&f.o.TimeoutMs, "timeout-ms", f.o.TimeoutMs, "ADDJOB's ms-timeout")
	fs.Int64Var(&f.o.Prefill, "prefill", 0, "jobs put in the queues before getjob/rpop (default: -n, or 1M with -duration)")
	fs.Int64Var(&f.o.Backlog, "backlog", f.o.Backlog, "lifecycle: most jobs producers may run ahead of the acks")
	fs.StringVar(&f.o.QueuePrefix, "queue-prefix", f.o.QueuePrefix, "queue names are PREFIX:SCENARIO:i")
	fs.IntVar(&f.o.ServerPID, "server-pid", 0, "server process to read the CPU of (0: INFO's process_id when on loopback; -1: never)")
	fs.BoolVar(&f.jsonOut, "json", false, "print JSON instead of the table")
	fs.StringVar(&f.jsonFile, "json-file", "", "also write the JSON report to this file")
	fs.StringVar(&f.plot, "plot", "", "write throughput over time and the latency distribution to this SVG file\n"+
		"(suite: one file per pipeline depth, FILE-P1.svg, FILE-P16.svg)")
	fs.BoolVar(&f.quiet, "quiet", false, "no live progress line")
}

// finish applies flags that need checking after parsing.
func (f *runFlags) finish(stderr io.Writer) {
	if f.durationS > 0 {
		f.o.Count, f.o.Duration = 0, f.durationS
	}
	if !f.quiet && isTerminal(stderr) {
		f.o.Progress = stderr
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newFlagSet(name string, stderr io.Writer, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: disque-bench %s [flags]\n%s\nFlags:\n", name, about)
		fs.PrintDefaults()
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	return nil
}

// ----------------------------------- run -------------------------------------

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr, "Runs scenarios (comma-separated, -t) against one endpoint or a cluster (-a a,b,c).\n"+
		"Scenarios: "+strings.Join(scenarioNames(), ", ")+" ('disque-bench list' describes them).")
	var f runFlags
	f.register(fs)
	addrs := fs.String("a", "127.0.0.1:7711", "address(es), host:port[,host:port...]")
	scenarios := fs.String("t", "addjob", "scenario(s), comma-separated")
	pipeline := fs.Int("P", 1, "pipeline depth: commands in flight per connection")
	label := fs.String("label", "", "target name in the report (default: the first address)")
	flush := fs.Bool("flush", false, "empty the server before each scenario (DEBUG FLUSHALL, or FLUSHALL for Redis scenarios)")
	if err := parse(fs, args); err != nil {
		return err
	}
	f.finish(stderr)
	f.o.Addrs, f.o.Pipeline, f.o.Label, f.o.Flush = bench.ParseAddrs(*addrs), *pipeline, *label, *flush
	started := time.Now()
	var results []*bench.Result
	for _, s := range bench.ParseAddrs(*scenarios) {
		o := f.o
		o.Scenario = s
		r, err := bench.Run(ctx, o)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	return report(stdout, &f, started, results, nil, nil)
}

func scenarioNames() []string {
	var out []string
	for _, s := range bench.Scenarios() {
		out = append(out, strings.Fields(s)[0])
	}
	return out
}

func report(stdout io.Writer, f *runFlags, started time.Time, results []*bench.Result,
	cmp []bench.ComparisonJSON, mem []bench.MemResult) error {
	if f.plot != "" {
		if err := writePlot(f.plot, results); err != nil {
			return err
		}
	}
	if f.jsonFile != "" {
		if err := writeJSONFile(f.jsonFile, started, results, cmp, mem); err != nil {
			return err
		}
	}
	if f.jsonOut {
		return bench.WriteJSON(stdout, started, results, cmp, mem)
	}
	return bench.WriteTable(stdout, results)
}

func writeJSONFile(path string, started time.Time, results []*bench.Result,
	cmp []bench.ComparisonJSON, mem []bench.MemResult) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := bench.WriteJSON(file, started, results, cmp, mem); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// writeSuitePlots writes one plot per pipeline depth, so that each holds a
// readable number of series: FILE.svg becomes FILE-P1.svg, FILE-P16.svg...
func writeSuitePlots(path string, pipelines []int, results []*bench.Result) error {
	if len(pipelines) == 1 {
		return writePlot(path, results)
	}
	ext := filepath.Ext(path)
	for _, p := range pipelines {
		var rs []*bench.Result
		for _, r := range results {
			if r.Pipeline == p {
				rs = append(rs, r)
			}
		}
		if err := writePlot(fmt.Sprintf("%s-P%d%s", strings.TrimSuffix(path, ext), p, ext), rs); err != nil {
			return err
		}
	}
	return nil
}

func writePlot(path string, results []*bench.Result) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("disque-bench, %s", time.Now().Format("2006-01-02 15:04"))
	if len(results) > 0 {
		r := results[0]
		title += fmt.Sprintf(", %d connections, %d-byte bodies", r.Connections, r.BodySize)
	}
	if err := bench.WriteSVG(file, title, results); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// ---------------------------------- suite ------------------------------------

func cmdSuite(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("suite", stderr, "The standard suite: each godisque scenario beside its Redis equivalent\n"+
		"and the bare redcon ceiling, with and without pipelining, with ratios and targets.")
	var f runFlags
	f.register(fs)
	so := bench.SuiteOptions{}
	fs.StringVar(&so.Disque, "disque", "127.0.0.1:7711", "godisque address")
	fs.StringVar(&so.Redis, "redis", "", "redis-server address (empty: godisque-only numbers)")
	fs.StringVar(&so.Ceiling, "ceiling", "", "redcon LPUSH ceiling address (empty: skip; 'inproc': serve one in this process)")
	cluster := fs.String("cluster", "", "cluster addresses for the replicated and federated scenarios (empty: skip)")
	pipelines := fs.String("pipelines", "1,16", "pipeline depths to run")
	fs.IntVar(&so.MemJobs, "mem-jobs", 0, "also measure bytes per job with this many jobs per body size (an in-process node, and three with REPLICATE 3)")
	fs.IntVar(&so.Rounds, "rounds", 1, "run each comparison this many times, interleaved, and judge the median")
	if err := parse(fs, args); err != nil {
		return err
	}
	f.finish(stderr)
	if so.Rounds < 1 {
		return fmt.Errorf("bad --rounds %d: at least 1", so.Rounds)
	}
	so.Base, so.Cluster = f.o, bench.ParseAddrs(*cluster)
	for _, p := range bench.ParseAddrs(*pipelines) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return fmt.Errorf("bad pipeline depth %q", p)
		}
		so.Pipelines = append(so.Pipelines, n)
	}
	if so.Ceiling == "inproc" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := redconlpush.Start(ln)
		defer srv.Close()
		so.Ceiling = srv.Addr()
	}
	if !f.jsonOut {
		so.Out = stdout
	}
	started := time.Now()
	rep, err := bench.RunSuite(ctx, so)
	if rep != nil && len(rep.Results) > 0 {
		if f.plot != "" {
			if perr := writeSuitePlots(f.plot, so.Pipelines, rep.Results); perr != nil && err == nil {
				err = perr
			}
		}
		if f.jsonFile != "" {
			if jerr := writeJSONFile(f.jsonFile, started, rep.Results, rep.JSON(), rep.Memory); jerr != nil && err == nil {
				err = jerr
			}
		}
		if f.jsonOut {
			if jerr := bench.WriteJSON(stdout, started, rep.Results, rep.JSON(), rep.Memory); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			fmt.Fprintln(stdout)
			if terr := bench.WriteTable(stdout, rep.Results); terr != nil && err == nil {
				err = terr
			}
			fmt.Fprintln(stdout)
			if serr := bench.WriteSuite(stdout, rep); serr != nil && err == nil {
				err = serr
			}
		}
	}
	return err
}

// ----------------------------------- mem -------------------------------------

func cmdMem(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("mem", stderr, "Fills a node with -n jobs per body size and reports bytes per job:\n"+
		"Go heap after GC, RSS and the accounted used_memory; then acknowledges them all\n"+
		"and checks the heap returns to its baseline. Without -a it starts a node in this process;\n"+
		"with --replicate N, N nodes as a cluster, and reports what all the copies of a job cost.")
	addr := fs.String("a", "", "node address (empty: an in-process godisque node, whose heap is read after GC)")
	jobs := fs.Int("n", 200_000, "jobs per body size")
	replicate := fs.Int("replicate", 1, "in-process only: start this many nodes as a cluster and add with REPLICATE n")
	bodies := fs.String("bodies", "24,1024", "body sizes in bytes")
	jsonOut := fs.Bool("json", false, "print JSON")
	quiet := fs.Bool("quiet", false, "no live progress line")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *replicate < 1 {
		return fmt.Errorf("--replicate must be at least 1")
	}
	o := bench.MemOptions{Addr: *addr, Jobs: *jobs, Replicate: *replicate}
	for _, b := range bench.ParseAddrs(*bodies) {
		n, err := strconv.Atoi(b)
		if err != nil || n < 0 {
			return fmt.Errorf("bad body size %q", b)
		}
		o.BodySizes = append(o.BodySizes, n)
	}
	if !*quiet && isTerminal(stderr) {
		o.Progress = stderr
	}
	started := time.Now()
	rs, err := bench.Mem(ctx, o)
	if err != nil {
		return err
	}
	if *jsonOut {
		return bench.WriteJSON(stdout, started, nil, nil, rs)
	}
	bench.WriteMem(stdout, rs)
	return nil
}

// --------------------------------- ceiling -----------------------------------

func cmdCeiling(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("ceiling", stderr, "Serves the bare redcon LPUSH/RPOP server, the suite's ceiling, until interrupted.")
	listen := fs.String("listen", "127.0.0.1:7713", "address to listen on")
	if err := parse(fs, args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := redconlpush.Start(ln)
	<-ctx.Done()
	return srv.Close()
}
