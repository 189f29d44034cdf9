package forecast

import "math"

// snaiveForecast writes into dst the seasonal naive forecast from origin o
// (the index of the first forecast step) with period m: each step repeats
// the latest observation before o at the same phase, going back whole
// cycles over gaps, else the latest observation. m=1 is the naive forecast.
func snaiveForecast(y []float64, o, m int, dst []float64) {
	last := math.NaN()
	for i := min(o, len(y)) - 1; i >= 0; i-- {
		if !math.IsNaN(y[i]) {
			last = y[i]
			break
		}
	}
	for h := range dst {
		idx := o + h - m*(h/m+1)
		v := math.NaN()
		for idx >= 0 && idx < o {
			if v = y[idx]; !math.IsNaN(v) {
				break
			}
			idx -= m
		}
		if math.IsNaN(v) {
			v = last
		}
		dst[h] = v
	}
}
