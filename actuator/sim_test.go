package actuator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/internal/nomadver"
	"github.com/fleetcast/fleetcast/internal/testenv"
	"github.com/fleetcast/fleetcast/sim"
)

var simStart = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// simRig runs the actuator's real Nomad executor against the simulator.
type simRig struct {
	f    *sim.Fleet
	url  string
	n    *NomadAPI
	fc   *fakeForecasts
	cfg  *Config
	a    *Actuator
	opts Options
}

func newSimRig(t *testing.T, mutate func(*Config)) *simRig {
	t.Helper()
	return newSimRigVersion(t, "", mutate)
}

// newSimRigVersion is newSimRig with the simulator claiming another Nomad
// release ("" keeps the one in testdata/fleet.yml).
func newSimRigVersion(t *testing.T, version string, mutate func(*Config)) *simRig {
	t.Helper()
	b, err := os.ReadFile("testdata/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if version != "" {
		text = regexp.MustCompile(`(?m)^nomad_version: .*$`).ReplaceAllString(text, "nomad_version: "+version)
	}
	// Two minutes run: the allocations have started.
	f, url, n := serveSim(t, text, "testdata/fleet.yml", 2*time.Minute, nil)
	return startRig(t, f, url, n, nomadver.Version{}, mutate)
}

// serveSim runs the simulated fleet the YAML describes (name in its
// errors) for run from simStart, serves its API on loopback through wrap
// (nil: as it is), and returns it with its address and a client of it.
func serveSim(tb testing.TB, fleetYAML, name string, run time.Duration, wrap func(http.Handler) http.Handler) (*sim.Fleet, string, *NomadAPI) {
	tb.Helper()
	scfg, err := sim.ParseConfig([]byte(fleetYAML), name)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := sim.New(scfg, simStart)
	if err != nil {
		tb.Fatal(err)
	}
	f.Advance(simStart.Add(run))
	h := f.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	n, err := NewNomadAPI(srv.URL, "", "", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return f, srv.URL, n
}

// startRig starts the actuator with testdata/actuator.yml (mutate edits
// it) on the simulated fleet f, served at url and read through n; ver is
// the server's release as the command reads it at start (zero: not read).
func startRig(t *testing.T, f *sim.Fleet, url string, n *NomadAPI, ver nomadver.Version, mutate func(*Config)) *simRig {
	t.Helper()
	cfg, err := LoadConfig("testdata/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	r := &simRig{f: f, url: url, n: n, cfg: cfg, fc: &fakeForecasts{v: map[string][]Sample{}}}
	r.opts = Options{Config: cfg, Nomad: n, Forecasts: r.fc, Now: f.Now, NomadAddress: url, State: n, NomadVersion: ver,
		Audit: slog.New(slog.NewJSONHandler(&testWriter{t}, nil)),
		// Waiting moves the simulated fleet on, so deployments end and drains finish.
		Sleep: func(ctx context.Context, d time.Duration) error { f.Advance(f.Now().Add(d)); return ctx.Err() }}
	r.a, err = New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.a.Close)
	return r
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func groupStatus(t *testing.T, n *NomadAPI, job, group string) api.TaskGroupScaleStatus {
	t.Helper()
	st, err := n.ScaleStatus(context.Background(), "default", job)
	if err != nil {
		t.Fatal(err)
	}
	return st.TaskGroups[group]
}

// roomForWeb grows the default pool to its max (6 nodes) and lets the new
// nodes boot: web keeps its allocations on distinct hosts, so on the 3
// nodes it starts with a scale-out would wait for nodes (readRoom). Tests
// of what happens after a scale-out that can be placed start with it.
func roomForWeb(t *testing.T, r *simRig) {
	t.Helper()
	if _, err := r.f.SetPoolSize("default", 6); err != nil {
		t.Fatal(err)
	}
	r.f.Advance(r.f.Now().Add(3 * time.Minute))
}

func TestSimScaleGroup(t *testing.T) {
	r := newSimRig(t, nil)
	roomForWeb(t, r)
	q := `max(fleetcast_forecast_peak{job="web",task_group="web",q="0.9"})`
	r.fc.v[q] = []Sample{{Value: 4000}}
	al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, r.f.Now())
	if out := r.a.Handle(context.Background(), al); out.Result != ResultActed {
		t.Fatalf("%+v", out)
	}
	g := groupStatus(t, r.n, "web", "web")
	// 4000 MHz * 1.2 / 100 per alloc wants 48; max_step 4 from 3 gives 7;
	// the policy allows 20 but the job's scaling block only 6.
	if g.Desired != 6 {
		t.Fatalf("desired %d, want 6", g.Desired)
	}
	last := g.Events[len(g.Events)-1]
	if last.Meta["fleetcast_alert_key"] != alertKey(al) || !strings.HasPrefix(last.Message, "fleetcast: scale-out 3 -> 6") {
		t.Fatalf("scaling event: %q %v", last.Message, last.Meta)
	}
	// The action's time carries the job's node pool (web names none: Nomad's
	// default), so the rules know which nodes its new allocations may have
	// stepped (ForecastAnomalyAfterAction).
	if got := lastActionLabels(t, r.a, ActionScaleGroup); len(got) != 1 || got[0]["node_pool"] != "default" || got[0]["job"] != "web" {
		t.Fatalf("fleetcast_actuator_last_action_timestamp_seconds{action=%q}: %v, want one series of web with node_pool=default", ActionScaleGroup, got)
	}
	// A restarted actuator sees its own action in Nomad's scaling events.
	a2, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	if out := a2.Handle(context.Background(), al); out.Result != ResultDuplicate {
		t.Fatalf("after restart: %+v", out)
	}
	// A new firing inside the cooldown (5m), read from those events.
	r.f.Advance(r.f.Now().Add(time.Minute))
	al2 := al
	al2.StartsAt = r.f.Now()
	if out := a2.Handle(context.Background(), al2); out.Result != ResultCooldown {
		t.Fatalf("inside cooldown: %+v", out)
	}
	if g := groupStatus(t, r.n, "web", "web"); g.Desired != 6 {
		t.Fatalf("desired moved to %d", g.Desired)
	}
}

// TestSimDeploymentWait: a scale while the previous scale's deployment (5m
// in the simulator) still runs waits for it up to deployment_retry_for,
// then acts; a deployment that outlasts that wait is a 503, so
// Alertmanager retries.
func TestSimDeploymentWait(t *testing.T) {
	cases := []struct {
		name     string
		retryFor time.Duration
		result   string
		code     int
		desired  int // api's count after the second scale
	}{
		{"the deployment ends within the wait", 10 * time.Minute, ResultActed, 200, 6},
		{"the deployment outlasts the wait", 20 * time.Second, ResultDeploymentBlocked, 503, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newSimRig(t, func(cfg *Config) {
				cfg.Policies[0].ScaleGroup.Cooldown = model.Duration(time.Second)
				cfg.Global.DeploymentRetryFor = model.Duration(c.retryFor)
			})
			q := `max(fleetcast_forecast_peak{job="api",task_group="api",q="0.9"})`
			scale := func(forecast float64) Outcome {
				r.fc.v[q] = []Sample{{Value: forecast}}
				al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "api", "task_group": "api"}, r.f.Now())
				return r.a.Handle(context.Background(), al)
			}
			if out := scale(300); out.Result != ResultActed {
				t.Fatalf("first: %+v", out)
			}
			// That scale started a 5m deployment; the next one waits for it.
			r.f.Advance(r.f.Now().Add(10 * time.Second))
			if out := scale(500); out.Result != c.result || out.Code != c.code {
				t.Fatalf("second: %+v, want %s (%d)", out, c.result, c.code)
			}
			if g := groupStatus(t, r.n, "api", "api"); g.Desired != c.desired {
				t.Fatalf("desired %d, want %d", g.Desired, c.desired)
			}
		})
	}
}

