package actuator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/fleetcast/fleetcast/actuator/planner"
)

const webQ = `max(fleetcast_forecast_peak{job="web",task_group="app",q="0.9"})`

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type rig struct {
	a     *Actuator
	nomad *fakeNomad
	fc    *fakeForecasts
	pool  *fakePool
	clk   *clock
	audit *bytes.Buffer
	cfg   *Config
}

func newRig(t testing.TB, mutate func(*Config)) *rig {
	t.Helper()
	cfg, err := LoadConfig("testdata/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	clk := &clock{t: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
	n := newFakeNomad(clk.Now)
	n.groups["default web app"] = &api.TaskGroupScaleStatus{Desired: 5, Running: 5, Healthy: 5}
	fc := &fakeForecasts{v: map[string][]Sample{webQ: {{Value: 600}}}}
	var audit bytes.Buffer
	var mu sync.Mutex
	pool := &fakePool{}
	a, err := New(Options{Config: cfg, Nomad: n, Forecasts: fc, Now: clk.Now,
		Audit: slog.New(slog.NewJSONHandler(&lockedWriter{w: &audit, mu: &mu}, nil)),
		Sleep: func(ctx context.Context, d time.Duration) error { clk.Add(d); return ctx.Err() },
		Pools: map[string]PoolScaler{"pool": pool}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return &rig{a: a, nomad: n, fc: fc, pool: pool, clk: clk, audit: &audit, cfg: cfg}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func alert(name string, labels map[string]string, starts time.Time) template.Alert {
	kv := template.KV{"alertname": name}
	for k, v := range labels {
		kv[k] = v
	}
	return template.Alert{Status: "firing", Labels: kv, StartsAt: starts, Fingerprint: fmt.Sprintf("%x", len(name)*7919+len(kv))}
}

func webAlert(starts time.Time) template.Alert {
	return alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "namespace": "default", "job": "web", "task_group": "app"}, starts)
}

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
			return alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "job": "web"}, r.clk.Now())
		}, ResultRejected, 422, 0},
		{"unknown job", nil, nil, func(r *rig) template.Alert {
			return alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "namespace": "default", "job": "nope", "task_group": "x"}, r.clk.Now())
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
			return alert("JobPredictedSurplus", map[string]string{"action": "scale_group", "namespace": "default", "job": "web", "task_group": "app"}, r.clk.Now())
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

