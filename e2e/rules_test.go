package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/internal/stack"
	"github.com/fleetcast/fleetcast/internal/testenv"
)

// The fleetcast fixture: a small Nomad fleet, the exporter's forecasts for it
// and the actuator's metrics. Each series is served live on loopback for
// Prometheus to scrape (three scrape jobs, labelled as rules/README.md asks)
// and, for the hours before, backfilled with promtool, so offsets, rates and
// ranges see history while the rules evaluate on live data.

// fxHistory is how much history is backfilled, at fxStep.
const (
	fxHistory = 8 * time.Hour
	fxStep    = time.Minute
)

// fxScrapeJob says how Prometheus scrapes one of the fixture's endpoints.
type fxScrapeJob struct {
	name        string // job_name
	path        string // metrics_path
	honorLabels bool
}

var (
	fxJobExporter = fxScrapeJob{"fleetcast-exporter", "/exporter", true}
	fxJobNomad    = fxScrapeJob{"nomad", "/nomad", false}
	fxJobActuator = fxScrapeJob{"fleetcast-actuator", "/actuator", true}
)

type fxSeries struct {
	job    fxScrapeJob
	name   string
	labels map[string]string // as exposed by the target
	value  func(s float64) float64
}

// stored returns the labels Prometheus stores for a scraped series: without
// honor_labels a clashing `job` becomes `exported_job`; job and instance
// come from the scrape unless honored.
func (f fxSeries) stored(instance string) map[string]string {
	out := make(map[string]string, len(f.labels)+2)
	for k, v := range f.labels {
		if k == "job" && !f.job.honorLabels {
			k = "exported_job"
		}
		out[k] = v
	}
	if _, ok := out["job"]; !ok {
		out["job"] = f.job.name
	}
	out["instance"] = instance
	return out
}

