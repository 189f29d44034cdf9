package main

import (
	"fmt"

	"github.com/fleetcast/fleetcast/detect"
)

// fourthRound returns the constants as the fourth round shipped them: the
// base of every setting in the grid but the shipped one.
func fourthRound() detect.Knobs {
	k := detect.DefaultKnobs()
	k.ShortMaxRate, k.PerDayUp = 0, 1
	return k
}

// knobs returns a setting of the fourth round's constants changed by f.
func knobs(name string, f func(k *detect.Knobs)) variant {
	k := fourthRound()
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
// observations, at 5 or 8. Fifth round, on the fourth round's constants:
// the short level's rate capped at 0.2, 0.3 or 0.5 per observation, the
// per-day correction weighted 0, 0.5 or 0.75 where it adds evidence, and
// caps of 0.3 or 0.5 crossed with weights of 0.5 or 0.75.
func variants() []variant {
	// The shipped detector first. Every other setting starts from the
	// fourth round's constants.
	vs := []variant{{name: "shipped constants", opts: detect.Options{}}}
	def := fourthRound()
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
	// Fifth round, set before its first run: the hourly calibration that
	// calm white noise asks for. The short level's rate per observation
	// capped, so that at hourly steps (0.72) it spans more than the
	// observation the surprise already scores; the per-day correction
	// weighted where it adds evidence (steps above 5 minutes); both.
	if def != detect.DefaultKnobs() {
		vs = append(vs, knobs("the fourth round's constants", func(k *detect.Knobs) {}))
	}
	add := func(name string, c, u float64) {
		v := knobs(name, func(k *detect.Knobs) { k.ShortMaxRate, k.PerDayUp = c, u })
		if *v.opts.Knobs == detect.DefaultKnobs() {
			return // the shipped constants, first in the list
		}
		vs = append(vs, v)
	}
	for _, c := range []float64{0.2, 0.3, 0.5} {
		add(fmt.Sprintf("fourth round, but the short level's rate at most %.1f per observation", c), c, 1)
	}
	for _, u := range []float64{0, 0.5, 0.75} {
		add(fmt.Sprintf("fourth round, but the per-day correction weighted %.2f where it adds evidence", u), 0, u)
	}
	for _, c := range []float64{0.3, 0.5} {
		for _, u := range []float64{0.5, 0.75} {
			add(fmt.Sprintf("fourth round, but the short level's rate at most %.1f per observation, the per-day correction weighted %.2f where it adds evidence", c, u), c, u)
		}
	}
	return vs
}
