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
// a few minutes on a shared machine.
func variants() []variant {
	// The shipped detector first.
	vs := []variant{{name: "shipped constants", opts: detect.Options{}}}
	def := detect.DefaultKnobs()
	for _, perObs := range []bool{false, true} {
		for _, st := range []float64{0, 300} {
			for _, m := range []float64{0, 1, 2} {
				if perObs == def.PerObs && st == def.ShortTime && m == def.ReportMargin {
					continue
				}
				unit := "per day"
				if perObs {
					unit = "per observation"
				}
				short := "short level per observation"
				if st > 0 {
					short = fmt.Sprintf("short level per %.0f s", st)
				}
				vs = append(vs, knobs(fmt.Sprintf("%s, %s, report margin %.0f", unit, short, m), func(k *detect.Knobs) {
					k.PerObs, k.ShortTime, k.ReportMargin = perObs, st, m
				}))
			}
		}
	}
	return vs
}
