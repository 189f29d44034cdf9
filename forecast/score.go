package forecast

import (
	"fmt"
	"math"
	"sort"
)

// scoreSeason is the seasonal lag, in seconds, of the naive forecast that
// MASE is scaled by when a forecast is scored against what happened: one
// day, as ../shared/eval/score.py --season-seconds 86400 scores it.
const scoreSeason = 86400

// HoldOut is one window of a rolling-origin backtest: the history a model
// is fitted on and what happened after it, with the scale its MASE is
// divided by.
type HoldOut struct {
	History Series
	Truth   Series
	// Step is the series' step in seconds: Options.Step, else its median
	// sampling interval.
	Step int64
	// Span is the window's length in seconds.
	Span int64
	// Scale is the in-sample mean absolute seasonal difference of the
	// history's finite values at one day (at one step when the history is
	// a day or shorter); NaN when there is none.
	Scale float64
}

// SplitWindow holds out window k (0 the latest) of s: the last (k+1)
// windows of o.Horizon steps (or o.HorizonSeconds) are cut off, the
// history is what precedes window k and the truth is window k itself.
func SplitWindow(s Series, k int, o Options) (HoldOut, error) {
	if len(s.Times) < 3 {
		return HoldOut{}, fmt.Errorf("%d points, too few to hold any out", len(s.Times))
	}
	step := o.Step
	if step <= 0 {
		step = max(medianStep(s.Times, nil), 1)
	}
	span := o.HorizonSeconds
	if o.Horizon > 0 {
		span = int64(o.Horizon) * step
	}
	last := s.Times[len(s.Times)-1]
	origin := last - span*int64(k+1)
	cut := sort.Search(len(s.Times), func(i int) bool { return s.Times[i] > origin })
	end := sort.Search(len(s.Times), func(i int) bool { return s.Times[i] > origin+span })
	if cut < 2 || end <= cut {
		return HoldOut{}, fmt.Errorf("window %d leaves no history or no truth", k)
	}
	h := HoldOut{
		History: Series{Times: s.Times[:cut], Values: s.Values[:cut]},
		Truth:   Series{Times: s.Times[cut:end], Values: s.Values[cut:end]},
		Step:    step,
		Span:    span,
	}
	h.Scale = naiveScale(h.History.Values, step)
	return h, nil
}

// naiveScale is maseScale over the finite values at a lag of one day in
// steps.
func naiveScale(values []float64, step int64) float64 {
	v := make([]float64, 0, len(values))
	for _, x := range values {
		if finite(x) {
			v = append(v, x)
		}
	}
	return maseScale(v, max(1, int(math.Round(scoreSeason/float64(step)))))
}

// Score is a forecast's accuracy on a held-out window.
type Score struct {
	SMAPE float64 // symmetric MAPE, in percent (0 to 200)
	MASE  float64 // mean absolute error over HoldOut.Scale; NaN without a scale
	// Coverage is the share of the truth within [Lower, Upper].
	Coverage float64
	// OK is false when no truth point met a forecast step.
	OK bool
}

// Score matches each finite truth point to the nearest forecast step within
// half a step and scores the forecast on those pairs.
func (h HoldOut) Score(fc *Forecast) Score {
	if len(fc.Times) == 0 {
		return Score{}
	}
	half := int64(1)
	if len(fc.Times) > 1 {
		half = (fc.Times[1] - fc.Times[0]) / 2
	}
	var sm, ae float64
	in, n := 0, 0
	for i, t := range h.Truth.Times {
		y := h.Truth.Values[i]
		if !finite(y) {
			continue
		}
		j := sort.Search(len(fc.Times), func(j int) bool { return fc.Times[j] >= t })
		best := -1
		for _, c := range []int{j - 1, j} {
			if c >= 0 && c < len(fc.Times) && abs64(fc.Times[c]-t) <= half && (best < 0 || abs64(fc.Times[c]-t) < abs64(fc.Times[best]-t)) {
				best = c
			}
		}
		if best < 0 {
			continue
		}
		f := fc.Mean[best]
		if d := math.Abs(y) + math.Abs(f); d > 0 {
			sm += 200 * math.Abs(y-f) / d
		}
		ae += math.Abs(y - f)
		if y >= fc.Lower[best] && y <= fc.Upper[best] {
			in++
		}
		n++
	}
	if n == 0 {
		return Score{}
	}
	r := Score{SMAPE: sm / float64(n), MASE: math.NaN(), Coverage: float64(in) / float64(n), OK: true}
	if h.Scale > 0 {
		r.MASE = ae / float64(n) / h.Scale
	}
	return r
}
