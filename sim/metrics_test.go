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
		{"nomad_client_allocated_cpu", "datacenter,host,node_class,node_id,node_pool,node_scheduling_eligibility,node_status", 4},
		{"nomad_client_unallocated_memory", "datacenter,host,node_class,node_id,node_pool,node_scheduling_eligibility,node_status", 4},
		{"nomad_client_host_cpu_total_percent", "cpu,datacenter,host,node_class,node_id,node_pool,node_scheduling_eligibility,node_status", 3*2 + 3}, // one per core
		{"nomad_client_allocs_cpu_total_percent", "alloc_id,host,job,namespace,task,task_group", 6},
		{"nomad_client_allocs_cpu_total_ticks", "alloc_id,host,job,namespace,task,task_group", 6},
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

// series returns the samples of one family as label sets (name=value,
// sorted) and values.
func series(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range fams[name].GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		out[strings.Join(ls, ",")] = m.GetGauge().GetValue()
	}
	return out
}

// TestEligibilityChangeOverlaps: as on a real Nomad client, a node's
// metrics under its old eligibility are exported beside the new ones for
// about 60 s, so a plain sum by node_id counts the node twice meanwhile.
func TestEligibilityChangeOverlaps(t *testing.T) {
	f := testFleet(t)
	id := f.Nodes()[0].ID
	perNode := func(name string) (count int, sum float64) {
		for ls, v := range series(scrape(t, f), name) {
			if strings.Contains(ls, "node_id="+id) {
				count++
				sum += v
			}
		}
		return
	}
	_, capacity := perNode("nomad_client_unallocated_cpu")
	_, alloc := perNode("nomad_client_allocated_cpu")
	capacity += alloc
	if err := f.SetEligibility(id, false); err != nil {
		t.Fatal(err)
	}
	f.Advance(testStart.Add(30 * time.Second))
	n, _ := perNode("nomad_client_allocated_cpu")
	if n != 2 {
		t.Fatalf("30 s after the change: %d series of the node, want the old and the new one", n)
	}
	byElig := series(scrape(t, f), "nomad_client_allocated_cpu")
	var eligible, ineligible bool
	for ls := range byElig {
		if strings.Contains(ls, "node_id="+id) {
			eligible = eligible || strings.Contains(ls, "node_scheduling_eligibility=eligible")
			ineligible = ineligible || strings.Contains(ls, "node_scheduling_eligibility=ineligible")
		}
	}
	if !eligible || !ineligible {
		t.Fatalf("series of the node: %v", byElig)
	}
	_, a := perNode("nomad_client_allocated_cpu")
	_, u := perNode("nomad_client_unallocated_cpu")
	if a+u != 2*capacity {
		t.Fatalf("sum over the node's series: %g, want twice its capacity %g (the overlap rules must survive)", a+u, capacity)
	}
	f.Advance(testStart.Add(70 * time.Second))
	if n, _ := perNode("nomad_client_allocated_cpu"); n != 1 {
		t.Fatalf("70 s after the change: %d series of the node, want 1", n)
	}
}

// TestStoppedAllocLingers: a stopped allocation's metrics stay exported,
// frozen, for about 60 s, beside its replacement's.
func TestStoppedAllocLingers(t *testing.T) {
	f := testFleet(t)
	var victim AllocInfo
	for _, a := range f.Allocs() {
		if a.JobID == "web" {
			victim = a
			break
		}
	}
	if _, err := f.StopAlloc(victim.ID); err != nil {
		t.Fatal(err)
	}
	has := func() bool {
		for ls := range series(scrape(t, f), "nomad_client_allocs_cpu_allocated") {
			if strings.Contains(ls, "alloc_id="+victim.ID) {
				return true
			}
		}
		return false
	}
	f.Advance(testStart.Add(50 * time.Second))
	if !has() {
		t.Fatal("50 s after the stop: the allocation's cpu_allocated is gone, want it lingering")
	}
	f.Advance(testStart.Add(70 * time.Second))
	if has() {
		t.Fatal("70 s after the stop: the allocation's cpu_allocated is still exported")
	}
}

// TestDisableHostname: with the agents' disable_hostname, no host label.
func TestDisableHostname(t *testing.T) {
	f := testFleetVersionWith(t, "disable_hostname: true\n")
	for _, name := range []string{"nomad_client_allocated_cpu", "nomad_client_allocs_cpu_allocated"} {
		for ls := range series(scrape(t, f), name) {
			if strings.Contains(ls, "host=") {
				t.Fatalf("%s: %s has a host label", name, ls)
			}
		}
	}
}

// TestMetricsAtNomadsPath: Prometheus scrapes a Nomad agent at
// /v1/metrics?format=prometheus, without a token even when ACLs are on.
func TestMetricsAtNomadsPath(t *testing.T) {
	f := testFleetVersionWith(t, "acl_token: secret\n")
	rec := httptest.NewRecorder()
	f.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/metrics?format=prometheus", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "nomad_client_allocated_cpu{") {
		t.Fatalf("/v1/metrics?format=prometheus: %d %.200s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	f.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/metrics", nil))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "format=prometheus") {
		t.Fatalf("/v1/metrics without format: %d %q, want 400 naming format=prometheus", rec.Code, rec.Body.String())
	}
}
