package forecast

import (
	"errors"
	"math"
	"testing"
)

func TestDegenerate(t *testing.T) {
	nan := math.NaN()
	if _, err := Fit(Series{}, Options{Horizon: 3}); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty series: err %v, want ErrEmpty", err)
	}
	if _, err := Fit(Series{Times: []int64{1, 2}, Values: []float64{nan, nan}}, Options{Horizon: 3}); !errors.Is(err, ErrEmpty) {
		t.Errorf("all-NaN series: err %v, want ErrEmpty", err)
	}
	f, err := Fit(Series{Times: []int64{0, 60, 120, 180}, Values: []float64{5, 5, nan, 5}}, Options{Horizon: 4})
	if err != nil {
		t.Fatal(err)
	}
	for h, v := range f.Mean {
		if v != 5 || f.Lower[h] != 5 || f.Upper[h] != 5 || f.Times[h] != 180+int64(h+1)*60 {
			t.Errorf("constant series step %d: %v [%v, %v] at %d, want 5 [5, 5] at %d", h, v, f.Lower[h], f.Upper[h], f.Times[h], 180+(h+1)*60)
		}
	}
	if _, err := Fit(Series{Times: []int64{1}, Values: []float64{1}}, Options{Horizon: 3, Model: "nope"}); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("unknown model: err %v, want ErrUnknownModel", err)
	}
	if _, err := Fit(Series{Times: []int64{1}, Values: []float64{1}}, Options{}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("no horizon: err %v, want ErrBadOptions", err)
	}
	f, err = Fit(Series{Times: []int64{7}, Values: []float64{3}}, Options{Horizon: 2})
	if err != nil || f.Mean[0] != 3 {
		t.Errorf("one point: %v, %v; want a flat forecast of 3", f, err)
	}
}
