package forecast

import (
	"math"
	"testing"
)

// ramp is n points every step seconds with values v(i).
func ramp(n int, step int64, v func(i int) float64) Series {
	s := Series{Times: make([]int64, n), Values: make([]float64, n)}
	for i := range n {
		s.Times[i] = t0 + int64(i)*step
		s.Values[i] = v(i)
	}
	return s
}

// meanAbsDiff is the mean absolute difference at lag m of the finite
// values of v, written out plainly as the definition of the MASE scale.
func meanAbsDiff(v []float64, m int) float64 {
	var f []float64
	for _, x := range v {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			f = append(f, x)
		}
	}
	if len(f) <= m {
		m = 1
	}
	s := 0.0
	for i := m; i < len(f); i++ {
		s += math.Abs(f[i] - f[i-m])
	}
	return s / float64(len(f)-m)
}

func TestSplitWindow(t *testing.T) {
	square := func(i int) float64 { return float64(i * i % 17) }
	gappy := func(i int) float64 {
		if i%5 == 0 {
			return math.NaN()
		}
		return float64(i % 7)
	}
	cases := []struct {
		name          string
		s             Series
		k             int
		o             Options
		hist, truth   int // lengths
		step, lagDays int64
	}{
		{"latest window, steps", ramp(100, 300, square), 0, Options{Horizon: 12}, 88, 12, 300, 0},
		{"second window, steps", ramp(100, 300, square), 1, Options{Horizon: 12}, 76, 12, 300, 0},
		{"seconds horizon", ramp(100, 300, square), 0, Options{HorizonSeconds: 3600}, 88, 12, 300, 0},
		{"explicit step", ramp(100, 300, square), 0, Options{Horizon: 6, Step: 600}, 88, 12, 600, 0},
		{"a day of history: lag one day", ramp(24*4, 3600, square), 0, Options{Horizon: 24}, 72, 24, 3600, 1},
		{"gaps skipped in the scale", ramp(24*4, 3600, gappy), 1, Options{Horizon: 24}, 48, 24, 3600, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := SplitWindow(c.s, c.k, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.History.Times) != c.hist || len(h.Truth.Times) != c.truth || h.Step != c.step {
				t.Fatalf("history %d, truth %d, step %d; want %d, %d, %d", len(h.History.Times), len(h.Truth.Times), h.Step, c.hist, c.truth, c.step)
			}
			if h.History.Times[len(h.History.Times)-1] >= h.Truth.Times[0] {
				t.Errorf("history ends at %d, after the truth starts at %d", h.History.Times[len(h.History.Times)-1], h.Truth.Times[0])
			}
			if got := h.Span; got != int64(c.truth)*c.step && c.o.Step == 0 {
				t.Errorf("span %d s, want %d", got, int64(c.truth)*c.step)
			}
			lag := 1
			if c.lagDays > 0 {
				lag = int(86400 * c.lagDays / c.step)
			}
			if want := meanAbsDiff(h.History.Values, lag); math.Abs(h.Scale-want) > 1e-12 {
				t.Errorf("scale %v, want %v (lag %d)", h.Scale, want, lag)
			}
		})
	}
}

func TestSplitWindowErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		s    Series
		k    int
	}{
		{"two points", ramp(2, 60, func(int) float64 { return 1 }), 0},
		{"no history left", ramp(30, 60, func(int) float64 { return 1 }), 3},
	} {
		if _, err := SplitWindow(c.s, c.k, Options{Horizon: 10}); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestHoldOutScore(t *testing.T) {
	h, err := SplitWindow(ramp(60, 300, func(i int) float64 { return float64(10 + i%4) }), 0, Options{Horizon: 10})
	if err != nil {
		t.Fatal(err)
	}
	// fc forecasts the truth shifted by off, with a band of ±width, at the
	// truth's times moved by dt seconds.
	fc := func(off, width float64, dt int64) *Forecast {
		f := &Forecast{}
		for i, tt := range h.Truth.Times {
			y := h.Truth.Values[i] + off
			f.Times = append(f.Times, tt+dt)
			f.Mean = append(f.Mean, y)
			f.Lower = append(f.Lower, y-width)
			f.Upper = append(f.Upper, y+width)
		}
		return f
	}
	var smape2 float64
	for _, y := range h.Truth.Values {
		smape2 += 200 * 2 / (math.Abs(y) + math.Abs(y+2))
	}
	smape2 /= float64(len(h.Truth.Values))
	cases := []struct {
		name string
		fc   *Forecast
		want Score
	}{
		{"perfect", fc(0, 1, 0), Score{SMAPE: 0, MASE: 0, Coverage: 1, OK: true}},
		{"off by 2, band of 1", fc(2, 1, 0), Score{SMAPE: smape2, MASE: 2 / h.Scale, Coverage: 0, OK: true}},
		{"off by 2, band of 3", fc(2, 3, 0), Score{SMAPE: smape2, MASE: 2 / h.Scale, Coverage: 1, OK: true}},
		{"within half a step", fc(0, 1, 149), Score{SMAPE: 0, MASE: 0, Coverage: 1, OK: true}},
		{"after the window", fc(0, 1, h.Span+150), Score{}},
		{"empty forecast", &Forecast{}, Score{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := h.Score(c.fc)
			if got.OK != c.want.OK || math.Abs(got.SMAPE-c.want.SMAPE) > 1e-9 || math.Abs(got.Coverage-c.want.Coverage) > 1e-12 ||
				(c.want.OK && math.Abs(got.MASE-c.want.MASE) > 1e-9) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
