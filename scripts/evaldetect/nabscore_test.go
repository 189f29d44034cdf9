package main

import (
	"io"
	"math"
	"strings"
	"testing"

	"github.com/fleetcast/fleetcast/detect"
	"github.com/fleetcast/fleetcast/internal/seriescsv"
)

// TestNABScore checks the port against NAB's formulas on one series of 20
// rows (probation: the first 3) with one window over rows 10 to 14.
func TestNABScore(t *testing.T) {
	times := make([]int64, 20)
	for i := range times {
		times[i] = int64(100 * i)
	}
	c := newNABCorpus([]string{"s"}, [][]int64{times}, map[string][][2]float64{"s": {{1000, 1400}}})
	if c.nwin != 1 {
		t.Fatalf("windows %d, want 1", c.nwin)
	}
	sig := func(y float64) float64 { return 2/(1+math.Exp(5*y)) - 1 }
	cases := []struct {
		name string
		hits []int // rows scoring 1
		raw  float64
	}{
		{"nothing", nil, -1},
		{"window start", []int{10}, 1},
		{"window middle", []int{12}, sig(-3.0/5) / sig(-1)},
		{"within probation, not counted", []int{1}, -1},
		{"false positive before the window", []int{5, 10}, 1 - 0.11},
		{"false positive after the window", []int{10, 17}, 1 + 0.11*sig(3.0/4)},
		{"only the best detection in a window counts", []int{10, 11, 13}, 1},
	}
	for _, tc := range cases {
		sc := make([]float64, len(times))
		for _, i := range tc.hits {
			sc[i] = 1
		}
		at, best := c.curve(c.events([][]float64{sc}), 0, []float64{0.5})
		want := 100 * (tc.raw + 1) / 2
		if math.Abs(at[0]-want) > 1e-9 {
			t.Errorf("%s: score %.4f at threshold 0.5, want %.4f", tc.name, at[0], want)
		}
		// The sweep tries every distinct score as the threshold, this
		// one among them.
		if best < at[0]-1e-9 || (tc.raw == 1 && best != 100) {
			t.Errorf("%s: best %.4f over the sweep, below %.4f at 0.5 or not 100 for a perfect detection", tc.name, best, at[0])
		}
	}
}

// TestDiagnoseAddsUp checks that the diagnosis' points lost add up to the
// scorer's figure at the same threshold: a window found late, one missed,
// false alarms before and after a window.
func TestDiagnoseAddsUp(t *testing.T) {
	times := make([]int64, 40)
	for i := range times {
		times[i] = int64(100 * i)
	}
	c := newNABCorpus([]string{"s"}, [][]int64{times}, map[string][][2]float64{"s": {{1000, 1400}, {2500, 2900}}})
	g := &group{name: "g", corpus: c}
	for _, hits := range [][]int{nil, {12}, {5, 12, 20, 33}, {10, 25, 39}} {
		sc := make([]float64, len(times))
		for _, i := range hits {
			sc[i] = 1
		}
		at, _ := c.curve(c.events([][]float64{sc}), 0, []float64{0.5})
		if got := diagnose(g, [][]float64{sc}, nil, 0.5, io.Discard); math.Abs(got-at[0]) > 1e-9 {
			t.Errorf("detections at %v: the diagnosis adds up to %.4f, the scorer says %.4f", hits, got, at[0])
		}
	}
}

// TestDiagnosePrintsTheLearntStep: the diagnosis' step column is the step
// the detector learnt (its median of the first intervals, so one odd
// interval does not change it), and "?" for a series too short to learn
// one.
func TestDiagnosePrintsTheLearntStep(t *testing.T) {
	var long, short seriescsv.Series
	long.Name, short.Name = "long", "short"
	tm := int64(0)
	for i := range 40 {
		tm += 100
		if i == 1 {
			tm += 37
		}
		long.Times, long.Values = append(long.Times, tm), append(long.Values, float64(i%3))
		if i < 5 {
			short.Times, short.Values = append(short.Times, tm), append(short.Values, 1)
		}
	}
	g := &group{name: "g", series: []seriescsv.Series{long, short},
		corpus: newNABCorpus([]string{"long", "short"}, [][]int64{long.Times, short.Times}, map[string][][2]float64{})}
	sc, steps := scoreSteps(g, detect.Options{})
	var b strings.Builder
	diagnose(g, sc, steps, 0.5, &b)
	for _, want := range []string{"| long | 100s |", "| short | ? |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, b.String())
		}
	}
}
