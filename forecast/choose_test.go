package forecast

import "testing"

// TestRollingOrigins: the origins end the last window at the end of the
// history, leave each at least minTrain steps of history, are evenly spaced
// by the window (or less, down to a quarter of it, to fit more), and number
// folds when asked. The window is the horizon when the history holds one
// after minTrain steps, else the shorter window that gives the most errors
// with at least two origins.
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
		{"shorter window, 2.5 days of a daily season", 720, 288, 288, 0, 6, 0, 576},
		{"shorter window, two weeks and 5 steps of a weekly season", 4032 + 5, 12, 2016, 0, 3, 0, 4032},
		{"shorter window, no season", 50, 48, 0, 0, -1, 0, 10},
		{"shorter window, one fold asked", 600, 288, 288, 1, 1, 0, 576},
		{"too short for two origins", 4032 + 1, 12, 2016, 0, 0, 0, 4032},
		{"too short", 11, 48, 0, 0, 0, 0, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w Fitter
			o, hb := w.rollingOrigins(c.n, c.H, c.m, c.folds)
			if c.wantK >= 0 && len(o) != c.wantK {
				t.Fatalf("%d origins %v, want %d", len(o), o, c.wantK)
			}
			if len(o) == 0 {
				if c.wantK != 0 {
					t.Fatalf("no origins, want some")
				}
				return
			}
			full := c.n-c.H >= c.minTrain
			switch {
			case full && hb != c.H:
				t.Errorf("window %d steps, want the horizon %d: the history holds it", hb, c.H)
			case !full && (hb < 1 || hb > c.n-c.minTrain):
				t.Errorf("window %d steps, want 1 to %d (what the history holds after %d steps)", hb, c.n-c.minTrain, c.minTrain)
			case !full && len(o) < min(2, max(c.folds, 1)):
				t.Errorf("shorter window with %d origins, want at least 2", len(o))
			}
			if !full {
				// The window gives the most errors of any window the
				// history holds.
				for h := 1; h <= c.n-c.minTrain; h++ {
					kWant := c.folds
					if kWant == 0 {
						kWant = foldsWanted(c.H)
					}
					if k := originCount(c.n, h, c.minTrain, kWant); k >= min(2, kWant) && k*h > len(o)*hb {
						t.Errorf("window %d with %d origins gives %d errors; %d with %d would give %d", hb, len(o), hb*len(o), h, k, h*k)
						break
					}
				}
			}
			if last := o[len(o)-1]; last != c.n-hb {
				t.Errorf("last origin %d, want n-window = %d", last, c.n-hb)
			}
			if o[0] < c.minTrain {
				t.Errorf("first origin %d leaves less than %d steps of history", o[0], c.minTrain)
			}
			for k := 1; k < len(o); k++ {
				d := o[k] - o[k-1]
				if d < max(1, hb/4) || d > hb || (c.wantStride > 0 && d != c.wantStride) {
					t.Errorf("origins %d and %d are %d apart (window %d)", o[k-1], o[k], d, hb)
				}
			}
		})
	}
}
