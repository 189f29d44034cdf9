package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/fleetcast/fleetcast/detect"
)

// The calm-data check: series without anomalies, on which a setting must
// stay quiet to be eligible, whatever it scores on the labelled data. Five
// kinds, each sampled every minute, 5 minutes and hour: daily-seasonal
// Gaussian noise (the check of detect's TestDetectFalseAlarmsPerDay), white
// Gaussian noise around a constant (no season to learn, so a seasonal model
// must not take over), a Gaussian random walk (a level that wanders, so
// every day visits levels the past rarely did), and two kinds of i.i.d.
// skewed noise as cloud metrics have (eighth round): lognormal,
// exp(1 + 0.5 N(0,1)), like a CPU percentage, and bursty, 0 four times in
// five and exp(10 + 2 N(0,1)) otherwise, like a disk's bytes written.
var (
	calmSteps = [3]int64{60, 300, 3600}
	calmKinds = []string{"seasonal", "white", "walk", "lognormal", "bursty"}
)

const maxCalmAlarms = 0.15

// calmDays is how many days of each step are scored per seed.
var calmDays = map[int64]int{60: 7, 300: 30, 3600: 90}

// calmValue returns the next value of a calm series of the kind, given the
// time, the previous value and a random source.
func calmValue(kind string, ts int64, prev float64, rng *rand.Rand) float64 {
	switch kind {
	case "white":
		return 50 + rng.NormFloat64()
	case "walk":
		return prev + rng.NormFloat64()
	case "lognormal":
		return math.Exp(1 + 0.5*rng.NormFloat64())
	case "bursty":
		if rng.Float64() < 0.8 {
			return 0
		}
		return math.Exp(10 + 2*rng.NormFloat64())
	default:
		return 50 + 10*math.Sin(2*math.Pi*float64(ts%86400)/86400) + rng.NormFloat64()
	}
}

// calmFigures returns one setting's false alarms per series-day on every
// kind of calm series at every step: [c][k][j] is kind calmKinds[c] sampled
// every calmSteps[k], at threshold thr[j].
func calmFigures(o detect.Options, thr []float64) [][3][]float64 {
	calm := make([][3][]float64, len(calmKinds))
	for c, kind := range calmKinds {
		for k, step := range calmSteps {
			calm[c][k] = calmAlarmsPerDay(o, kind, step, thr)
		}
	}
	return calm
}

// calmAlarmsPerDay returns the false alarms per series-day at each threshold
// on calm series of the kind sampled every step.
func calmAlarmsPerDay(o detect.Options, kind string, step int64, thr []float64) []float64 {
	const seeds = 10
	days := calmDays[step]
	alarms := make([]float64, len(thr))
	for seed := uint64(1); seed <= seeds; seed++ {
		rng := rand.New(rand.NewPCG(seed, 9))
		d := detect.New(o)
		v := 50.0
		for i := range days * 86400 / int(step) {
			ts := int64(1_700_000_000) + int64(i)*step
			v = calmValue(kind, ts, v, rng)
			sc := d.Observe(ts, v).Score
			for j, t := range thr {
				if sc > t {
					alarms[j]++
				}
			}
		}
	}
	for j := range alarms {
		alarms[j] /= float64(seeds * days)
	}
	return alarms
}

// parseKinds reads a comma-separated list of calm kinds.
func parseKinds(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		c := slices.Index(calmKinds, f)
		if c < 0 {
			return nil, fmt.Errorf("unknown kind %q: want a comma-separated list of %s", f, strings.Join(calmKinds, ", "))
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}
