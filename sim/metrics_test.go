package sim

import (
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func scrape(t *testing.T, f *Fleet) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	f.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func labelNames(m *dto.Metric) string {
	var out []string
	for _, l := range m.GetLabel() {
		out = append(out, l.GetName())
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func TestMetricNamesAndLabels(t *testing.T) {
	f := testFleet(t)
	fams := scrape(t, f)
	tests := []struct {
		name   string
		labels string
		series int
	}{
		{"nomad_client_allocated_cpu", "datacenter,node_class,node_id,node_pool", 4},
		{"nomad_client_unallocated_memory", "datacenter,node_class,node_id,node_pool", 4},
		{"nomad_client_host_cpu_total_percent", "cpu,datacenter,node_class,node_id,node_pool", 3*2 + 3}, // one per core
		{"nomad_client_allocs_cpu_total_percent", "alloc_id,job,namespace,task,task_group", 6},
		{"nomad_client_allocs_cpu_total_ticks", "alloc_id,job,namespace,task,task_group", 6},
		{"nomad_nomad_job_summary_queued", "job,namespace,task_group", 3},
		{"nomad_nomad_job_summary_running", "job,namespace,task_group", 3},
		{"nomad_nomad_blocked_evals_total_blocked", "", 1},
		{"fleetcast_sim_job_overload_seconds_total", "job,namespace", 4},
		{"fleetcast_sim_node_overload_seconds_total", "datacenter,node_class,node_id,node_pool", 4},
		{"fleetcast_sim_unplaced_demand_mhz", "job,namespace", 4},
		{"fleetcast_sim_capacity_in_use_mhz", "node_pool", 2},
	}
	for _, tc := range tests {
		fam := fams[tc.name]
		if fam == nil {
			t.Errorf("%s: missing", tc.name)
			continue
		}
		if len(fam.GetMetric()) != tc.series {
			t.Errorf("%s: %d series, want %d", tc.name, len(fam.GetMetric()), tc.series)
		}
		for _, m := range fam.GetMetric() {
			if got := labelNames(m); got != tc.labels {
				t.Errorf("%s: labels %s, want %s", tc.name, got, tc.labels)
				break
			}
		}
	}
	// The batch pool's node has no class: Nomad says "none".
	found := false
	for _, m := range fams["nomad_client_allocated_cpu"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "node_class" && l.GetValue() == "none" {
				found = true
			}
		}
	}
	if !found {
		t.Error(`no node with node_class="none"`)
	}
}

// TestOverloadShowsInMetrics: demand above what the allocations serve counts
// as overload seconds and queued work shows as Nomad shows it.
func TestOverloadShowsInMetrics(t *testing.T) {
	f := testFleet(t)
	if err := f.SetDemand("", "web", "web", func(time.Time) float64 { return 6000 }); err != nil {
		t.Fatal(err)
	}
	if err := f.ScaleGroup("", "web", "web", 5, "more"); err != nil {
		t.Fatal(err)
	}
	f.Advance(testStart.Add(5 * time.Minute))
	fams := scrape(t, f)
	value := func(name string, label, want string) float64 {
		for _, m := range fams[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == want {
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
		t.Fatalf("%s{%s=%q} missing", name, label, want)
		return 0
	}
	if v := value("fleetcast_sim_job_overload_seconds_total", "job", "web"); v != 300 {
		t.Errorf("web overload seconds %g, want 300", v)
	}
	if v := value("nomad_nomad_job_summary_queued", "job", "web"); v != 2 {
		t.Errorf("web queued %g, want 2 (distinct_hosts on three nodes)", v)
	}
	if v := value("fleetcast_sim_unplaced_demand_mhz", "job", "web"); v != 6000*2/5.0 {
		t.Errorf("web unplaced demand %g, want 2400", v)
	}
	if v := fams["nomad_nomad_blocked_evals_total_blocked"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("blocked evals %g, want 1", v)
	}
	// Each web allocation serves its full 1000 MHz on a 4000 MHz, two-core
	// node: half of one core.
	for _, m := range fams["nomad_client_allocs_cpu_total_percent"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "job" && l.GetValue() == "web" && m.GetGauge().GetValue() != 50 {
				t.Errorf("web alloc cpu percent %g, want 50", m.GetGauge().GetValue())
			}
		}
	}
	tr := f.Truth()
	if tr.JobOverloadSeconds["web"] != 300 || tr.UnplacedDemandMHz["web"] != 2400 {
		t.Errorf("truth: %+v", tr)
	}
}

// TestNodeOverload: allocations that may burst above their ask can ask more
// of a node than it has; the node is overloaded and gives what it has.
func TestNodeOverload(t *testing.T) {
	f := fleetFromYAML(t, `
node_pools:
  - {name: default, cpu_mhz: 4000, cores: 2, memory_mb: 4096, count: 1}
jobs:
  - id: j
    groups: [{name: g, count: 2, cpu: 1000, memory_mb: 512, capacity_mhz: 3000, demand: {base_mhz: 5000}}]
`)
	f.Advance(testStart.Add(time.Minute))
	n := f.Nodes()[0]
	if n.DemandMHz != 5000 || n.UsedMHz != 4000 {
		t.Fatalf("node demand %g used %g, want 5000 and 4000", n.DemandMHz, n.UsedMHz)
	}
	tr := f.Truth()
	if tr.NodeOverloadSeconds[n.ID] != 60 || tr.JobOverloadSeconds["j"] != 60 {
		t.Fatalf("overload: nodes %v jobs %v", tr.NodeOverloadSeconds, tr.JobOverloadSeconds)
	}
	fams := scrape(t, f)
	if v := fams["nomad_client_host_cpu_total_percent"].GetMetric()[0].GetGauge().GetValue(); v != 100 {
		t.Fatalf("host cpu percent %g, want 100", v)
	}
	for _, m := range fams["nomad_client_allocs_cpu_total_ticks"].GetMetric() {
		if v := m.GetGauge().GetValue(); v != 2000 {
			t.Fatalf("alloc ticks %g, want 2000 (the node's 4000 shared)", v)
		}
	}
	// Another node ends it: the pool grows and a stopped allocation moves there.
	if _, err := f.SetPoolSize("default", 2); err != nil {
		t.Fatal(err)
	}
	f.Advance(testStart.Add(3 * time.Minute))
	if _, err := f.StopAlloc(f.Allocs()[0].ID); err != nil {
		t.Fatal(err)
	}
	f.Advance(testStart.Add(4 * time.Minute))
	if got := placement(f, "j"); got != "default-1:1,default-2:1 queued=0" {
		t.Fatalf("after the move: %s", got)
	}
	before := f.Truth().NodeOverloadSeconds[n.ID]
	f.Advance(testStart.Add(5 * time.Minute))
	if after := f.Truth().NodeOverloadSeconds[n.ID]; after != before {
		t.Fatalf("node still overloaded after the move: %g -> %g", before, after)
	}
}
