package actuator

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
)

func TestScaleGroupActsOnceAndAudits(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	starts := r.clk.Now().Add(-time.Minute)
	out := r.a.Handle(ctx, webAlert(starts))
	if out.Result != ResultActed || out.Code != 200 {
		t.Fatalf("first notification: %+v", out)
	}
	if got := strings.Join(r.nomad.scales, ","); got != "default/web/app=8" {
		t.Fatalf("scales %q, want 600*1.2/100 -> 8", got)
	}
	ev := r.nomad.groups["default web app"].Events[0]
	if !strings.Contains(ev.Message, "forecast 600 wants 8") || ev.Meta["fleetcast_query"] != webQ || ev.Meta["fleetcast_forecast"] != 600.0 {
		t.Fatalf("scaling event does not carry reason and forecast: %q %v", ev.Message, ev.Meta)
	}
	// Alertmanager repeats the notification: nothing more happens.
	r.clk.Add(10 * time.Minute)
	if out := r.a.Handle(ctx, webAlert(starts)); out.Result != ResultDuplicate {
		t.Fatalf("repeat notification: %+v", out)
	}
	if len(r.nomad.scales) != 1 {
		t.Fatalf("acted twice: %v", r.nomad.scales)
	}
	// The intent comes first, then the decision line says what it saw,
	// read, decided and what Nomad answered.
	lines := strings.SplitN(r.audit.String(), "\n", 3)
	if !strings.Contains(lines[0], `"msg":"intent"`) {
		t.Fatalf("first audit line is not the intent: %s", lines[0])
	}
	line := lines[1]
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("audit line is not JSON: %v: %s", err, line)
	}
	for _, k := range []string{"alert", "forecast", "plan", "nomad", "result", "policy"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("audit line lacks %q: %s", k, line)
		}
	}
	if v := counterValue(t, r.a.Metrics().Actions.WithLabelValues("scale_group", "acted")); v != 1 {
		t.Fatalf("actions_total{acted} = %v", v)
	}
}

func TestIdempotentAcrossRestart(t *testing.T) {
	r := newRig(t, nil)
	starts := r.clk.Now()
	if out := r.a.Handle(context.Background(), webAlert(starts)); out.Result != ResultActed {
		t.Fatal(out)
	}
	// A new process with empty memory, same Nomad: the scaling event's meta says it is done.
	a2, err := New(Options{Config: r.cfg, Nomad: r.nomad, Forecasts: r.fc, Now: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if out := a2.Handle(context.Background(), webAlert(starts)); out.Result != ResultDuplicate {
		t.Fatalf("after restart: %+v", out)
	}
	// A new firing (new startsAt) within the cooldown read from Nomad's events.
	r.clk.Add(2 * time.Minute)
	r.fc.v[webQ] = []Sample{{Value: 1000}}
	if out := a2.Handle(context.Background(), webAlert(r.clk.Now())); out.Result != ResultCooldown {
		t.Fatalf("within cooldown after restart: %+v", out)
	}
	if len(r.nomad.scales) != 1 {
		t.Fatalf("scales %v", r.nomad.scales)
	}
}

func TestScaleGroupOutcomes(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		setup  func(*rig)
		alert  func(*rig) template.Alert
		result string
		code   int
		scales int
	}{
		{"dry run changes nothing", func(c *Config) { c.Global.DryRun = true }, nil, nil, ResultDryRun, 200, 0},
		{"nomad down is retried", nil, func(r *rig) { r.nomad.down = true }, nil, ResultError, 503, 0},
		{"prometheus down is retried", nil, func(r *rig) { delete(r.fc.v, webQ) }, nil, ResultForecastError, 503, 0},
		{"deployment blocks twice then scales", nil, func(r *rig) { r.nomad.blocked = 2 }, nil, ResultActed, 200, 1},
		{"deployment outlasts the alert", nil, func(r *rig) { r.nomad.blocked = 100 }, func(r *rig) template.Alert {
			a := webAlert(r.clk.Now())
			a.EndsAt = r.clk.Now().Add(5 * time.Second)
			return a
		}, ResultDeploymentBlocked, 503, 0},
		{"missing labels", nil, nil, func(r *rig) template.Alert {
			return alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "job": "web"}, r.clk.Now())
		}, ResultRejected, 422, 0},
		{"unknown job", nil, nil, func(r *rig) template.Alert {
			return alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "nope", "task_group": "x"}, r.clk.Now())
		}, ResultRejected, 422, 0},
		{"no policy", nil, nil, func(r *rig) template.Alert { return alert("Watchdog", nil, r.clk.Now()) }, ResultNoPolicy, 200, 0},
		{"resolved", nil, nil, func(r *rig) template.Alert {
			a := webAlert(r.clk.Now())
			a.Status = "resolved"
			return a
		}, ResultResolved, 200, 0},
		{"rate limited", func(c *Config) { c.Global.MaxActionsPerHour = 1 }, func(r *rig) { _, _, _, _ = r.a.reserve(context.Background()) }, nil, ResultRateLimited, 429, 0},
		{"surplus scales in", nil, func(r *rig) {
			r.fc.v[webQ] = []Sample{{Value: 250}}
		}, func(r *rig) template.Alert {
			return alert("JobPredictedSurplus", map[string]string{"action": "scale_group", "direction": "in", "namespace": "default", "job": "web", "task_group": "app"}, r.clk.Now())
		}, ResultActed, 200, 1},
		{"shortage with low forecast does not scale in", nil, func(r *rig) { r.fc.v[webQ] = []Sample{{Value: 100}} }, nil, ResultNoop, 200, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, c.mutate)
			if c.setup != nil {
				c.setup(r)
			}
			al := webAlert(r.clk.Now())
			if c.alert != nil {
				al = c.alert(r)
			}
			out := r.a.Handle(context.Background(), al)
			if out.Result != c.result || out.Code != c.code || len(r.nomad.scales) != c.scales {
				t.Fatalf("got %+v with scales %v; want %s/%d with %d scales", out, r.nomad.scales, c.result, c.code, c.scales)
			}
		})
	}
}
