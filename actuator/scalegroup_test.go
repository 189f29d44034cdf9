package actuator

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/alertmanager/template"

	"github.com/fleetcast/fleetcast/sim"
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

// simGroup is one task group as the simulator's own scheduler has it.
func simGroup(t *testing.T, r *simRig, job, group string) sim.GroupInfo {
	t.Helper()
	for _, j := range r.f.Jobs() {
		if j.ID == job {
			for _, g := range j.Groups {
				if g.Name == group {
					return g
				}
			}
		}
	}
	t.Fatalf("no group %s/%s in the simulator", job, group)
	return sim.GroupInfo{}
}

// TestSimScaleOutWaitsForNodes: a scale-out asks for no more allocations
// than the pool's ready nodes can place (planner.WaitForNodes on what
// Nomad's API says of the pool), says so, leaves the pool to the scale_pool
// policy, and takes the rest on a later notification once nodes are ready.
// Before the actuator read the pool it scaled web 3 -> 6 at once, leaving 3
// allocations queued with nowhere to go.
func TestSimScaleOutWaitsForNodes(t *testing.T) {
	r := newSimRig(t, nil)
	var audit lockedBuilder
	r.opts.Audit = slog.New(slog.NewJSONHandler(&audit, nil))
	a, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	r.fc.v[`max(fleetcast_forecast_peak{job="web",task_group="web",q="0.9"})`] = []Sample{{Value: 500}} // wants 6
	al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, r.f.Now())
	ctx := context.Background()

	// web keeps its allocations on distinct hosts: 3 on the 3 nodes, no room.
	out := a.Handle(ctx, al)
	if out.Result != ResultWaitingForNodes || out.Code != 200 || !strings.Contains(out.Detail, "waiting for nodes: the ready nodes place 3, 3 more") ||
		!strings.Contains(out.Detail, `node pool "default" needs more nodes; left to the scale_pool policy pool`) {
		t.Fatalf("no room: %+v", out)
	}
	if g := simGroup(t, r, "web", "web"); g.Count != 3 || g.Queued != 0 {
		t.Fatalf("web asked for %d with %d queued; want 3, none queued", g.Count, g.Queued)
	}
	if !strings.Contains(audit.String(), `"room":{"pool":"default","ask":{"CPU":1000,"MemoryMB":512,"DistinctHosts":true},"placeable":3,"schedulable_nodes":3}`) {
		t.Fatalf("the audit line does not say what the pool could place:\n%s", audit.String())
	}

	// One more node boots: the same firing, notified again, takes it.
	if _, err := r.f.SetPoolSize("default", 4); err != nil {
		t.Fatal(err)
	}
	r.f.Advance(r.f.Now().Add(3 * time.Minute))
	out = a.Handle(ctx, al)
	if out.Result != ResultActed || !strings.Contains(out.Detail, "the ready nodes place 4, 2 more when the pool's new nodes are ready") {
		t.Fatalf("one node ready: %+v", out)
	}
	r.f.Advance(r.f.Now().Add(time.Minute))
	if g := simGroup(t, r, "web", "web"); g.Count != 4 || g.Queued != 0 {
		t.Fatalf("web asked for %d with %d queued; want 4, none queued", g.Count, g.Queued)
	}
	// Held short of the forecast, the firing is not done with: its next
	// repeat is planned, not a duplicate, and still waits.
	if out := a.Handle(ctx, al); out.Result != ResultWaitingForNodes || !strings.Contains(out.Detail, "scale-out to 6 decided at") {
		t.Fatalf("repeat after a step held for nodes: %+v", out)
	}
	// Two more nodes, a minute later: well within the 5-minute cooldown of
	// the decision, the group catches up (the rest of a decision already
	// taken has no cooldown of its own, as in the closed-loop benchmark).
	if _, err := r.f.SetPoolSize("default", 6); err != nil {
		t.Fatal(err)
	}
	r.f.Advance(r.f.Now().Add(3 * time.Minute))
	out = a.Handle(ctx, al)
	if out.Result != ResultActed || !strings.Contains(out.Detail, "catching up on a scale-out held for nodes: 4 -> 6 of 6") || strings.Contains(out.Detail, "waiting") {
		t.Fatalf("nodes ready: %+v", out)
	}
	r.f.Advance(r.f.Now().Add(time.Minute))
	if g := simGroup(t, r, "web", "web"); g.Count != 6 || g.Queued != 0 {
		t.Fatalf("web asked for %d with %d queued; want 6, none queued", g.Count, g.Queued)
	}
	// The decision is carried out: a repeat is a duplicate, and a new
	// firing meets the cooldown of the decision, not of the catch-up.
	if out := a.Handle(ctx, al); out.Result != ResultDuplicate {
		t.Fatalf("repeat after the catch-up: %+v", out)
	}
	r.fc.v[`max(fleetcast_forecast_peak{job="web",task_group="web",q="0.9"})`] = []Sample{{Value: 100}} // wants 2: a surplus
	in := alert("JobPredictedSurplus", map[string]string{"action": "scale_group", "direction": "in", "namespace": "default", "job": "web", "task_group": "web"}, r.f.Now())
	if out := a.Handle(ctx, in); out.Result != ResultCooldown || !strings.Contains(out.Detail, "last change 5m0s ago") {
		t.Fatalf("a scale-in after the catch-up: %+v; want the 30m scale-in cooldown counted from the decision 5 minutes ago, not the catch-up 1 minute ago", out)
	}
}

