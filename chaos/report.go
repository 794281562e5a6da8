package chaos

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/godisque/godisque/bench"
)

// --------------------------------- The report ---------------------------------
//
// WriteHTML writes one self-contained page (no script, no font, no file
// beside it) that a person opens to see a run: the verdict and the text
// summary, then one SVG drawn by hand with three panels on the run's time
// axis, and tables of the faults, latencies, and lost and duplicated jobs.
// The panels:
//
//   - faults: one row per node, a bar for every fault that hit it, coloured
//     by nemesis (a partition hits every node; hover a bar for its detail);
//   - throughput: operations completed per second, by kind and outcome,
//     with the fault intervals shaded behind, the end of the workload
//     marked, lost jobs as red triangles at their ADDJOB and extra
//     deliveries of duplicated jobs as orange ticks, under the axis;
//   - latency: every completed operation (sampled beyond a few thousand of
//     a kind) at its completion time, on a log scale, failed ones red and
//     unknown ones black.
//
// WriteSVG writes the same picture alone, for a README.

// ReportData is what a report shows.
type ReportData struct {
	Title   string
	Summary string // the text summary, shown as is
	History History
	Report  Report
	Nodes   []NodeInfo // the rows of the fault panel; nil: from the history
	// WorkloadEnd marks where the clients stopped and the heal began; 0
	// leaves it unmarked.
	WorkloadEnd time.Duration
}

// Fault colours, by nemesis.
var faultColor = map[string]string{
	Kill: "#d62728", Pause: "#9467bd", Partition: "#ff7f0e", Loss: "#8c564b",
	Delay: "#17becf", Dup: "#e377c2", Skew: "#bcbd22",
}

func colorOf(kind string) string {
	if c, ok := faultColor[kind]; ok {
		return c
	}
	return "#7f7f7f"
}

// Geometry of the picture.
const (
	repWidth  = 1100
	repLeft   = 90.0
	repRight  = 880.0
	repLegend = 895.0
)

// WriteSVG writes the report's picture as a standalone SVG file.
func WriteSVG(w io.Writer, d ReportData) error {
	_, err := io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+renderSVG(d))
	return err
}

