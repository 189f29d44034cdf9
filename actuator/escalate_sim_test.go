package actuator

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// TestSimNodeEscalatesWithTheExampleLadder: examples/actuator.yml's
// escalation ladder, on the simulator, for AnomalyDespiteAction about a node
// as rules/ sends it (node_id and the node's node_pool). The ladder starts
// with task-group rungs; the node climbs its own: first its allocations
// move away (migrate), then, the firing persisting past the interval, its
// pool grows (scale_pool); past the hourly cap it is left to people.
func TestSimNodeEscalatesWithTheExampleLadder(t *testing.T) {
	r := newSimRig(t, nil)
	cfg, err := LoadConfig("../examples/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	// Act on the simulator, as the demo runs the example.
	cfg.Global.DryRun, cfg.Global.EmergencyStopFile = false, ""
	for i := range cfg.Policies {
		if sp := cfg.Policies[i].ScalePool; sp != nil {
			sp.Target = PoolTarget{Type: "nomad_sim"}
		}
	}
	r.opts.Config = cfg
	// The migration's background wait (replacements healthy, then the
	// overload window) waits for the end of the test: the fleet's clock
	// moves only as the test says.
	r.opts.Sleep = func(ctx context.Context, d time.Duration) error { <-ctx.Done(); return ctx.Err() }
	var audit lockedBuilder
	r.opts.Audit = slog.New(slog.NewJSONHandler(&audit, nil))
	if r.a, err = New(r.opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.a.Close)
	ctx := context.Background()

	// A node running an api allocation (500 MHz, movable) is predicted at
	// 3600 of 4000 MHz, over the example's threshold 0.8; the other nodes
	// at 1000. The pool is predicted at 16000 MHz: 5 nodes of 4000 with
	// the example's 15% headroom.
	busy, _ := apiNodeAmongPeaks(t, r, `max by (node_id) (node:fleetcast_demand_peak:max{resource="cpu"})`)
	r.fc.v[`max(node:fleetcast_demand_peak:max{node_id="`+busy+`",resource="cpu"})`] = []Sample{{Value: 3600}}
	r.fc.v[`max(node_pool:fleetcast_demand_peak:sum{node_pool="default",resource="cpu"})`] = []Sample{{Value: 16000}}
	before, err := r.f.PoolSize("default")
	if err != nil {
		t.Fatal(err)
	}

	// One firing, repeated by Alertmanager.
	firing := template.Alert{Status: "firing", StartsAt: r.f.Now(), Fingerprint: "node-anomaly",
		Labels: template.KV{"alertname": "AnomalyDespiteAction", "action": "escalate", "severity": "critical",
			"target": "node_cpu", "node_id": busy, "node_pool": "default", "resource": "cpu"}}
	interval := time.Duration(cfg.Policies[cfg.byName["escalate"]].Escalate.Interval)
	steps := []struct {
		after  time.Duration
		result string
		says   string
	}{
		{0, ResultActed, "rung 2 (migrate)"},
		{time.Minute, ResultDuplicate, "next rung no sooner"},
		{interval, ResultActed, "rung 3 (scale_pool)"},
	}
	for i, s := range steps {
		r.f.Advance(r.f.Now().Add(s.after))
		out := r.a.Handle(ctx, firing)
		if out.Result != s.result || !strings.Contains(out.Detail, s.says) {
			t.Fatalf("step %d: %+v, want %s saying %q", i, out, s.result, s.says)
		}
		if i == 0 {
			node, err := r.n.Node(ctx, busy)
			if err != nil {
				t.Fatal(err)
			}
			if node.SchedulingEligibility != "ineligible" {
				t.Fatalf("node %s is %s after the migrate rung, want ineligible", busy, node.SchedulingEligibility)
			}
		}
	}
	after, err := r.f.PoolSize("default")
	if err != nil {
		t.Fatal(err)
	}
	if after.Count != 5 {
		t.Fatalf("pool default has %d nodes after the scale_pool rung (from %d), want 5", after.Count, before.Count)
	}
	if strings.Contains(audit.String(), `"result":"no_rung"`) || strings.Contains(audit.String(), `"result":"rejected"`) {
		t.Fatalf("an escalation was refused:\n%s", audit.String())
	}
}
