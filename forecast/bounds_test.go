package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func ptr(v float64) *float64 { return &v }

// allQuantiles returns the forecast's quantiles at a spread of levels.
func allQuantiles(f *Forecast) map[float64][]float64 {
	out := map[float64][]float64{}
	for _, q := range []float64{0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99} {
		out[q] = f.Quantile(q)
	}
	return out
}

// checkBounded fails if the mean, band or any quantile leaves [lo, hi] or
// the quantiles are out of order.
func checkBounded(t *testing.T, f *Forecast, lo, hi float64) {
	t.Helper()
	for h := range f.Mean {
		for name, v := range map[string]float64{"mean": f.Mean[h], "lower": f.Lower[h], "upper": f.Upper[h]} {
			if !(v >= lo && v <= hi) {
				t.Fatalf("%s model: step %d %s %v outside [%v, %v]", f.Model, h, name, v, lo, hi)
			}
		}
		if f.Lower[h] > f.Upper[h] {
			t.Fatalf("step %d: band [%v, %v] out of order", h, f.Lower[h], f.Upper[h])
		}
	}
	qs := allQuantiles(f)
	prev := math.Inf(-1)
	for _, q := range []float64{0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99} {
		for h, v := range qs[q] {
			if !(v >= lo && v <= hi) {
				t.Fatalf("%s model: quantile %v at step %d is %v, outside [%v, %v]", f.Model, q, h, v, lo, hi)
			}
		}
		if qs[q][0] < prev {
			t.Fatalf("quantile %v at step 0 is %v, below the previous quantile's %v", q, qs[q][0], prev)
		}
		prev = qs[q][0]
	}
}

// zeroInflated is a 5-minute series that is 0 most of the time, with
// bursts of log-normal size (up to about 1e9) on about share of the steps,
// ending in a small non-zero value as in the disk-write series.
func zeroInflated(n int, share float64, seed uint64) Series {
	r := rand.New(rand.NewPCG(seed, 3))
	s := Series{Times: make([]int64, n), Values: make([]float64, n)}
	for i := range n {
		s.Times[i] = 1_700_000_000 + int64(i)*300
		if r.Float64() < share {
			s.Values[i] = math.Exp(9 + 5*r.Float64()*r.Float64()*2)
		}
	}
	s.Values[n-1] = 12288
	return s
}

func TestZeroInflatedBursts(t *testing.T) {
	for _, share := range []float64{0.05, 0.2} {
		s := zeroInflated(4032, share, 7)
		hmax := 0.0
		for _, v := range s.Values[len(s.Values)-288:] {
			hmax = max(hmax, v)
		}
		for _, model := range []string{"auto", ModelETS, ModelRegression, ModelCombo} {
			f, err := Fit(s, Options{Horizon: 12, Model: model})
			if err != nil {
				t.Fatal(err)
			}
			checkBounded(t, f, 0, math.Inf(1))
			if f.Min != 0 {
				t.Errorf("%s: default lower bound %v, want 0 for a non-negative history", model, f.Min)
			}
			for h, v := range f.Mean {
				if v > hmax {
					t.Fatalf("%s (chose %s): mean %v at step %d above the last day's maximum %v: a burst extrapolated", model, f.Model, v, h, hmax)
				}
			}
			if model != "auto" {
				continue
			}
			if !f.Intermittent || f.Model != ModelRecent {
				t.Errorf("share %v: intermittent %v model %s, want an intermittent series forecast by %s", share, f.Intermittent, f.Model, ModelRecent)
			}
			for h, v := range f.Quantile(0.5) {
				if v != 0 {
					t.Fatalf("share %v: median at step %d is %v, want 0 (the history's median)", share, h, v)
				}
			}
			if up := f.Quantile(0.99); up[0] <= 0 && share >= 0.2 {
				t.Errorf("share %v: 0.99 quantile %v, want the bursts to show in the upper tail", share, up[0])
			}
		}
	}
}

func TestLevelShift(t *testing.T) {
	// A level of 10 for ten days, then 50 for the last day: the forecast
	// follows the new level and is neither pulled back to the old one
	// nor extrapolated as a trend beyond it.
	r := rand.New(rand.NewPCG(1, 2))
	n := 11 * 288
	s := Series{Times: make([]int64, n), Values: make([]float64, n)}
	for i := range n {
		s.Times[i] = 1_700_000_000 + int64(i)*300
		s.Values[i] = 10 + r.NormFloat64()
		if i >= 10*288 {
			s.Values[i] += 40
		}
	}
	f, err := Fit(s, Options{Horizon: 24})
	if err != nil {
		t.Fatal(err)
	}
	for h, v := range f.Mean {
		if v < 45 || v > 55 {
			t.Fatalf("%s: mean %v at step %d, want the new level 50±5", f.Model, v, h)
		}
	}
	checkBounded(t, f, 0, math.Inf(1))
}

func TestOneHugeSpike(t *testing.T) {
	// A daily pattern between 40 and 60 with one spike of 1e6 six hours
	// before the end: no forecast step may carry the spike.
	s := synthetic(14*288, 300, 1, 5)
	s.Values[len(s.Values)-72] = 1e6
	for _, model := range []string{"auto", ModelETS, ModelRegression, ModelSNaive, ModelCombo} {
		f, err := Fit(s, Options{Horizon: 288, Model: model})
		if err != nil {
			t.Fatal(err)
		}
		for h, v := range f.Mean {
			if v > 200 {
				t.Fatalf("%s (chose %s): mean %v at step %d: the spike of 1e6 carried into the forecast", model, f.Model, v, h)
			}
		}
		checkBounded(t, f, 0, math.Inf(1))
	}
}

