package planner

import (
	"strings"
	"testing"
	"time"
)

func TestPlaceable(t *testing.T) {
	nodes := []Room{
		// 4000 MHz, 1000 used by another job: 6 of 500 MHz; memory 8192 MB holds 32 of 256.
		{ID: "a", Schedulable: true, CPU: 4000, MemoryMB: 8192, UsedCPU: 1000, UsedMemoryMB: 512},
		// memory-bound: 1792 MB free holds 7 of 256 MB (CPU would hold 16).
		{ID: "b", Schedulable: true, CPU: 8000, MemoryMB: 2048, UsedMemoryMB: 256},
		// full: other jobs reserve more than the node offers (overcommitted): none, never negative.
		{ID: "full", Schedulable: true, CPU: 4000, MemoryMB: 8192, UsedCPU: 4500},
		// ineligible with 2 of the group's allocations still running: they count.
		{ID: "ineligible", CPU: 4000, MemoryMB: 8192, Own: 2},
	}
	ask := Ask{CPU: 500, MemoryMB: 256}
	got, err := Placeable(nodes, ask)
	if err != nil {
		t.Fatal(err)
	}
	if want := 6 + 7 + 0 + 2; got != want {
		t.Errorf("Placeable = %d, want %d", got, want)
	}
	// distinct_hosts: one per schedulable node that has room at all.
	ask.DistinctHosts = true
	if got, _ := Placeable(nodes, ask); got != 1+1+0+2 {
		t.Errorf("Placeable with distinct hosts = %d, want 4", got)
	}
	// A zero dimension does not limit.
	if got, _ := Placeable(nodes[1:2], Ask{CPU: 500}); got != 16 {
		t.Errorf("Placeable on CPU alone = %d, want 16", got)
	}
	for _, bad := range []Ask{{}, {CPU: -1, MemoryMB: 10}} {
		if _, err := Placeable(nodes, bad); err == nil || !strings.Contains(err.Error(), "ask") {
			t.Errorf("Placeable(%+v) accepted a bad ask: %v", bad, err)
		}
	}
}

func TestAllocNodes(t *testing.T) {
	b := Bounds{Min: 1, Max: 10, MaxStep: 10}
	an := AllocNodes{PerAlloc: 500, NodeCapacity: 4300} // 8 a node; the 300 left holds none
	sz, err := an.Sizing()
	if err != nil {
		t.Fatal(err)
	}
	if sz.PerUnitCapacity != 4000 {
		t.Errorf("pool sizing per node %v, want 4000 (8 whole allocations)", sz.PerUnitCapacity)
	}
	for _, c := range []struct{ allocs, nodes int }{{0, 1}, {1, 1}, {8, 1}, {9, 2}, {16, 2}, {17, 3}, {200, 10}} {
		n, err := an.Nodes(c.allocs, b)
		if err != nil {
			t.Fatal(err)
		}
		// The same arithmetic as the pool's planner: Units of the allocations' reservation.
		u, _ := sz.Units(float64(c.allocs) * an.PerAlloc)
		if n != c.nodes || n != min(max(u, b.Min), b.Max) {
			t.Errorf("Nodes(%d) = %d, want %d (Units %d)", c.allocs, n, c.nodes, u)
		}
	}
	if _, err := (AllocNodes{PerAlloc: 500, NodeCapacity: 400}).Nodes(1, b); err == nil {
		t.Error("a node that holds no allocation was accepted")
	}
	if _, err := (AllocNodes{NodeCapacity: 400}).Sizing(); err == nil {
		t.Error("a zero allocation size was accepted")
	}
}

func TestPoolWantsAndScaleIn(t *testing.T) {
	b := Bounds{Min: 1, Max: 10, MaxStep: 10}
	an := AllocNodes{PerAlloc: 500, NodeCapacity: 4000}
	cases := []struct {
		name  string
		size  int
		lead  PoolLead
		count int
		want  int
		in    int  // allocations a scale-in is sized for
		inOK  bool // a scale-in may happen
	}{
		{"out needs more", 2, PoolLead{Out: 20, In: 20}, 16, 3, 0, false},
		{"as it is", 3, PoolLead{Out: 20, In: 20}, 16, 3, 20, true},
		// out needs 2 of 3; in (the longer window) needs 3: keep.
		{"the scale-in's window keeps it", 3, PoolLead{Out: 10, In: 17}, 10, 3, 17, true},
		{"fewer", 3, PoolLead{Out: 10, In: 12}, 10, 2, 12, true},
		// the group still runs 17: every node is needed, no scale-in whatever In says.
		{"the running group keeps its nodes", 3, PoolLead{Out: 4, In: 4}, 17, 1, 0, false},
		{"the running group bounds the scale-in", 3, PoolLead{Out: 4, In: 4}, 12, 1, 12, true},
	}
	for _, c := range cases {
		w, err := an.PoolWants(c.size, c.lead, b)
		if err != nil {
			t.Fatal(err)
		}
		if w != c.want {
			t.Errorf("%s: PoolWants = %d, want %d", c.name, w, c.want)
		}
		in, ok, err := an.PoolScaleIn(c.size, c.lead, c.count, b)
		if err != nil {
			t.Fatal(err)
		}
		if ok != c.inOK || (ok && in != c.in) {
			t.Errorf("%s: PoolScaleIn = %d, %v; want %d, %v", c.name, in, ok, c.in, c.inOK)
		}
	}
}

