package planner

import (
	"strings"
	"testing"
	"time"
)

// TestNextForClimbsTheObjectsOwnRungs (NextAmong on Applicable): one
// ladder for task groups, nodes and pools; each object climbs the rungs
// that apply to it, in the ladder's order, whatever rungs for other objects
// come first.
func TestNextForClimbsTheObjectsOwnRungs(t *testing.T) {
	ladder := []Rung{
		{Action: "scale_group", StepFactor: 2},
		{Action: "scale_group", StepFactor: 2, BypassCooldown: true},
		{Action: "migrate"},
		{Action: "scale_pool", StepFactor: 2, BypassCooldown: true},
	}
	kinds := map[string]func(Rung) bool{
		"task group": func(r Rung) bool { return r.Action == "scale_group" },
		"node":       func(r Rung) bool { return r.Action == "migrate" || r.Action == "scale_pool" },
		"pool":       func(r Rung) bool { return r.Action == "scale_pool" },
	}
	want := map[string][]int{ // the rung of the 1st, 2nd, 3rd escalation within the hour
		"task group": {0, 1, 1},
		"node":       {2, 3, 3},
		"pool":       {3, 3, 3},
	}
	for kind, applies := range kinds {
		var e Escalations
		for n, w := range want[kind] {
			now := t0.Add(time.Duration(n) * 10 * time.Minute)
			r, i, ok, why := e.NextAmong(now, ladder, Applicable(ladder, applies), 3)
			if !ok || i != w || r != ladder[w] {
				t.Fatalf("%s, escalation %d: rung %d %+v ok %v (%s), want rung %d", kind, n+1, i, r, ok, why, w)
			}
			e = append(e, now)
		}
		if _, _, ok, why := e.NextAmong(t0.Add(30*time.Minute), ladder, Applicable(ladder, applies), 3); ok || !strings.Contains(why, "hard cap") {
			t.Fatalf("%s: a fourth escalation within the hour: ok %v (%q), want the hard cap", kind, ok, why)
		}
	}
	none := func(r Rung) bool { return r.Action == "reboot" }
	if idx := Applicable(ladder, none); len(idx) != 0 {
		t.Fatalf("Applicable = %v, want none", idx)
	}
	if _, _, ok, why := (Escalations{}).NextAmong(t0, ladder, Applicable(ladder, none), 3); ok || !strings.Contains(why, "no rung") {
		t.Fatalf("no rung applies: ok %v (%q)", ok, why)
	}
}
