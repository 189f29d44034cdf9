package main

import (
	"fmt"

	"github.com/fleetcast/fleetcast/forecast"
)

func knobs(name string, f func(k *forecast.DetectorKnobs)) variant {
	k := forecast.DefaultDetectorKnobs()
	f(&k)
	return variant{name: name, opts: forecast.DetectorOptions{Knobs: &k}}
}

// variants is the knob grid: kept small, so that make eval-detect runs in
// a few minutes on a shared machine.
func variants() []variant {
	// The shipped detector first: its only knob is the alert threshold.
	vs := []variant{{name: "shipped constants", opts: forecast.DetectorOptions{}}}
	def := forecast.DefaultDetectorKnobs()
	for _, a := range []float64{0.4, 0.6, 0.8} {
		for _, dec := range []float64{0.998, 0.99} {
			if a == def.Alpha && dec == def.NmsDecay {
				continue
			}
			vs = append(vs, knobs(fmt.Sprintf("level rate %.1f, repeat decay %.3f", a, dec), func(k *forecast.DetectorKnobs) {
				k.Alpha, k.AlphaSeason, k.NmsDecay = a, a, dec
			}))
		}
	}
	return vs
}
