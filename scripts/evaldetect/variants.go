package main

import (
	"fmt"

	"github.com/fleetcast/fleetcast/detect"
)

func knobs(name string, f func(k *detect.Knobs)) variant {
	k := detect.DefaultKnobs()
	f(&k)
	return variant{name: name, opts: detect.Options{Knobs: &k}}
}

// variants is the knob grid: kept small, so that make eval-detect runs in
// about a minute on a shared machine. Without the trailing-day view (DayZ
// 0), as before the fourth round: without events ending after a quiet
// period (QuietTime 0), evidence per day or per observation, the short
// level per 300 s or per observation, report margin 0, 1 or 2; with it
// (per day, per 300 s), quiet for 1 hour, 6 hours or a day below 5 nats,
// or for 6 hours below 3 or 7 nats, report margin 1 or 2. With the
// trailing-day view (on the shipped constants otherwise): records only, a
// |z| of 4, 5, 6 or 8 worth the threshold, counted above 1 or 1.25 times
// the series' own past maximum; or also any |z| before 300, 600 or 1000
// observations, at 5 or 8.
func variants() []variant {
	// The shipped detector first.
	vs := []variant{{name: "shipped constants", opts: detect.Options{}}}
	def := detect.DefaultKnobs()
	for _, perObs := range []bool{false, true} {
		for _, st := range []float64{0, 300} {
			for _, m := range []float64{0, 1, 2} {
				unit := "per day"
				if perObs {
					unit = "per observation"
				}
				short := "short level per observation"
				if st > 0 {
					short = fmt.Sprintf("short level per %.0f s", st)
				}
				vs = append(vs, knobs(fmt.Sprintf("%s, %s, report margin %.0f, no end of events", unit, short, m), func(k *detect.Knobs) {
					k.PerObs, k.ShortTime, k.ReportMargin, k.QuietTime, k.DayZ, k.DayZShort = perObs, st, m, 0, 0, 0
				}))
			}
		}
	}
	for _, q := range []float64{3600, 21600, 86400} {
		for _, qn := range []float64{3, 5, 7} {
			if q != 21600 && qn != 5 {
				continue
			}
			for _, m := range []float64{1, 2} {
				vs = append(vs, knobs(fmt.Sprintf("per day, short level per 300 s, report margin %.0f, event over after %.0f s below %.0f nats", m, q, qn), func(k *detect.Knobs) {
					k.PerObs, k.ShortTime, k.ReportMargin, k.QuietTime, k.QuietNats, k.DayZ, k.DayZShort = false, 300, m, q, qn, 0, 0
				}))
			}
		}
	}
	for _, z := range []float64{4, 5, 6, 8} {
		for _, g := range []float64{1, 1.25} {
			vs = append(vs, knobs(fmt.Sprintf("shipped, but only a record trailing-day |z| counts, %.0f worth the threshold, above %.2f times its past maximum", z, g), func(k *detect.Knobs) {
				k.DayZ, k.DayZGate, k.DayZShort = z, g, 0
			}))
		}
	}
	for _, n := range []int{300, 600, 1000} {
		for _, z := range []float64{5, 8} {
			if n == def.DayZShort && z == def.DayZ && def.DayZGate == 1 {
				continue
			}
			vs = append(vs, knobs(fmt.Sprintf("shipped, but any trailing-day |z| counts before %d observations, %.0f worth the threshold", n, z), func(k *detect.Knobs) {
				k.DayZ, k.DayZGate, k.DayZShort = z, 1, n
			}))
		}
	}
	return vs
}
