package forecast

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzFit: whatever the series and options, Fit does not panic, and a
// forecast it returns has the asked length with finite, ordered bands
// wherever the mean is finite.
func FuzzFit(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, uint8(5), uint8(0), int64(60))
	f.Add(make([]byte, 400), uint8(30), uint8(3), int64(300))
	f.Fuzz(func(t *testing.T, data []byte, h uint8, model uint8, step int64) {
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
		fc, err := Fit(s, o)
		if err != nil {
			return
		}
		if len(fc.Mean) != o.Horizon || len(fc.Lower) != o.Horizon || len(fc.Upper) != o.Horizon || len(fc.Times) != o.Horizon {
			t.Fatalf("lengths %d %d %d %d, want %d", len(fc.Mean), len(fc.Lower), len(fc.Upper), len(fc.Times), o.Horizon)
		}
		for i := range fc.Mean {
			if finite(fc.Mean[i]) && (math.IsNaN(fc.Lower[i]) || math.IsNaN(fc.Upper[i]) || fc.Lower[i] > fc.Upper[i]) {
				t.Fatalf("step %d: mean %v band [%v, %v] model %s cal %+v n=%d", i, fc.Mean[i], fc.Lower[i], fc.Upper[i], fc.Model, fc.cal, len(s.Times))
			}
		}
	})
}
