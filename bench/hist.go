package bench

import (
	"math"
	"math/bits"
	"time"
)

// -------------------------------- The histogram -------------------------------
//
// Histogram is a log-linear latency histogram in the manner of HDR
// Histogram, small enough to keep one per connection and merge at the end.
// Values below 2^histSubBits (256 ns) have a bucket each; above that every
// power of two is cut into 128 equal buckets, so a bucket is never wider than
// 1/128 of its lower bound: a percentile read back is exact to within 0.8%,
// over the whole uint64 range, in 7,424 counters (58 KiB). Percentiles return
// the highest value of their bucket (HDR's "highest equivalent value"),
// clamped to the exact maximum recorded, so a percentile is never below the
// true value of that rank.
//
// A Histogram is not safe for concurrent use: each worker records into its
// own and the runner merges them.

const (
	histSubBits    = 8
	histSubCount   = 1 << histSubBits // exact buckets below this value
	histHalfCount  = histSubCount / 2 // buckets per power of two above it
	histNumBuckets = histSubCount + (64-histSubBits)*histHalfCount
)

// Histogram counts values, typically latencies in nanoseconds.
type Histogram struct {
	counts   [histNumBuckets]uint64
	n        uint64
	sum      float64
	min, max uint64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{min: math.MaxUint64} }

// histBucket is the index of the bucket holding v.
func histBucket(v uint64) int {
	if v < histSubCount {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits // >= 1
	m := v >> uint(e)                // in [histHalfCount, histSubCount)
	return histSubCount + (e-1)*histHalfCount + int(m-histHalfCount)
}

// histBucketHigh is the highest value bucket i holds.
func histBucketHigh(i int) uint64 {
	if i < histSubCount {
		return uint64(i)
	}
	i -= histSubCount
	e := uint(i/histHalfCount + 1)
	m := uint64(i%histHalfCount + histHalfCount)
	return (m+1)<<e - 1 // wraps to MaxUint64 for the last bucket, as it should
}

// Record adds one value.
func (h *Histogram) Record(v uint64) {
	h.counts[histBucket(v)]++
	h.n++
	h.sum += float64(v)
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
}

// RecordDuration adds one duration (negative counts as 0), in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.Record(uint64(d))
}

// Merge adds every value of o.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Reset empties the histogram.
func (h *Histogram) Reset() { *h = Histogram{min: math.MaxUint64} }

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Min is the smallest value recorded, 0 when empty.
func (h *Histogram) Min() uint64 {
	if h.n == 0 {
		return 0
	}
	return h.min
}

// Max is the largest value recorded, exactly.
func (h *Histogram) Max() uint64 { return h.max }

// Mean is the exact mean, 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile is the value at quantile q in [0, 1]: the value of rank
// ceil(q*n) (at least 1) in sorted order, to within the bucket precision
// and never below it. It is 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(1, min(rank, h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return max(h.min, min(histBucketHigh(i), h.max))
		}
	}
	return h.max
}

// Percentile is Quantile(p/100).
func (h *Histogram) Percentile(p float64) uint64 { return h.Quantile(p / 100) }

// CurvePoint is one point of a latency distribution: the value at a
// percentile.
type CurvePoint struct {
	Percentile float64 `json:"percentile"`
	Value      uint64  `json:"value"`
}

// Curve samples the distribution at percentiles that crowd towards the tail
// (0, 50, 75, 87.5 ... up to 100 - 100/2^steps, then 100), the shape HDR
// histogram plots use.
func (h *Histogram) Curve(steps int) []CurvePoint {
	var out []CurvePoint
	if h.n == 0 {
		return out
	}
	for i := 0; i <= steps; i++ {
		p := 100 - 100/math.Pow(2, float64(i))
		for _, frac := range []float64{0, 0.5} { // two points per halving
			pp := p + frac*(100-p)/2
			if i == 0 && frac == 0 {
				pp = 0
			}
			out = append(out, CurvePoint{Percentile: pp, Value: h.Percentile(pp)})
		}
	}
	return append(out, CurvePoint{Percentile: 100, Value: h.max})
}