func TestSimNomadUnreachable(t *testing.T) {
	r := newSimRig(t, nil)
	n, err := NewNomadAPI("http://127.0.0.1:1", "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.opts.Nomad = n
	a, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, r.f.Now())
	if out := a.Handle(context.Background(), al); out.Code != 503 || out.Result != ResultError {
		t.Fatalf("%+v", out)
	}
}

func TestSimMigrate(t *testing.T) {
	r := newSimRig(t, nil)
	// The background wait (replacements healthy, then the overload window)
	// starts only when the test has looked at the node right after acting.
	release := make(chan struct{})
	r.opts.Sleep = func(ctx context.Context, d time.Duration) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		r.f.Advance(r.f.Now().Add(d))
		return nil
	}
	var err error
	if r.a, err = New(r.opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.a.Close)
	ctx := context.Background()
	busy, apiAlloc := overloadedNode(t, r)
	out := r.a.Handle(ctx, alert("NodePredictedOverload", map[string]string{"action": "migrate", "node_id": busy}, r.f.Now()))
	if out.Result != ResultActed {
		t.Fatalf("migrate: %+v", out)
	}
	node, err := r.n.Node(ctx, busy)
	if err != nil {
		t.Fatal(err)
	}
	if node.SchedulingEligibility != "ineligible" {
		t.Fatalf("node still %s right after the migration", node.SchedulingEligibility)
	}
	al, _, err := r.n.C.Allocations().Info(apiAlloc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if al.DesiredStatus != "stop" {
		t.Fatalf("api allocation %s desired %s, want stop", apiAlloc, al.DesiredStatus)
	}
	close(release)
	r.a.Wait()
	node, _ = r.n.Node(ctx, busy)
	if node.SchedulingEligibility != "eligible" {
		t.Fatalf("node %s after the overload window", node.SchedulingEligibility)
	}
	if h, _ := r.n.AllocHealthy(ctx, "default", "api", "api", ""); h < 2 {
		t.Fatalf("api has %d healthy allocations after the migration, want 2", h)
	}
}