func fxLabels(ls map[string]string) string {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, ls[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func fxWith(base map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func fxConst(v float64) func(float64) float64 { return func(float64) float64 { return v } }

// fxDaily is a fxDaily wave around mean.
func fxDaily(mean, amp float64) func(float64) float64 {
	return func(s float64) float64 { return mean + amp*math.Sin(2*math.Pi*s/86400) }
}

// fxTarget are everything the exporter publishes for one target.
func fxTarget(target map[string]string, observed func(float64) float64, peak, anomaly, exhaustion float64) []fxSeries {
	var out []fxSeries
	add := func(name string, ls map[string]string, v func(float64) float64) {
		out = append(out, fxSeries{job: fxJobExporter, name: name, labels: ls, value: v})
	}
	add("fleetcast_observed", target, observed)
	for _, h := range []string{"15m", "1h"} {
		for q, off := range map[string]float64{"0.1": -0.1, "0.5": 0, "0.9": 0.1} {
			add("fleetcast_forecast", fxWith(target, "horizon", h, "q", q), func(s float64) float64 {
				v := observed(s)
				return v + off*v
			})
		}
	}
	add("fleetcast_forecast_peak", fxWith(target, "window", "1h", "q", "0.9"), fxConst(peak))
	add("fleetcast_forecast_peak", fxWith(target, "window", "1h", "q", "0.5"), fxConst(peak*0.9))
	add("fleetcast_forecast_peak", fxWith(target, "window", "1d", "q", "0.9"), fxConst(peak*1.5))
	add("fleetcast_anomaly_score", target, fxConst(anomaly))
	add("fleetcast_capacity_exhaustion_seconds", target, fxConst(exhaustion))
	add("fleetcast_model_info", fxWith(target, "model", "ets"), fxConst(1))
	add("fleetcast_backtest_mase", target, fxConst(0.8))
	add("fleetcast_backtest_coverage_ratio", target, fxConst(0.82))
	return out
}

// fxFleet is the whole fleet; start is where counters start at 0.
func fxFleet(start float64) []fxSeries {
	var out []fxSeries
	nomad := func(name string, ls map[string]string, v func(float64) float64) {
		out = append(out, fxSeries{job: fxJobNomad, name: name, labels: ls, value: v})
	}
	actuator := func(name string, ls map[string]string, v func(float64) float64) {
		out = append(out, fxSeries{job: fxJobActuator, name: name, labels: ls, value: v})
	}
	counter := func(perSecond float64) func(float64) float64 {
		return func(s float64) float64 { return math.Floor((s - start) * perSecond) }
	}
	const gib = 1 << 30
	nodes := []struct {
		id, pool, dc string
		cpuPeak      float64 // predicted peak CPU of 4000 MHz
		anomaly      float64
		exhaustion   float64
	}{
		{"n1", "default", "dc1", 3900, 0.7, 1800},
		{"n2", "default", "dc1", 2500, 0, math.Inf(1)},
		{"g1", "gpu", "dc2", 1000, 0, math.Inf(1)},
	}
	for _, n := range nodes {
		nl := map[string]string{"node_id": n.id, "datacenter": n.dc, "node_pool": n.pool, "node_class": "none"}
		nomad("nomad_client_allocated_cpu", nl, fxConst(2000))
		nomad("nomad_client_unallocated_cpu", nl, fxConst(2000))
		nomad("nomad_client_allocated_memory", nl, fxConst(4096))
		nomad("nomad_client_unallocated_memory", nl, fxConst(4096))
		nomad("nomad_client_host_cpu_total_percent", fxWith(nl, "cpu", "cpu-total"), fxDaily(50, 20))
		out = append(out, fxTarget(map[string]string{"target": "node_cpu", "node_id": n.id, "resource": "cpu"},
			fxDaily(2000, 500), n.cpuPeak, n.anomaly, n.exhaustion)...)
		out = append(out, fxTarget(map[string]string{"target": "node_mem", "node_id": n.id, "resource": "memory"},
			fxDaily(4*gib, gib), 5*gib, 0, math.Inf(1))...)
	}
	groups := []struct {
		ns, job, tg string
		allocs      int
		peak        float64
		exhaustion  float64
	}{
		{"batch", "report", "w", 1, 300, math.Inf(1)},
		{"default", "web", "app", 2, 1500, 1200},
	}
	for _, g := range groups {
		for i := range g.allocs {
			al := map[string]string{"namespace": g.ns, "job": g.job, "task_group": g.tg, "task": "main", "alloc_id": fmt.Sprintf("%s-%d", g.job, i)}
			nomad("nomad_client_allocs_cpu_allocated", al, fxConst(500))
			nomad("nomad_client_allocs_memory_allocated", al, fxConst(gib))
		}
		nomad("nomad_nomad_job_summary_queued", map[string]string{"namespace": g.ns, "job": g.job, "task_group": g.tg}, fxConst(2))
		tl := map[string]string{"target": g.job + "_cpu", "namespace": g.ns, "job": g.job, "task_group": g.tg, "resource": "cpu"}
		out = append(out, fxTarget(tl, fxDaily(g.peak*0.8, g.peak*0.1), g.peak, 0.2, g.exhaustion)...)
		for _, h := range []string{"15m", "1h"} {
			sl := map[string]string{"namespace": g.ns, "job": g.job, "horizon": h}
			out = append(out,
				fxSeries{job: fxJobExporter, name: "fleetcast_scheduled_demand", labels: fxWith(sl, "resource", "cpu"), value: fxConst(200)},
				fxSeries{job: fxJobExporter, name: "fleetcast_scheduled_demand", labels: fxWith(sl, "resource", "memory"), value: fxConst(gib)})
		}
		actuator("fleetcast_actuator_cooldown_remaining_seconds", map[string]string{"namespace": g.ns, "job": g.job, "task_group": g.tg}, fxConst(120))
	}
	for _, target := range []string{"node_cpu", "node_mem", "report_cpu", "web_cpu"} {
		out = append(out, fxSeries{job: fxJobExporter, name: "fleetcast_exporter_last_success_timestamp_seconds", labels: map[string]string{"target": target}, value: func(s float64) float64 { return s }})
	}

	every10m := func(s float64) float64 { return start + math.Floor((s-start)/600)*600 }
	for _, a := range []struct{ action, result string }{{"scale_group", "acted"}, {"migrate", "dry_run"}, {"scale_pool", "cooldown"}} {
		actuator("fleetcast_actuator_actions_total", map[string]string{"action": a.action, "result": a.result}, counter(1.0/600))
	}
	actuator("fleetcast_actuator_dry_run_decisions_total", map[string]string{"action": "migrate"}, counter(1.0/600))
	actuator("fleetcast_actuator_nomad_errors_total", map[string]string{}, counter(1.0/1800))
	for le, share := range map[string]float64{"0.01": 0.5, "0.1": 0.9, "1": 1, "+Inf": 1} {
		actuator("fleetcast_actuator_decision_duration_seconds_bucket", map[string]string{"le": le}, counter(share/300))
	}
	actuator("fleetcast_actuator_decision_duration_seconds_count", map[string]string{}, counter(1.0/300))
	actuator("fleetcast_actuator_decision_duration_seconds_sum", map[string]string{}, counter(0.02/300))
	actuator("fleetcast_actuator_last_action_timestamp_seconds",
		map[string]string{"action": "scale_group", "namespace": "default", "job": "web", "task_group": "app"}, every10m)
	// n1 was migrated 20 minutes before every scrape, and its anomaly is flagged
	// at every one: past AnomalyDespiteAction's settle (900 s), within its look-back (1800 s).
	actuator("fleetcast_actuator_last_action_timestamp_seconds", map[string]string{"action": "migrate", "node_id": "n1"},
		func(s float64) float64 { return s - 1200 })
	actuator("fleetcast_actuator_is_leader", map[string]string{}, fxConst(1))
	return out
}

// fleetcastEnv is a real Prometheus scraping the fixture, with the rules loaded.
type fleetcastEnv struct {
	prom *stack.Process
	api  promv1.API
	now  time.Time // when the live scrape started
}

// startFleetcastPrometheus serves the fixture, backfills its history and
// starts Prometheus with every rule file of rules/.
func startFleetcastPrometheus(t *testing.T) fleetcastEnv {
	t.Helper()
	now := time.Now()
	start := float64(now.Add(-fxHistory).Unix())
	series := fxFleet(start)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := float64(time.Now().Unix())
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		for _, f := range series {
			if f.job.path != r.URL.Path {
				continue
			}
			fmt.Fprintf(w, "%s%s %s\n", f.name, fxLabels(f.labels), model.SampleValue(f.value(s)).String())
		}
	}))
	t.Cleanup(srv.Close)
	instance := strings.TrimPrefix(srv.URL, "http://")

	// History up to two minutes ago, labelled as Prometheus stores the
	// scrapes; OpenMetrics wants each family's samples together.
	byName := slices.Clone(series)
	sort.SliceStable(byName, func(i, j int) bool { return byName[i].name < byName[j].name })
	var om strings.Builder
	typed := map[string]bool{}
	for _, f := range byName {
		if !typed[f.name] {
			fmt.Fprintf(&om, "# TYPE %s unknown\n", f.name)
			typed[f.name] = true
		}
		ls := fxLabels(f.stored(instance))
		for ts := now.Add(-fxHistory); ts.Before(now.Add(-2 * time.Minute)); ts = ts.Add(fxStep) {
			fmt.Fprintf(&om, "%s%s %s %d\n", f.name, ls, model.SampleValue(f.value(float64(ts.Unix()))).String(), ts.Unix())
		}
	}
	cfg := "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
	for _, j := range []fxScrapeJob{fxJobExporter, fxJobNomad, fxJobActuator} {
		cfg += fmt.Sprintf("  - job_name: %q\n    honor_labels: %t\n    metrics_path: %q\n    static_configs:\n      - targets: [%q]\n",
			j.name, j.honorLabels, j.path, instance)
	}
	ruleFiles, err := filepath.Glob("../rules/*.rules.yml")
	if err != nil || len(ruleFiles) < 3 {
		t.Fatalf("rule files in ../rules: %v %v", ruleFiles, err)
	}
	prom := testenv.Prometheus(t, stack.PrometheusOptions{Config: cfg, RuleFiles: ruleFiles, OpenMetrics: om.String()})
	return fleetcastEnv{prom: prom, api: promAPI(t, prom.URL), now: now}
}

