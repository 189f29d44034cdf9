package main

import (
	"testing"

	"github.com/fleetcast/fleetcast/detect"
)

// TestCalmAlarmsPerThreshold checks that the calm-noise check counts alarms
// at every candidate threshold: fewer (never more) at a higher threshold,
// none at 1, and at the shipped threshold the same count a single-threshold
// run gives.
func TestCalmAlarmsPerThreshold(t *testing.T) {
	thr := thresholds()
	got := calmAlarmsPerDay(detect.Options{}, 3600, thr)
	if len(got) != len(thr) {
		t.Fatalf("%d counts for %d thresholds", len(got), len(thr))
	}
	for j := 1; j < len(got); j++ {
		if got[j] > got[j-1] {
			t.Errorf("alarms rise from %.3f at %.3f to %.3f at %.3f", got[j-1], thr[j-1], got[j], thr[j])
		}
	}
	if got[0] <= 0 {
		t.Errorf("no calm alarms at threshold %.3f: the check cannot tell settings apart", thr[0])
	}
	one := calmAlarmsPerDay(detect.Options{}, 3600, []float64{detect.Threshold})
	found := false
	for j, x := range thr {
		if x == detect.Threshold {
			found = true
			if got[j] != one[0] {
				t.Errorf("at %.3f: %.3f alarms a day among all thresholds, %.3f alone", x, got[j], one[0])
			}
		}
	}
	if !found {
		t.Errorf("the shipped threshold %.3f is not among the candidates", detect.Threshold)
	}
}