func TestPoolSheds(t *testing.T) {
	since := t0.Add(-6 * time.Minute)
	cases := []struct {
		name        string
		want, size  int
		since, last time.Time
		sheds       bool
	}{
		{"surplus held, cooled", 2, 3, since, t0.Add(-10 * time.Minute), true},
		{"never changed", 2, 3, since, time.Time{}, true},
		{"no surplus", 3, 3, since, time.Time{}, false},
		{"surplus not seen", 2, 3, time.Time{}, time.Time{}, false},
		{"surplus too recent", 2, 3, t0.Add(-4 * time.Minute), time.Time{}, false},
		{"cooldown", 2, 3, since, t0.Add(-3 * time.Minute), false},
	}
	for _, c := range cases {
		if got := PoolSheds(c.want, c.size, c.since, 5*time.Minute, c.last, 5*time.Minute, t0); got != c.sheds {
			t.Errorf("%s: PoolSheds = %v, want %v", c.name, got, c.sheds)
		}
	}
	if !ScaleInWaitsForPool(In, false) || ScaleInWaitsForPool(In, true) || ScaleInWaitsForPool(Out, false) {
		t.Error("only a scale-in waits, and only while the pool keeps its nodes")
	}
}

// TestHeldScaleOut follows one scale-out from 4 to 12 that the ready nodes
// place only in part: it waits, catches up as nodes come, with no cooldown
// of its own, and the cooldown runs from the decision.
func TestHeldScaleOut(t *testing.T) {
	var h HeldScaleOut
	plan := CountPlan{From: 4, To: 12, Wanted: 12, Reason: "scale-out 4 -> 12"}
	got := h.Hold(plan, 8, t0)
	if got.To != 8 || got.Noop || !got.Held || h.Goal != 12 || !h.DecidedAt.Equal(t0) {
		t.Fatalf("Hold: plan %+v, held %+v; want 4 -> 8 waiting for 12", got, h)
	}
	if !h.Waiting(8) || h.Waiting(12) {
		t.Fatal("Waiting")
	}
	// A minute later a node is ready (16 places), but the forecast now
	// wants only 11: the group catches up to 11, and the goal is done.
	t1 := t0.Add(time.Minute)
	c := h.CatchUp(8, 11, 16, t1)
	if c.Noop || c.To != 11 || h.Goal != 0 || !h.CaughtUpAt.Equal(t1) {
		t.Fatalf("CatchUp: %+v, held %+v; want 8 -> 11, done", c, h)
	}
	// The cooldown runs from the decision, not from the catch-up.
	if from := h.CooldownFrom(t1); !from.Equal(t0) {
		t.Errorf("CooldownFrom(catch-up) = %v, want the decision %v", from, t0)
	}
	if from := h.CooldownFrom(t1.Add(time.Minute)); !from.Equal(t1.Add(time.Minute)) {
		t.Errorf("a later change (not ours) is its own cooldown start: %v", from)
	}

	// No room yet: nothing moves and the goal stays.
	h = HeldScaleOut{}
	if got := h.Hold(plan, 4, t0); !got.Noop || h.Goal != 12 || !h.DecidedAt.IsZero() {
		t.Fatalf("fully held: plan %+v, held %+v", got, h)
	}
	if c := h.CatchUp(4, 12, 4, t1); !c.Noop || h.Goal != 12 {
		t.Fatalf("catch-up without room: %+v, held %+v", c, h)
	}
	if c := h.CatchUp(4, 12, 6, t1); c.Noop || c.To != 6 || !c.Held || h.Goal != 12 {
		t.Fatalf("partial catch-up: %+v, held %+v", c, h)
	}
	// The forecast no longer asks for it.
	h.Want(6, 6)
	if h.Goal != 0 {
		t.Fatalf("Want below the count keeps the goal: %+v", h)
	}
	// A plan with room for all holds nothing.
	if got := h.Hold(plan, 20, t0); got.To != 12 || h.Goal != 0 {
		t.Fatalf("room for all: %+v, held %+v", got, h)
	}
}