// waitRulesHealthy waits until every rule has been evaluated at least twice
// after the first scrape, and fails on any unhealthy rule.
func (e fleetcastEnv) waitRulesHealthy(t *testing.T) promv1.RulesResult {
	t.Helper()
	ctx := context.Background()
	var rules promv1.RulesResult
	// The coordinator reads the thresholds group; wait for live values.
	testenv.Eventually(t, 30*time.Second, "fleetcast rules evaluated on live data", func() error {
		v, _, _, err := e.api.Query(ctx, `count(node:fleetcast_headroom:ratio) and count(ALERTS{alertname="NodePredictedOverload"})`, time.Now())
		if err != nil {
			return err
		}
		if vec, ok := v.(model.Vector); !ok || len(vec) == 0 {
			return fmt.Errorf("no headroom or pending alert yet")
		}
		rules, err = e.api.Rules(ctx, nil)
		return err
	})
	return rules
}

// TestRulesEvaluateHealthy loads every rule file into a real Prometheus that
// scrapes a fleet, and checks each rule is healthy, the coordinator's
// figures are right, and the alerts carry the labels the actuator needs.
func TestRulesEvaluateHealthy(t *testing.T) {
	e := startFleetcastPrometheus(t)
	rules := e.waitRulesHealthy(t)
	ctx := context.Background()

	var recording, alerting int
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			switch r := r.(type) {
			case promv1.RecordingRule:
				recording++
				if r.Health != promv1.RuleHealthGood {
					t.Errorf("recording rule %s: health %q: %s", r.Name, r.Health, r.LastError)
				}
			case promv1.AlertingRule:
				alerting++
				if r.Health != promv1.RuleHealthGood {
					t.Errorf("alerting rule %s: health %q: %s", r.Name, r.Health, r.LastError)
				}
				for _, k := range []string{"summary", "description", "runbook_url"} {
					if r.Annotations[model.LabelName(k)] == "" {
						t.Errorf("alerting rule %s: no %s annotation", r.Name, k)
					}
				}
				if r.Labels["severity"] == "" {
					t.Errorf("alerting rule %s: no severity label", r.Name)
				}
			}
		}
	}
	if recording < 30 || alerting < 10 {
		t.Errorf("loaded %d recording and %d alerting rules; want at least 30 and 10", recording, alerting)
	}

	// The coordinator's arithmetic on what Prometheus scraped.
	checks := []struct {
		expr string
		want float64
	}{
		// n1: 3900 of 4000 MHz predicted.
		{`node:fleetcast_headroom:ratio{node_id="n1", resource="cpu"}`, 0.025},
		// pool default: 3900+2500 of 8000 MHz.
		{`node_pool:fleetcast_headroom:ratio{node_pool="default", resource="cpu"}`, 0.2},
		// fleet: 3900+2500+1000 + 2x200 scheduled, of 12000 MHz.
		{`fleet:fleetcast_demand_peak:sum{resource="cpu"}`, 7800},
		{`fleet:nomad_capacity:sum{resource="memory"}`, 3 * 8192 * 1048576},
		// web/app: 1500 predicted of 2 x 500 MHz allocated (job label from exported_job).
		{`task_group:fleetcast_headroom:ratio{namespace="default", job="web", task_group="app", resource="cpu"}`, -0.5},
		{`node_pool:fleetcast_forecast_coverage:ratio{node_pool="gpu", resource="cpu"}`, 1},
	}
	for _, c := range checks {
		v, _, _, err := e.api.Query(ctx, c.expr, time.Now())
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		vec, ok := v.(model.Vector)
		if !ok || len(vec) != 1 {
			t.Errorf("%s: got %v, want one sample %g", c.expr, v, c.want)
			continue
		}
		if got := float64(vec[0].Value); math.Abs(got-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s = %g, want %g", c.expr, got, c.want)
		}
	}

	// Pending alerts (their `for` has not passed) with the actuator's labels.
	want := map[string]map[string]string{
		"NodePredictedOverload":  {"action": "migrate", "node_id": "n1", "node_pool": "default", "resource": "cpu"},
		"JobPredictedSaturation": {"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "app", "resource": "cpu"},
		"ForecastAnomaly":        {"target": "node_cpu", "node_id": "n1"},
		"AnomalyDespiteAction":   {"action": "escalate", "node_id": "n1", "target": "node_cpu"},
	}
	testenv.Eventually(t, 20*time.Second, "expected alerts pending", func() error {
		res, err := e.api.Alerts(ctx)
		if err != nil {
			return err
		}
		got := map[string]bool{}
		for _, a := range res.Alerts {
			name := string(a.Labels["alertname"])
			if a.Labels["job"] == model.LabelValue(fxJobExporter.name) && name != "FleetcastExporterDown" {
				return fmt.Errorf("%s carries the scrape job as its Nomad job: %v", name, a.Labels)
			}
			w, ok := want[name]
			if !ok {
				if strings.HasPrefix(name, "Fleetcast") {
					return fmt.Errorf("unexpected alert %s %v", name, a.Labels)
				}
				continue
			}
			match := true
			for k, v := range w {
				if string(a.Labels[model.LabelName(k)]) != v {
					match = false
				}
			}
			if match {
				if _, ok := a.Labels["exported_job"]; ok {
					return fmt.Errorf("%s carries exported_job: %v", name, a.Labels)
				}
				if a.Labels["node_id"] != "" && a.Labels["job"] != "" {
					return fmt.Errorf("%s on a node carries job=%q", name, a.Labels["job"])
				}
				got[name] = true
			}
		}
		for name := range want {
			if !got[name] {
				return fmt.Errorf("alert %s with labels %v not active", name, want[name])
			}
		}
		return nil
	})
}