func TestSimScalePool(t *testing.T) {
	r := newSimRig(t, func(c *Config) {
		for i := range c.Policies {
			if c.Policies[i].ScalePool != nil {
				c.Policies[i].ScalePool.PerNodeCapacity = 8000
			}
		}
	})
	q := `sum(fleetcast_forecast_peak{node_pool="batch"})`
	r.fc.v[q] = []Sample{{Value: 20000}}
	out := r.a.Handle(context.Background(), alert("FleetPredictedShortage", map[string]string{"action": "scale_pool", "direction": "out", "node_pool": "batch"}, r.f.Now()))
	if out.Result != ResultActed {
		t.Fatalf("%+v", out)
	}
	st, err := r.f.PoolSize("batch")
	if err != nil {
		t.Fatal(err)
	}
	if st.Count != 3 {
		t.Fatalf("pool size %d, want 3", st.Count)
	}
}

func TestSimLeaderElection(t *testing.T) {
	r := newSimRig(t, nil)
	mk := func() (*Leader, context.CancelFunc, chan error) {
		n, err := NewNomadAPI(r.url, "", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		l := &Leader{Client: n.C, Path: "fleetcast/actuator/leader", NS: "default", TTL: 3 * time.Second, Log: slog.New(slog.DiscardHandler)}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		return l, cancel, done
	}
	l1, stop1, done1 := mk()
	testenv.Eventually(t, 5*time.Second, "first replica leads", isTrue(l1.IsLeader, "not the leader"))
	l2, stop2, done2 := mk()
	defer func() { stop2(); <-done2 }()
	// The second replica's first attempt meets the lock held and sees who holds it.
	testenv.Eventually(t, 5*time.Second, "second replica sees the first lead", isTrue(l2.OtherLeads, "no other leader seen"))
	if !l1.IsLeader() || l2.IsLeader() {
		t.Fatalf("leaders: first %v second %v, want exactly the first", l1.IsLeader(), l2.IsLeader())
	}
	// The follower sees the leader and says not_leader (200).
	r.a.o.IsLeader, r.a.o.OtherLeads = l2.IsLeader, l2.OtherLeads
	al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, r.f.Now())
	if out := r.a.Handle(context.Background(), al); out.Result != ResultNotLeader || out.Code != 200 {
		t.Fatalf("follower while the first leads: %+v", out)
	}
	stop1()
	if err := <-done1; err != nil {
		t.Fatalf("release: %v", err)
	}
	// After a release Nomad holds the lock-delay... the simulator may too; allow a TTL and a bit.
	testenv.Eventually(t, 10*time.Second, "second replica takes over", isTrue(l2.IsLeader, "not the leader"))
}

// isTrue adapts a condition to testenv.Eventually.
func isTrue(f func() bool, otherwise string) func() error {
	return func() error {
		if f() {
			return nil
		}
		return errors.New(otherwise)
	}
}