func TestEmergencyStop(t *testing.T) {
	stop := filepath.Join(t.TempDir(), "STOP")
	r := newRig(t, func(c *Config) { c.Global.EmergencyStopFile = stop })
	if err := os.WriteFile(stop, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	al := webAlert(r.clk.Now())
	if out := r.a.Handle(context.Background(), al); out.Result != ResultStopped || len(r.nomad.scales) != 0 {
		t.Fatalf("with stop file: %+v %v", out, r.nomad.scales)
	}
	if err := os.Remove(stop); err != nil {
		t.Fatal(err)
	}
	// The stop did not mark the alert as handled: the next repeat acts.
	if out := r.a.Handle(context.Background(), al); out.Result != ResultActed {
		t.Fatalf("after removing stop file: %+v", out)
	}
}

func TestPerObjectLock(t *testing.T) {
	r := newRig(t, nil)
	if !r.a.lock("group/default/web/app") {
		t.Fatal("lock")
	}
	out := r.a.Handle(context.Background(), webAlert(r.clk.Now()))
	if out.Result != ResultBusy || out.Code != 503 {
		t.Fatalf("while locked: %+v", out)
	}
	r.a.unlock("group/default/web/app")
	if out := r.a.Handle(context.Background(), webAlert(r.clk.Now())); out.Result != ResultActed {
		t.Fatalf("after unlock: %+v", out)
	}
}

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

func TestMigrate(t *testing.T) {
	r := newRig(t, nil)
	n := r.nomad
	node := func(id string, cpu int64) *api.Node {
		return &api.Node{ID: id, NodePool: "default", Status: "ready", SchedulingEligibility: "eligible",
			NodeResources: &api.NodeResources{Cpu: api.NodeCpuResources{CpuShares: cpu}}}
	}
	n.nodes["n1"], n.nodes["n2"], n.nodes["n3"] = node("n1", 1000), node("n2", 1000), node("n3", 1000)
	svc, batch := "service", "batch"
	one, three := 1, 3
	n.jobs["default/api"] = &api.Job{ID: &[]string{"api"}[0], Type: &svc, TaskGroups: []*api.TaskGroup{{Name: &[]string{"g"}[0], Count: &three, Migrate: &api.MigrateStrategy{MaxParallel: &one}}}}
	n.jobs["default/etl"] = &api.Job{ID: &[]string{"etl"}[0], Type: &batch, TaskGroups: []*api.TaskGroup{{Name: &[]string{"g"}[0], Count: &one}}, Meta: map[string]string{MetaMigrate: "false"}}
	mk := func(id, job string) *api.Allocation {
		return &api.Allocation{ID: id, Namespace: "default", JobID: job, TaskGroup: "g", DesiredStatus: "run", ClientStatus: "running"}
	}
	n.allocs["n1"] = []*api.Allocation{mk("a1", "api"), mk("a2", "api"), mk("e1", "etl")}
	n.groups["default api g"] = &api.TaskGroupScaleStatus{Desired: 3, Healthy: 3}
	r.fc.v[`max(fleetcast_forecast_peak{node_id="n1"})`] = []Sample{{Value: 1000}}
	r.fc.v[`fleetcast_forecast_peak{target="alloc_cpu",node_id="n1"}`] = []Sample{
		{Labels: map[string]string{"alloc_id": "a1"}, Value: 300}, {Labels: map[string]string{"alloc_id": "a2"}, Value: 100},
		{Labels: map[string]string{"alloc_id": "e1"}, Value: 600}}
	r.fc.v[`fleetcast_forecast_peak{target="node_cpu"}`] = []Sample{
		{Labels: map[string]string{"node_id": "n2"}, Value: 500}, {Labels: map[string]string{"node_id": "n3"}, Value: 700}}
	al := alert("NodePredictedOverload", map[string]string{"action": "migrate", "node_id": "n1"}, r.clk.Now())
	out := r.a.Handle(context.Background(), al)
	if out.Result != ResultActed {
		t.Fatalf("migrate: %+v\n%s", out, r.audit)
	}
	r.a.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	// etl is pinned; a2 (100) is not enough for the 200 excess, a1 (300) is.
	if strings.Join(n.stopped, ",") != "a1" {
		t.Fatalf("stopped %v, want [a1]", n.stopped)
	}
	if !n.elig["n1"] {
		t.Fatal("eligibility not restored after the overload window")
	}
}

func TestScalePool(t *testing.T) {
	r := newRig(t, nil)
	for _, id := range []string{"p1", "p2", "p3"} {
		r.nomad.nodes[id] = &api.Node{ID: id, NodePool: "batch", Status: "ready", SchedulingEligibility: "eligible"}
	}
	q := `sum(fleetcast_forecast_peak{node_pool="batch"})`
	r.fc.v[q] = []Sample{{Value: 4500}}
	out := r.a.Handle(context.Background(), alert("FleetPredictedShortage", map[string]string{"action": "scale_pool", "node_pool": "batch"}, r.clk.Now()))
	if out.Result != ResultActed || strings.Join(r.pool.calls, ";") != "batch 3->5 []" {
		t.Fatalf("scale out: %+v %v", out, r.pool.calls)
	}
	r.clk.Add(2 * time.Hour)
	r.fc.v[q] = []Sample{{Value: 900}}
	out = r.a.Handle(context.Background(), alert("FleetPredictedSurplus", map[string]string{"action": "scale_pool", "node_pool": "batch"}, r.clk.Now()))
	if out.Result != ResultActed {
		t.Fatalf("scale in: %+v", out)
	}
	r.a.Wait()
	if len(r.nomad.drained) != 2 || len(r.pool.calls) != 2 || !strings.HasPrefix(r.pool.calls[1], "batch 3->1 [") {
		t.Fatalf("drained %v, calls %v", r.nomad.drained, r.pool.calls)
	}
}

func post(t *testing.T, h http.Handler, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhook", strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func payload(alerts ...template.Alert) string {
	b, _ := json.Marshal(Message{Data: template.Data{Receiver: "fleetcast", Status: "firing", Alerts: alerts}, Version: "4", GroupKey: "{}:{}"})
	return string(b)
}

func TestWebhookHTTP(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Global.MaxBodyBytes = 4096; c.Global.MaxAlertsPerRequest = 2 })
	h := (&Webhook{A: r.a, Token: "s3cret", Log: slog.New(slog.DiscardHandler)}).Handler(nil)
	auth := map[string]string{"Authorization": "Bearer s3cret"}
	good := payload(webAlert(r.clk.Now()))
	cases := []struct {
		name string
		body string
		hdr  map[string]string
		code int
		says string
	}{
		{"no token", good, nil, 401, "bearer"},
		{"wrong token", good, map[string]string{"Authorization": "Bearer nope"}, 401, "bearer"},
		{"malformed", "{", auth, 400, "malformed JSON"},
		{"old version", `{"version":"3","alerts":[]}`, auth, 400, "version"},
		{"too big", `{"version":"4","x":"` + strings.Repeat("a", 5000) + `"}`, auth, 413, "max_body_bytes"},
		{"too many alerts", payload(webAlert(r.clk.Now()), webAlert(r.clk.Now()), webAlert(r.clk.Now())), auth, 400, "max_alerts_per_request"},
		{"missing labels", payload(alert("JobPredictedSaturation", map[string]string{"action": "scale_group"}, r.clk.Now())), auth, 422, "needs labels"},
		{"good", good, auth, 200, `"acted"`},
		{"repeat", good, auth, 200, `"duplicate"`},
	}
	for _, c := range cases {
		code, body := post(t, h, c.body, c.hdr)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %s; want %d saying %q", c.name, code, body, c.code, c.says)
		}
	}
	if len(r.nomad.scales) != 1 {
		t.Fatalf("scales %v", r.nomad.scales)
	}
	// A huge version string is not echoed whole.
	if code, body := post(t, h, `{"version":"`+strings.Repeat("v", 3000)+`"}`, auth); code != 400 || len(body) > 1024 {
		t.Errorf("huge version: %d, %d bytes of answer", code, len(body))
	}
	for _, p := range []string{"/-/healthy", "/-/ready", "/metrics"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != 200 {
			t.Errorf("%s: %d", p, rec.Code)
		}
		if p == "/metrics" && !strings.Contains(rec.Body.String(), `fleetcast_actuator_actions_total{action="scale_group",result="acted"} 1`) {
			t.Errorf("/metrics lacks the action counter")
		}
		if p == "/metrics" {
			lintExposition(t, rec.Body.String())
		}
	}
}

