package demo

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/sim"
)

// TestArrange checks that the example fleet is rearranged as the story
// needs: the rush and the batch launch fall due no sooner than asked, the
// rush makes the group outgrow its capacity, and the batch job does not fit
// its pool.
func TestArrange(t *testing.T) {
	fleet := filepath.Join("..", "..", "examples", "fleet.yml")
	if _, err := os.Stat(fleet); err != nil {
		t.Fatalf("the example fleet: %v", err)
	}
	now := time.Date(2026, 11, 27, 10, 0, 30, 0, time.UTC)
	lead, batchLead := 90*time.Second, 4*time.Minute
	cfg, sc, err := arrange(fleet, now, lead, batchLead)
	if err != nil {
		t.Fatal(err)
	}
	if sc.RushAt.Before(now.Add(lead)) || sc.RushAt.After(now.Add(lead+time.Minute)) {
		t.Errorf("rush at %s; want within a minute after %s", sc.RushAt, now.Add(lead))
	}
	if sc.BatchJob == "" || sc.BatchAt.Before(now.Add(batchLead)) || sc.BatchAt.After(now.Add(batchLead+time.Minute)) {
		t.Errorf("batch %q at %s; want within a minute after %s", sc.BatchJob, sc.BatchAt, now.Add(batchLead))
	}
	trial, err := sim.New(cfg, now)
	if err != nil {
		t.Fatal(err)
	}
	sizeBatch(cfg, &sc, trial)
	if sc.BatchCount*sc.BatchCPU <= sc.BatchFree {
		t.Errorf("batch asks %d × %d MHz, pool has %d free: it fits, the story needs it not to", sc.BatchCount, sc.BatchCPU, sc.BatchFree)
	}
	f, err := sim.New(cfg, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	f.Advance(now)
	findShortage(f, &sc, now, time.Hour)
	if sc.ShortageAt.IsZero() || sc.ShortageAt.Before(sc.RushAt) || sc.ShortageAt.After(sc.RushAt.Add(10*time.Minute)) {
		t.Errorf("shortage at %v, rush at %s; want the rush to outgrow %.0f MHz within 10 minutes", sc.ShortageAt, sc.RushAt, sc.Capacity)
	}
	if d, _ := f.DemandAt("", sc.Job, sc.Group, now); d >= sc.Capacity {
		t.Errorf("demand now %.0f MHz already exceeds the capacity %.0f: no shortage left to predict", d, sc.Capacity)
	}
}
