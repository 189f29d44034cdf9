package exporter

import (
	"math"
	"testing"

	"github.com/fleetcast/fleetcast/forecast"
)

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

// TestObservePublishesCycleMax checks that each new sample is scored once, in
// order, and that a detection in the middle of a cycle is the published
// score rather than being overwritten by the cycle's last sample.
func TestObservePublishesCycleMax(t *testing.T) {
	sc := &scriptedScorer{scores: []float64{0.1, 0.9, 0.2, 0.3}}
	e := &Exporter{newScorer: func(int64, []int64) AnomalyScorer { return sc }}
	tg := &target{step: 60, cfg: &TargetConfig{}}
	sr := &series{start: 600, vals: []float64{1, 2, math.NaN(), 4}}
	e.observe(tg, sr)
	if sr.score != 0.9 {
		t.Fatalf("score after first cycle = %v, want the cycle's max 0.9", sr.score)
	}
	if len(sc.seen) != 3 || sc.seen[0] != 600 || sc.seen[2] != 780 {
		t.Fatalf("scorer saw %v, want 600, 660, 780 (NaN skipped)", sc.seen)
	}
	// Nothing new: the score stays.
	e.observe(tg, sr)
	if sr.score != 0.9 || len(sc.seen) != 3 {
		t.Fatalf("no new samples: score %v, seen %v", sr.score, sc.seen)
	}
	// One new sample: its score is published.
	sr.vals = append(sr.vals, 5)
	e.observe(tg, sr)
	if sr.score != 0.3 || len(sc.seen) != 4 {
		t.Fatalf("next cycle: score %v, seen %v; want 0.3 after 4 observations", sr.score, sc.seen)
	}
}
