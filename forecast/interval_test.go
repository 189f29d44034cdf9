package forecast

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBandFollowsLevel: a strictly positive daily series whose noise is
// 10% of its level (a CPU or request rate). The horizon starts at the
// daily peak and ends in the trough, so a band fitted on absolute errors
// (its spread cannot shrink with the step) would be at least as wide in
// the trough as at the peak. Calibrated on relative errors it is wider
// at the peak, by about the ratio of the levels (10), and still covers.
func TestBandFollowsLevel(t *testing.T) {
	const day, days = 24, 21
	rng := rand.New(rand.NewPCG(7, 7))
	level := func(i int) float64 { // peak 100 at hour 0, trough 10 at hour 12
		return 55 + 45*math.Cos(2*math.Pi*float64(i%day)/day)
	}
	var s Series
	var fut []float64
	for i := 0; i < days*day+day; i++ {
		v := level(i) * (1 + 0.1*rng.NormFloat64())
		if i < days*day {
			s.Times = append(s.Times, int64(i)*3600)
			s.Values = append(s.Values, v)
		} else {
			fut = append(fut, v)
		}
	}
	f, err := Fit(s, Options{Horizon: day, Level: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	peak, trough := f.Upper[0]-f.Lower[0], f.Upper[12]-f.Lower[12]
	if peak < 3*trough {
		t.Errorf("band width %.2f at the peak and %.2f in the trough (model %s), want the peak's at least 3 times the trough's", peak, trough, f.Model)
	}
	in := 0
	for h, v := range fut {
		if v >= f.Lower[h] && v <= f.Upper[h] {
			in++
		}
	}
	if in < day/2 {
		t.Errorf("the 80%% band covers %d of %d steps of the next day", in, day)
	}
}
