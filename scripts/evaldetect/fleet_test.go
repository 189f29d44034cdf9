package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetcast/fleetcast/internal/seriescsv"
)

// TestAlertEvents: alerts of one series within fleetEventGap of the
// previous alert are one event, however long the chain; a longer gap starts
// a new one; a score equal to the threshold is not an alert.
func TestAlertEvents(t *testing.T) {
	const h = 3600
	times := []int64{0, 1 * h, 5 * h, 11 * h, 17*h + 1, 20 * h, 30 * h, 36 * h}
	scores := []float64{0.6, 0.1, 0.7, 0.8, 0.55, 0.525, 0.9, 0.2}
	// Alerts (> 0.525) at 0, 5 h, 11 h (6 h after 5 h: the same event),
	// 17 h + 1 s (more than 6 h after 11 h: a new event), 30 h (new).
	got := alertEvents(times, scores, 0.525, fleetEventGap)
	want := []alertEvent{
		{first: 0, last: 11 * h, alerts: 3, max: 0.8},
		{first: 17*h + 1, last: 17*h + 1, alerts: 1, max: 0.55},
		{first: 30 * h, last: 30 * h, alerts: 1, max: 0.9},
	}
	if len(got) != len(want) {
		t.Fatalf("alertEvents: %d events %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := len(alertEvents(times, scores, 0.95, fleetEventGap)); n != 0 {
		t.Errorf("at 0.95: %d events, want none", n)
	}
	// NaN scores are no alerts.
	if n := len(alertEvents([]int64{0, 1}, []float64{math.NaN(), 0.3}, 0.2, fleetEventGap)); n != 1 {
		t.Errorf("NaN then 0.3 at 0.2: %d events, want 1", n)
	}
}

// TestFleetEventsPerDay: events are counted per series and divided by the
// series-days the traces span, at every threshold.
func TestFleetEventsPerDay(t *testing.T) {
	const day = 86400
	f := &fleetData{series: []seriescsv.Series{
		{Name: "a", Times: []int64{0, day, 2 * day}},
		{Name: "b", Times: []int64{0, 10, 20, 2 * day}},
	}, days: 4}
	sc := [][]float64{{0.9, 0.9, 0.1}, {0.6, 0.6, 0.9, 0.6}}
	got := f.eventsPerDay(sc, []float64{0.5, 0.7, 0.95})
	// At 0.5: a has 2 events (a day apart), b 2 (the first three within
	// seconds, the last two days later). At 0.7: a 2, b 1. At 0.95: none.
	want := []float64{4.0 / 4, 3.0 / 4, 0}
	for j := range want {
		if math.Abs(got[j]-want[j]) > 1e-12 {
			t.Errorf("threshold %d: %.3f events a series-day, want %.3f", j, got[j], want[j])
		}
	}
}

// TestLoadFleet: the series-days are the traces' spans, and a file that
// spans no time is an error naming it.
func TestLoadFleet(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "fleet.csv")
	if err := os.WriteFile(good, []byte("series,timestamp,value\na,0,1\na,86400,2\nb,0,1\nb,43200,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := loadFleet(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.series) != 2 || math.Abs(f.days-1.5) > 1e-12 {
		t.Errorf("loadFleet: %d series over %.3f days, want 2 over 1.5", len(f.series), f.days)
	}
	flat := filepath.Join(dir, "flat.csv")
	if err := os.WriteFile(flat, []byte("series,timestamp,value\na,0,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadFleet(flat); err == nil || !strings.Contains(err.Error(), flat) {
		t.Errorf("loadFleet of a single row: %v, want an error naming %s", err, flat)
	}
	if _, err := loadFleet(filepath.Join(dir, "missing.csv")); err == nil || !strings.Contains(err.Error(), "--fleet") {
		t.Errorf("loadFleet of a missing file: %v, want an error naming --fleet", err)
	}
}
