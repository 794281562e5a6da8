package chaos

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// reportHistory is a small run: two faults, a lost job, a duplicated one,
// and a value that must be escaped.
func reportHistory() History {
	ms := time.Millisecond
	s := time.Second
	part := Fault{Kind: Partition, Shape: Isolate, Blocks: PlanPartition(Isolate, []int{1, 0, 2}), Start: 2 * s, End: 4 * s}
	return History{
		part.Op(),
		{Client: 0, Kind: Enqueue, Value: "0-1", JobID: "D-1", Node: "127.0.0.1:1", Replicate: 2, Start: 100 * ms, End: 102 * ms, Outcome: OK},
		{Client: 1, Kind: Enqueue, Value: "x<y&z", JobID: "D-2", Node: "127.0.0.1:2", Replicate: 2, Start: 1500 * ms, End: 1503 * ms, Outcome: OK},
		{Client: 1, Kind: Enqueue, Value: "1-2", Node: "127.0.0.1:2", Replicate: 2, Start: 2500 * ms, End: 3500 * ms, Outcome: Fail, Error: "NOREPL Timeout"},
		{Client: 2, Kind: Dequeue, Value: "0-1", JobID: "D-1", Node: "127.0.0.1:3", Start: 3 * s, End: 3*s + ms, Outcome: OK},
		{Client: 2, Kind: Ack, Value: "0-1", JobID: "D-1", Node: "127.0.0.1:3", Start: 3*s + ms, End: 3*s + 2*ms, Outcome: Unknown, Error: "timeout"},
		{Client: 2, Kind: Dequeue, Value: "0-1", JobID: "D-1", Node: "127.0.0.1:1", Start: 5 * s, End: 5*s + ms, Outcome: OK},
		{Client: -1, Kind: Nemesis, Fault: Partition, Detail: part.Describe(), Node: "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", Start: 2 * s, End: 4 * s, Outcome: OK},
		{Client: -1, Kind: Nemesis, Fault: Kill, Detail: "kill -9 n3", Node: "127.0.0.1:3", Start: 6 * s, End: 7 * s, Outcome: OK, MemoryLost: true},
	}
}

func reportData() ReportData {
	h := reportHistory()
	r := Check(h, CheckOptions{})
	return ReportData{Title: "a run <with> a title", Summary: r.String(), History: h, Report: r,
		Nodes:       []NodeInfo{{"n1", "127.0.0.1:1", "id1"}, {"n2", "127.0.0.1:2", "id2"}, {"n3", "127.0.0.1:3", "id3"}},
		WorkloadEnd: 8 * time.Second}
}

// wellFormed parses s as XML to the end.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
	}
}

func TestWriteHTMLIsOneSelfContainedPage(t *testing.T) {
	d := reportData()
	if d.Report.Valid || len(d.Report.Lost) != 1 || len(d.Report.Duplicated) != 1 {
		t.Fatalf("the fixture should lose x<y&z and duplicate 0-1: %s", d.Report)
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, d); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.HasSuffix(page, "</html>\n") {
		t.Fatalf("not an HTML document: %.80q ... %q", page, page[len(page)-20:])
	}
	// Nothing to fetch: no script, no stylesheet or font or image elsewhere.
	for _, banned := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "src=", "href="} {
		if strings.Contains(strings.ToLower(page), banned) {
			t.Errorf("the page contains %q", banned)
		}
	}
	if strings.Count(page, "<svg") != 1 || strings.Count(page, "</svg>") != 1 {
		t.Fatalf("want exactly one inline svg element")
	}
	svg := page[strings.Index(page, "<svg") : strings.Index(page, "</svg>")+len("</svg>")]
	wellFormed(t, svg)
	// Escaped everywhere: the value and the title never appear raw.
	if strings.Contains(page, "x<y&z") || strings.Contains(page, "<with>") {
		t.Error("a value or the title went into the page unescaped")
	}
	for _, want := range []string{
		"INVALID", "lost 1 (0 excused)",
		// The fault intervals: shaded behind the panels, and in the table.
		"<title>partition isolate: n1 n3 | n2</title>", "<title>kill -9 n3</title>", "memory lost",
		// The lost job marked at its ADDJOB, the duplicate at its second delivery.
		"<title>lost x&lt;y&amp;z (D-2) at 1.50s</title>", "<title>0-1 delivered again at 5.00s</title>",
		"lost x&lt;y&amp;z: job D-2, ADDJOB on 127.0.0.1:2",
		"0-1 delivered 2 times",
		// Latency table and panel.
		"<td>enqueue</td>", "Latency of each operation",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestWriteSVGStandsAlone(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSVG(&buf, reportData()); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if !strings.HasPrefix(s, `<?xml version="1.0" encoding="UTF-8"?>`) || !strings.Contains(s, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Fatalf("not a standalone SVG: %.120q", s)
	}
	wellFormed(t, s)
	// Each node has its row; the kill is drawn on n3's only.
	for _, want := range []string{">n1</text>", ">n2</text>", ">n3</text>", "kill -9 n3"} {
		if !strings.Contains(s, want) {
			t.Errorf("the picture lacks %q", want)
		}
	}
	// No faults, no history: still a picture.
	buf.Reset()
	if err := WriteSVG(&buf, ReportData{Title: "empty", Report: Check(nil, CheckOptions{})}); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, buf.String())
	if !strings.Contains(buf.String(), "no faults") {
		t.Error("an empty run's picture does not say there were no faults")
	}
}

func TestReportNodesFromTheHistory(t *testing.T) {
	d := reportData()
	d.Nodes = nil
	got := reportNodes(d)
	if len(got) != 3 || got[0].Addr != "127.0.0.1:1" || got[2].Name != "127.0.0.1:3" {
		t.Fatalf("nodes from the history: %+v", got)
	}
	// A run's history names its nodes.
	d.History = append(History{
		{Client: -1, Kind: Member, Node: "127.0.0.1:3", Detail: "n1 id3", Outcome: OK},
		{Client: -1, Kind: Member, Node: "127.0.0.1:1", Detail: "n2 id1", Outcome: OK},
	}, d.History...)
	got = reportNodes(d)
	if len(got) != 2 || got[0] != (NodeInfo{"n1", "127.0.0.1:3", "id3"}) || got[1].Name != "n2" {
		t.Fatalf("nodes from the Member ops: %+v", got)
	}
	if r := Check(d.History, CheckOptions{}); r.Ops[Member] != (Tally{}) {
		t.Fatalf("members counted as operations: %+v", r.Ops)
	}
}
