package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// split cuts a synthetic series of n+h points into history and future.
func split(s Series, h int) (Series, Series) {
	n := len(s.Times) - h
	return Series{s.Times[:n], s.Values[:n]}, Series{s.Times[n:], s.Values[n:]}
}

// maeVsPattern is the mean absolute difference between the forecast and
// the noiseless pattern p.
func maeVsPattern(f *Forecast, p func(t int64) float64) float64 {
	s := 0.0
	for h, t := range f.Times {
		s += math.Abs(f.Mean[h] - p(t))
	}
	return s / float64(len(f.Times))
}

const t0 = int64(1_700_006_400)

// TestModelsRecoverPatterns: each model, on 14 days at 5-minute steps with
// Gaussian noise of sd 2, forecasts the next day within the stated mean
// absolute error of the noiseless pattern it is built for.
func TestModelsRecoverPatterns(t *testing.T) {
	withTrend := func(t int64) float64 { return synthMean(t-t0, t) }
	noTrend := func(t int64) float64 { return synthMean(t-t0, t) - 2*float64(t-t0)/86400 }
	dailyTrend := func(t int64) float64 { // trend and one season
		day := float64(t%86400) / 86400
		return 50 + 2*float64(t-t0)/86400 + 10*math.Sin(2*math.Pi*day) + 4*math.Cos(4*math.Pi*day)
	}
	level := func(int64) float64 { return 40 }
	cases := []struct {
		model   string
		pattern func(int64) float64
		maxMAE  float64
		what    string
	}{
		{"auto", withTrend, 1.0, "trend, daily and weekly seasons"},
		{ModelRegression, withTrend, 1.0, "trend, daily and weekly seasons"},
		{ModelETS, dailyTrend, 2.0, "trend and a daily season"},
		{ModelSNaive, func(t int64) float64 { return dailyTrend(t) - 2*float64(t-t0)/86400 }, 2.0, "a daily season"},
		{ModelSNaiveWeekly, noTrend, 2.0, "daily and weekly seasons"},
		{ModelCombo, withTrend, 2.5, "trend, daily and weekly seasons"},
		{ModelNaive, level, 2.5, "a level"},
	}
	for _, c := range cases {
		for seed := uint64(1); seed <= 3; seed++ {
			r := rand.New(rand.NewPCG(seed, 7))
			s := Series{}
			for i := range 4032 {
				tt := t0 + int64(i)*300
				s.Times = append(s.Times, tt)
				s.Values = append(s.Values, c.pattern(tt)+2*r.NormFloat64())
			}
			f, err := Fit(s, Options{Horizon: 288, Model: c.model})
			if err != nil {
				t.Fatalf("%s: %v", c.model, err)
			}
			if c.model != "auto" && f.Model != c.model {
				t.Errorf("%s: Forecast.Model = %q", c.model, f.Model)
			}
			if mae := maeVsPattern(f, c.pattern); mae > c.maxMAE {
				t.Errorf("%s on %s (seed %d): MAE %.2f against the pattern, want at most %.2f", c.model, c.what, seed, mae, c.maxMAE)
			}
		}
	}
}

