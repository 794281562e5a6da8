package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strings"
)

// -------------------------------- The SVG plot --------------------------------
//
// WriteSVG draws two panels, by hand, with no dependency: throughput over
// time (one line per result, operations per second against seconds into the
// measured phase) and the latency distribution (HDR style: latency against
// percentile, the percentile axis stretched towards the tail so that 90%,
// 99%, 99.9% ... are equally spaced; latency on a log scale so that a
// pipelined run and an unpipelined one fit together).

const (
	svgWidth   = 1100
	svgHeight  = 780
	plotLeft   = 100
	plotRight  = 800
	legendLeft = 820
	panel1Top  = 90
	panel1Bot  = 350
	panel2Top  = 450
	panel2Bot  = 710
)

var svgPalette = []string{
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
	"#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
}

// svgDashes tell apart series that share a colour once the palette wraps.
var svgDashes = []string{"", "8,4", "2,3"}

// svgStroke is the stroke attributes of series i.
func svgStroke(i int) string {
	attr := fmt.Sprintf(`stroke="%s"`, svgPalette[i%len(svgPalette)])
	if d := svgDashes[(i/len(svgPalette))%len(svgDashes)]; d != "" {
		attr += fmt.Sprintf(` stroke-dasharray="%s"`, d)
	}
	return attr
}

// seriesName is how a result is named in the legend.
func seriesName(r *Result) string {
	return fmt.Sprintf("%s %s P%d", r.Label, r.Scenario, r.Pipeline)
}

type svgWriter struct{ b bytes.Buffer }

func (s *svgWriter) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svgWriter) text(x, y float64, anchor, class, text string) {
	s.f(`<text x="%.1f" y="%.1f" text-anchor="%s" class="%s">%s</text>`+"\n", x, y, anchor, class, EscapeXML(text))
}

