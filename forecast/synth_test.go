package forecast

import (
	"math"
	"math/rand/v2"
)

// synthetic makes n points every step seconds from t0: a level, a linear
// trend per day, a daily and a weekly (weekday/weekend) pattern and
// Gaussian noise of sd noise.
func synthetic(n int, step int64, noise float64, seed uint64) Series {
	r := rand.New(rand.NewPCG(seed, 1))
	s := Series{Times: make([]int64, n), Values: make([]float64, n)}
	t0 := int64(1_700_006_400) // a Wednesday 00:00 UTC
	for i := range n {
		t := t0 + int64(i)*step
		s.Times[i] = t
		s.Values[i] = synthMean(t-t0, t) + noise*r.NormFloat64()
	}
	return s
}

// synthMean is the noiseless pattern at elapsed seconds el and time t.
func synthMean(el, t int64) float64 {
	day := float64(t%86400) / 86400
	v := 50 + 2*float64(el)/86400 + 10*math.Sin(2*math.Pi*day) + 4*math.Cos(4*math.Pi*day)
	if wd := (t/86400 + 4) % 7; wd == 0 || wd == 6 {
		v -= 8
	}
	return v
}
