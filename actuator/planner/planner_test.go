package planner

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

func TestPlanScaleGroup(t *testing.T) {
	pol := ScalePolicy{
		Bounds: Bounds{Min: 2, Max: 20, MaxStep: 4, CooldownOut: 5 * time.Minute, CooldownIn: 30 * time.Minute},
		Sizing: Sizing{PerUnitCapacity: 100, Headroom: 0.2},
	}
	q := "peak"
	cases := []struct {
		name     string
		count    int
		last     time.Time
		f        Forecast
		dir      Direction
		esc      Escalation
		wantTo   int
		wantNoop bool
		reason   string
	}{
		{"sized by forecast", 5, time.Time{}, Forecast{q, 600}, Out, Escalation{}, 8, false, "wants 8"},
		{"capped by max_step", 5, time.Time{}, Forecast{q, 1500}, Out, Escalation{}, 9, false, "step 4"},
		{"escalated step", 5, time.Time{}, Forecast{q, 1500}, Out, Escalation{StepFactor: 2}, 13, false, "step 8"},
		{"capped by max", 18, time.Time{}, Forecast{q, 5000}, Out, Escalation{}, 20, false, ""},
		{"at max", 20, time.Time{}, Forecast{q, 5000}, Out, Escalation{}, 20, true, "at max"},
		{"shortage never shrinks", 10, time.Time{}, Forecast{q, 100}, Out, Escalation{}, 10, true, "already fits"},
		{"surplus never grows", 5, time.Time{}, Forecast{q, 1000}, In, Escalation{}, 5, true, "already fits"},
		{"scale in", 10, time.Time{}, Forecast{q, 500}, In, Escalation{}, 6, false, "scale-in"},
		{"scale in to min", 3, time.Time{}, Forecast{q, 0}, In, Escalation{}, 2, false, ""},
		{"cooldown out", 5, t0.Add(-2 * time.Minute), Forecast{q, 600}, Out, Escalation{}, 5, true, "3m0s left"},
		{"cooldown out passed", 5, t0.Add(-6 * time.Minute), Forecast{q, 600}, Out, Escalation{}, 8, false, ""},
		{"stabilisation in is longer", 10, t0.Add(-10 * time.Minute), Forecast{q, 500}, In, Escalation{}, 10, true, "cooldown"},
		{"bypass cooldown", 5, t0.Add(-time.Minute), Forecast{q, 600}, Out, Escalation{BypassCooldown: true}, 8, false, ""},
		{"no query steps out", 5, time.Time{}, Forecast{}, Out, Escalation{}, 9, false, ""},
		{"no query steps in", 5, time.Time{}, Forecast{}, In, Escalation{}, 2, false, ""},
		{"below min on shortage goes up to min", 0, time.Time{}, Forecast{q, 50}, Out, Escalation{}, 2, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanScaleGroup(GroupState{Count: c.count, LastChange: c.last}, pol, c.f, c.dir, c.esc, t0)
			if err != nil {
				t.Fatal(err)
			}
			if p.To != c.wantTo || p.Noop != c.wantNoop {
				t.Fatalf("got to=%d noop=%v (%s), want to=%d noop=%v", p.To, p.Noop, p.Reason, c.wantTo, c.wantNoop)
			}
			if !strings.Contains(p.Reason, c.reason) {
				t.Fatalf("reason %q does not say %q", p.Reason, c.reason)
			}
		})
	}
}