// TestSimScaleOutPlacesWhatTheSchedulerPlaces: for a group without
// distinct_hosts, the room read from Nomad's API (node resources less what
// every other allocation reserves, CPU and memory) is what the simulator's
// scheduler places: after a scale-out far beyond the pool, no allocation
// is queued, and every ready node is full for one more.
func TestSimScaleOutPlacesWhatTheSchedulerPlaces(t *testing.T) {
	r := newSimRig(t, func(c *Config) { c.Policies[0].ScaleGroup.MaxStep = 100; c.Policies[0].ScaleGroup.Max = 100 })
	r.fc.v[`max(fleetcast_forecast_peak{job="api",task_group="api",q="0.9"})`] = []Sample{{Value: 10000}} // wants 120, bounded to 100
	al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "api", "task_group": "api"}, r.f.Now())
	out := r.a.Handle(context.Background(), al)
	if out.Result != ResultActed || !strings.Contains(out.Detail, "waiting for nodes") {
		t.Fatalf("%+v", out)
	}
	r.f.Advance(r.f.Now().Add(time.Minute))
	g := simGroup(t, r, "api", "api")
	if g.Queued != 0 || g.Count <= 2 || g.Count >= 100 {
		t.Fatalf("api asked for %d, %d queued: want more than 2, fewer than 100, none queued", g.Count, g.Queued)
	}
	// The pool is full for api: one more would queue (once the scale's
	// deployment, 5 minutes, is over and Nomad takes another).
	r.f.Advance(r.f.Now().Add(6 * time.Minute))
	if err := r.n.Scale(context.Background(), "default", "api", "api", g.Count+1, "one more by hand", nil, 0); err != nil {
		t.Fatal(err)
	}
	r.f.Advance(r.f.Now().Add(time.Minute))
	if g := simGroup(t, r, "api", "api"); g.Queued != 1 {
		t.Fatalf("one allocation beyond the room: %d queued, want 1 (the room read was smaller than the scheduler's)", g.Queued)
	}
}

