package detect_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fleetcast/fleetcast/detect"
)

// One detector per series, fed in time order: a week of 5-minute samples
// of a daily cycle with noise, and one spike of 10 noise deviations at the
// daily peak of the sixth day. Only the spike scores above Threshold.
func Example() {
	rng := rand.New(rand.NewPCG(1, 2))
	const step, start = 300, 1_700_006_400 // a midnight, UTC
	spike := int64(start + 5*86400 + 6*3600)
	d := detect.New(detect.Options{}) // learns the step, the seasons and the warm-up
	for t := int64(start); t < start+7*86400; t += step {
		v := 50 + 10*math.Sin(2*math.Pi*float64(t%86400)/86400) + rng.NormFloat64()
		if t == spike {
			v += 10
		}
		det := d.Observe(t, v) // scored from the past alone, then learnt
		if det.Score > detect.Threshold {
			fmt.Printf("day %d %02d:%02d: %.1f, expected %.0f in [%.0f, %.0f], score %.2f\n",
				(t-start)/86400, t%86400/3600, t%3600/60, v, det.Expected, det.Lower, det.Upper, det.Score)
		}
	}
	// Output:
	// day 5 06:00: 69.6, expected 60 in [58, 62], score 0.98
}
