package main

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fleetcast/fleetcast/detect"
)

// TestCalmAlarmsPerThreshold checks that the calm-noise check counts alarms
// at every candidate threshold: fewer (never more) at a higher threshold,
// none at 1, and at the shipped threshold the same count a single-threshold
// run gives.
func TestCalmAlarmsPerThreshold(t *testing.T) {
	thr := thresholds()
	got := calmAlarmsPerDay(detect.Options{}, "seasonal", 3600, thr)
	if len(got) != len(thr) {
		t.Fatalf("%d counts for %d thresholds", len(got), len(thr))
	}
	for j := 1; j < len(got); j++ {
		if got[j] > got[j-1] {
			t.Errorf("alarms rise from %.3f at %.3f to %.3f at %.3f", got[j-1], thr[j-1], got[j], thr[j])
		}
	}
	if got[0] <= 0 {
		t.Errorf("no calm alarms at threshold %.3f: the check cannot tell settings apart", thr[0])
	}
	one := calmAlarmsPerDay(detect.Options{}, "seasonal", 3600, []float64{detect.Threshold})
	found := false
	for j, x := range thr {
		if x == detect.Threshold {
			found = true
			if got[j] != one[0] {
				t.Errorf("at %.3f: %.3f alarms a day among all thresholds, %.3f alone", x, got[j], one[0])
			}
		}
	}
	if !found {
		t.Errorf("the shipped threshold %.3f is not among the candidates", detect.Threshold)
	}
}

// TestParseKinds: the --calm list names kinds, rejects unknown ones, and
// counts a repeated one once.
func TestParseKinds(t *testing.T) {
	got, err := parseKinds("white, seasonal,white")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || calmKinds[got[0]] != "white" || calmKinds[got[1]] != "seasonal" {
		t.Errorf("parseKinds: %v, want white and seasonal", got)
	}
	if _, err := parseKinds("seasonal,pink"); err == nil || !strings.Contains(err.Error(), `"pink"`) {
		t.Errorf("parseKinds of an unknown kind: %v, want an error naming it", err)
	}
}

// TestCalmKinds: the three kinds of calm series are what their names say.
// Seasonal noise differs between 06:00 and 18:00 by about 20, white noise
// does not, and a random walk's spread after n steps grows like sqrt(n).
func TestCalmKinds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	const n = 2000
	hourGap := func(kind string) float64 {
		sum := 0.0
		for range n {
			sum += calmValue(kind, 6*3600, 0, rng) - calmValue(kind, 18*3600, 0, rng)
		}
		return sum / n
	}
	if g := hourGap("seasonal"); g < 19 || g > 21 {
		t.Errorf("seasonal: 06:00 - 18:00 = %.2f on average, want about 20", g)
	}
	if g := hourGap("white"); math.Abs(g) > 0.2 {
		t.Errorf("white: 06:00 - 18:00 = %.2f on average, want about 0", g)
	}
	spread := 0.0
	for range 400 {
		v := 0.0
		for range 100 {
			v = calmValue("walk", 0, v, rng)
		}
		spread += v * v / 400
	}
	if sd := math.Sqrt(spread); sd < 8 || sd > 12 {
		t.Errorf("walk: sd %.2f after 100 unit steps, want about 10", sd)
	}
}
