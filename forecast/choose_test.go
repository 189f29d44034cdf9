package forecast

import "testing"

// TestRollingOrigins: the origins end the last window at the end of the
// history, leave each at least minTrain steps of history, are evenly spaced
// by H (or less, down to H/4, to fit more), and number folds when asked.
func TestRollingOrigins(t *testing.T) {
	cases := []struct {
		name           string
		n, H, m, folds int
		wantK          int // -1: do not check the count
		wantStride     int // 0: do not check
		minTrain       int
	}{
		{"automatic, long history", 4032, 288, 288, 0, 6, 288, 576},
		{"automatic, short horizon", 4032, 12, 288, 0, 40, 12, 576},
		{"folds asked", 4032, 288, 288, 3, 3, 288, 576},
		{"squeezed stride", 700, 48, 24, 10, 10, 0, 48},
		{"one window only", 60, 48, 0, 0, 1, 0, 10},
		{"too short", 50, 48, 0, 0, 0, 0, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w Fitter
			o := w.rollingOrigins(c.n, c.H, c.m, c.folds)
			if len(o) != c.wantK {
				t.Fatalf("%d origins %v, want %d", len(o), o, c.wantK)
			}
			if len(o) == 0 {
				return
			}
			if last := o[len(o)-1]; last != c.n-c.H {
				t.Errorf("last origin %d, want n-H = %d", last, c.n-c.H)
			}
			if o[0] < c.minTrain {
				t.Errorf("first origin %d leaves less than %d steps of history", o[0], c.minTrain)
			}
			for k := 1; k < len(o); k++ {
				d := o[k] - o[k-1]
				if d < max(1, c.H/4) || d > c.H || (c.wantStride > 0 && d != c.wantStride) {
					t.Errorf("origins %d and %d are %d apart (H %d)", o[k-1], o[k], d, c.H)
				}
			}
		})
	}
}