// lintExposition fails the test on every problem `promtool check metrics`
// would report on the page (the same linter), and checks the page carries
// fleetcast_build_info.
func lintExposition(t *testing.T, body string) {
	t.Helper()
	if !strings.Contains(body, "fleetcast_build_info{") {
		t.Errorf("/metrics lacks fleetcast_build_info")
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("lint /metrics: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promtool check metrics would say: %s: %s", p.Metric, p.Text)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]string{
		"no policies":       "global: {}\n",
		"unknown field":     "global: {dryrun: true}\npolicies: []\n",
		"bad action":        "policies: [{name: a, match: {alertname: [X]}, action: reboot, scale_group: {min: 1, max: 2, max_step: 1}}]",
		"max below min":     "policies: [{name: a, match: {alertname: [X]}, action: scale_group, scale_group: {min: 3, max: 2, max_step: 1}}]",
		"empty match":       "policies: [{name: a, action: scale_group, scale_group: {min: 1, max: 2, max_step: 1}}]",
		"bad template":      "policies: [{name: a, match: {alertname: [X]}, action: scale_group, scale_group: {query: '{{.x', per_alloc_capacity: 1, min: 1, max: 2, max_step: 1}}]",
		"bad duration":      "policies: [{name: a, match: {alertname: [X]}, action: scale_group, scale_group: {min: 1, max: 2, max_step: 1, cooldown: soon}}]",
		"ladder bad policy": "policies: [{name: e, match: {alertname: [X]}, action: escalate, escalate: {max_per_hour: 1, ladder: [{action: scale_group}], policies: {scale_group: nope}}}]",
		"scale-in faster":   "policies: [{name: a, match: {alertname: [X]}, action: scale_group, scale_group: {min: 1, max: 2, max_step: 1, cooldown: 10m, scale_in_cooldown: 5m}}]",
		"pool no target":    "policies: [{name: p, match: {alertname: [X]}, action: scale_pool, scale_pool: {min: 1, max: 2, max_step: 1}}]",
	}
	for name, text := range cases {
		if _, err := ParseConfig([]byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadConfig("../examples/actuator.yml"); err != nil {
		t.Errorf("examples/actuator.yml: %v", err)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
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

func TestCommandPoolTarget(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	c := &CommandPool{Argv: []string{"/bin/sh", "-c", `echo "$FLEETCAST_POOL $FLEETCAST_CURRENT $FLEETCAST_DESIRED $FLEETCAST_REMOVE $FLEETCAST_REASON" > ` + out}, Timeout: 10 * time.Second}
	if err := c.SetSize(context.Background(), "batch", 3, 1, []string{"n1", "n2"}, "surplus"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "batch 3 1 n1,n2 surplus" {
		t.Fatalf("command saw %q", got)
	}
	fail := &CommandPool{Argv: []string{"/bin/sh", "-c", "echo quota exceeded >&2; exit 3"}, Timeout: 10 * time.Second}
	err = fail.SetSize(context.Background(), "batch", 1, 2, nil, "shortage")
	var ne *NomadError
	if err == nil || !strings.Contains(err.Error(), "quota exceeded") || !errors.As(err, &ne) || !ne.Retryable() {
		t.Fatalf("failing command: %v", err)
	}
}

// TestEscalationOfOnePersistingFiring: Alertmanager repeats one firing of
// AnomalyDespiteAction; it climbs a rung per interval, not per repeat.
func TestEscalationOfOnePersistingFiring(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Policies[4].Escalate.Interval = Duration(5 * time.Minute) })
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

// TestPoolPersistingFiringTakesSeveralSteps: a node-pool shortage that
// max_step holds short takes its next step after the cooldown, under the
// same firing, and the pool's state variable records the held step.
func TestPoolPersistingFiringTakesSeveralSteps(t *testing.T) {
	r := newRig(t, nil)
	for _, id := range []string{"p1", "p2", "p3"} {
		r.nomad.nodes[id] = &api.Node{ID: id, NodePool: "batch", Status: "ready", SchedulingEligibility: "eligible"}
	}
	r.fc.v[`sum(fleetcast_forecast_peak{node_pool="batch"})`] = []Sample{{Value: 6500}} // wants 7 nodes
	al := alert("FleetPredictedShortage", map[string]string{"action": "scale_pool", "node_pool": "batch"}, r.clk.Now())
	ctx := context.Background()
	var got []string
	for i := 0; i < 3; i++ {
		got = append(got, r.a.Handle(ctx, al).Result, r.a.Handle(ctx, al).Result)
		// The target booted what was asked for.
		for n := len(r.nomad.nodes); n < 3+2*(i+1) && n < 7; n++ {
			id := fmt.Sprintf("p%d", n+1)
			r.nomad.nodes[id] = &api.Node{ID: id, NodePool: "batch", Status: "ready", SchedulingEligibility: "eligible"}
		}
		r.clk.Add(11 * time.Minute)
	}
	if s := strings.Join(got, " "); s != "acted cooldown acted duplicate duplicate duplicate" {
		t.Fatalf("one persisting pool firing: %s (calls %v)", s, r.pool.calls)
	}
	if strings.Join(r.pool.calls, ";") != "batch 3->5 [];batch 5->7 []" {
		t.Fatalf("calls %v", r.pool.calls)
	}
}