// TestScaleOutRoomFromNodes: the room a scale-out waits for, read from a
// Nomad whose node list leaves resources out (each node is read): only
// ready, eligible, undrained nodes of the job's pool and datacenters take
// new allocations, less what the node and other jobs reserve; the group's
// allocations on a node of another datacenter keep running and count, those
// on a draining or down node do not.
func TestScaleOutRoomFromNodes(t *testing.T) {
	r := newRig(t, nil)
	r.fc.v[webQ] = []Sample{{Value: 5000}} // wants 60; max_step 4 from 5: 9
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	r.nomad.jobs["default/web"] = &api.Job{ID: str("web"), NodePool: str("web-pool"), Datacenters: []string{"dc1"},
		TaskGroups: []*api.TaskGroup{{Name: str("app"), Tasks: []*api.Task{{Name: "app", Resources: &api.Resources{CPU: num(100), MemoryMB: num(64)}}}}}}
	node := func(id, dc, status string, eligible bool, cpu, reserved int64) {
		n := &api.Node{ID: id, NodePool: "web-pool", Datacenter: dc, Status: status, SchedulingEligibility: api.NodeSchedulingIneligible,
			NodeResources:     &api.NodeResources{Cpu: api.NodeCpuResources{CpuShares: cpu}, Memory: api.NodeMemoryResources{MemoryMB: 8192}},
			ReservedResources: &api.NodeReservedResources{Cpu: api.NodeReservedCpuResources{CpuShares: uint64(reserved)}}}
		if eligible {
			n.SchedulingEligibility = api.NodeSchedulingEligible
		}
		r.nomad.nodes[id] = n
	}
	alloc := func(node, job, group string, cpu int64) {
		r.nomad.allocs[node] = append(r.nomad.allocs[node], &api.Allocation{Namespace: "default", JobID: job, TaskGroup: group,
			DesiredStatus: "run", ClientStatus: "running",
			AllocatedResources: &api.AllocatedResources{Tasks: map[string]*api.AllocatedTaskResources{"t": {Cpu: api.AllocatedCpuResources{CpuShares: cpu}}}}})
	}
	node("busy", "dc1", "ready", true, 1000, 100) // 900 offered, 800 taken by another job: 1
	alloc("busy", "db", "db", 800)
	node("own", "dc1", "ready", true, 400, 0) // 3 of web's own there, 4 in all
	for i := 0; i < 3; i++ {
		alloc("own", "web", "app", 100)
	}
	node("elsewhere", "dc2", "ready", true, 4000, 0) // not the job's datacenter: its 2 keep running
	alloc("elsewhere", "web", "app", 100)
	alloc("elsewhere", "web", "app", 100)
	node("draining", "dc1", "ready", true, 4000, 0) // moving off: counts nothing
	r.nomad.nodes["draining"].DrainStrategy = &api.DrainStrategy{}
	alloc("draining", "web", "app", 100)
	node("down", "dc1", "down", true, 4000, 0)
	node("other-pool", "dc1", "ready", true, 4000, 0)
	r.nomad.nodes["other-pool"].NodePool = "batch"

	out := r.a.Handle(context.Background(), webAlert(r.clk.Now()))
	if out.Result != ResultActed || !strings.Contains(out.Detail, "the ready nodes place 7, 2 more") ||
		!strings.Contains(out.Detail, `node pool "web-pool" needs more nodes; left to the scale_pool policy pool`) {
		t.Fatalf("%+v", out)
	}
	if got := strings.Join(r.nomad.scales, ","); got != "default/web/app=7" {
		t.Fatalf("scales %q, want 1 + 4 + 2 = 7", got)
	}
	if !strings.Contains(r.audit.String(), `"room":{"pool":"web-pool","ask":{"CPU":100,"MemoryMB":64,"DistinctHosts":false},"placeable":7,"schedulable_nodes":2}`) {
		t.Fatalf("audit:\n%s", r.audit.String())
	}
}

// TestLatestScaling: the newest successful event counts whatever the
// order Nomad lists them in; failed events and events without a count do
// not; this alert's own event is done unless max_step held it short.
func TestLatestScaling(t *testing.T) {
	cnt := func(n int64) *int64 { return &n }
	at := func(sec int64) uint64 { return uint64(time.Unix(sec, 0).UnixNano()) }
	cases := []struct {
		name     string
		events   []api.ScalingEvent
		wantTime uint64 // 0: no latest
		wantDone bool
	}{
		{"none", nil, 0, false},
		{"newest wins, listed first or last", []api.ScalingEvent{
			{Count: cnt(3), Time: at(200)}, {Count: cnt(2), Time: at(100)}, {Count: cnt(4), Time: at(300)},
		}, at(300), false},
		{"failed and countless events do not count", []api.ScalingEvent{
			{Count: cnt(2), Time: at(100)}, {Count: cnt(9), Time: at(500), Error: true}, {Time: at(400)},
		}, at(100), false},
		{"this alert's own action is done", []api.ScalingEvent{
			{Count: cnt(2), Time: at(100)}, {Count: cnt(4), Time: at(200), Meta: map[string]any{"fleetcast_alert_key": "k"}},
		}, 0, true},
		{"another alert's action is not", []api.ScalingEvent{
			{Count: cnt(4), Time: at(200), Meta: map[string]any{"fleetcast_alert_key": "other"}},
		}, at(200), false},
		{"a held step of this alert is not done", []api.ScalingEvent{
			{Count: cnt(4), Time: at(200), Meta: map[string]any{"fleetcast_alert_key": "k", "fleetcast_held": true}},
		}, at(200), false},
		{"a failed action of this alert is not done", []api.ScalingEvent{
			{Count: cnt(4), Time: at(200), Error: true, Meta: map[string]any{"fleetcast_alert_key": "k"}},
		}, 0, false},
	}
	for _, tc := range cases {
		latest, done := latestScaling(tc.events, "k")
		if done != tc.wantDone {
			t.Errorf("%s: done %v, want %v", tc.name, done, tc.wantDone)
		}
		var got uint64
		if latest != nil {
			got = latest.Time
		}
		if got != tc.wantTime {
			t.Errorf("%s: latest at %d, want %d", tc.name, got, tc.wantTime)
		}
	}
}