// TestPlanHeld: a plan says when max_step, and nothing else, kept it short
// of what the forecast wants, so the caller knows the shortage persists.
func TestPlanHeld(t *testing.T) {
	pol := ScalePolicy{Bounds: Bounds{Min: 2, Max: 20, MaxStep: 4}, Sizing: Sizing{PerUnitCapacity: 100}}
	cases := []struct {
		name  string
		count int
		value float64
		dir   Direction
		held  bool
	}{
		{"one step reaches the forecast", 5, 800, Out, false},
		{"step limit holds it short", 5, 1500, Out, true},
		{"max is not a hold", 18, 5000, Out, false},
		{"scale-in held by the step", 15, 300, In, true},
		{"already fits", 10, 100, Out, false},
	}
	for _, c := range cases {
		p, err := PlanScaleGroup(GroupState{Count: c.count}, pol, Forecast{"q", c.value}, c.dir, Escalation{}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if p.Held != c.held {
			t.Errorf("%s: held %v, want %v (%+v)", c.name, p.Held, c.held, p)
		}
	}
}

func TestPlanScaleGroupRejectsBadInput(t *testing.T) {
	good := ScalePolicy{Bounds: Bounds{Min: 1, Max: 3, MaxStep: 1}, Sizing: Sizing{PerUnitCapacity: 1}}
	bad := []struct {
		name string
		p    ScalePolicy
		f    Forecast
	}{
		{"max below min", ScalePolicy{Bounds: Bounds{Min: 3, Max: 1, MaxStep: 1}, Sizing: good.Sizing}, Forecast{"q", 1}},
		{"zero step", ScalePolicy{Bounds: Bounds{Min: 1, Max: 3}, Sizing: good.Sizing}, Forecast{"q", 1}},
		{"zero capacity", ScalePolicy{Bounds: good.Bounds}, Forecast{"q", 1}},
		{"NaN forecast", good, Forecast{"q", nan()}},
	}
	for _, c := range bad {
		if _, err := PlanScaleGroup(GroupState{Count: 1}, c.p, c.f, Out, Escalation{}, t0); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func nan() float64 { var z float64; return z / z }

func TestPlanMigrate(t *testing.T) {
	node := Node{ID: "n1", Capacity: 1000, Predicted: 1000, Eligible: true}
	roomy := []Node{node, {ID: "n2", Capacity: 1000, Predicted: 200, Eligible: true}, {ID: "n3", Capacity: 1000, Predicted: 900, Eligible: true}}
	full := []Node{node, {ID: "n2", Capacity: 1000, Predicted: 750, Eligible: true}, {ID: "n3", Capacity: 1000, Predicted: 100, Eligible: false}}
	svc := func(id string, use float64) Alloc {
		return Alloc{ID: id, Namespace: "default", Job: "j" + id, Group: "g", Type: "service", Predicted: use, GroupHealthy: 3, MinHealthy: 2}
	}
	batch := svc("b", 300)
	batch.Type = "batch"
	pinned := svc("p", 500)
	pinned.Pinned = `meta fleetcast.migrate = "false"`
	sys := svc("s", 500)
	sys.Type = "system"
	lastOne := svc("l", 500)
	lastOne.GroupHealthy, lastOne.MinHealthy = 1, 1
	w1, w2 := svc("w1", 100), svc("w2", 100)
	w1.StayWith, w2.StayWith = "pair", "pair"
	w2.Pinned = "host volume"
	cases := []struct {
		name     string
		allocs   []Alloc
		fleet    []Node
		wantStop []string
		noop     string
	}{
		{"one alloc covers it, least disruptive wins", []Alloc{svc("a", 400), batch, svc("c", 50)}, roomy, []string{"b"}, ""},
		{"smallest covering among equals", []Alloc{svc("a", 400), svc("c", 200), svc("d", 300)}, roomy, []string{"c"}, ""},
		{"several needed, largest first", []Alloc{svc("a", 100), svc("c", 100), svc("d", 80)}, roomy, []string{"a", "c"}, ""},
		{"pinned and system never move", []Alloc{pinned, sys, svc("c", 50)}, roomy, nil, "movable allocations carry only"},
		{"disruption budget", []Alloc{lastOne, svc("c", 50)}, roomy, nil, "carry only"},
		{"stay-with unit pinned by a member", []Alloc{w1, w2, svc("c", 250)}, roomy, []string{"c"}, ""},
		{"no room elsewhere", []Alloc{svc("a", 400)}, full, nil, "no other eligible node"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanMigrate(node, c.allocs, c.fleet, MigratePolicy{Threshold: 0.8})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Stop, c.wantStop) {
				t.Fatalf("stop %v, want %v (%s)", p.Stop, c.wantStop, p.Reason)
			}
			if c.noop != "" && (!p.Noop || !strings.Contains(p.Reason, c.noop)) {
				t.Fatalf("want noop saying %q, got noop=%v %q", c.noop, p.Noop, p.Reason)
			}
			if c.noop == "" && p.After > 800 {
				t.Fatalf("after %g still over 800", p.After)
			}
		})
	}
	under := node
	under.Predicted = 700
	if p, _ := PlanMigrate(under, []Alloc{svc("a", 400)}, roomy, MigratePolicy{Threshold: 0.8}); !p.Noop {
		t.Fatalf("node under threshold should be a noop: %+v", p)
	}
	if _, err := PlanMigrate(node, nil, roomy, MigratePolicy{Threshold: 1.5}); err == nil {
		t.Fatal("threshold 1.5 accepted")
	}
}

func TestPlanPool(t *testing.T) {
	nodes := []Node{
		{ID: "a", Capacity: 100, Predicted: 50, Allocs: 3},
		{ID: "b", Capacity: 100, Predicted: 10, Allocs: 2},
		{ID: "c", Capacity: 100, Predicted: 30, Allocs: 0},
		{ID: "d", Capacity: 100, Predicted: 5, Allocs: 1},
	}
	pol := PoolPolicy{Bounds: Bounds{Min: 1, Max: 10, MaxStep: 2, CooldownIn: time.Hour}, Sizing: Sizing{PerUnitCapacity: 100}}
	cases := []struct {
		name   string
		order  string
		f      float64
		dir    Direction
		to     int
		remove []string
	}{
		{"scale out", "", 550, Out, 6, nil},
		{"empty first", "empty_first", 150, In, 2, []string{"c", "d"}},
		{"least busy", "least_busy", 150, In, 2, []string{"d", "b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pol.RemoveOrder = c.order
			p, err := PlanPool(PoolState{Name: "x", Nodes: nodes}, pol, Forecast{"q", c.f}, c.dir, Escalation{}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if p.To != c.to || !reflect.DeepEqual(p.Remove, c.remove) {
				t.Fatalf("to %d remove %v, want %d %v (%s)", p.To, p.Remove, c.to, c.remove, p.Reason)
			}
		})
	}
}

func TestNextRung(t *testing.T) {
	ladder := []Rung{{StepFactor: 2}, {StepFactor: 2, BypassCooldown: true}, {Action: "migrate"}}
	for done, want := range []int{0, 1, 2, 2} {
		_, i, ok, _ := NextRung(ladder, done, 4)
		if !ok || i != want {
			t.Fatalf("done=%d: rung %d ok=%v, want %d", done, i, ok, want)
		}
	}
	if _, _, ok, why := NextRung(ladder, 4, 4); ok || !strings.Contains(why, "hard cap") {
		t.Fatalf("cap not enforced: %v %q", ok, why)
	}
}

func TestEscalationsBookkeeping(t *testing.T) {
	ladder := []Rung{{Action: "scale_group", StepFactor: 2}, {Action: "scale_pool", BypassCooldown: true}}
	var e Escalations
	if soon, _ := e.TooSoon(t0, 5*time.Minute); soon {
		t.Fatal("an empty history is too soon")
	}
	if _, i, ok, _ := e.Next(t0, ladder, 2); !ok || i != 0 {
		t.Fatalf("first escalation: rung %d ok %v, want rung 0", i, ok)
	}
	e = append(e, t0, t0.Add(10*time.Minute))
	if soon, why := e.TooSoon(t0.Add(12*time.Minute), 5*time.Minute); !soon || !strings.Contains(why, "2m0s ago") {
		t.Fatalf("2 minutes after the last: soon %v (%q), want too soon", soon, why)
	}
	if soon, _ := e.TooSoon(t0.Add(15*time.Minute), 5*time.Minute); soon {
		t.Fatal("5 minutes after the last is not too soon")
	}
	if _, _, ok, why := e.Next(t0.Add(30*time.Minute), ladder, 2); ok || !strings.Contains(why, "hard cap") {
		t.Fatalf("two in the last hour with a cap of 2: ok %v (%q), want capped", ok, why)
	}
	// An hour after the first, only the second counts: the second rung.
	at := t0.Add(time.Hour)
	if got := e.LastHour(at); len(got) != 1 || !got[0].Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("LastHour = %v, want only the second escalation", got)
	}
	if r, i, ok, _ := e.Next(at, ladder, 2); !ok || i != 1 || r.Action != "scale_pool" {
		t.Fatalf("after the first left the hour: rung %d %+v ok %v, want rung 1", i, r, ok)
	}
	if !e.Last().Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("Last = %v", e.Last())
	}
}

