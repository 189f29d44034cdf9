package forecast

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRollingOrigins: the origins end the last window at the end of the
// history, leave each at least minTrain steps of history, are evenly spaced
// by the window (or less, down to a quarter of it, to fit more), and number
// folds when asked. The window is the horizon when the history holds two
// of them after minTrain steps (one if one fold is asked), else the
// shorter window that gives the most errors with at least two origins.
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
		{"one window of the horizon only: a shorter one, more origins", 60, 48, 0, 0, -1, 0, 10},
		{"one window of the horizon and a bit: a shorter one", 3*288 + 20, 288, 288, 0, -1, 0, 576},
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
			kWant := c.folds
			if kWant == 0 {
				kWant = foldsWanted(c.H)
			}
			full := originCount(c.n, c.H, c.minTrain, kWant) >= min(2, kWant)
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

// TestSeasonLimits: the limits the exporter's warning quotes are those of
// rollingOrigins: a season of kept steps gets a backtest and one step
// longer none; one of whole steps is backtested over the whole horizon and
// one step longer over less.
func TestSeasonLimits(t *testing.T) {
	for _, c := range []struct{ n, H int }{{864, 294}, {4033, 12}, {720, 288}, {300, 48}, {30, 12}} {
		kept, whole := SeasonLimits(c.n, c.H)
		var w Fitter
		if o, _ := w.rollingOrigins(c.n, c.H, kept, 0); kept > 0 && len(o) == 0 {
			t.Errorf("n %d, H %d: a season of %d steps (kept) gets no backtest", c.n, c.H, kept)
		}
		if o, _ := w.rollingOrigins(c.n, c.H, kept+1, 0); len(o) > 0 && 2*(kept+1) > 10 {
			t.Errorf("n %d, H %d: a season of %d steps, one more than kept, gets a backtest", c.n, c.H, kept+1)
		}
		if _, hb := w.rollingOrigins(c.n, c.H, whole, 0); whole > 0 && hb != c.H {
			t.Errorf("n %d, H %d: a season of %d steps (whole) is backtested over %d steps", c.n, c.H, whole, hb)
		}
		if o, hb := w.rollingOrigins(c.n, c.H, whole+1, 0); len(o) > 0 && hb == c.H && 2*(whole+1) > 10 {
			t.Errorf("n %d, H %d: a season of %d steps, one more than whole, is backtested over the whole horizon", c.n, c.H, whole+1)
		}
		if whole > kept {
			t.Errorf("n %d, H %d: whole %d > kept %d", c.n, c.H, whole, kept)
		}
	}
}

// TestThreeDaysGetACrossCheckedBand: a daily series with exactly two days
// of training and one horizon (a day) after them held one backtest window,
// and up to a quarter horizon more did too: a band calibrated on one draw
// (Student's t with 1 degree of freedom) and never cross-checked
// (Coverage NaN). The backtest now runs over a shorter horizon with
// several origins instead, as for shorter histories.
func TestThreeDaysGetACrossCheckedBand(t *testing.T) {
	const day = 24
	rng := rand.New(rand.NewPCG(11, 2))
	for _, n := range []int{3 * day, 3*day + day/8} {
		var s Series
		for i := 0; i < n; i++ {
			s.Times = append(s.Times, int64(i)*3600)
			s.Values = append(s.Values, 50+20*math.Sin(2*math.Pi*float64(i)/day)+rng.NormFloat64())
		}
		f, err := Fit(s, Options{Horizon: day, Level: 0.8})
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(f.Coverage) || len(f.Seasons) == 0 {
			t.Errorf("%d hours of history: seasons %v, backtest coverage %v; want the daily season and a cross-checked band", n, f.Seasons, f.Coverage)
		}
	}
}
