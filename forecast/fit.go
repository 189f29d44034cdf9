package forecast

import (
	"fmt"
	"math"
	"sort"
)

// PLACEHOLDER (foundation): a seasonal-naive Fit so that the parts built
// against this API can run; the forecast engine replaces this file.

// Models lists the model names Options.Model accepts besides "auto".
func Models() []string { return []string{"snaive"} }

// Fit forecasts s as o says.
func Fit(s Series, o Options) (*Forecast, error) {
	if o.Horizon <= 0 {
		return nil, fmt.Errorf("%w: horizon %d, want at least 1", ErrBadOptions, o.Horizon)
	}
	if len(s.Times) != len(s.Values) {
		return nil, fmt.Errorf("%w: %d times but %d values", ErrBadOptions, len(s.Times), len(s.Values))
	}
	n := 0
	for _, v := range s.Values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			n++
		}
	}
	if n == 0 {
		return nil, ErrEmpty
	}
	step := o.Step
	if step <= 0 {
		step = medianStep(s.Times)
	}
	level := o.Level
	if level == 0 {
		level = 0.8
	}
	last := s.Times[len(s.Times)-1]
	period := int(86400 / step)
	if period < 1 || period*int(step) != 86400 || len(s.Values) < period {
		period = 1
	}
	f := &Forecast{Level: level, Model: "snaive", Seasons: []int64{int64(period) * step}}
	var errs []float64
	for i := period; i < len(s.Values); i++ {
		if d := s.Values[i] - s.Values[i-period]; !math.IsNaN(d) {
			errs = append(errs, math.Abs(d))
		}
	}
	sort.Float64s(errs)
	width := 0.0
	if len(errs) > 0 {
		width = errs[int(level*float64(len(errs)-1))]
	}
	lastVal := math.NaN()
	for h := 1; h <= o.Horizon; h++ {
		i := len(s.Values) - period + (h-1)%period
		v := s.Values[i]
		if math.IsNaN(v) {
			v = lastVal
		}
		if math.IsNaN(v) {
			for j := len(s.Values) - 1; j >= 0; j-- {
				if !math.IsNaN(s.Values[j]) {
					v = s.Values[j]
					break
				}
			}
		}
		lastVal = v
		f.Times = append(f.Times, last+int64(h)*step)
		f.Mean = append(f.Mean, v)
		f.Lower = append(f.Lower, v-width)
		f.Upper = append(f.Upper, v+width)
	}
	f.MASE, f.Coverage = math.NaN(), math.NaN()
	return f, nil
}

// Quantile returns the forecast's q-quantile (0<q<1) at every step.
func (f *Forecast) Quantile(q float64) []float64 {
	out := make([]float64, len(f.Mean))
	// Normal approximation from the central interval.
	z := normQuantile(0.5 + f.Level/2)
	zq := normQuantile(q)
	for i := range out {
		sd := (f.Upper[i] - f.Lower[i]) / (2 * z)
		out[i] = f.Mean[i] + zq*sd
	}
	return out
}

func normQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

func medianStep(ts []int64) int64 {
	if len(ts) < 2 {
		return 60
	}
	d := make([]int64, 0, len(ts)-1)
	for i := 1; i < len(ts); i++ {
		d = append(d, ts[i]-ts[i-1])
	}
	sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
	return d[len(d)/2]
}
