package actuator

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/actuator/planner"
)

func TestEscalationLadder(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	r.fc.v[webQ] = []Sample{{Value: 5000}}
	if out := r.a.Handle(ctx, webAlert(r.clk.Now())); out.Result != ResultActed {
		t.Fatal(out)
	}
	anomaly := func() template.Alert {
		a := alert("AnomalyDespiteAction", map[string]string{"action": "escalate", "namespace": "default", "job": "web", "task_group": "app"}, r.clk.Now())
		a.Fingerprint = fmt.Sprint(r.clk.Now().UnixNano())
		return a
	}
	r.clk.Add(6 * time.Minute)
	// Rung 0: double step (8), cooldown passed.
	if out := r.a.Handle(ctx, anomaly()); out.Result != ResultActed || !strings.Contains(out.Detail, "rung 0") {
		t.Fatalf("rung 0: %+v", out)
	}
	r.clk.Add(time.Minute)
	// Rung 1: bypasses the cooldown that would otherwise hold.
	if out := r.a.Handle(ctx, anomaly()); out.Result != ResultActed || !strings.Contains(out.Detail, "rung 1") {
		t.Fatalf("rung 1: %+v", out)
	}
	r.clk.Add(time.Minute)
	if out := r.a.Handle(ctx, anomaly()); out.Result != ResultCapped {
		t.Fatalf("hard cap: %+v", out)
	}
	// A node anomaly finds no rung for nodes in this ladder.
	node := alert("AnomalyDespiteAction", map[string]string{"action": "escalate", "node_id": "n9"}, r.clk.Now())
	if out := r.a.Handle(ctx, node); out.Result != ResultCapped && out.Result != ResultRejected {
		t.Fatalf("node anomaly: %+v", out)
	}
	if got := strings.Join(r.nomad.scales, ","); got != "default/web/app=9,default/web/app=17,default/web/app=20" {
		t.Fatalf("scales %s", got)
	}
}

func TestEscalationFallsBackToARungThatFits(t *testing.T) {
	r := newRig(t, func(c *Config) {
		e := c.Policies[4].Escalate
		e.Ladder = append(e.Ladder, planner.Rung{Action: ActionMigrate})
		e.MaxPerHour = 5
		e.Policies[ActionMigrate] = "node-migrate"
	})
	ctx := context.Background()
	r.fc.v[webQ] = []Sample{{Value: 5000}}
	for i, want := range []string{"rung 0", "rung 1", "rung 1"} {
		r.clk.Add(time.Minute)
		a := alert("AnomalyDespiteAction", map[string]string{"action": "escalate", "namespace": "default", "job": "web", "task_group": "app"}, r.clk.Now())
		a.Fingerprint = fmt.Sprint(i)
		// The third escalation would be the migrate rung, which needs a node: it falls back to rung 1.
		if out := r.a.Handle(ctx, a); !strings.Contains(out.Detail, want) {
			t.Fatalf("escalation %d: %+v, want %s", i, out, want)
		}
	}
}

// TestEscalationOfOnePersistingFiring: Alertmanager repeats one firing of
// AnomalyDespiteAction; it climbs a rung per interval, not per repeat.
func TestEscalationOfOnePersistingFiring(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Policies[4].Escalate.Interval = model.Duration(5 * time.Minute) })
	ctx := context.Background()
	r.fc.v[webQ] = []Sample{{Value: 5000}}
	a := alert("AnomalyDespiteAction", map[string]string{"action": "escalate", "namespace": "default", "job": "web", "task_group": "app"}, r.clk.Now())
	steps := []struct {
		after  time.Duration
		result string
		says   string
	}{
		{0, ResultActed, "rung 0"},
		{30 * time.Second, ResultDuplicate, "next rung no sooner"},
		{2 * time.Minute, ResultDuplicate, "next rung no sooner"},
		{3 * time.Minute, ResultActed, "rung 1"},
		{6 * time.Minute, ResultCapped, "hard cap"},
	}
	for i, s := range steps {
		r.clk.Add(s.after)
		out := r.a.Handle(ctx, a)
		if out.Result != s.result || !strings.Contains(out.Detail, s.says) {
			t.Fatalf("step %d: %+v, want %s saying %q", i, out, s.result, s.says)
		}
	}
	if got := strings.Join(r.nomad.scales, ","); got != "default/web/app=13,default/web/app=20" {
		t.Fatalf("scales %s", got)
	}
}
