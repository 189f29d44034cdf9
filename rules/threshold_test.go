// Package rules holds fleetcast's Prometheus rule files; this test keeps the
// anomaly threshold in the rules equal to the detector's own.
package rules

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/fleetcast/fleetcast/detect"
)

func TestAnomalyThresholdMatchesDetector(t *testing.T) {
	b, err := os.ReadFile("fleetcast-thresholds.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`record: fleetcast:threshold_anomaly_score\s+expr: vector\(([0-9.]+)\)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("fleetcast:threshold_anomaly_score = vector(N) not found in fleetcast-thresholds.rules.yml")
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	if v != detect.Threshold {
		t.Fatalf("rules threshold %v, detect.Threshold %v: the alert must fire where the detector was measured", v, detect.Threshold)
	}
}