// TestSeasonDetection: daily and weekly patterns are found at 5-minute and
// hourly steps, and white noise has none.
func TestSeasonDetection(t *testing.T) {
	for _, step := range []int64{300, 3600} {
		n := int(14 * 86400 / step)
		f, err := Fit(synthetic(n, step, 2, 3), Options{Horizon: 4})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Seasons, []int64{Day, Week}) {
			t.Errorf("step %d: seasons %v, want [86400 604800]", step, f.Seasons)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	s := Series{}
	for i := range 4032 {
		s.Times = append(s.Times, int64(i)*300)
		s.Values = append(s.Values, r.NormFloat64())
	}
	f, err := Fit(s, Options{Horizon: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Seasons) != 0 {
		t.Errorf("white noise: seasons %v, want none", f.Seasons)
	}
}

// TestDailySeasonNotRefinedByAliasedNoise: a daily cycle with a sharp
// two-hour peak at one-minute steps, whose ±1% noise repeats every few
// steps (sin(0.7 t) sampled each minute). Some lag near 1440 cancels that
// noise better than 1440 itself; taking it as the period smeared the
// peak's edges and forecast 102 where the truth was 166 (CI, 2026-11-30).
// The season stays one day, and the forecast keeps the peak.
func TestDailySeasonNotRefinedByAliasedNoise(t *testing.T) {
	truth := func(ts, peak int64) float64 {
		sod := ts % Day
		v := 100 + 30*math.Sin(2*math.Pi*float64(sod)/float64(Day))
		if (sod-peak+Day)%Day < 7200 {
			v += 80
		}
		return v
	}
	base := int64(1795996800) // a midnight, UTC
	for _, hm := range []int64{11*60 + 53, 11*60 + 54, 20*60 + 54} {
		end := base + hm*60
		peak := ((end+7200)/3600*3600 - 3600) % Day
		var s Series
		for ts := end - 7*Day + 60; ts <= end; ts += 60 {
			s.Times = append(s.Times, ts)
			s.Values = append(s.Values, truth(ts, peak)*(1+0.01*math.Sin(float64(ts)*0.7)))
		}
		var evs []Event
		for st := end - 8*Day + peak - (end-8*Day)%Day; st < end+3*3600; st += Day {
			evs = append(evs, Event{Name: "peak", Start: st, End: st + 7200, Effect: 80})
		}
		f, err := Fit(s, Options{Horizon: 121, Step: 60, Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Seasons, []int64{Day}) {
			t.Errorf("%02d:%02d: seasons %v, want [86400]", hm/60, hm%60, f.Seasons)
		}
		want := truth(end+7200, peak)
		if got := f.Mean[119]; math.Abs(got-want) > 0.1*want {
			t.Errorf("%02d:%02d: forecast two hours ahead %.1f, truth %.1f", hm/60, hm%60, got, want)
		}
	}
}

// TestIntervalsCover: on the synthetic pattern with Gaussian noise, the 80%
// band of the automatic choice covers 75-95% of the actual next day over
// 12 series, and the 95% band 92-100%. On a stationary series the bands
// err on the wide side: the backtest's earliest origins have less history
// than the final fit, and the t-widening assumes the dependence of real
// errors (on the real dev sets the bands cover close to nominal).
func TestIntervalsCover(t *testing.T) {
	for _, level := range []float64{0.8, 0.95} {
		in, all := 0, 0
		for seed := uint64(1); seed <= 12; seed++ {
			hist, fut := split(synthetic(4032+288, 300, 2, seed), 288)
			f, err := Fit(hist, Options{Horizon: 288, Level: level})
			if err != nil {
				t.Fatal(err)
			}
			for h, v := range fut.Values {
				all++
				if v >= f.Lower[h] && v <= f.Upper[h] {
					in++
				}
			}
		}
		cov := float64(in) / float64(all)
		lo, hi := 0.75, 0.95
		if level == 0.95 {
			lo, hi = 0.92, 1.0
		}
		if cov < lo || cov > hi {
			t.Errorf("level %.2f: coverage %.3f, want %.2f-%.2f", level, cov, lo, hi)
		}
	}
}

func TestQuantileConsistent(t *testing.T) {
	f, err := Fit(synthetic(2000, 300, 2, 4), Options{Horizon: 48, Level: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, med := f.Quantile(0.1), f.Quantile(0.9), f.Quantile(0.5)
	q05, q95 := f.Quantile(0.05), f.Quantile(0.95)
	for h := range f.Mean {
		if math.Abs(lo[h]-f.Lower[h]) > 1e-9 || math.Abs(hi[h]-f.Upper[h]) > 1e-9 {
			t.Fatalf("step %d: Quantile(0.1/0.9) = %v/%v, want Lower/Upper %v/%v", h, lo[h], hi[h], f.Lower[h], f.Upper[h])
		}
		if !(q05[h] <= lo[h] && lo[h] <= med[h] && med[h] <= hi[h] && hi[h] <= q95[h]) {
			t.Fatalf("step %d: quantiles not ordered: %v %v %v %v %v", h, q05[h], lo[h], med[h], hi[h], q95[h])
		}
	}
	if q := f.Quantile(1.5); !math.IsNaN(q[0]) {
		t.Errorf("Quantile(1.5) = %v, want NaN", q[0])
	}
	// A Forecast built by hand falls back to a normal band.
	g := &Forecast{Mean: []float64{10}, Lower: []float64{8}, Upper: []float64{12}, Level: 0.8}
	if q := g.Quantile(0.9)[0]; math.Abs(q-12) > 1e-9 {
		t.Errorf("hand-made forecast: Quantile(0.9) = %v, want 12", q)
	}
}

// TestFitErrors: every bad input is an error of the right kind, and an
// empty series says how many points it had.
func TestFitErrors(t *testing.T) {
	nan := math.NaN()
	two := Series{Times: []int64{1, 2}, Values: []float64{1, 2}}
	cases := []struct {
		name string
		s    Series
		o    Options
		want error
	}{
		{"empty series", Series{}, Options{Horizon: 3}, ErrEmpty},
		{"all-NaN series", Series{Times: []int64{1, 2}, Values: []float64{nan, math.Inf(1)}}, Options{Horizon: 3}, ErrEmpty},
		{"no horizon", two, Options{}, ErrBadOptions},
		{"negative horizon", two, Options{Horizon: -1}, ErrBadOptions},
		{"level over 1", two, Options{Horizon: 3, Level: 1.5}, ErrBadOptions},
		{"negative step", two, Options{Horizon: 3, Step: -5}, ErrBadOptions},
		{"negative folds", two, Options{Horizon: 3, Folds: -1}, ErrBadOptions},
		{"negative season", two, Options{Horizon: 3, Seasons: []int64{-86400}}, ErrBadOptions},
		{"event ends before it starts", two, Options{Horizon: 3, Events: []Event{{Name: "x", Start: 10, End: 5}}}, ErrBadOptions},
		{"regressor past too short", two, Options{Horizon: 3, Regressors: []Regressor{{Name: "r", Past: []float64{1}, Future: []float64{1, 2, 3}}}}, ErrBadOptions},
		{"regressor future too short", two, Options{Horizon: 3, Regressors: []Regressor{{Name: "r", Past: []float64{1, 2}, Future: []float64{1}}}}, ErrBadOptions},
		{"mismatched lengths", Series{Times: []int64{1}, Values: []float64{1, 2}}, Options{Horizon: 1}, ErrBadOptions},
		{"unknown model", Series{Times: []int64{1}, Values: []float64{1}}, Options{Horizon: 3, Model: "nope"}, ErrUnknownModel},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Fit(c.s, c.o)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if c.want == ErrEmpty && len(c.s.Times) > 0 && err.Error() == ErrEmpty.Error() {
				t.Errorf("err %q does not say how many points", err)
			}
		})
	}
}

// TestConstantHistory: a constant history (gaps aside) forecasts itself with
// a zero-width band, on its own step.
func TestConstantHistory(t *testing.T) {
	f, err := Fit(Series{Times: []int64{0, 60, 120, 180}, Values: []float64{5, 5, math.NaN(), 5}}, Options{Horizon: 4})
	if err != nil {
		t.Fatal(err)
	}
	for h, v := range f.Mean {
		if v != 5 || f.Lower[h] != 5 || f.Upper[h] != 5 || f.Times[h] != 180+int64(h+1)*60 {
			t.Errorf("step %d: %v [%v, %v] at %d, want 5 [5, 5] at %d", h, v, f.Lower[h], f.Upper[h], f.Times[h], 180+(h+1)*60)
		}
	}
	if q := f.Quantile(0.99); q[0] != 5 {
		t.Errorf("Quantile(0.99) = %v, want 5", q[0])
	}
}

// TestShortHistories: one to twelve points fall back to simple models and
// still give finite, ordered bands, whatever the model asked for.
func TestShortHistories(t *testing.T) {
	for n := 1; n <= 12; n++ {
		s := Series{}
		for i := range n {
			s.Times = append(s.Times, int64(i)*60)
			s.Values = append(s.Values, float64(i%3)+10)
		}
		for _, m := range append([]string{"auto"}, Models()...) {
			f, err := Fit(s, Options{Horizon: 5, Model: m})
			if err != nil {
				t.Fatalf("n=%d %s: %v", n, m, err)
			}
			for h := range f.Mean {
				if !finite(f.Mean[h]) || !finite(f.Lower[h]) || !finite(f.Upper[h]) || f.Lower[h] > f.Upper[h] {
					t.Fatalf("n=%d %s step %d: %v [%v, %v]", n, m, h, f.Mean[h], f.Lower[h], f.Upper[h])
				}
			}
		}
	}
}

// TestYoungSeriesBandSpansItsHistory: a series seven minutes old that began
// with a launch step (800, then 9,000 to 12,000) has no backtest, so its
// band is the random walk of its one-step spread. That walk grows only over
// the six steps the history spans: two hours out it is as wide as six steps
// out, not 4.5 times wider (a 0.9 quantile of 60,658 once, five times the
// node's capacity).
func TestYoungSeriesBandSpansItsHistory(t *testing.T) {
	vals := []float64{800, 820, 790, 810, 9000, 11000, 12000}
	var s Series
	for i, v := range vals {
		s.Times = append(s.Times, int64(1000000+60*i))
		s.Values = append(s.Values, v)
	}
	f, err := Fit(s, Options{Horizon: 120, Step: 60})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(f.MASE) {
		t.Fatalf("test setup: the fit has a backtest (MASE %g)", f.MASE)
	}
	q := f.Quantile(0.9)
	if q[119] > q[5]+1e-9 {
		t.Errorf("0.9 quantile %.0f two hours out, %.0f six steps out: the band grew past the history's span", q[119], q[5])
	}
	t.Logf("0.9 quantile two hours out: %.0f", q[119])
	if hi := slices.Max(vals); q[119] > 3*hi {
		t.Errorf("0.9 quantile %.0f two hours out on a history that never left [790, %.0f]", q[119], hi)
	}
}

// TestGapsAndIrregularSteps: jittered timestamps, a six-hour gap and NaN
// values are regularised onto the median step, and the forecast steps
// continue from the last timestamp.
func TestGapsAndIrregularSteps(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	s := synthetic(4032, 300, 2, 5)
	var irr Series
	for i, tt := range s.Times {
		if i > 2000 && i < 2072 {
			continue // six hours missing
		}
		v := s.Values[i]
		if i%50 == 0 {
			v = math.NaN()
		}
		irr.Times = append(irr.Times, tt+int64(r.IntN(41))-20)
		irr.Values = append(irr.Values, v)
	}
	f, err := Fit(irr, Options{Horizon: 288})
	if err != nil {
		t.Fatal(err)
	}
	last := irr.Times[len(irr.Times)-1]
	if f.Times[0] != last+300 || f.Times[287] != last+288*300 {
		t.Errorf("forecast times %d..%d, want %d..%d", f.Times[0], f.Times[287], last+300, last+288*300)
	}
	if mae := maeVsPattern(f, func(tt int64) float64 { return synthMean(tt-s.Times[0], tt) }); mae > 2 {
		t.Errorf("MAE %.2f against the pattern, want at most 2", mae)
	}
}

// TestOutliersDoNotBendTheShape: 30 spikes of +60 (30 sd) in the history
// leave the forecast within 1.5 of the pattern, for the automatic choice
// and for each seasonal model.
func TestOutliersDoNotBendTheShape(t *testing.T) {
	s := synthetic(4032, 300, 2, 6)
	r := rand.New(rand.NewPCG(6, 6))
	for range 30 {
		s.Values[r.IntN(4032)] += 60
	}
	// One spike in the very last day too, where seasonal naive would copy it.
	s.Values[4032-100] += 60
	pattern := func(tt int64) float64 { return synthMean(tt-s.Times[0], tt) }
	for _, m := range []string{"auto", ModelRegression, ModelETS} {
		f, err := Fit(s, Options{Horizon: 288, Model: m})
		if err != nil {
			t.Fatal(err)
		}
		limit := 1.5
		if m == ModelETS {
			limit = 4 // no weekly season in Holt-Winters
		}
		if mae := maeVsPattern(f, pattern); mae > limit {
			t.Errorf("%s: MAE %.2f against the pattern with outliers, want at most %.1f", m, mae, limit)
		}
		for h := range f.Mean {
			if f.Mean[h] > pattern(f.Times[h])+20 {
				t.Errorf("%s: step %d forecasts %.1f, a copied spike (pattern %.1f)", m, h, f.Mean[h], pattern(f.Times[h]))
				break
			}
		}
	}
}

// TestLevelShiftFollowed: a level shift of +30 (15 sd) six hours before the
// end is followed: the first hour's forecast is within 5 of the new level.
func TestLevelShiftFollowed(t *testing.T) {
	s := synthetic(4032, 300, 2, 7)
	for i := 4032 - 72; i < 4032; i++ {
		s.Values[i] += 30
	}
	f, err := Fit(s, Options{Horizon: 12})
	if err != nil {
		t.Fatal(err)
	}
	for h, tt := range f.Times {
		want := synthMean(tt-s.Times[0], tt) + 30
		if math.Abs(f.Mean[h]-want) > 5 {
			t.Errorf("step %d: %.1f, want %.1f ± 5 after the shift (model %s)", h, f.Mean[h], want, f.Model)
		}
	}
}

// TestEvents: a batch job that adds 15 from 02:00 to 04:00 on some days is
// learnt from its past occurrences (effect unknown) and forecast on its next
// one; an event with a known effect is added as given.
func TestEvents(t *testing.T) {
	s := synthetic(4032, 300, 1, 8)
	var evs []Event
	for _, d := range []int64{1, 4, 6, 9, 12, 15} {
		start := t0 + d*86400 + 2*3600
		evs = append(evs, Event{Name: "batch", Start: start, End: start + 2*3600})
	}
	for i, tt := range s.Times {
		for _, e := range evs {
			if tt >= e.Start && tt < e.End {
				s.Values[i] += 15
			}
		}
	}
	next := evs[len(evs)-1]
	for _, m := range []string{"auto", ModelRegression} {
		f, err := Fit(s, Options{Horizon: 288, Events: evs, Model: m})
		if err != nil {
			t.Fatal(err)
		}
		in, out := 0.0, 0.0
		ni, no := 0, 0
		for h, tt := range f.Times {
			d := f.Mean[h] - synthMean(tt-s.Times[0], tt)
			if tt >= next.Start && tt < next.End {
				in += d
				ni++
			} else {
				out += math.Abs(d)
				no++
			}
		}
		if eff := in / float64(ni); math.Abs(eff-15) > 2 {
			t.Errorf("%s: learnt event effect %.2f, want 15 ± 2", m, eff)
		}
		if mae := out / float64(no); mae > 1.5 {
			t.Errorf("%s: MAE %.2f outside the event, want at most 1.5", m, mae)
		}
	}
	// Known effect: added to the forecast by every model.
	plain := synthetic(4032, 300, 1, 8)
	last := plain.Times[len(plain.Times)-1]
	known := []Event{{Name: "peak", Start: last + 3600, End: last + 7200, Effect: 25, Known: true}}
	for _, m := range Models() {
		a, err := Fit(plain, Options{Horizon: 48, Model: m})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Fit(plain, Options{Horizon: 48, Model: m, Events: known})
		if err != nil {
			t.Fatal(err)
		}
		for h, tt := range b.Times {
			want := 0.0
			if tt >= known[0].Start && tt < known[0].End {
				want = 25
			}
			if d := b.Mean[h] - a.Mean[h]; math.Abs(d-want) > 1e-9 {
				t.Errorf("%s step %d: known event adds %.3f, want %.0f", m, h, d, want)
				break
			}
		}
	}
}

// TestRegressors: a covariate whose future is known drives the forecast.
func TestRegressors(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	n, H := 2000, 48
	x := make([]float64, n+H)
	acc := 0.0
	for i := range x {
		acc += r.NormFloat64()
		x[i] = acc
	}
	s := Series{}
	for i := range n {
		s.Times = append(s.Times, int64(i)*60)
		s.Values = append(s.Values, 100+3*x[i]+0.5*r.NormFloat64())
	}
	f, err := Fit(s, Options{Horizon: H, Model: ModelRegression, Regressors: []Regressor{{Name: "x", Past: x[:n], Future: x[n:]}}})
	if err != nil {
		t.Fatal(err)
	}
	mae := 0.0
	for h := range f.Mean {
		mae += math.Abs(f.Mean[h] - (100 + 3*x[n+h]))
	}
	if mae /= float64(H); mae > 1 {
		t.Errorf("MAE %.2f with a known covariate, want at most 1", mae)
	}
}

// TestFitterReuse: a reused Fitter gives exactly what a fresh one gives,
// whatever it fitted before.
func TestFitterReuse(t *testing.T) {
	a := synthetic(4032, 300, 2, 1)
	b := synthetic(300, 3600, 5, 2)
	c := Series{Times: []int64{0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600}, Values: []float64{1, 3, 2, 5, 4, 6, 5, 7, 8, 7, 9}}
	var w Fitter
	for _, s := range []Series{a, b, c, a, c, b} {
		o := Options{Horizon: 30}
		got, err := w.Fit(s, o)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Fit(s, o)
		if !slices.Equal(got.Mean, want.Mean) || !slices.Equal(got.Upper, want.Upper) || got.Model != want.Model {
			t.Fatalf("reused Fitter differs from a fresh one on a %d-point series", len(s.Times))
		}
	}
}

func TestHorizonSeconds(t *testing.T) {
	s := synthetic(600, 300, 1, 1)
	f, err := Fit(s, Options{HorizonSeconds: 3601})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Mean) != 13 {
		t.Errorf("HorizonSeconds 3601 at 300 s steps: %d steps, want 13", len(f.Mean))
	}
}

func TestBacktestFigures(t *testing.T) {
	f, err := Fit(synthetic(4032, 300, 2, 2), Options{Horizon: 288})
	if err != nil {
		t.Fatal(err)
	}
	if !(f.MASE > 0 && f.MASE < 1) || !(f.Coverage > 0.5 && f.Coverage <= 1) {
		t.Errorf("MASE %v, coverage %v; want a MASE below 1 and a coverage near 0.8", f.MASE, f.Coverage)
	}
}

// TestJumpAtTheEnd: a series of levels that hold for hours and then jump
// (noise sd 1, jumps of 20 to 60), whose very last point jumps by +50. The
// history says such jumps hold, and no model's robust filter may hide the
// last point from the automatic choice: the next step is forecast at the
// new level.
func TestJumpAtTheEnd(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 1))
	n := 14 * 24
	s := Series{Times: make([]int64, n), Values: make([]float64, n)}
	level, left := 100.0, 10
	for i := range n {
		if left == 0 {
			level += (20 + 40*r.Float64()) * float64(1-2*r.IntN(2))
			level = max(level, 60)
			left = 5 + r.IntN(25)
		}
		left--
		s.Times[i] = 1_700_000_000 + int64(i)*3600
		s.Values[i] = level + r.NormFloat64()
	}
	s.Values[n-1] = s.Values[n-2] + 50
	f, err := Fit(s, Options{Horizon: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := f.Mean[0] - s.Values[n-1]; math.Abs(d) > 10 {
		t.Errorf("%s: next step %.1f, want the new level %.1f ± 10 (the point before was %.1f)", f.Model, f.Mean[0], s.Values[n-1], s.Values[n-2])
	}
	checkBounded(t, f, 0, math.Inf(1))
}

// TestSeasonNeedsABacktest: a weekly pattern (weekends busier) with no
// daily one, on exactly two weeks of 5-minute history, as an exporter with
// `history: 14d` fits it. Two weeks leave the weekly season no rolling
// origin, so a weekly model went unbacktested, with a band that no error
// calibrated (here 0.9 quantile 158 over a forecast of 118 within the hour;
// on NAB's tweet volumes five times the demand for weeks). The season is
// dropped, the backtest runs and the band is calibrated. With a day more
// of history the weekly season is kept.
func TestSeasonNeedsABacktest(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := Series{}
	for i := range 4032 + 288 {
		tt := t0 + int64(i)*300
		v := 100.0
		if ((tt-t0)/86400)%7 >= 5 {
			v = 160
		}
		s.Times = append(s.Times, tt)
		s.Values = append(s.Values, v+10*r.NormFloat64())
	}
	f, err := Fit(Series{Times: s.Times[288:], Values: s.Values[288:]}, Options{Horizon: 17})
	if err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(f.Coverage) || math.IsNaN(f.MASE) {
		t.Errorf("two weeks: seasons %v, model %s: no backtest (MASE %v, coverage %v); want the forecast calibrated on one", f.Seasons, f.Model, f.MASE, f.Coverage)
	}
	q := f.Quantile(0.9)
	for h := range q {
		if q[h] > f.Mean[h]+4*10 {
			t.Errorf("two weeks, step %d: 0.9 quantile %.1f, more than 4 noise sd above the forecast %.1f", h+1, q[h], f.Mean[h])
			break
		}
	}
	f, err = Fit(s, Options{Horizon: 17})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Seasons, []int64{Week}) || math.IsNaN(f.Coverage) {
		t.Errorf("15 days: seasons %v, coverage %v; want the weekly season, backtested", f.Seasons, f.Coverage)
	}
}

// TestShortDailyHistoryKeepsItsSeason: three days of a daily pattern at
// 5-minute steps, forecast a day and 30 minutes ahead (an exporter's
// target with `refit: 30m` on 3 days of Prometheus history). The history
// holds no backtest of the whole horizon after two days of training, and
// the daily season used to be dropped for that: a flat forecast of a
// series that swings by ±30 every day. Seasons given in Options were kept
// but went unchecked (no backtest: MASE and coverage NaN, a random-walk
// band); the third case is two and a half days with the season given. On two
// and a half days a day ahead (the second case) the daily season was not
// even detected: the one-day moving average left less than two days to
// judge it on. The season is now detected there, the backtest runs at a
// shorter horizon, so the season is kept, the model is chosen on backtest
// errors and the band is calibrated on them: over 12 series it follows
// the pattern and covers the next day. The noise is
// correlated over about an hour, as real errors are: the short backtest's
// windows overlap, and a band that counted each of them as a separate
// draw covered 0.69 and 0.53 here.
func TestShortDailyHistoryKeepsItsSeason(t *testing.T) {
	const noise, arPhi = 4.0, 0.95
	pattern := func(t int64) float64 { return 100 + 30*math.Sin(2*math.Pi*float64(t%86400)/86400) }
	for _, c := range []struct {
		name    string
		n, H    int
		seasons []int64
	}{
		{"3 days, detected", 864, 294, nil},
		{"2.5 days, detected", 720, 288, nil},
		{"2.5 days, given", 720, 288, []int64{Day}},
	} {
		in, all := 0, 0
		var mae, flat float64
		for seed := uint64(1); seed <= 12; seed++ {
			r := rand.New(rand.NewPCG(seed, 12))
			s := Series{}
			e := 0.0
			for i := range c.n + c.H {
				tt := t0 + int64(i)*300
				// AR(1) noise of sd noise, correlated over about an
				// hour, as the errors of real series are.
				e = arPhi*e + noise*math.Sqrt(1-arPhi*arPhi)*r.NormFloat64()
				s.Times = append(s.Times, tt)
				s.Values = append(s.Values, pattern(tt)+e)
			}
			hist, fut := split(s, c.H)
			f, err := Fit(hist, Options{Horizon: c.H, Seasons: c.seasons})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.Seasons, []int64{Day}) {
				t.Fatalf("%s, seed %d: seasons %v, want the daily one", c.name, seed, f.Seasons)
			}
			if math.IsNaN(f.MASE) || math.IsNaN(f.Coverage) {
				t.Errorf("%s, seed %d: model %s with MASE %v and backtest coverage %v: chosen without a backtest", c.name, seed, f.Model, f.MASE, f.Coverage)
			}
			m := 0.0
			for _, v := range hist.Values {
				m += v / float64(c.n)
			}
			for h, v := range fut.Values {
				all++
				if v >= f.Lower[h] && v <= f.Upper[h] {
					in++
				}
				flat += math.Abs(m - pattern(f.Times[h]))
			}
			mae += maeVsPattern(f, pattern) * float64(c.H)
		}
		mae, flat = mae/float64(all), flat/float64(all)
		cov := float64(in) / float64(all)
		t.Logf("%s: forecast %.2f from the pattern (the history's mean %.2f), 80%% band covers %.3f", c.name, mae, flat, cov)
		if mae > flat/2 {
			t.Errorf("%s: forecast %.2f from the pattern on average, want under half the %.2f of a flat forecast at the history's mean", c.name, mae, flat)
		}
		if cov < 0.7 || cov > 0.95 {
			t.Errorf("%s: 80%% band covers %.3f of the next days, want 0.70-0.95", c.name, cov)
		}
	}
}