// WriteHTML writes the report page.
func WriteHTML(w io.Writer, d ReportData) error {
	var b strings.Builder
	esc := bench.EscapeXML
	verdict, vclass := "VALID", "ok"
	if !d.Report.Valid {
		verdict, vclass = "INVALID", "bad"
	}
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body{font-family:sans-serif;margin:24px;color:#222;max-width:1140px}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:bold}
.ok{background:#2ca02c}.bad{background:#d62728}
pre{background:#f6f6f6;padding:10px;overflow-x:auto;font-size:12px}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
th{background:#eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
</style></head><body>
<h1>%s</h1>
<p><span class="verdict %s">%s</span> lost %d (%d excused), duplicated %d (%.2f%%), unexpected %d, recovered %d</p>
`, esc(d.Title), esc(d.Title), vclass, verdict, len(d.Report.Lost), len(d.Report.Excused),
		len(d.Report.Duplicated), 100*d.Report.DuplicateRate(), len(d.Report.Unexpected), len(d.Report.Recovered))
	b.WriteString(renderSVG(d))
	fmt.Fprintf(&b, "<h2>Summary</h2>\n<pre>%s</pre>\n", esc(d.Summary))

	// Latency.
	b.WriteString("<h2>Latency of completed operations</h2>\n<table><tr><th>operation</th><th>count</th>" +
		"<th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>\n")
	for _, k := range []Kind{Enqueue, Dequeue, Ack} {
		p, ok := d.Report.Latency[k]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td class=n>%d</td><td class=n>%v</td><td class=n>%v</td>"+
			"<td class=n>%v</td><td class=n>%v</td><td class=n>%v</td></tr>\n",
			k, p.Count, round(p.P50), round(p.P90), round(p.P99), round(p.P999), round(p.Max))
	}
	b.WriteString("</table>\n")

	// Faults.
	b.WriteString("<h2>Faults</h2>\n<table><tr><th>from</th><th>to</th><th>nemesis</th><th>what</th><th>nodes</th><th>outcome</th></tr>\n")
	for _, op := range d.History {
		if op.Kind != Nemesis {
			continue
		}
		out := string(op.Outcome)
		if op.MemoryLost {
			out += ", memory lost"
		}
		if op.Error != "" {
			out += ": " + op.Error
		}
		fmt.Fprintf(&b, "<tr><td class=n>%.1fs</td><td class=n>%.1fs</td><td><span class=swatch style=\"background:%s\"></span>%s</td>"+
			"<td>%s</td><td>%s</td><td>%s</td></tr>\n",
			op.Start.Seconds(), op.End.Seconds(), colorOf(op.Fault), esc(op.Fault), esc(op.Detail),
			esc(strings.ReplaceAll(op.Node, ",", " ")), esc(out))
	}
	b.WriteString("</table>\n")

	// Lost and duplicated jobs.
	if len(d.Report.Lost) > 0 {
		b.WriteString("<h2>Lost jobs</h2>\n<pre>")
		for _, line := range LostEvidence(d.History, d.Report) {
			b.WriteString(esc(line) + "\n")
		}
		if len(d.Report.Lost) > 20 {
			fmt.Fprintf(&b, "... and %d more: %s\n", len(d.Report.Lost)-20, esc(strings.Join(d.Report.Lost[20:], " ")))
		}
		if len(d.Report.Excused) > 0 {
			fmt.Fprintf(&b, "excused (as many nodes as held them lost their memory): %s\n", esc(strings.Join(d.Report.Excused, " ")))
		}
		b.WriteString("</pre>\n")
	}
	if len(d.Report.Duplicated) > 0 {
		vals := make([]string, 0, len(d.Report.Duplicated))
		for v := range d.Report.Duplicated {
			vals = append(vals, v)
		}
		sort.Strings(vals)
		fmt.Fprintf(&b, "<h2>Duplicated jobs (%d)</h2>\n<pre>", len(vals))
		for i, v := range vals {
			if i == 200 {
				fmt.Fprintf(&b, "... and %d more\n", len(vals)-200)
				break
			}
			fmt.Fprintf(&b, "%s delivered %d times\n", esc(v), d.Report.Duplicated[v])
		}
		b.WriteString("</pre>\n")
	}
	if len(d.Report.Unexpected) > 0 {
		fmt.Fprintf(&b, "<h2>Unexpected values</h2>\n<pre>%s</pre>\n", esc(strings.Join(d.Report.Unexpected, " ")))
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// svgBuf is the picture being drawn.
type svgBuf struct{ b strings.Builder }

func (s *svgBuf) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svgBuf) text(x, y float64, anchor, class, text string) {
	s.f(`<text x="%.1f" y="%.1f" text-anchor="%s" class="%s">%s</text>`+"\n", x, y, anchor, class, bench.EscapeXML(text))
}

// timeAxis maps run offsets to x.
type timeAxis struct{ end float64 } // seconds

func (a timeAxis) x(d time.Duration) float64 {
	return repLeft + d.Seconds()/a.end*(repRight-repLeft)
}

func renderSVG(d ReportData) string {
	var end time.Duration
	for _, op := range d.History {
		end = max(end, op.End)
	}
	ax := timeAxis{end: math.Max(end.Seconds(), 1)}
	step := bench.NiceStep(ax.end, 10)
	ax.end = math.Ceil(ax.end/step) * step

	nodes := reportNodes(d)
	rowH := 18.0
	faultTop := 70.0
	faultBot := faultTop + rowH*float64(max(len(nodes), 1))
	thrTop := faultBot + 70
	thrBot := thrTop + 240
	latTop := thrBot + 90
	latBot := latTop + 240
	height := latBot + 60

	s := &svgBuf{}
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%.0f" viewBox="0 0 %d %.0f">`+"\n",
		repWidth, height, repWidth, height)
	s.f(`<style>text{font-family:sans-serif;font-size:12px;fill:#222}.title{font-size:15px;font-weight:bold}` +
		`.tick{font-size:11px;fill:#444}.grid{stroke:#e4e4e4;stroke-width:1}.frame{stroke:#444;fill:none}</style>` + "\n")
	s.f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	s.text(repWidth/2, 26, "middle", "title", d.Title)
	verdict := "VALID"
	if !d.Report.Valid {
		verdict = "INVALID"
	}
	s.text(repWidth/2, 46, "middle", "", fmt.Sprintf("%s: %d enqueued (%d acknowledged), %d dequeued, lost %d, duplicated %d (%.2f%%), unexpected %d",
		verdict, d.Report.Enqueues, d.Report.EnqueuesOK, d.Report.Dequeued, len(d.Report.Lost), len(d.Report.Duplicated),
		100*d.Report.DuplicateRate(), len(d.Report.Unexpected)))

	s.faultPanel(d, ax, nodes, faultTop, rowH)
	s.throughputPanel(d, ax, step, thrTop, thrBot)
	s.latencyPanel(d, ax, step, latTop, latBot)
	s.f("</svg>\n")
	return s.b.String()
}

// reportNodes are the rows of the fault panel: the run's nodes, else the
// history's Member ops, else the addresses the history names.
func reportNodes(d ReportData) []NodeInfo {
	if len(d.Nodes) > 0 {
		return d.Nodes
	}
	var members []NodeInfo
	for _, op := range d.History {
		if op.Kind == Member {
			name, id, _ := strings.Cut(op.Detail, " ")
			members = append(members, NodeInfo{Name: name, Addr: op.Node, ID: id})
		}
	}
	if len(members) > 0 {
		return members
	}
	seen := map[string]bool{}
	var addrs []string
	for _, op := range d.History {
		for _, a := range op.Nodes() {
			if !seen[a] {
				seen[a] = true
				addrs = append(addrs, a)
			}
		}
	}
	slices.Sort(addrs)
	out := make([]NodeInfo, len(addrs))
	for i, a := range addrs {
		out[i] = NodeInfo{Name: a, Addr: a}
	}
	return out
}

// shade draws the fault intervals behind a panel.
func (s *svgBuf) shade(d ReportData, ax timeAxis, top, bot float64) {
	for _, op := range d.History {
		if op.Kind != Nemesis {
			continue
		}
		x0, x1 := ax.x(op.Start), ax.x(op.End)
		s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.13"><title>%s</title></rect>`+"\n",
			x0, top, math.Max(x1-x0, 1), bot-top, colorOf(op.Fault), bench.EscapeXML(op.Detail))
	}
	if d.WorkloadEnd > 0 {
		x := ax.x(d.WorkloadEnd)
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444" stroke-dasharray="4,3"/>`+"\n", x, top, x, bot)
		s.text(x+4, top+12, "start", "tick", "heal, drain")
	}
}

// timeTicks draws the time axis under a panel.
func (s *svgBuf) timeTicks(ax timeAxis, step, top, bot float64) {
	for t := 0.0; t <= ax.end+step/2; t += step {
		x := ax.x(time.Duration(t * float64(time.Second)))
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/>`+"\n", x, top, x, bot)
		s.text(x, bot+15, "middle", "tick", bench.TrimFloat(t)+"s")
	}
}

func (s *svgBuf) legendEntry(y float64, color, label string, line bool) {
	if line {
		s.f(`<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", repLegend, y, repLegend+22, y, color)
	} else {
		s.f(`<rect x="%.0f" y="%.1f" width="14" height="10" fill="%s" fill-opacity="0.6"/>`+"\n", repLegend, y-5, color)
	}
	s.text(repLegend+28, y+4, "start", "", label)
}

func (s *svgBuf) faultPanel(d ReportData, ax timeAxis, nodes []NodeInfo, top, rowH float64) {
	bot := top + rowH*float64(max(len(nodes), 1))
	s.text(repLeft, top-8, "start", "title", "Faults")
	row := map[string]int{}
	for i, n := range nodes {
		row[n.Addr] = i
		y := top + rowH*float64(i)
		if i%2 == 1 {
			s.f(`<rect x="%.0f" y="%.1f" width="%.0f" height="%.1f" fill="#f4f4f4"/>`+"\n", repLeft, y, repRight-repLeft, rowH)
		}
		s.text(repLeft-6, y+rowH-5, "end", "tick", n.Name)
	}
	// Faults that overlap on a node share its row in lanes, so that a
	// kill under a partition stays visible.
	type bar struct {
		op   Op
		lane int
	}
	bars := make([][]bar, len(nodes))
	kinds := map[string]bool{}
	for _, op := range d.History {
		if op.Kind != Nemesis {
			continue
		}
		kinds[op.Fault] = true
		for _, a := range op.Nodes() {
			i, ok := row[a]
			if !ok {
				continue
			}
			lane := 0
			for taken := true; taken; {
				taken = false
				for _, b := range bars[i] {
					if b.lane == lane && b.op.Start < op.End && op.Start < b.op.End {
						taken = true
						lane++
						break
					}
				}
			}
			bars[i] = append(bars[i], bar{op, lane})
		}
	}
	for i, bs := range bars {
		for _, b := range bs {
			lanes := b.lane + 1 // as many as the bars it overlaps use
			for _, o := range bs {
				if o.op.Start < b.op.End && b.op.Start < o.op.End {
					lanes = max(lanes, o.lane+1)
				}
			}
			h := (rowH - 4) / float64(lanes)
			x0, x1 := ax.x(b.op.Start), ax.x(b.op.End)
			y := top + rowH*float64(i) + 2 + h*float64(b.lane)
			s.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.8"><title>%.1fs-%.1fs %s</title></rect>`+"\n",
				x0, y, math.Max(x1-x0, 2), h-0.5, colorOf(b.op.Fault), b.op.Start.Seconds(), b.op.End.Seconds(), bench.EscapeXML(b.op.Detail))
		}
	}
	s.f(`<rect x="%.0f" y="%.1f" width="%.0f" height="%.1f" class="frame"/>`+"\n", repLeft, top, repRight-repLeft, bot-top)
	y := top + 6
	for _, k := range Kinds {
		if kinds[k] {
			s.legendEntry(y, colorOf(k), k, false)
			y += 16
		}
	}
	if len(kinds) == 0 {
		s.text(repLeft+8, top+rowH-5, "start", "tick", "no faults")
	}
}

// series of the throughput panel.
type series struct {
	label, color string
	match        func(op Op) bool
}

var throughputSeries = []series{
	{"enqueue ok", "#1f77b4", func(op Op) bool { return op.Kind == Enqueue && op.Outcome == OK }},
	{"enqueue failed", "#d62728", func(op Op) bool { return op.Kind == Enqueue && op.Outcome == Fail }},
	{"enqueue unknown", "#111111", func(op Op) bool { return op.Kind == Enqueue && op.Outcome == Unknown }},
	{"dequeue ok (a job)", "#2ca02c", func(op Op) bool { return op.Kind == Dequeue && op.Outcome == OK && op.Value != "" }},
	{"dequeue failed/unknown", "#9467bd", func(op Op) bool { return op.Kind == Dequeue && op.Outcome != OK }},
	{"ack ok", "#aaaaaa", func(op Op) bool { return op.Kind == Ack && op.Outcome == OK }},
}

func (s *svgBuf) throughputPanel(d ReportData, ax timeAxis, step, top, bot float64) {
	s.text(repLeft, top-8, "start", "title", "Operations completed per second")
	bucket := math.Max(1, math.Ceil(ax.end/150)) // seconds
	n := int(math.Ceil(ax.end/bucket)) + 1
	counts := make([][]float64, len(throughputSeries))
	for i := range counts {
		counts[i] = make([]float64, n)
	}
	for _, op := range d.History {
		if op.Kind != Enqueue && op.Kind != Dequeue && op.Kind != Ack {
			continue
		}
		b := min(int(op.End.Seconds()/bucket), n-1)
		for i, se := range throughputSeries {
			if se.match(op) {
				counts[i][b] += 1 / bucket
			}
		}
	}
	maxY := 1.0
	for _, c := range counts {
		for _, v := range c {
			maxY = math.Max(maxY, v)
		}
	}
	yStep := bench.NiceStep(maxY, 5)
	maxY = math.Ceil(maxY*1.05/yStep) * yStep
	py := func(v float64) float64 { return bot - v/maxY*(bot-top) }
	s.shade(d, ax, top, bot)
	for v := 0.0; v <= maxY+yStep/2; v += yStep {
		s.f(`<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" class="grid"/>`+"\n", repLeft, py(v), repRight, py(v))
		s.text(repLeft-6, py(v)+4, "end", "tick", bench.ShortNumber(v))
	}
	s.timeTicks(ax, step, top, bot)
	for i, se := range throughputSeries {
		var pts strings.Builder
		for b, v := range counts[i] {
			fmt.Fprintf(&pts, "%.1f,%.1f ", ax.x(time.Duration((float64(b)+0.5)*bucket*float64(time.Second))), py(v))
		}
		s.f(`<polyline fill="none" stroke="%s" stroke-width="1.6" points="%s"/>`+"\n", se.color, strings.TrimSpace(pts.String()))
		s.legendEntry(top+6+float64(i)*16, se.color, se.label, true)
	}
	s.f(`<rect x="%.0f" y="%.1f" width="%.0f" height="%.1f" class="frame"/>`+"\n", repLeft, top, repRight-repLeft, bot-top)
	s.text((repLeft+repRight)/2, bot+34, "middle", "", "seconds into the run")

	// Lost jobs at their ADDJOB, extra deliveries of duplicated ones.
	lost := map[string]bool{}
	for _, v := range d.Report.Lost {
		lost[v] = true
	}
	delivered := map[string]int{}
	marks := 0
	for _, op := range d.History {
		switch {
		case op.Kind == Enqueue && op.Outcome == OK && lost[op.Value] && marks < 1000:
			x := ax.x(op.Start)
			s.f(`<path d="M%.1f %.1f l-5 9 h10 z" fill="#d62728"><title>lost %s (%s) at %.2fs</title></path>`+"\n",
				x, bot+1, bench.EscapeXML(op.Value), bench.EscapeXML(op.JobID), op.Start.Seconds())
			marks++
		case op.Kind == Dequeue && op.Outcome == OK && op.Value != "" && d.Report.Duplicated[op.Value] > 0:
			delivered[op.Value]++
			if delivered[op.Value] > 1 && marks < 1000 {
				x := ax.x(op.End)
				s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ff7f0e" stroke-width="1.5"><title>%s delivered again at %.2fs</title></line>`+"\n",
					x, bot-8, x, bot, bench.EscapeXML(op.Value), op.End.Seconds())
				marks++
			}
		}
	}
	y := top + 6 + float64(len(throughputSeries))*16 + 8
	s.f(`<path d="M%.0f %.1f l-5 9 h10 z" fill="#d62728"/>`+"\n", repLegend+11, y-5)
	s.text(repLegend+28, y+4, "start", "", fmt.Sprintf("lost job (%d)", len(d.Report.Lost)))
	y += 16
	s.f(`<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ff7f0e" stroke-width="2"/>`+"\n", repLegend+11, y-5, repLegend+11, y+5)
	s.text(repLegend+28, y+4, "start", "", fmt.Sprintf("duplicate delivery (%d jobs)", len(d.Report.Duplicated)))
}