func TestSlots(t *testing.T) {
	nodes := []Node{
		{ID: "a", Capacity: 4000, Eligible: true},
		{ID: "b", Capacity: 4000, Eligible: true},
		{ID: "draining", Capacity: 4000},
		{ID: "small", Capacity: 300, Eligible: true},
		{ID: "odd", Capacity: 1900, Eligible: true},
	}
	if got, want := Slots(nodes, 500), 8+8+3; got != want {
		t.Errorf("Slots = %d, want %d (draining and too-small nodes hold none)", got, want)
	}
	if got := Slots(nodes, 0); got != 0 {
		t.Errorf("Slots with no allocation size = %d, want 0", got)
	}
}

func TestWaitForNodes(t *testing.T) {
	out := CountPlan{From: 8, To: 12, Wanted: 12, Reason: "scale-out 8 -> 12"}
	cases := []struct {
		name      string
		plan      CountPlan
		placeable int
		wantTo    int
		waiting   bool
		noop      bool
	}{
		{"room for all", out, 16, 12, false, false},
		{"room for all, exactly", out, 12, 12, false, false},
		{"room for part", out, 10, 10, true, false},
		{"no room at all", out, 8, 8, true, true},
		{"fewer ready slots than running", out, 4, 8, true, true},
		{"scale-in passes", CountPlan{From: 8, To: 5, Wanted: 5}, 0, 5, false, false},
		{"noop passes", CountPlan{From: 8, To: 8, Noop: true}, 0, 8, false, true},
	}
	for _, c := range cases {
		got, waiting := WaitForNodes(c.plan, c.placeable)
		if got.To != c.wantTo || waiting != c.waiting || got.Noop != c.noop {
			t.Errorf("%s: To=%d waiting=%v noop=%v, want %d %v %v", c.name, got.To, waiting, got.Noop, c.wantTo, c.waiting, c.noop)
		}
		if waiting && (!got.Held || !strings.Contains(got.Reason, "waiting for nodes")) {
			t.Errorf("%s: held plan must say so: held=%v reason %q", c.name, got.Held, got.Reason)
		}
		if got.Wanted != c.plan.Wanted || got.From != c.plan.From {
			t.Errorf("%s: Wanted/From changed: %+v", c.name, got)
		}
	}
}

// TestReadable: a forecast in a scaling reason reads as four significant
// digits, not as the float's seventeen (the demo printed "forecast
// 4179.520662021816 wants 11").
func TestReadable(t *testing.T) {
	for v, want := range map[float64]string{4179.520662021816: "4180", 600: "600", 2200: "2200", 111243.4: "111243", 0.85231: "0.8523", 12.346: "12.35", 2.5: "2.5", 0: "0", -3.14159: "-3.142"} {
		if got := readable(v); got != want {
			t.Errorf("readable(%v) = %q, want %q", v, got, want)
		}
	}
}
