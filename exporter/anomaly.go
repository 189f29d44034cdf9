package exporter

import (
	"math"

	"github.com/fleetcast/fleetcast/detect"
	"github.com/fleetcast/fleetcast/forecast"
)

// AnomalyScorer scores each new observation of one series, fed once and in
// order. It hides which detector is in use.
type AnomalyScorer interface {
	// Observe scores the observation v at t in [0, 1]: how strongly the
	// evidence against the series' own recent behaviour exceeds what its
	// history makes usual (see detect.Detector), scored before the
	// observation is learnt.
	Observe(t int64, v float64) float64
	// Forecast hands the scorer the series' latest forecast; scorers that
	// learn their own band ignore it.
	Forecast(f *forecast.Forecast)
}

// maxAnomalyScore caps the score so that a band of zero width does not
// publish +Inf.
const maxAnomalyScore = 1000

// bandScorer scores an observation against the band of the forecast made
// before it arrived: 0 inside, else the distance outside in band widths.
type bandScorer struct {
	f *forecast.Forecast
}

func (b *bandScorer) Forecast(f *forecast.Forecast) { b.f = f }

func (b *bandScorer) Observe(t int64, v float64) float64 {
	if b.f == nil || len(b.f.Times) == 0 || math.IsNaN(v) {
		return 0
	}
	i := -1
	// The forecast steps are regular: find t directly, then confirm.
	if len(b.f.Times) > 1 {
		step := b.f.Times[1] - b.f.Times[0]
		if step > 0 && (t-b.f.Times[0])%step == 0 {
			i = int((t - b.f.Times[0]) / step)
		}
	} else if t == b.f.Times[0] {
		i = 0
	}
	if i < 0 || i >= len(b.f.Times) || b.f.Times[i] != t {
		return 0
	}
	lo, hi := b.f.Lower[i], b.f.Upper[i]
	width := hi - lo
	var out float64
	switch {
	case v > hi:
		out = v - hi
	case v < lo:
		out = lo - v
	default:
		return 0
	}
	if width <= 0 {
		return maxAnomalyScore
	}
	return math.Min(out/width, maxAnomalyScore)
}

// NewBandScorer scores against the band of the exporter's own previous
// forecast, in band widths (Options.NewScorer).
func NewBandScorer(int64, []int64) AnomalyScorer { return &bandScorer{} }

// detectorScorer is the streaming anomaly detector of package detect: it
// learns its own band from the observations, so the published score is the
// one "fleetcast detect" reports and the one detect.Threshold is set
// for.
type detectorScorer struct{ d *detect.Detector }

func (s detectorScorer) Observe(t int64, v float64) float64 { return s.d.Observe(t, v).Score }

func (detectorScorer) Forecast(*forecast.Forecast) {}

// NewDetectorScorer is the default scorer.
func NewDetectorScorer(step int64, seasons []int64) AnomalyScorer {
	return detectorScorer{d: detect.New(detect.Options{Step: step, Seasons: seasons})}
}
