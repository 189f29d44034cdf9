package main

import (
	"fmt"
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

// TestCalmKinds: the kinds of calm series are what their names say.
// Seasonal noise differs between 06:00 and 18:00 by about 20, white noise
// does not, a random walk's spread after n steps grows like sqrt(n), the
// lognormal's logs have mean 1 and sd 0.5, and the bursty series is 0 four
// times in five, its other values' logs with mean 10 and sd 2.
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
	logMoments := func(kind string) (zeros, mean, sd float64) {
		var s, s2, nz float64
		for range n {
			v := calmValue(kind, 0, 0, rng)
			if v <= 0 {
				if v < 0 {
					t.Fatalf("%s: %g, want no negative value", kind, v)
				}
				zeros++
				continue
			}
			l := math.Log(v)
			s, s2, nz = s+l, s2+l*l, nz+1
		}
		mean = s / nz
		return zeros / n, mean, math.Sqrt(s2/nz - mean*mean)
	}
	if z, m, sd := logMoments("lognormal"); z != 0 || math.Abs(m-1) > 0.05 || math.Abs(sd-0.5) > 0.05 {
		t.Errorf("lognormal: %.3f zeros, log mean %.2f, log sd %.2f; want 0, 1, 0.5", z, m, sd)
	}
	if z, m, sd := logMoments("bursty"); math.Abs(z-0.8) > 0.04 || math.Abs(m-10) > 0.3 || math.Abs(sd-2) > 0.3 {
		t.Errorf("bursty: %.3f zeros, log mean %.2f, log sd %.2f; want 0.8, 10, 2", z, m, sd)
	}
}

// TestCalmTable: the calm table prints a row for every kind at the shipped
// threshold, marks the gated kinds and nothing else, and reads the figures
// at the shipped threshold's column.
func TestCalmTable(t *testing.T) {
	thr := []float64{0.5, detect.Threshold, 0.6}
	calm := make([][3][]float64, len(calmKinds))
	for c := range calm {
		for k := range calm[c] {
			calm[c][k] = []float64{9, float64(10*c + k), 9}
		}
	}
	var b strings.Builder
	calmTable(&b, "a setting", calm, thr, detect.Threshold, []int{1})
	out := b.String()
	for c, kind := range calmKinds {
		mark := ""
		if c == 1 {
			mark = " *"
		}
		want := fmt.Sprintf("| %s%s | %.3f | %.3f | %.3f |", kind, mark, float64(10*c), float64(10*c+1), float64(10*c+2))
		if !strings.Contains(out, want) {
			t.Errorf("calm table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "9.000") {
		t.Errorf("calm table reads a threshold other than %.3f:\n%s", detect.Threshold, out)
	}
}

// TestFixedTable: with a setting fixed, each held-out group is scored at
// the eligible threshold best on the other three groups, not on all four
// and not at an ineligible one; a setting with no eligible threshold says
// so.
func TestFixedTable(t *testing.T) {
	curve := func(xs ...float64) [3][]float64 { return [3][]float64{xs, xs, xs} }
	res := result{at: [][3][]float64{
		curve(10, 80, 99), // with itself among the groups, this group would move the choice to 0.2
		curve(10, 50, 99),
		curve(60, 10, 99),
		curve(60, 10, 99),
	}}
	e := &evaluation{
		groups:   []*group{{name: "g0"}, {name: "g1"}, {name: "g2"}, {name: "g3"}},
		vs:       []variant{{name: "some"}, {name: "never calm"}},
		thr:      []float64{0.1, 0.2, 0.3},
		res:      []result{res, res},
		eligible: [][]bool{{true, true, false}, {false, false, false}},
	}
	var b strings.Builder
	e.fixedTable(&b)
	out := b.String()
	want := "| some | 10.00 (0.100) | 10.00 (0.100) | 10.00 (0.200) | 10.00 (0.200) | **10.00** |"
	if !strings.Contains(out, want) {
		t.Errorf("fixedTable:\n%s\nwant the row\n%s", out, want)
	}
	if !strings.Contains(out, "| never calm | not eligible |") {
		t.Errorf("fixedTable:\n%s\nwant the setting without an eligible threshold marked not eligible", out)
	}
}