// countingTransport counts the requests whose path starts with prefix.
type countingTransport struct {
	prefix string
	n      atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, c.prefix) {
		c.n.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestSimScalePoolInDrainsFirst(t *testing.T) {
	r := newSimRig(t, func(c *Config) {
		for i := range c.Policies {
			if c.Policies[i].ScalePool != nil {
				c.Policies[i].ScalePool.PerNodeCapacity = 8000
				c.Policies[i].ScalePool.MaxStep = 1
			}
		}
	})
	chk := &drainedCheck{t: t, n: r.n, next: r.a.cur().pools["pool"]}
	r.a.cur().pools["pool"] = chk
	if _, err := r.f.SetPoolSize("batch", 3); err != nil {
		t.Fatal(err)
	}
	r.f.Advance(r.f.Now().Add(3 * time.Minute)) // boot
	q := `sum(fleetcast_forecast_peak{node_pool="batch"})`
	r.fc.v[q] = []Sample{{Value: 5000}}
	out := r.a.Handle(context.Background(), alert("FleetPredictedSurplus", map[string]string{"action": "scale_pool", "direction": "in", "node_pool": "batch"}, r.f.Now()))
	if out.Result != ResultActed {
		t.Fatalf("%+v", out)
	}
	r.a.Wait()
	chk.mu.Lock()
	defer chk.mu.Unlock()
	if len(chk.seen) != 1 || chk.seen[0] != "" {
		t.Fatalf("target called %d times; at the call: %v", len(chk.seen), chk.seen)
	}
	if st, _ := r.f.PoolSize("batch"); st.Count != 2 {
		t.Fatalf("pool size %d after the drain, want 2", st.Count)
	}
}

// drainedCheck records, when the target is asked to remove nodes, whether
// they had finished draining ("" if so).
type drainedCheck struct {
	t    *testing.T
	n    *NomadAPI
	next PoolScaler
	mu   sync.Mutex
	seen []string
}

func (c *drainedCheck) SetSize(ctx context.Context, pool string, current, desired int, remove []string, reason string) error {
	var bad []string
	for _, id := range remove {
		allocs, err := c.n.NodeAllocations(ctx, id)
		if err != nil {
			bad = append(bad, err.Error())
		}
		for _, al := range allocs {
			if al.ClientStatus == "running" || al.ClientStatus == "pending" {
				bad = append(bad, "node "+id+" still runs "+al.ID)
			}
		}
	}
	if len(remove) == 0 {
		bad = append(bad, "no nodes named for removal")
	}
	c.mu.Lock()
	c.seen = append(c.seen, strings.Join(bad, "; "))
	c.mu.Unlock()
	return c.next.SetSize(ctx, pool, current, desired, remove, reason)
}

// TestSimStateSurvivesRestart: a migrating process dies before the overload
// window ends; the next one gives the node its eligibility back, and a repeat
// of the pool alert is known as done, both from Nomad variables.
func TestSimStateSurvivesRestart(t *testing.T) {
	r := newSimRig(t, func(c *Config) {
		for i := range c.Policies {
			if m := c.Policies[i].Migrate; m != nil {
				m.OverloadWindow = model.Duration(time.Hour)
			}
		}
	})
	ctx := context.Background()
	stubs, err := r.n.Nodes(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var busy string
	fleetQ := `fleetcast_forecast_peak{target="node_cpu"}`
	for _, s := range stubs {
		allocs, _ := r.n.NodeAllocations(ctx, s.ID)
		for _, al := range allocs {
			if al.JobID == "api" && busy == "" {
				busy = s.ID
			}
		}
		r.fc.v[fleetQ] = append(r.fc.v[fleetQ], Sample{Labels: map[string]string{"node_id": s.ID}, Value: 1000})
	}
	r.fc.v[`max(fleetcast_forecast_peak{node_id="`+busy+`"})`] = []Sample{{Value: 3600}}
	r.fc.v[`fleetcast_forecast_peak{target="alloc_cpu",node_id="`+busy+`"}`] = nil
	al := alert("NodePredictedOverload", map[string]string{"action": "migrate", "node_id": busy}, r.f.Now())
	// The process stops right after acting: its in-process restore never runs.
	r.opts.Sleep = func(ctx context.Context, d time.Duration) error { <-ctx.Done(); return ctx.Err() }
	a1, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	if out := a1.Handle(ctx, al); out.Result != ResultActed {
		t.Fatalf("migrate: %+v", out)
	}
	a1.Close()
	a2, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if out := a2.Handle(ctx, al); out.Result != ResultDuplicate {
		t.Fatalf("repeat after restart: %+v", out)
	}
	al2 := al
	al2.StartsAt = r.f.Now().Add(time.Minute)
	if out := a2.Handle(ctx, al2); out.Result != ResultCooldown {
		t.Fatalf("new firing inside the overload window: %+v", out)
	}
	if n, err := a2.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep inside the window restored %d (%v)", n, err)
	}
	r.f.Advance(r.f.Now().Add(61 * time.Minute))
	if n, err := a2.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after the window restored %d (%v), want 1", n, err)
	}
	node, _ := r.n.Node(ctx, busy)
	if node.SchedulingEligibility != "eligible" {
		t.Fatalf("node %s after the sweep", node.SchedulingEligibility)
	}
	if n, _ := a2.Sweep(ctx); n != 0 {
		t.Fatalf("second sweep restored %d again", n)
	}

	// Pools: the cooldown and the alert key live in a Nomad variable too.
	for i := range r.cfg.Policies {
		if r.cfg.Policies[i].ScalePool != nil {
			r.cfg.Policies[i].ScalePool.PerNodeCapacity = 8000
		}
	}
	r.fc.v[`sum(fleetcast_forecast_peak{node_pool="batch"})`] = []Sample{{Value: 12000}}
	pal := alert("FleetPredictedShortage", map[string]string{"action": "scale_pool", "direction": "out", "node_pool": "batch"}, r.f.Now())
	if out := a2.Handle(ctx, pal); out.Result != ResultActed {
		t.Fatalf("pool: %+v", out)
	}
	a3, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a3.Close()
	if out := a3.Handle(ctx, pal); out.Result != ResultDuplicate {
		t.Fatalf("pool repeat after restart: %+v", out)
	}
	pal.StartsAt = r.f.Now().Add(time.Minute)
	if out := a3.Handle(ctx, pal); out.Result != ResultCooldown {
		t.Fatalf("pool new firing inside cooldown after restart: %+v", out)
	}
}

// racingNomad lets someone else scale the job just before the actuator does.
type racingNomad struct {
	*NomadAPI
	once sync.Once
}

func (r *racingNomad) Scale(ctx context.Context, ns, job, group string, count int, msg string, meta map[string]any, index uint64) error {
	r.once.Do(func() { _ = r.NomadAPI.Scale(ctx, ns, job, group, 4, "an operator", nil, 0) })
	return r.NomadAPI.Scale(ctx, ns, job, group, count, msg, meta, index)
}

