package actuator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
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
	// A node anomaly finds no rung for nodes in this ladder (scale_group
	// only): nothing to do, said with 200 so Alertmanager does not resend it.
	node := alert("AnomalyDespiteAction", map[string]string{"action": "escalate", "node_id": "n9"}, r.clk.Now())
	if out := r.a.Handle(ctx, node); out.Result != ResultNoRung || out.Code != 200 || !strings.Contains(out.Detail, "migrate or scale_pool") {
		t.Fatalf("node anomaly: %+v, want %s (200) naming the rungs a node needs", out, ResultNoRung)
	}
	if got := strings.Join(r.nomad.scales, ","); got != "default/web/app=9,default/web/app=17,default/web/app=20" {
		t.Fatalf("scales %s", got)
	}
}

func TestEscalationClimbsTheObjectsOwnRungs(t *testing.T) {
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
		// The migrate rung is a node's: a task group climbs its own rungs
		// (0, 1) and its last one repeats.
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

// TestRefusedEscalationIsAnsweredOnce: Alertmanager repeats a firing
// AnomalyDespiteAction for a node that the ladder has no rung for (the
// demo's 20 s repeat over 5 minutes). The first delivery is answered
// no_rung with 200, which Alertmanager does not send again at every
// group_interval as it does a 4xx; the operational log says so once, the
// repeats are duplicates in the audit; a reload that adds a rung for
// nodes escalates the same firing on its next repeat.
func TestRefusedEscalationIsAnsweredOnce(t *testing.T) {
	r := newRig(t, nil)
	var logs bytes.Buffer
	r.a.o.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	hook := &Webhook{A: r.a, Log: slog.New(slog.DiscardHandler)}
	starts := r.clk.Now()
	body, err := json.Marshal(Message{Version: "4", Data: template.Data{Alerts: template.Alerts{{Status: "firing", StartsAt: starts, Fingerprint: "9a3f",
		Labels: template.KV{"alertname": "AnomalyDespiteAction", "action": "escalate", "severity": "critical", "target": "node_cpu", "node_id": "n9", "resource": "cpu"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	deliver := func() (int, Outcome) {
		t.Helper()
		code, resp := hook.Process(context.Background(), body)
		if len(resp.Results) != 1 {
			t.Fatalf("HTTP %d %+v: want one result", code, resp)
		}
		return code, resp.Results[0]
	}
	results := map[string]int{}
	for i := 0; i < 15; i++ {
		code, out := deliver()
		if code != 200 {
			t.Fatalf("delivery %d: HTTP %d %+v; want 200 (a 4xx or 5xx makes Alertmanager send it again at every group_interval)", i+1, code, out)
		}
		results[out.Result]++
		if i == 0 && out.Result != ResultNoRung {
			t.Fatalf("first delivery: %+v, want %s", out, ResultNoRung)
		}
		r.clk.Add(20 * time.Second)
	}
	if results[ResultNoRung] != 1 || results[ResultDuplicate] != 14 {
		t.Fatalf("15 deliveries of one firing: %v, want one %s and 14 %s", results, ResultNoRung, ResultDuplicate)
	}
	if n := strings.Count(logs.String(), "escalation refused"); n != 1 {
		t.Fatalf("%d log lines about the refusal, want 1:\n%s", n, logs.String())
	}
	if n := strings.Count(r.audit.String(), `"result":"no_rung"`); n != 1 {
		t.Fatalf("%d audit lines with no_rung, want 1:\n%s", n, r.audit.String())
	}
	if n := strings.Count(r.audit.String(), `"result":"duplicate"`); n != 14 {
		t.Fatalf("%d audit lines with duplicate, want 14 (the audit records every decision)", n)
	}
	// The operator adds a rung for nodes and reloads: the firing escalates.
	cfg, err := LoadConfig("testdata/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Policies[4].Escalate
	e.Ladder = append(e.Ladder, planner.Rung{Action: ActionMigrate})
	e.Policies[ActionMigrate] = "node-migrate"
	if err := r.a.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if _, out := deliver(); !strings.Contains(out.Detail, "rung 2 (migrate)") {
		t.Fatalf("after the reload: %+v, want the migrate rung", out)
	}
	// Nomad has no node n9 (422): that is said once per firing too.
	if code, out := deliver(); code != 200 || out.Result != ResultDuplicate {
		t.Fatalf("the repeat after Nomad said no such node: HTTP %d %+v, want a duplicate (200)", code, out)
	}
	if n := strings.Count(logs.String(), "escalation refused"); n != 2 {
		t.Fatalf("%d log lines about refusals, want 2 (no rung, then no such node):\n%s", n, logs.String())
	}
}

// TestLadderWithoutARungForAKindWarns: the config check warns, naming the
// file and the field, about a ladder with no rung for task groups or for
// nodes, both of which AnomalyDespiteAction names; the example has none.
func TestLadderWithoutARungForAKindWarns(t *testing.T) {
	cfg, err := LoadConfig("testdata/actuator.yml") // a scale_group ladder
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(cfg.Warnings(), "\n")
	if len(cfg.Warnings()) != 1 || !strings.Contains(w, "testdata/actuator.yml: policies[4] (anomaly).escalate.ladder: no rung applies to a node") ||
		!strings.Contains(w, "add a migrate or scale_pool rung") {
		t.Fatalf("warnings %q, want one naming the file, the ladder and the rungs a node needs", cfg.Warnings())
	}
	nodeOnly := strings.Replace(testConfigText(t), "        - {action: scale_group, step_factor: 2}\n        - {action: scale_group, step_factor: 2, bypass_cooldown: true}\n      policies: {scale_group: web-out}",
		"        - {action: migrate}\n      policies: {migrate: node-migrate}", 1)
	c, err := ParseConfig([]byte(nodeOnly))
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "no rung applies to a task group") || !strings.Contains(w[0], "add a scale_group rung") {
		t.Fatalf("a ladder of migrate only: warnings %q, want one about task groups", w)
	}
	ex, err := LoadConfig("../examples/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	if w := ex.Warnings(); len(w) != 0 {
		t.Fatalf("examples/actuator.yml warns: %q", w)
	}
}

func testConfigText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
