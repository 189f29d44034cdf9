package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/exporter"
	"github.com/fleetcast/fleetcast/internal/stack"
	"github.com/fleetcast/fleetcast/internal/testenv"
	"github.com/fleetcast/fleetcast/sim"
)

// TestSimScrapedWithBackfilledHistory runs the demo fleet the way `fleetcast
// sim --history` does: six hours of its past are backfilled into a real
// Prometheus, which then scrapes the same fleet live. Both the history and
// the live series are queried with the labels a scrape gives them.
func TestSimScrapedWithBackfilledHistory(t *testing.T) {
	cfg, err := sim.LoadConfig("../examples/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	start := now.Add(-6 * time.Hour).Truncate(time.Minute)
	f, err := sim.New(cfg, start)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var om strings.Builder
	if err := f.WriteHistoryAs(&om, start, now, time.Minute, sim.ScrapeTarget{Job: "nomad", Instance: addr}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go f.Run(ctx, 200*time.Millisecond, time.Now)

	prom := testenv.Prometheus(t, stack.PrometheusOptions{
		OpenMetrics: om.String(),
		Config: fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: nomad
    metrics_path: /metrics
    static_configs:
      - targets: [%q]
`, addr),
	})
	papi := promAPI(t, prom.URL)

	// History: the demand Prometheus holds three hours ago is the fleet's.
	at := start.Add(3 * time.Hour)
	want, err := f.DemandAt("", "web", "web", at)
	if err != nil {
		t.Fatal(err)
	}
	v, _, _, err := papi.Query(ctx, `fleetcast_sim_demand_mhz{job="nomad",exported_job="web",task_group="web"}`, at)
	if err != nil {
		t.Fatalf("query history: %v", err)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 || float64(vec[0].Value) != want {
		t.Fatalf("backfilled web demand at %s: got %v, want %g", at.Format(time.RFC3339), v, want)
	}
	r, _, _, err := papi.QueryRange(ctx, `sum(nomad_client_allocated_cpu{job="nomad"})`, promv1.Range{Start: start.Add(time.Minute), End: at, Step: time.Minute})
	if err != nil {
		t.Fatalf("range query on history: %v", err)
	}
	if m, ok := r.(model.Matrix); !ok || len(m) != 1 || len(m[0].Values) < 170 || m[0].Values[0].Value <= 0 {
		t.Fatalf("backfilled allocated CPU over three hours: %v", r)
	}

	// Live: Nomad's metric names with the labels a scrape of Nomad gives.
	testenv.Eventually(t, 45*time.Second, "live scrape of the simulator", func() error {
		checks := map[string]float64{
			`count(nomad_client_allocated_cpu{job="nomad",node_pool="default",datacenter="dc1",node_class="general"})`: 4,
			`nomad_nomad_job_summary_running{job="nomad",exported_job="web",task_group="web",namespace="default"}`:     4,
			`count(nomad_client_allocs_cpu_total_percent{exported_job="web",task_group="web",task="web"})`:             4,
			`nomad_nomad_blocked_evals_total_blocked{job="nomad"}`:                                                     0,
		}
		for q, want := range checks {
			v, _, _, err := papi.Query(ctx, q, time.Now())
			if err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
			vec, ok := v.(model.Vector)
			if !ok || len(vec) != 1 || float64(vec[0].Value) != want {
				return fmt.Errorf("%s = %v, want %g", q, v, want)
			}
		}
		return nil
	})
}

// TestSimLabelChurnWithRules: a real Prometheus scrapes the simulator at
// Nomad's own metrics path and evaluates the recording rules while a node's
// eligibility changes. The simulator exports the node's old and new series
// side by side, as a real Nomad client does for about 60 s, so a plain sum
// by node_id reads twice the node's capacity; the coordinator's rules read
// it once.
func TestSimLabelChurnWithRules(t *testing.T) {
	cfg, err := sim.LoadConfig("../examples/fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := sim.New(cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := &http.Server{Handler: f.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go f.Run(ctx, 200*time.Millisecond, time.Now)

	prom := testenv.Prometheus(t, stack.PrometheusOptions{
		RuleFiles: []string{"../rules/fleetcast-thresholds.rules.yml", "../rules/fleetcast-recording.rules.yml"},
		Config: fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: nomad
    metrics_path: /v1/metrics
    params: {format: [prometheus]}
    static_configs:
      - targets: [%q]
`, addr),
	})
	papi := promAPI(t, prom.URL)
	node := f.Nodes()[0]
	capacity := float64(node.CPUMHz)
	query := func(q string) (float64, error) {
		v, _, _, err := papi.Query(ctx, q, time.Now())
		if err != nil {
			return 0, fmt.Errorf("%s: %w", q, err)
		}
		vec, ok := v.(model.Vector)
		if !ok || len(vec) != 1 {
			return 0, fmt.Errorf("%s = %v, want one sample", q, v)
		}
		return float64(vec[0].Value), nil
	}
	rule := fmt.Sprintf(`node:nomad_capacity:sum{node_id=%q,resource="cpu"}`, node.ID)
	plain := fmt.Sprintf(`sum by (node_id) (nomad_client_allocated_cpu{node_id=%[1]q} + nomad_client_unallocated_cpu{node_id=%[1]q})`, node.ID)
	series := fmt.Sprintf(`count(nomad_client_allocated_cpu{node_id=%q})`, node.ID)
	testenv.Eventually(t, 45*time.Second, "the rules read the node before the change", func() error {
		if v, err := query(rule); err != nil || v != capacity {
			return fmt.Errorf("%s = %g (%v), want %g", rule, v, err, capacity)
		}
		return nil
	})
	if err := f.SetEligibility(node.ID, false); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	testenv.Eventually(t, 30*time.Second, "both series scraped", func() error {
		if n, err := query(series); err != nil || n != 2 {
			return fmt.Errorf("%s = %g (%v), want 2", series, n, err)
		}
		return nil
	})
	// The example exporter config's queries, as the exporter sends them.
	ex, err := exporter.LoadConfig("../examples/fleetcast.yml")
	if err != nil {
		t.Fatal(err)
	}
	exampleQuery := func(target string, capacity bool) string {
		for _, tc := range ex.Targets {
			if tc.Name == target {
				if capacity {
					return tc.Capacity.Query
				}
				return tc.Query
			}
		}
		t.Fatalf("examples/fleetcast.yml has no target %q", target)
		return ""
	}
	// valueOf is the sample of a query's result whose label name has value.
	valueOf := func(q, name, value string) (float64, error) {
		v, _, _, err := papi.Query(ctx, q, time.Now())
		if err != nil {
			return 0, fmt.Errorf("%s: %w", q, err)
		}
		vec, _ := v.(model.Vector)
		for _, s := range vec {
			if string(s.Metric[model.LabelName(name)]) == value {
				return float64(s.Value), nil
			}
		}
		return 0, fmt.Errorf("%s has no series with %s=%q: %v", q, name, value, v)
	}
	nodeCap := exampleQuery("node_cpu", true)
	// Meanwhile: the naive sum doubles, the rule and the example's query do not.
	testenv.Eventually(t, 15*time.Second, "the rules evaluated during the overlap", func() error {
		if v, err := query(plain); err != nil || v != 2*capacity {
			return fmt.Errorf("%s = %g (%v), want %g: the overlap is not reproduced", plain, v, err, 2*capacity)
		}
		if v, err := query(rule); err != nil || v != capacity {
			return fmt.Errorf("%s = %g (%v), want %g", rule, v, err, capacity)
		}
		if v, err := valueOf(nodeCap, "node_id", node.ID); err != nil || v != capacity {
			return fmt.Errorf("example node_cpu capacity %s = %g (%v), want %g", nodeCap, v, err, capacity)
		}
		return nil
	})
	if time.Since(changed) > 55*time.Second {
		t.Fatalf("checked %s after the change: no longer within the overlap", time.Since(changed))
	}

	// A stopped allocation's gauges linger beside its replacement's: the
	// plain sum counts it, the rule counts the running allocations only.
	var ask float64
	for _, j := range f.Jobs() {
		if j.ID == "web" {
			ask = float64(j.Groups[0].CPU)
		}
	}
	var victim string
	for _, a := range f.Allocs() {
		if a.JobID == "web" {
			victim = a.ID
		}
	}
	if _, err := f.StopAlloc(victim); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	groupRule := `task_group:nomad_allocated:sum{job="web",task_group="web",resource="cpu"}`
	groupSum := `sum(nomad_client_allocs_cpu_allocated{exported_job="web",task_group="web"})`
	running := `sum(nomad_nomad_job_summary_running{exported_job="web",task_group="web"})`
	testenv.Eventually(t, 30*time.Second, "the stopped allocation lingers and the rule ignores it", func() error {
		r, err1 := query(groupRule)
		sum, err2 := query(groupSum)
		n, err3 := query(running)
		if err := errors.Join(err1, err2, err3); err != nil {
			return err
		}
		if sum != r+ask || r != n*ask {
			return fmt.Errorf("plain sum %g, rule %g, running %g × %g: want the sum one allocation above the rule", sum, r, n, ask)
		}
		q := exampleQuery("job_cpu", true)
		v, err := valueOf(q, "job", "web") // the example names the Nomad job `job`
		if err != nil {
			v, err = valueOf(q, "exported_job", "web") // or keeps Nomad's exported_job
		}
		if err != nil || v != r {
			return fmt.Errorf("example job_cpu capacity %s = %g (%v), want %g", q, v, err, r)
		}
		return nil
	})
	if time.Since(stopped) > 55*time.Second {
		t.Fatalf("checked %s after the stop: no longer within the linger", time.Since(stopped))
	}
}