func TestSimJobChangedMeanwhile(t *testing.T) {
	r := newSimRig(t, nil)
	roomForWeb(t, r)
	r.opts.Nomad = &racingNomad{NomadAPI: r.n}
	a, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r.fc.v[`max(fleetcast_forecast_peak{job="web",task_group="web",q="0.9"})`] = []Sample{{Value: 4000}}
	al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, r.f.Now())
	out := a.Handle(context.Background(), al)
	if out.Result != ResultError || out.Code != 503 || !strings.Contains(out.Detail, "job changed since it was read") {
		t.Fatalf("%+v", out)
	}
	if g := groupStatus(t, r.n, "web", "web"); g.Desired != 4 {
		t.Fatalf("desired %d: the operator's 4 must stand", g.Desired)
	}
}

// TestSimPersistingFiringTakesSeveralSteps: one firing that keeps coming
// back (Alertmanager's repeats) is planned again after each cooldown, and
// climbs max_step by max_step until the forecast is met; only then are its
// repeats duplicates. A refusal (cooldown) is not remembered.
func TestSimPersistingFiringTakesSeveralSteps(t *testing.T) {
	r := newSimRig(t, func(c *Config) { c.Policies[0].ScaleGroup.MaxStep = 1 })
	roomForWeb(t, r)
	q := `max(fleetcast_forecast_peak{job="web",task_group="web",q="0.9"})`
	r.fc.v[q] = []Sample{{Value: 500}} // wants ceil(500*1.2/100) = 6, the group's own max
	al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, r.f.Now())
	ctx := context.Background()
	var got []string
	for i := 0; i < 6; i++ {
		out := r.a.Handle(ctx, al)
		got = append(got, fmt.Sprintf("%s:%d", out.Result, groupStatus(t, r.n, "web", "web").Desired))
		if i == 1 {
			// A restarted process sees the held step in Nomad and goes on too.
			a2, err := New(r.opts)
			if err != nil {
				t.Fatal(err)
			}
			r.a = a2
		}
		// The repeat right away meets the cooldown; then 5m pass.
		out = r.a.Handle(ctx, al)
		got = append(got, fmt.Sprintf("%s:%d", out.Result, groupStatus(t, r.n, "web", "web").Desired))
		r.f.Advance(r.f.Now().Add(5*time.Minute + time.Second))
	}
	want := "acted:4 cooldown:4 acted:5 cooldown:5 acted:6 duplicate:6 duplicate:6 duplicate:6 duplicate:6 duplicate:6 duplicate:6 duplicate:6"
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("one persisting firing:\n got %s\nwant %s", s, want)
	}
}