func TestConstantSeries(t *testing.T) {
	for _, c := range []float64{0, 7, -3} {
		s := Series{}
		for i := range 500 {
			s.Times = append(s.Times, int64(i)*60)
			s.Values = append(s.Values, c)
		}
		f, err := Fit(s, Options{Horizon: 10})
		if err != nil {
			t.Fatal(err)
		}
		for q, vs := range allQuantiles(f) {
			for h, v := range vs {
				if v != c {
					t.Fatalf("constant %v: quantile %v at step %d is %v", c, q, h, v)
				}
			}
		}
		wantMin := 0.0
		if c < 0 {
			wantMin = math.Inf(-1)
		}
		if f.Min != wantMin {
			t.Errorf("constant %v: lower bound %v, want %v", c, f.Min, wantMin)
		}
	}
}

func TestPercentageBounded(t *testing.T) {
	// CPU percentage near saturation, noisy, with a rising trend: without
	// the bound of 100 the upper quantiles would exceed it.
	r := rand.New(rand.NewPCG(9, 9))
	n := 7 * 288
	s := Series{Times: make([]int64, n), Values: make([]float64, n)}
	for i := range n {
		s.Times[i] = 1_700_000_000 + int64(i)*300
		day := float64(i%288) / 288
		s.Values[i] = min(100, max(0, 85+10*math.Sin(2*math.Pi*day)+float64(i)/float64(n)*5+4*r.NormFloat64()))
	}
	free, err := Fit(s, Options{Horizon: 288})
	if err != nil {
		t.Fatal(err)
	}
	above := false
	for _, v := range free.Quantile(0.99) {
		above = above || v > 100
	}
	if !above {
		t.Fatal("the unbounded forecast never exceeds 100: the test does not exercise the bound")
	}
	for _, model := range append([]string{"auto"}, Models()...) {
		f, err := Fit(s, Options{Horizon: 288, Model: model, Max: ptr(100)})
		if err != nil {
			t.Fatal(err)
		}
		if f.Min != 0 || f.Max != 100 {
			t.Errorf("%s: bounds [%v, %v], want [0, 100]", model, f.Min, f.Max)
		}
		checkBounded(t, f, 0, 100)
	}
	// A series near 0 with noise: the lower quantiles stop at the
	// default bound 0.
	for i := range s.Values {
		s.Values[i] = math.Abs(0.5 + r.NormFloat64())
	}
	f, err := Fit(s, Options{Horizon: 48})
	if err != nil {
		t.Fatal(err)
	}
	checkBounded(t, f, 0, 100)
}

func TestBoundsOptions(t *testing.T) {
	s := synthetic(2000, 300, 1, 1)
	for _, o := range []Options{
		{Horizon: 5, Min: ptr(10), Max: ptr(10)},
		{Horizon: 5, Min: ptr(20), Max: ptr(10)},
		{Horizon: 5, Min: ptr(math.NaN())},
		{Horizon: 5, Max: ptr(math.Inf(-1))},
	} {
		if _, err := Fit(s, o); !errors.Is(err, ErrBadOptions) {
			t.Errorf("min %v max %v: err %v, want ErrBadOptions", o.Min, o.Max, err)
		}
	}
	// -Inf turns the default lower bound off; an explicit bound wins.
	f, err := Fit(s, Options{Horizon: 5, Min: ptr(math.Inf(-1))})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(f.Min, -1) {
		t.Errorf("min -Inf: bound %v", f.Min)
	}
	f, err = Fit(s, Options{Horizon: 288, Min: ptr(55)})
	if err != nil {
		t.Fatal(err)
	}
	checkBounded(t, f, 55, math.Inf(1))
}

func TestSpanGuard(t *testing.T) {
	// Flat and noisy for 13.75 days, then a ramp of +60 over the last 6
	// hours: no model may carry the ramp beyond the recent span, since
	// no backtest origin saw a ramp continue. Without the guard, ets
	// forecasts 194 against a recent maximum of 163.
	s := lateRamp()
	recent := s.Values[len(s.Values)-576:]
	lo, hi := slices.Min(recent), slices.Max(recent)
	for _, model := range []string{"auto", ModelETS, ModelRegression} {
		f, err := Fit(s, Options{Horizon: 288, Model: model})
		if err != nil {
			t.Fatal(err)
		}
		mlo, mhi := slices.Min(f.Mean), slices.Max(f.Mean)
		if mlo < lo || mhi > hi {
			t.Errorf("%s: means from %.2f to %.2f, outside the recent span [%.2f, %.2f]", model, mlo, mhi, lo, hi)
		}
	}
}

// TestLateRamp: flat at 100 for 13.75 days, then +60 over the last 6
// hours. No backtest origin sees the ramp, so on the backtest a flat
// recent median ties with the rest; the latest hour contradicts it, and
// auto must start from where the series stands (about 160), not from the
// old level.
func TestLateRamp(t *testing.T) {
	f, err := Fit(lateRamp(), Options{Horizon: 288})
	if err != nil {
		t.Fatal(err)
	}
	if f.Mean[0] < 145 {
		t.Errorf("auto (%s) starts at %.1f; the series stands at about 160", f.Model, f.Mean[0])
	}
}

// lateRamp is 14 days at 5-minute steps, flat at 100 with noise sd 2, then
// a ramp of +60 over the last 6 hours (TestSpanGuard, TestLateRamp).
func lateRamp() Series {
	r := rand.New(rand.NewPCG(4, 4))
	n := 14 * 288
	s := Series{Times: make([]int64, n), Values: make([]float64, n)}
	for i := range n {
		s.Times[i] = 1_700_000_000 + int64(i)*300
		s.Values[i] = 100 + 2*r.NormFloat64()
		if k := i - (n - 72); k > 0 {
			s.Values[i] += 60 * float64(k) / 72
		}
	}
	return s
}
