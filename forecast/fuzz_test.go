package forecast

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzFit: whatever the series, options and bounds, Fit does not panic,
// and a forecast it returns has the asked length with finite, ordered bands
// wherever the mean is finite, inside its bounds (0 below for a
// non-negative history unless told otherwise), and so are its quantiles.
func FuzzFit(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, uint8(5), uint8(0), int64(60), uint8(0))
	f.Add(make([]byte, 400), uint8(30), uint8(3), int64(300), uint8(1))
	f.Add([]byte{1, 0, 0, 1, 0, 0, 1, 200, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 100, 0, 1, 0, 0}, uint8(9), uint8(0), int64(60), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, h uint8, model uint8, step int64, bounds uint8) {
		var s Series
		tt := int64(1_700_000_000)
		for i := 0; i+3 <= len(data); i += 3 {
			gap := int64(data[i]%7) * 60
			tt += gap
			v := float64(int16(binary.LittleEndian.Uint16(data[i+1:])))
			switch data[i+1] % 17 {
			case 0:
				v = math.NaN()
			case 1:
				v = math.Inf(1)
			case 2:
				v *= 1e12
			}
			s.Times = append(s.Times, tt)
			s.Values = append(s.Values, v)
		}
		names := append([]string{"auto"}, Models()...)
		o := Options{Horizon: int(h%64) + 1, Model: names[int(model)%len(names)], Step: max(0, step%7200)}
		// bounds: 0 default, 1 [0, 100], 2 max 1000, 3 min -Inf, 4 [-50, 50].
		switch bounds % 5 {
		case 1:
			o.Min, o.Max = ptr(0), ptr(100)
		case 2:
			o.Max = ptr(1000)
		case 3:
			o.Min = ptr(math.Inf(-1))
		case 4:
			o.Min, o.Max = ptr(-50), ptr(50)
		}
		fc, err := Fit(s, o)
		if err != nil {
			return
		}
		lo, hi := math.Inf(-1), math.Inf(1)
		if o.Min != nil {
			lo = *o.Min
		} else {
			nonNeg := true
			for _, v := range s.Values {
				nonNeg = nonNeg && !(v < 0 && !math.IsInf(v, -1))
			}
			if nonNeg {
				lo = 0
			}
		}
		if o.Max != nil {
			hi = *o.Max
		}
		if fc.Min != lo || fc.Max != hi {
			t.Fatalf("bounds [%v, %v], want [%v, %v]", fc.Min, fc.Max, lo, hi)
		}
		prev := make([]float64, o.Horizon)
		for i := range prev {
			prev[i] = math.Inf(-1)
		}
		for _, q := range []float64{0.01, 0.1, 0.5, 0.9, 0.99} {
			for i, v := range fc.Quantile(q) {
				if finite(fc.Mean[i]) && (v < lo || v > hi || v < prev[i]) {
					t.Fatalf("step %d: quantile %v is %v, bounds [%v, %v], previous quantile %v", i, q, v, lo, hi, prev[i])
				}
				prev[i] = v
			}
		}
		if len(fc.Mean) != o.Horizon || len(fc.Lower) != o.Horizon || len(fc.Upper) != o.Horizon || len(fc.Times) != o.Horizon {
			t.Fatalf("lengths %d %d %d %d, want %d", len(fc.Mean), len(fc.Lower), len(fc.Upper), len(fc.Times), o.Horizon)
		}
		for i := range fc.Mean {
			if finite(fc.Mean[i]) && (math.IsNaN(fc.Lower[i]) || math.IsNaN(fc.Upper[i]) || fc.Lower[i] > fc.Upper[i] ||
				fc.Mean[i] < lo || fc.Mean[i] > hi || fc.Lower[i] < lo || fc.Upper[i] > hi) {
				t.Fatalf("step %d: mean %v band [%v, %v] model %s cal %+v n=%d", i, fc.Mean[i], fc.Lower[i], fc.Upper[i], fc.Model, fc.cal, len(s.Times))
			}
		}
	})
}