// TestSimNoLeaderAnswers503: on a Nomad without variable locks (1.6) no
// replica can lead; the alert must be retried (503), not dropped with 200.
func TestSimNoLeaderAnswers503(t *testing.T) {
	b, err := os.ReadFile("testdata/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := sim.ParseConfig([]byte(strings.Replace(string(b), "nomad_version: 1.8.2", "nomad_version: 1.6.0", 1)), "fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := sim.New(scfg, simStart)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	locks := &countingTransport{prefix: "/v1/var/"}
	n, err := NewNomadAPI(srv.URL, "", "", &http.Client{Transport: locks})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := n.ServerVersion(context.Background()); err != nil || CheckLeaderSupport(v) == nil {
		t.Fatalf("version %v (%v): leader support not refused", v, err)
	}
	var logs strings.Builder
	l := &Leader{Client: n.C, Path: "fleetcast/actuator/leader", NS: "default", TTL: 600 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	// Several refused attempts (a 400 is not retried: one request each).
	testenv.Eventually(t, 5*time.Second, "three lock attempts", func() error {
		if c := locks.n.Load(); c < 3 {
			return fmt.Errorf("%d lock requests", c)
		}
		return nil
	})
	cfg, err := LoadConfig("testdata/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: cfg, Nomad: n, Forecasts: &fakeForecasts{v: map[string][]Sample{}}, IsLeader: l.IsLeader, OtherLeads: l.OtherLeads})
	if err != nil {
		t.Fatal(err)
	}
	al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, f.Now())
	out := a.Handle(context.Background(), al)
	cancel()
	<-done
	if out.Code != 503 || out.Result != ResultNoLeader {
		t.Fatalf("no replica leads: %+v, want 503 %s", out, ResultNoLeader)
	}
	if c := strings.Count(logs.String(), "level=ERROR"); c != 1 || !strings.Contains(logs.String(), "variable missing required Items object") {
		t.Fatalf("want the lock error logged once, got %d lines:\n%s", c, logs.String())
	}
}

// handRacer lets a test change the job "by hand" at a chosen moment of a
// decision: during the decision's Job read, or right before its Scale.
type handRacer struct {
	*NomadAPI
	onJob, onScale func()
}

func (r *handRacer) Job(ctx context.Context, ns, job string) (*api.Job, error) {
	if r.onJob != nil {
		r.onJob()
		r.onJob = nil
	}
	return r.NomadAPI.Job(ctx, ns, job)
}

func (r *handRacer) Scale(ctx context.Context, ns, job, group string, count int, msg string, meta map[string]any, index uint64) error {
	if r.onScale != nil {
		r.onScale()
		r.onScale = nil
	}
	return r.NomadAPI.Scale(ctx, ns, job, group, count, msg, meta, index)
}

// TestSimConcurrentChangeOnUnguardedNomad: Nomad 1.6 applies a scale whose
// job modify index is stale. An operator's scale that lands after the
// decision read the job is caught by the re-read before scaling (503, the
// operator's count kept); one that lands in the last instant is reported
// as overwritten.
func TestSimConcurrentChangeOnUnguardedNomad(t *testing.T) {
	q := `max(fleetcast_forecast_peak{job="web",task_group="web",q="0.9"})`
	al := func(r *simRig) template.Alert {
		return alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, r.f.Now())
	}
	operator := func(r *simRig) func() {
		return func() {
			if err := r.n.Scale(context.Background(), "default", "web", "web", 1, "by hand", nil, 0); err != nil {
				t.Error(err)
			}
		}
	}
	t.Run("change before the scale", func(t *testing.T) {
		r := newSimRigVersion(t, "1.6.0", nil)
		roomForWeb(t, r)
		r.fc.v[q] = []Sample{{Value: 500}}
		rn := &handRacer{NomadAPI: r.n}
		rn.onJob = operator(r)
		r.opts.Nomad = rn
		a, err := New(r.opts)
		if err != nil {
			t.Fatal(err)
		}
		out := a.Handle(context.Background(), al(r))
		if out.Code != 503 || !strings.Contains(out.Detail, "job changed since it was read") {
			t.Fatalf("%+v", out)
		}
		if g := groupStatus(t, r.n, "web", "web"); g.Desired != 1 {
			t.Fatalf("the operator's count 1 was overwritten with %d", g.Desired)
		}
	})
	t.Run("change in the last instant", func(t *testing.T) {
		r := newSimRigVersion(t, "1.6.0", nil)
		roomForWeb(t, r)
		r.fc.v[q] = []Sample{{Value: 500}}
		var audit strings.Builder
		rn := &handRacer{NomadAPI: r.n}
		rn.onScale = operator(r)
		r.opts.Nomad = rn
		r.opts.Audit = slog.New(slog.NewJSONHandler(&audit, nil))
		a, err := New(r.opts)
		if err != nil {
			t.Fatal(err)
		}
		out := a.Handle(context.Background(), al(r))
		if out.Result != ResultActed || !strings.Contains(audit.String(), "CONCURRENT CHANGE: Nomad replaced a count of 1, not the 3") ||
			!strings.Contains(audit.String(), `"level":"WARN"`) {
			t.Fatalf("%+v\n%s", out, audit.String())
		}
	})
}

// TestSimActionBudgetSurvivesRestart: max_actions_per_hour is counted in
// Nomad, so a crash loop does not wipe the global safety budget.
func TestSimActionBudgetSurvivesRestart(t *testing.T) {
	r := newSimRig(t, func(c *Config) { c.Global.MaxActionsPerHour = 1 })
	roomForWeb(t, r)
	r.fc.v[`max(fleetcast_forecast_peak{job="web",task_group="web",q="0.9"})`] = []Sample{{Value: 500}}
	r.fc.v[`max(fleetcast_forecast_peak{job="api",task_group="api",q="0.9"})`] = []Sample{{Value: 500}}
	mk := func(job string) template.Alert {
		return alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": job, "task_group": job}, r.f.Now())
	}
	if out := r.a.Handle(context.Background(), mk("web")); out.Result != ResultActed {
		t.Fatalf("first action: %+v", out)
	}
	a2, err := New(r.opts) // the process restarted
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if out := a2.Handle(context.Background(), mk("api")); out.Result != ResultRateLimited || out.Code != 429 {
		t.Fatalf("after a restart the budget of 1 is spent, got %+v", out)
	}
	if g := groupStatus(t, r.n, "api", "api"); g.Desired != 2 {
		t.Fatalf("api scaled to %d", g.Desired)
	}
	// An hour later the budget is back.
	r.f.Advance(r.f.Now().Add(time.Hour + time.Minute))
	if out := a2.Handle(context.Background(), mk("api")); out.Result != ResultActed {
		t.Fatalf("an hour later: %+v", out)
	}
}

// apiNodeAmongPeaks finds the first node of pool default running an api
// allocation and returns it and that allocation; on the way it stubs
// fleetQ with a peak of 1000 for every node of the pool.
func apiNodeAmongPeaks(t *testing.T, r *simRig, fleetQ string) (busy, apiAlloc string) {
	t.Helper()
	ctx := context.Background()
	stubs, err := r.n.Nodes(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stubs {
		allocs, err := r.n.NodeAllocations(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, al := range allocs {
			if al.JobID == "api" && busy == "" {
				busy, apiAlloc = s.ID, al.ID
			}
		}
		r.fc.v[fleetQ] = append(r.fc.v[fleetQ], Sample{Labels: map[string]string{"node_id": s.ID}, Value: 1000})
	}
	if busy == "" {
		t.Fatal("no node runs an api allocation")
	}
	return busy, apiAlloc
}

// overloadedNode picks a node running a movable api allocation and
// predicts it over the migrate threshold; it returns the node and that
// allocation.
func overloadedNode(t *testing.T, r *simRig) (busy, apiAlloc string) {
	t.Helper()
	// A node running an api allocation (500 MHz, movable) is predicted at
	// 3600 of 4000 MHz: 400 over the 0.8 threshold. web's allocations are
	// pinned by distinct_hosts.
	busy, apiAlloc = apiNodeAmongPeaks(t, r, `fleetcast_forecast_peak{target="node_cpu"}`)
	r.fc.v[`max(fleetcast_forecast_peak{node_id="`+busy+`"})`] = []Sample{{Value: 3600}}
	r.fc.v[`fleetcast_forecast_peak{target="alloc_cpu",node_id="`+busy+`"}`] = nil
	return busy, apiAlloc
}

// TestSimMigrationInterruptedSaysSo: a stop during a migration's wait for
// healthy replacements leaves the node ineligible; the audit log says so
// (the leader's sweep gives eligibility back after the window).
func TestSimMigrationInterruptedSaysSo(t *testing.T) {
	r := newSimRig(t, nil)
	var audit lockedBuilder
	r.opts.Audit = slog.New(slog.NewJSONHandler(&audit, nil))
	r.opts.Sleep = func(ctx context.Context, d time.Duration) error { <-ctx.Done(); return ctx.Err() }
	var err error
	if r.a, err = New(r.opts); err != nil {
		t.Fatal(err)
	}
	busy, _ := overloadedNode(t, r)
	if out := r.a.Handle(context.Background(), alert("NodePredictedOverload", map[string]string{"action": "migrate", "node_id": busy}, r.f.Now())); out.Result != ResultActed {
		t.Fatalf("migrate: %+v", out)
	}
	r.a.Close() // SIGTERM while the replacements are not healthy yet
	if !strings.Contains(audit.String(), "the node stays ineligible") || !strings.Contains(audit.String(), busy) {
		t.Fatalf("no warning about the ineligible node:\n%s", audit.String())
	}
	if !strings.Contains(audit.String(), `"msg":"intent"`) {
		t.Fatalf("no intent line:\n%s", audit.String())
	}
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// recorder wraps the simulator and keeps the escaped path of every request.
type recorder struct {
	h     http.Handler
	mu    sync.Mutex
	paths []string
	// notFound answers 404 as a real Nomad does for paths it lacks.
	notFound string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.EscapedPath())
	r.mu.Unlock()
	if r.notFound != "" && strings.HasPrefix(req.URL.Path, r.notFound) {
		http.NotFound(w, req)
		return
	}
	r.h.ServeHTTP(w, req)
}

// TestSimHostileLabels: label values go into Nomad URLs escaped, huge ones
// are cut short in the audit log and the answer, and Nomad's 404 says
// which label to check.
func TestSimHostileLabels(t *testing.T) {
	r := newSimRig(t, nil)
	rec := &recorder{h: r.f.Handler()}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	n, err := NewNomadAPI(srv.URL, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var audit lockedBuilder
	r.opts.Nomad, r.opts.State = n, n
	r.opts.Audit = slog.New(slog.NewJSONHandler(&audit, nil))
	a, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	out := a.Handle(context.Background(), alert("NodePredictedOverload", map[string]string{"action": "migrate", "node_id": "../../jobs?prefix=x"}, r.f.Now()))
	if out.Code != 422 || !strings.Contains(out.Detail, "check the alert's node_id label") {
		t.Fatalf("unknown node: %+v", out)
	}
	for _, p := range rec.paths {
		if strings.HasPrefix(p, "/v1/node/") && p != "/v1/node/..%2F..%2Fjobs%3Fprefix=x" {
			t.Fatalf("node_id reached Nomad unescaped: %s", p)
		}
		if strings.HasPrefix(p, "/v1/jobs") {
			t.Fatalf("node_id %q turned into a request for %s", "../../jobs", p)
		}
	}
	// A 900 KB label value: bounded lines and answer.
	huge := strings.Repeat("x", 900<<10)
	audit.mu.Lock()
	audit.b.Reset()
	audit.mu.Unlock()
	out = a.Handle(context.Background(), alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": huge, "task_group": "web", "team": huge}, r.f.Now()))
	if out.Code != 422 || len(out.Detail) > 4096 || !strings.Contains(out.Detail, "Nomad has no such job") {
		t.Fatalf("huge job label: code %d, %d bytes of detail: %.300s", out.Code, len(out.Detail), out.Detail)
	}
	if n := len(audit.String()); n > 16<<10 {
		t.Fatalf("one alert with a 900 KB label wrote %d bytes of audit log", n)
	}
}

// TestSimPoolTargetOnRealNomad: the nomad_sim target against a Nomad
// without fleetcast's pool API says what to configure instead.
func TestSimPoolTargetOnRealNomad(t *testing.T) {
	r := newSimRig(t, nil)
	rec := &recorder{h: r.f.Handler(), notFound: "/v1/fleetcast/"}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	n, err := NewNomadAPI(srv.URL, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.opts.Nomad, r.opts.State, r.opts.NomadAddress = n, n, srv.URL
	a, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r.fc.v[`sum(fleetcast_forecast_peak{node_pool="batch"})`] = []Sample{{Value: 20000}}
	out := a.Handle(context.Background(), alert("FleetPredictedShortage", map[string]string{"action": "scale_pool", "direction": "out", "node_pool": "batch"}, r.f.Now()))
	if out.Code != 422 || !strings.Contains(out.Detail, "set scale_pool.target.type: command") {
		t.Fatalf("%+v", out)
	}
}

// TestNomadCallsTimeOut: a hung Nomad does not hold a decision (and the
// object's lock) longer than the per-call timeout.
func TestNomadCallsTimeOut(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	n, err := NewNomadAPI(srv.URL, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Timeout = 200 * time.Millisecond
	cfg, err := LoadConfig("testdata/actuator.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Config: cfg, Nomad: n, Forecasts: &fakeForecasts{v: map[string][]Sample{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan Outcome, 1)
	go func() {
		done <- a.Handle(context.Background(), alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, time.Now()))
	}()
	select {
	case out := <-done:
		if out.Code != 503 {
			t.Fatalf("%+v", out)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a hung Nomad held the decision past 5s with a 200ms call timeout")
	}
}

// TestSimAllocHealthyIsNomads: right after a scale, Nomad's scale status
// says Healthy 0 while allocations already run; the actuator must not call
// them healthy before Nomad does. Batch jobs, which have no deployments,
// count by Running.
func TestSimAllocHealthyIsNomads(t *testing.T) {
	r := newSimRig(t, nil)
	ctx := context.Background()
	if err := r.n.Scale(ctx, "default", "api", "api", 4, "test", nil, 0); err != nil {
		t.Fatal(err)
	}
	r.f.Advance(r.f.Now().Add(2 * time.Second))
	g := groupStatus(t, r.n, "api", "api")
	h, err := r.n.AllocHealthy(ctx, "default", "api", "api", "")
	if err != nil {
		t.Fatal(err)
	}
	if g.Running == 0 || h != g.Healthy {
		t.Fatalf("right after a scale: running %d, Nomad's healthy %d, the actuator says %d", g.Running, g.Healthy, h)
	}
	r.f.Advance(r.f.Now().Add(time.Minute))
	if h, err := r.n.AllocHealthy(ctx, "default", "api", "api", ""); err != nil || h != 4 {
		t.Fatalf("a minute later: %d healthy (%v), want 4", h, err)
	}
}

// nodeCounter records the single-node reads the actuator makes.
type nodeCounter struct {
	*NomadAPI
	mu    sync.Mutex
	reads []string
}

func (c *nodeCounter) Node(ctx context.Context, id string) (*api.Node, error) {
	c.mu.Lock()
	c.reads = append(c.reads, id)
	c.mu.Unlock()
	return c.NomadAPI.Node(ctx, id)
}

// TestSimMigrateReadsOtherNodesFromTheList: a migration reads the
// overloaded node itself, and takes the capacity of the pool's other nodes
// from the node list, which carries their resources: one node read, not
// one more per node of the pool.
func TestSimMigrateReadsOtherNodesFromTheList(t *testing.T) {
	r := newSimRig(t, nil)
	r.opts.Sleep = func(ctx context.Context, d time.Duration) error { <-ctx.Done(); return ctx.Err() }
	nc := &nodeCounter{NomadAPI: r.n}
	r.opts.Nomad = nc
	a, err := New(r.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	busy, _ := overloadedNode(t, r)
	out := a.Handle(context.Background(), alert("NodePredictedOverload", map[string]string{"action": "migrate", "node_id": busy}, r.f.Now()))
	if out.Result != ResultActed {
		t.Fatalf("migrate: %+v", out)
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if len(nc.reads) != 1 || nc.reads[0] != busy {
		t.Fatalf("node reads %v, want only the overloaded node %s", nc.reads, busy)
	}
}

// lastActionLabels is the label sets of the actuator's last-action gauge
// for one action.
func lastActionLabels(t *testing.T, a *Actuator, action string) []map[string]string {
	t.Helper()
	mfs, err := a.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, mf := range mfs {
		if mf.GetName() != "fleetcast_actuator_last_action_timestamp_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["action"] == action {
				out = append(out, l)
			}
		}
	}
	return out
}
