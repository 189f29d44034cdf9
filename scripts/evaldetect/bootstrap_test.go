package main

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSeriesRawAddsUp: the series' raw scores of the corpus' sweep are
// each what the series scores as a corpus of its own, and summed and
// normalised by the corpus' window count they are the corpus' score at
// every threshold (the identity the bootstrap rests on), with false alarms
// before, between and after windows, and a series without windows.
func TestSeriesRawAddsUp(t *testing.T) {
	mk := func(n int) []int64 {
		ts := make([]int64, n)
		for i := range ts {
			ts[i] = int64(60 * i)
		}
		return ts
	}
	names := []string{"a", "b", "c"}
	times := [][]int64{mk(200), mk(150), mk(120)}
	windows := map[string][][2]float64{
		"a": {{60 * 50, 60 * 70}, {60 * 120, 60 * 140}},
		"c": {{60 * 90, 60 * 100}},
	}
	c := newNABCorpus(names, times, windows)
	rng := rand.New(rand.NewPCG(1, 2))
	scores := make([][]float64, len(names))
	for k := range scores {
		scores[k] = make([]float64, len(times[k]))
		for i := range scores[k] {
			scores[k][i] = rng.Float64()
		}
	}
	thr := []float64{0.1, 0.5, 0.9, 0.99}
	for p := range nabProfiles {
		ev := c.events(scores)
		whole, _ := c.curve(ev, p, thr)
		parts, _ := c.sweep(ev, p, thr)
		for k, name := range names {
			one := newNABCorpus([]string{name}, times[k:k+1], windows)
			alone, _ := one.sweep(one.events(scores[k:k+1]), p, thr)
			for j := range thr {
				if math.Abs(parts[k][j]-alone[0][j]) > 1e-9 {
					t.Errorf("profile %s, series %s at %.2f: %.6f in the corpus, %.6f alone", nabProfiles[p].name, name, thr[j], parts[k][j], alone[0][j])
				}
			}
		}
		for j := range thr {
			sum := 0.0
			for k := range parts {
				sum += parts[k][j]
			}
			if got := nabNorm(sum, c.nwin, p); math.Abs(got-whole[j]) > 1e-9 {
				t.Errorf("profile %s at %.2f: series summed %.6f, corpus %.6f", nabProfiles[p].name, thr[j], got, whole[j])
			}
		}
	}
}

// TestBootstrapDraws: a group of one perfect and one worthless series (one
// window each) reads 100, 50 or 0 in a resample, a quarter, a half and a
// quarter of the time; groups of one series always read their table value.
func TestBootstrapDraws(t *testing.T) {
	e := &evaluation{
		groups:   []*group{{name: "two"}, {name: "g1"}, {name: "g2"}, {name: "g3"}},
		thr:      []float64{0.5},
		eligible: [][]bool{{true}},
	}
	raw := [][][][]float64{{{{1}, {-1}}, {{0.5}}, {{0.5}}, {{0.5}}}}
	nwin := [][]int{{1, 1}, {1}, {1}, {1}}
	bt := e.bootstrap(raw, nwin, []int{1}, 2000, 7)[0]
	count := map[float64]int{}
	for b := range bt.held {
		count[bt.held[b][0]]++
		for h := 1; h < 4; h++ {
			if bt.held[b][h] != 75 {
				t.Fatalf("resample %d: group %d reads %.2f, want 75 (one series)", b, h, bt.held[b][h])
			}
		}
		if want := (bt.held[b][0] + 225) / 4; math.Abs(bt.mean[b]-want) > 1e-9 {
			t.Fatalf("resample %d: mean %.4f, want %.4f", b, bt.mean[b], want)
		}
	}
	if len(count) != 3 {
		t.Fatalf("the two-series group read %v, want only 0, 50 and 100", count)
	}
	for v, want := range map[float64]float64{0: 0.25, 50: 0.5, 100: 0.25} {
		if got := float64(count[v]) / 2000; math.Abs(got-want) > 0.05 {
			t.Errorf("the two-series group read %.0f in %.3f of resamples, want about %.2f", v, got, want)
		}
	}
}

// TestDrawSeriesHasWindows: a draw is never without windows.
func TestDrawSeriesHasWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		d, w := drawSeries(rng, []int{0, 0, 0, 1})
		want := 0
		for _, s := range d {
			if s == 3 {
				want++
			}
		}
		if want == 0 {
			t.Fatalf("draw %v has no window", d)
		}
		if w != want {
			t.Fatalf("draw %v: %d windows counted, want %d", d, w, want)
		}
	}
}

// TestBootDiffIsPaired: a second setting that adds 0.2 to every series'
// raw score (10 points on a group of two one-window series) is chosen by
// every fold of the two-setting grid, and gains exactly 10 in every draw,
// although the two-series group's own score ranges over 0 to 110 across
// draws: the grids are compared on the same draws.
func TestBootDiffIsPaired(t *testing.T) {
	e := &evaluation{
		groups:   []*group{{name: "two"}, {name: "g1"}, {name: "g2"}, {name: "g3"}},
		thr:      []float64{0.5},
		eligible: [][]bool{{true}, {true}},
	}
	raw := [][][][]float64{
		{{{1}, {-1}}, {{0}}, {{0}}, {{0}}},
		{{{1.2}, {-0.8}}, {{0.2}}, {{0.2}}, {{0.2}}},
	}
	nwin := [][]int{{1, 1}, {1}, {1}, {1}}
	bts := e.bootstrap(raw, nwin, []int{2, 1}, 500, 9)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, h := range bts[0].held {
		lo, hi = math.Min(lo, h[0]), math.Max(hi, h[0])
	}
	if math.Abs(lo-10) > 1e-9 || math.Abs(hi-110) > 1e-9 {
		t.Fatalf("the two-series group ranges over %.0f to %.0f with the second setting, want 10 to 110", lo, hi)
	}
	var b strings.Builder
	e.bootDiff(&b, "diff", bts[0], bts[1], []float64{10, 10, 10, 10})
	out := b.String()
	for _, want := range []string{
		"| two | +10.00 | +10.00 | +10.00 | +10.00 | 500 of 500 |",
		"| **mean** | +10.00 | +10.00 | +10.00 | +10.00 | 500 of 500 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("bootDiff:\n%s\nwant the row\n%s", out, want)
		}
	}
}