// EscapeXML escapes text for an SVG or HTML document.
func EscapeXML(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// WriteSVG writes the two-panel plot of results.
func WriteSVG(w io.Writer, title string, results []*Result) error {
	s := &svgWriter{}
	s.f(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n",
		svgWidth, svgHeight, svgWidth, svgHeight)
	s.f(`<style>text{font-family:sans-serif;font-size:12px;fill:#222}.title{font-size:16px;font-weight:bold}` +
		`.axis{font-size:13px}.tick{font-size:11px;fill:#444}.legend{font-size:12px}` +
		`.grid{stroke:#ddd;stroke-width:1}.frame{stroke:#444;fill:none}</style>` + "\n")
	s.f(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	s.text(svgWidth/2, 28, "middle", "title", title)
	s.throughputPanel(results)
	s.latencyPanel(results)
	s.f("</svg>\n")
	_, err := w.Write(s.b.Bytes())
	return err
}

// NiceStep is a 1, 2 or 5 times a power of ten step giving about n ticks.
// It and EscapeXML, TrimFloat, ShortNumber and DecadeLabel are exported for
// the other hand-drawn plots of the module (the chaos report).
func NiceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func (s *svgWriter) frame(top, bot float64, title, xLabel, yLabel string) {
	s.text((plotLeft+plotRight)/2, top-12, "middle", "title", title)
	s.f(`<rect x="%d" y="%.0f" width="%d" height="%.0f" class="frame"/>`+"\n", plotLeft, top, plotRight-plotLeft, bot-top)
	s.text((plotLeft+plotRight)/2, bot+40, "middle", "axis", xLabel)
	s.f(`<text transform="translate(%d %.1f) rotate(-90)" text-anchor="middle" class="axis">%s</text>`+"\n",
		plotLeft-70, (top+bot)/2, EscapeXML(yLabel))
}

func (s *svgWriter) legend(top float64, results []*Result) {
	for i, r := range results {
		y := top + 10 + float64(i)*20
		s.f(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" %s stroke-width="3"/>`+"\n",
			legendLeft, y, legendLeft+24, y, svgStroke(i))
		s.text(legendLeft+30, y+4, "start", "legend", seriesName(r))
	}
}

func (s *svgWriter) polyline(stroke string, pts [][2]float64) {
	if len(pts) == 0 {
		return
	}
	var b strings.Builder
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", p[0], p[1])
	}
	s.f(`<polyline fill="none" %s stroke-width="2" points="%s"/>`+"\n", stroke, b.String())
}

func (s *svgWriter) throughputPanel(results []*Result) {
	top, bot := float64(panel1Top), float64(panel1Bot)
	s.frame(top, bot, "Throughput over time", "seconds into the measured phase", "operations per second")
	maxT, maxY := 0.0, 0.0
	for _, r := range results {
		maxT = max(maxT, float64(len(r.Series))*r.SampleEvery.Seconds())
		for _, v := range r.Series {
			maxY = max(maxY, v)
		}
	}
	if maxT == 0 {
		maxT = 1
	}
	if maxY == 0 {
		maxY = 1
	}
	yStep := NiceStep(maxY, 5)
	maxY = math.Ceil(maxY*1.05/yStep) * yStep
	xStep := NiceStep(maxT, 8)
	maxT = math.Ceil(maxT/xStep) * xStep
	px := func(t float64) float64 { return plotLeft + t/maxT*(plotRight-plotLeft) }
	py := func(v float64) float64 { return bot - v/maxY*(bot-top) }
	for v := 0.0; v <= maxY+yStep/2; v += yStep {
		s.f(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>`+"\n", plotLeft, py(v), plotRight, py(v))
		s.text(plotLeft-6, py(v)+4, "end", "tick", ShortNumber(v))
	}
	for t := 0.0; t <= maxT+xStep/2; t += xStep {
		s.text(px(t), bot+16, "middle", "tick", TrimFloat(t)+"s")
	}
	for i, r := range results {
		var pts [][2]float64
		step := r.SampleEvery.Seconds()
		for j, v := range r.Series {
			pts = append(pts, [2]float64{px(float64(j+1) * step), py(v)})
		}
		s.polyline(svgStroke(i), pts)
	}
	s.legend(top, results)
}

// tailX maps a percentile to the stretched axis: log10(1/(1-p)).
func tailX(p float64) float64 { return math.Log10(1 / (1 - p/100)) }

func (s *svgWriter) latencyPanel(results []*Result) {
	top, bot := float64(panel2Top), float64(panel2Bot)
	s.frame(top, bot, "Latency by percentile", "percentile", "latency (log scale)")
	type curve struct {
		pts    []CurvePoint
		stroke string
	}
	var curves []curve
	maxX, minV, maxV := 1.0, math.Inf(1), 0.0
	for i, r := range results {
		var pts []CurvePoint
		n := float64(r.Latency.Count())
		for _, c := range r.Latency.Curve(20) {
			// Past 1/n of the tail there is one value left: stop at the
			// last percentile the count can tell apart.
			if c.Percentile >= 100 || (100-c.Percentile)/100*n < 1 {
				continue
			}
			pts = append(pts, c)
		}
		if n > 0 {
			last := 100 * (1 - 1/n)
			pts = append(pts, CurvePoint{Percentile: last, Value: r.Latency.Max()})
		}
		for _, c := range pts {
			maxX = max(maxX, tailX(c.Percentile))
			v := math.Max(float64(c.Value), 1)
			minV, maxV = math.Min(minV, v), math.Max(maxV, v)
		}
		curves = append(curves, curve{pts, svgStroke(i)})
	}
	if maxV == 0 {
		minV, maxV = 1000, 1e6
	}
	lo := math.Floor(math.Log10(minV))
	hi := math.Ceil(math.Log10(maxV))
	if hi <= lo {
		hi = lo + 1
	}
	maxX = math.Ceil(maxX - 1e-9)
	px := func(p float64) float64 { return plotLeft + tailX(p)/maxX*(plotRight-plotLeft) }
	py := func(v float64) float64 {
		return bot - (math.Log10(math.Max(v, 1))-lo)/(hi-lo)*(bot-top)
	}
	for e := lo; e <= hi; e++ {
		v := math.Pow(10, e)
		s.f(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>`+"\n", plotLeft, py(v), plotRight, py(v))
		s.text(plotLeft-6, py(v)+4, "end", "tick", DecadeLabel(e))
	}
	for k := 0.0; k <= maxX; k++ {
		p := 100 * (1 - math.Pow(10, -k))
		x := plotLeft + k/maxX*(plotRight-plotLeft)
		s.f(`<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" class="grid"/>`+"\n", x, top, x, bot)
		s.text(x, bot+16, "middle", "tick", TrimFloat(p)+"%")
	}
	for _, c := range curves {
		var pts [][2]float64
		for _, p := range c.pts {
			pts = append(pts, [2]float64{px(p.Percentile), py(float64(p.Value))})
		}
		s.polyline(c.stroke, pts)
	}
	s.legend(top, results)
}

// TrimFloat prints v with at most four decimals and no trailing zeros.
func TrimFloat(v float64) string {
	s := fmt.Sprintf("%.4f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// ShortNumber prints 1500000 as 1.5M, 250000 as 250k.
func ShortNumber(v float64) string {
	switch {
	case v >= 1e6:
		return TrimFloat(v/1e6) + "M"
	case v >= 1e3:
		return TrimFloat(v/1e3) + "k"
	}
	return TrimFloat(v)
}

// DecadeLabel names 10^e nanoseconds: 1ns ... 100ns, 1µs ... 100µs, 1ms ...
func DecadeLabel(e float64) string {
	units := []string{"ns", "µs", "ms", "s"}
	k := int(e)
	if k < 0 {
		return TrimFloat(math.Pow(10, e)) + "ns"
	}
	u := min(k/3, len(units)-1)
	return TrimFloat(math.Pow(10, float64(k-3*u))) + units[u]
}
