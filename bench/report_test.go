package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// fakeResult is a result with known numbers, no server needed.
func fakeResult(scenario, label string, pipeline int, scale uint64) *Result {
	r := &Result{
		Scenario: scenario, Label: label, Addrs: []string{"127.0.0.1:7711"}, Connections: 50,
		Pipeline: pipeline, BodySize: 24, Queues: 1, Ops: 1000, Commands: 1000,
		Elapsed: time.Second, Latency: NewHistogram(), PerCommand: map[string]*Histogram{},
		SampleEvery: 100 * time.Millisecond, Series: []float64{900, 1000, 1100, 1000},
		ServerPID: 42, ServerCPU: 50 * time.Millisecond,
	}
	for i := uint64(1); i <= 1000; i++ {
		r.Latency.Record(i * scale)
	}
	r.PerCommand["ADDJOB"] = r.Latency
	return r
}

func TestWriteJSONShape(t *testing.T) {
	var buf bytes.Buffer
	results := []*Result{fakeResult(ScenarioAddJob, "godisque", 1, 1000), fakeResult(ScenarioLPush, "redis", 1, 500)}
	cmp := []ComparisonJSON{{Name: "ADDJOB vs LPUSH", Pipeline: 1, Ours: 1000, Redis: 1000, Ratio: 1}}
	mem := []MemResult{{Target: "godisque", BodySize: 24, Jobs: 10, HeapPerJob: 250}}
	if err := WriteJSON(&buf, time.Unix(0, 0), results, cmp, mem); err != nil {
		t.Fatal(err)
	}
	// Decode generically: the shape is what machines rely on.
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	if doc["tool"] != "disque-bench" || doc["started"] == nil {
		t.Errorf("header: %v", doc)
	}
	rs, _ := doc["results"].([]any)
	if len(rs) != 2 {
		t.Fatalf("results: %v", doc["results"])
	}
	r0 := rs[0].(map[string]any)
	for _, k := range []string{"scenario", "target", "addrs", "connections", "pipeline", "body_size", "queues",
		"ops", "commands", "errors", "empty", "elapsed_s", "ops_per_sec", "latency_us",
		"per_command_latency_us", "series", "server"} {
		if _, ok := r0[k]; !ok {
			t.Errorf("result has no %q: %v", k, r0)
		}
	}
	lat := r0["latency_us"].(map[string]any)
	for _, k := range []string{"count", "min", "mean", "p50", "p90", "p99", "p99_9", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency_us has no %q", k)
		}
	}
	if p50 := lat["p50"].(float64); p50 < 500 || p50 > 505 { // 500 µs, within a bucket
		t.Errorf("p50 = %v µs, want about 500", p50)
	}
	if r0["ops_per_sec"].(float64) != 1000 {
		t.Errorf("ops_per_sec %v", r0["ops_per_sec"])
	}
	series := r0["series"].(map[string]any)
	if series["step_s"].(float64) != 0.1 || len(series["ops_per_sec"].([]any)) != 4 {
		t.Errorf("series %v", series)
	}
	if srv := r0["server"].(map[string]any); srv["cpu_per_op_us"].(float64) != 50 {
		t.Errorf("server %v", srv)
	}
	if c := doc["comparisons"].([]any); len(c) != 1 || c[0].(map[string]any)["ratio_to_redis"].(float64) != 1 {
		t.Errorf("comparisons %v", doc["comparisons"])
	}
	if m := doc["memory"].([]any); len(m) != 1 || m[0].(map[string]any)["heap_bytes_per_job"].(float64) != 250 {
		t.Errorf("memory %v", doc["memory"])
	}

	// Without comparisons and memory those keys are left out.
	buf.Reset()
	_ = WriteJSON(&buf, time.Now(), nil, nil, nil)
	if strings.Contains(buf.String(), "comparisons") || !strings.Contains(buf.String(), `"results": []`) {
		t.Errorf("empty report: %s", buf.String())
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	r := fakeResult(ScenarioLifecycle, "godisque", 16, 1000)
	r.PerCommand["ACKJOB"] = r.Latency
	r.Errors, r.FirstError = 3, "NOREPL boom"
	if err := WriteTable(&buf, []*Result{r}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"ops/s", "p99.9", "lifecycle", "godisque", "1,000", "ACKJOB", "ADDJOB", "NOREPL boom", "50µs"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestFormat(t *testing.T) {
	for ns, want := range map[uint64]string{999: "999ns", 1500: "2µs", 999_000: "999µs", 1_234_000: "1.23ms", 12_340_000: "12.3ms"} {
		if got := FormatLatency(ns); got != want {
			t.Errorf("FormatLatency(%d) = %q, want %q", ns, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567"} {
		if got := FormatRate(v); got != want {
			t.Errorf("FormatRate(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestWriteSVG checks the plot is well-formed XML with both panels and a
// line per result in each.
func TestWriteSVG(t *testing.T) {
	results := []*Result{
		fakeResult(ScenarioAddJob, "godisque", 1, 1000),
		fakeResult(ScenarioLPush, "redis <&>", 16, 300),
	}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, `bench "title" & more`, results); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	counts := map[string]int{}
	var texts []string
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("invalid XML: %v\n%s", err, buf.String())
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			counts[tok.Name.Local]++
			inText = tok.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(tok))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if counts["svg"] != 1 || counts["polyline"] != 4 {
		t.Errorf("elements %v: want one svg and 2 series x 2 panels polylines", counts)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"Throughput over time", "Latency by percentile", "operations per second",
		"percentile", "godisque addjob P1", "redis <&> lpush P16", `bench "title" & more`, "99%", "99.9%"} {
		if !strings.Contains(all, want) {
			t.Errorf("plot text lacks %q: %s", want, all)
		}
	}
	// An empty plot is still a valid document.
	buf.Reset()
	if err := WriteSVG(&buf, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(buf.Bytes(), new(struct{})); err != nil {
		t.Errorf("empty plot: %v", err)
	}
}
