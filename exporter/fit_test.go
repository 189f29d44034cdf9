package exporter

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/detect"
	"github.com/fleetcast/fleetcast/forecast"
)

// TestAnomalyScore checks each scorer on a regular daily sine that jumps
// from about 100 to 1000: the score before the jump and after it.
func TestAnomalyScore(t *testing.T) {
	const sel = `fleetcast_anomaly_score{instance="a",target="cpu"}`
	for _, tc := range []struct {
		name      string
		scorer    func(step int64, seasons []int64) AnomalyScorer // nil: the default
		before    func(s float64) bool
		after     func(s float64) bool
		wantAfter string
	}{
		{"detector (default)", nil,
			func(s float64) bool { return s <= detect.Threshold },
			func(s float64) bool { return s > detect.Threshold && s <= 1 },
			"above detect.Threshold and at most 1"},
		{"previous band", NewBandScorer,
			func(s float64) bool { return s >= 0 },
			func(s float64) bool { return s > 1 },
			"above 1, well outside the band"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := &fakeProm{series: []model.Metric{{"instance": "a"}}, value: daily}
			e, clk := startExporter(t, Options{Config: testConfig(t, ""), Querier: fp, NewScorer: tc.scorer})
			h := e.Handler()
			if s := gauge(t, scrape(t, h), sel); !tc.before(s) {
				t.Errorf("a regular daily sine scored %g", s)
			}
			fp.mu.Lock()
			fp.value = func(i int, ts int64) float64 { return 1000 }
			fp.mu.Unlock()
			clk.add(5 * time.Minute)
			if err := e.CycleAll(context.Background()); err != nil {
				t.Fatal(err)
			}
			if s := gauge(t, scrape(t, h), sel); !tc.after(s) {
				t.Errorf("a jump from ~100 to 1000 scored %g, want %s", s, tc.wantAfter)
			}
		})
	}
}

// With refit: 30m and a 5m refresh, each series is refit once per half
// hour, the fits are spread over the cycles, and the forecasts published in
// between are read further along the last fit, still at the right time.
func TestRefitSpreadsFits(t *testing.T) {
	var ms []model.Metric
	for i := range 60 {
		ms = append(ms, model.Metric{"instance": model.LabelValue(fmt.Sprint("n", i))})
	}
	fp := &fakeProm{series: ms, value: daily}
	e, clk := startExporter(t, Options{Config: testConfig(t, "    refit: 30m\n"), Querier: fp})
	ctx := context.Background()
	h := e.Handler()
	fits := func() float64 { return testutil.ToFloat64(e.self.fits.WithLabelValues("cpu")) }
	if n := fits(); n != 60 {
		t.Fatalf("first cycle fits %g, want 60", n)
	}
	prev := 60.0
	for c := range 6 {
		clk.add(5 * time.Minute)
		if err := e.CycleAll(ctx); err != nil {
			t.Fatal(err)
		}
		n := fits()
		if d := n - prev; d < 2 || d > 25 {
			t.Errorf("cycle %d refit %g series; want a share of the 60 spread over 6 cycles", c, d)
		}
		prev = n
		end := clk.now().Unix() / 300 * 300
		got := gauge(t, scrape(t, h), `fleetcast_forecast{horizon="1h",instance="n0",q="0.5",target="cpu"}`)
		if want := daily(0, end+3600); math.Abs(got-want) > 5 {
			t.Errorf("cycle %d: 1h forecast %g, truth %g", c, got, want)
		}
	}
	if prev != 120 {
		t.Errorf("after 30 minutes %g fits, want 120 (every series once more)", prev)
	}
}

// scriptedScorer returns the scores it is given, one per observation, and
// records what it saw.
type scriptedScorer struct {
	scores []float64
	seen   []int64
}

func (s *scriptedScorer) Observe(t int64, v float64) float64 {
	s.seen = append(s.seen, t)
	out := s.scores[0]
	s.scores = s.scores[1:]
	return out
}

func (s *scriptedScorer) Forecast(*forecast.Forecast) {}

// TestObserveFeedsOnlyNewSamplesAsTheWindowSlides: when the window drops
// its oldest samples and gains new ones, the scorer sees each new sample
// once, in order, and none it saw before; when the window has moved past
// everything fed (a long outage), it sees the whole window.
func TestObserveFeedsOnlyNewSamplesAsTheWindowSlides(t *testing.T) {
	sc := &scriptedScorer{scores: make([]float64, 20)}
	e := &Exporter{newScorer: func(int64, []int64) AnomalyScorer { return sc }}
	tg := &target{step: 60, cfg: &TargetConfig{}}
	sr := &series{start: 600, vals: []float64{1, 2, 3, 4}}
	e.observe(tg, sr)
	// Two dropped, three new (the middle one missing).
	sr.start, sr.vals = 720, []float64{3, 4, 5, math.NaN(), 7}
	e.observe(tg, sr)
	// Far past everything fed.
	sr.start, sr.vals = 6000, []float64{8, 9}
	e.observe(tg, sr)
	want := []int64{600, 660, 720, 780, 840, 960, 6000, 6060}
	if !slices.Equal(sc.seen, want) {
		t.Fatalf("scorer saw %v, want %v", sc.seen, want)
	}
	if sr.fedUntil != 6060 {
		t.Fatalf("fedUntil %d, want 6060", sr.fedUntil)
	}
}

// TestObservePublishesCycleMax checks that each new sample is scored once, in
// order, and that a detection in the middle of a cycle is the published
// score rather than being overwritten by the cycle's last sample. A
// series' first cycle scores its whole history but publishes only what
// its last refresh brought: a detection in the history (0.9) is not news.
func TestObservePublishesCycleMax(t *testing.T) {
	for _, tc := range []struct {
		name      string
		refresh   time.Duration
		wantFirst float64
	}{
		{"refresh shorter than the step: the newest sample", 30 * time.Second, 0.2},
		{"refresh of two steps: the last two samples", 2 * time.Minute, 0.4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &scriptedScorer{scores: []float64{0.9, 0.1, 0.4, 0.2, 0.3, 0.8, 0.1}}
			e := &Exporter{newScorer: func(int64, []int64) AnomalyScorer { return sc }}
			tg := &target{step: 60, cfg: &TargetConfig{Refresh: model.Duration(tc.refresh)}}
			sr := &series{start: 600, vals: []float64{1, 2, math.NaN(), 4, 5}}
			e.observe(tg, sr)
			if sr.score != tc.wantFirst {
				t.Fatalf("score after the first cycle = %v, want %v", sr.score, tc.wantFirst)
			}
			if len(sc.seen) != 4 || sc.seen[0] != 600 || sc.seen[2] != 780 {
				t.Fatalf("scorer saw %v, want 600, 660, 780, 840 (NaN skipped)", sc.seen)
			}
			// Nothing new: the score stays.
			e.observe(tg, sr)
			if sr.score != tc.wantFirst || len(sc.seen) != 4 {
				t.Fatalf("no new samples: score %v, seen %v", sr.score, sc.seen)
			}
			// Three new samples: the detection among them is published.
			sr.vals = append(sr.vals, 6, 7, 8)
			e.observe(tg, sr)
			if sr.score != 0.8 || len(sc.seen) != 7 {
				t.Fatalf("next cycle: score %v, seen %v; want the cycle's max 0.8 after 7 observations", sr.score, sc.seen)
			}
		})
	}
}