func (s *svgBuf) latencyPanel(d ReportData, ax timeAxis, step, top, bot float64) {
	s.text(repLeft, top-8, "start", "title", "Latency of each operation (log scale)")
	colors := map[Kind]string{Enqueue: "#1f77b4", Dequeue: "#2ca02c", Ack: "#999999"}
	type pt struct {
		t, lat time.Duration
		color  string
		cross  bool
	}
	byKind := map[Kind][]pt{}
	minV, maxV := time.Duration(math.MaxInt64), time.Duration(0)
	for _, op := range d.History {
		if op.Kind != Enqueue && op.Kind != Dequeue && op.Kind != Ack {
			continue
		}
		if op.Kind == Dequeue && op.Outcome == OK && op.Value == "" {
			continue // an empty GETJOB waits for its TIMEOUT
		}
		p := pt{t: op.End, lat: max(op.End-op.Start, time.Microsecond), color: colors[op.Kind]}
		switch op.Outcome {
		case Fail:
			p.color = "#d62728"
		case Unknown:
			p.color, p.cross = "#111111", true
		}
		byKind[op.Kind] = append(byKind[op.Kind], p)
		minV, maxV = min(minV, p.lat), max(maxV, p.lat)
	}
	if maxV == 0 {
		minV, maxV = time.Millisecond, time.Second
	}
	lo := math.Floor(math.Log10(float64(minV)))
	hi := math.Ceil(math.Log10(float64(maxV)))
	if hi <= lo {
		hi = lo + 1
	}
	py := func(v time.Duration) float64 {
		return bot - (math.Log10(float64(v))-lo)/(hi-lo)*(bot-top)
	}
	s.shade(d, ax, top, bot)
	for e := lo; e <= hi; e++ {
		y := bot - (e-lo)/(hi-lo)*(bot-top)
		s.f(`<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" class="grid"/>`+"\n", repLeft, y, repRight, y)
		s.text(repLeft-6, y+4, "end", "tick", bench.DecadeLabel(e))
	}
	s.timeTicks(ax, step, top, bot)
	// One path per colour, a dot per point (a zero-length segment with
	// round caps): a few bytes a point, so a long run stays a small file.
	const perKind = 4000
	dots := map[string]*strings.Builder{}
	crosses := map[string]*strings.Builder{}
	var order []string
	add := func(m map[string]*strings.Builder, color string) *strings.Builder {
		b := m[color]
		if b == nil {
			b = &strings.Builder{}
			m[color] = b
			order = append(order, color)
		}
		return b
	}
	for _, k := range []Kind{Ack, Dequeue, Enqueue} {
		pts := byKind[k]
		stride := max(1, (len(pts)+perKind-1)/perKind)
		for i, p := range pts {
			if i%stride != 0 && p.color == colors[k] {
				continue // sample the OK ones; keep every failure
			}
			x, y := ax.x(p.t), py(p.lat)
			if p.cross {
				fmt.Fprintf(add(crosses, p.color), "M%.1f %.1fl4 4m0-4l-4 4", x-2, y-2)
			} else {
				fmt.Fprintf(add(dots, p.color), "M%.1f %.1fh0", x, y)
			}
		}
	}
	for _, c := range order {
		if b := dots[c]; b != nil {
			s.f(`<path d="%s" stroke="%s" stroke-opacity="0.55" stroke-width="3.2" stroke-linecap="round" fill="none"/>`+"\n", b.String(), c)
		}
		if b := crosses[c]; b != nil {
			s.f(`<path d="%s" stroke="%s" stroke-width="1" fill="none"/>`+"\n", b.String(), c)
		}
	}
	s.f(`<rect x="%.0f" y="%.1f" width="%.0f" height="%.1f" class="frame"/>`+"\n", repLeft, top, repRight-repLeft, bot-top)
	s.text((repLeft+repRight)/2, bot+34, "middle", "", "seconds into the run (sampled to "+fmt.Sprint(perKind)+" points per kind; every failure shown)")
	y := top + 6
	for _, e := range []struct{ c, l string }{
		{colors[Enqueue], "enqueue ok"}, {colors[Dequeue], "dequeue ok"}, {colors[Ack], "ack ok"},
		{"#d62728", "failed"}, {"#111111", "unknown"},
	} {
		s.f(`<circle cx="%.0f" cy="%.1f" r="4" fill="%s"/>`+"\n", repLegend+11, y, e.c)
		s.text(repLegend+28, y+4, "start", "", e.l)
		y += 16
	}
}
