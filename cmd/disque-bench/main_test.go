package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/config"
)

func startNode(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Dir = t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := disque.Start(context.Background(), disque.Config{Server: cfg, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n.Addr()
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestList(t *testing.T) {
	out, _, code := runCLI(t, "list")
	if code != 0 || !strings.Contains(out, "lifecycle") || !strings.Contains(out, "reliable") {
		t.Fatalf("list: %d %q", code, out)
	}
	if _, errOut, code := runCLI(t, "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
	if _, _, code := runCLI(t, "run", "-no-such-flag"); code != 2 {
		t.Fatalf("bad flag: exit %d", code)
	}
	if _, _, code := runCLI(t, "run", "-help"); code != 0 {
		t.Fatalf("-help: exit %d", code)
	}
}

func TestRunJSONAndPlot(t *testing.T) {
	addr := startNode(t)
	plot := filepath.Join(t.TempDir(), "p.svg")
	out, errOut, code := runCLI(t, "-a", addr, "-t", "addjob,getjob", "-c", "4", "-n", "200", "-P", "4",
		"--flush", "--json", "--plot", plot, "--label", "godisque")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Tool    string
		Results []struct {
			Scenario  string
			Target    string
			Ops       int64
			Pipeline  int
			OpsPerSec float64 `json:"ops_per_sec"`
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if doc.Tool != "disque-bench" || len(doc.Results) != 2 || doc.Results[1].Scenario != "getjob" ||
		doc.Results[0].Ops != 200 || doc.Results[0].Target != "godisque" || doc.Results[0].Pipeline != 4 {
		t.Fatalf("unexpected document: %+v", doc)
	}
	svg, err := os.ReadFile(plot)
	if err != nil || !bytes.Contains(svg, []byte("godisque getjob P4")) {
		t.Fatalf("plot: %v", err)
	}
	// The table, by default.
	out, errOut, code = runCLI(t, "-a", addr, "-t", "lifecycle", "-c", "4", "-n", "100", "-duration", "0s")
	if code != 0 || !strings.Contains(out, "ACKJOB") || !strings.Contains(out, "p99.9") {
		t.Fatalf("table: %d %s %s", code, out, errOut)
	}
}

func TestSuiteAndMem(t *testing.T) {
	addr := startNode(t)
	dir := t.TempDir()
	out, errOut, code := runCLI(t, "suite", "--disque", addr, "--ceiling", "inproc", "-c", "4", "-n", "200",
		"--pipelines", "1,4", "--mem-jobs", "500", "--plot", filepath.Join(dir, "s.svg"),
		"--json-file", filepath.Join(dir, "s.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"ADDJOB vs LPUSH", "GETJOB NOHANG vs RPOP", "lifecycle vs reliable queue",
		"redcon", "server CPU per job", "B/job", "3 nodes, REPLICATE 3, all copies", "replicated and federated skipped",
		"no redis-server"} {
		if !strings.Contains(out, want) {
			t.Errorf("suite output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"s-P1.svg", "s-P4.svg", "s.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("suite did not write %s: %v", f, err)
		}
	}
	out, errOut, code = runCLI(t, "mem", "-n", "300", "--bodies", "24", "--json")
	if code != 0 {
		t.Fatalf("mem exit %d: %s", code, errOut)
	}
	var doc struct{ Memory []map[string]any }
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Memory) != 1 ||
		doc.Memory[0]["heap_after_gc"] != true || doc.Memory[0]["body_size"].(float64) != 24 {
		t.Fatalf("mem JSON: %v %s", err, out)
	}
	for _, bad := range [][]string{{"--replicate", "0"}, {"--replicate", "3", "-a", "127.0.0.1:1"}} {
		if _, errOut, code := runCLI(t, append([]string{"mem", "-n", "10"}, bad...)...); code == 0 || errOut == "" {
			t.Errorf("mem %v: exit %d, %q", bad, code, errOut)
		}
	}
}

// --rounds repeats each comparison and says so; a count below one is refused.
func TestSuiteRounds(t *testing.T) {
	addr := startNode(t)
	out, errOut, code := runCLI(t, "suite", "--disque", addr, "--ceiling", "inproc", "-c", "2", "-n", "100",
		"--pipelines", "1", "--rounds", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "median of 2 interleaved rounds") {
		t.Errorf("suite output does not say it took medians:\n%s", out)
	}
	if n := strings.Count(out, "godisque   addjob"); n != 2 {
		t.Errorf("%d godisque addjob runs, want 2:\n%s", n, out)
	}
	for _, bad := range []string{"0", "-3"} {
		_, errOut, code = runCLI(t, "suite", "--disque", addr, "--rounds", bad)
		if code == 0 || !strings.Contains(errOut, "bad --rounds") {
			t.Errorf("--rounds %s: exit %d, %q", bad, code, errOut)
		}
	}
}
