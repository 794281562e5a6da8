package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHistogramPercentiles checks every percentile against the sorted
// values: never below the true value of that rank, and above it by at most
// the bucket precision (1/128).
func TestHistogramPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func() uint64
	}{
		{"small exact", func() uint64 { return uint64(rng.IntN(256)) }},
		{"log-normal latencies", func() uint64 { return uint64(math.Exp(rng.NormFloat64()*1.5 + 12)) }},
		{"uniform wide", func() uint64 { return rng.Uint64N(1 << 40) }},
		{"constant", func() uint64 { return 123456 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistogram()
			vals := make([]uint64, 20000)
			for i := range vals {
				vals[i] = tc.gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1} {
				rank := max(1, int(math.Ceil(q*float64(len(vals)))))
				want := vals[rank-1]
				got := h.Quantile(q)
				if got < want || float64(got) > float64(want)*(1+1.0/128)+1 {
					t.Errorf("q=%v: got %d, want %d (within 1/128 above)", q, got, want)
				}
			}
			if h.Count() != uint64(len(vals)) || h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
				t.Errorf("count/min/max = %d/%d/%d, want %d/%d/%d",
					h.Count(), h.Min(), h.Max(), len(vals), vals[0], vals[len(vals)-1])
			}
			var sum float64
			for _, v := range vals {
				sum += float64(v)
			}
			if m := h.Mean(); math.Abs(m-sum/float64(len(vals))) > 1e-6*m+1e-9 {
				t.Errorf("mean %v, want %v", m, sum/float64(len(vals)))
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	// Every bucket's highest value maps back to it, and the next value to
	// the next bucket: the buckets tile the uint64 range.
	for i := 0; i < histNumBuckets-1; i++ {
		hi := histBucketHigh(i)
		if histBucket(hi) != i || histBucket(hi+1) != i+1 {
			t.Fatalf("bucket %d: high %d maps to %d, high+1 to %d", i, hi, histBucket(hi), histBucket(hi+1))
		}
	}
	if histBucket(math.MaxUint64) != histNumBuckets-1 || histBucketHigh(histNumBuckets-1) != math.MaxUint64 {
		t.Fatal("the last bucket does not end at MaxUint64")
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	e := NewHistogram()
	if e.Quantile(0.5) != 0 || e.Min() != 0 || e.Max() != 0 || e.Mean() != 0 || len(e.Curve(5)) != 0 {
		t.Fatal("an empty histogram reports non-zero values")
	}
	a, b, all := NewHistogram(), NewHistogram(), NewHistogram()
	for i := uint64(1); i <= 1000; i++ {
		if i%2 == 0 {
			a.Record(i * 1000)
		} else {
			b.Record(i * 1000)
		}
		all.Record(i * 1000)
	}
	a.Merge(b)
	a.Merge(nil)
	a.Merge(NewHistogram())
	for _, p := range []float64{1, 50, 99, 99.9, 100} {
		if a.Percentile(p) != all.Percentile(p) {
			t.Errorf("p%v: merged %d, direct %d", p, a.Percentile(p), all.Percentile(p))
		}
	}
	if a.Count() != 1000 || a.Min() != 1000 || a.Max() != 1_000_000 {
		t.Errorf("merged count/min/max %d/%d/%d", a.Count(), a.Min(), a.Max())
	}
	curve := a.Curve(10)
	for i := 1; i < len(curve); i++ {
		if curve[i].Percentile < curve[i-1].Percentile || curve[i].Value < curve[i-1].Value {
			t.Fatalf("curve not monotonic at %d: %+v then %+v", i, curve[i-1], curve[i])
		}
	}
	if last := curve[len(curve)-1]; last.Percentile != 100 || last.Value != a.Max() {
		t.Errorf("curve ends at %+v, want p100 = max", last)
	}
	a.Reset()
	if a.Count() != 0 || a.Max() != 0 {
		t.Error("Reset left values")
	}
	a.RecordDuration(-5)
	if a.Max() != 0 || a.Count() != 1 {
		t.Error("a negative duration is not recorded as 0")
	}
}
