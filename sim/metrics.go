package sim

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// family is one metric family with Nomad's name and help.
type family struct {
	name, help string
	counter    bool
	labels     []string
}

// The metric families, with the names and labels a Nomad agent exports
// through its Prometheus endpoint, then the simulator's own ground truth.
// Node metrics carry the labels of Nomad's client: node_id, datacenter,
// node_class ("none" when unset), node_pool, node_status and
// node_scheduling_eligibility; every client metric also carries host (the
// node's hostname) unless the agent sets telemetry.disable_hostname.
// Allocation metrics carry those of its task runner.
func metricFamilies(hostLabel bool) []family {
	withHost := func(l ...string) []string {
		if hostLabel {
			return append(l, "host")
		}
		return l
	}
	var (
		nodeLabels    = withHost("node_id", "datacenter", "node_class", "node_pool", "node_status", "node_scheduling_eligibility")
		hostCPULabels = append(append([]string{}, nodeLabels...), "cpu")
		allocLabels   = withHost("job", "task_group", "alloc_id", "task", "namespace")
		summaryLabels = []string{"job", "task_group", "namespace"}
		groupLabels   = []string{"namespace", "job", "task_group"}
		// The ground truth keeps a node's identity without Nomad's
		// changing labels.
		simNodeLabels = []string{"node_id", "datacenter", "node_class", "node_pool"}
	)
	return []family{
		{name: "nomad_client_allocated_cpu", help: "CPU (MHz) allocated to allocations on the node.", labels: nodeLabels},
		{name: "nomad_client_unallocated_cpu", help: "CPU (MHz) not allocated on the node.", labels: nodeLabels},
		{name: "nomad_client_allocated_memory", help: "Memory (MB) allocated to allocations on the node.", labels: nodeLabels},
		{name: "nomad_client_unallocated_memory", help: "Memory (MB) not allocated on the node.", labels: nodeLabels},
		{name: "nomad_client_allocations_running", help: "Allocations running on the node.", labels: nodeLabels},
		{name: "nomad_client_allocations_pending", help: "Allocations pending on the node.", labels: nodeLabels},
		{name: "nomad_client_host_cpu_total_percent", help: "CPU utilisation of one core of the host (percent).", labels: hostCPULabels},
		{name: "nomad_client_host_cpu_total_ticks", help: "CPU ticks (MHz) used on one core of the host.", labels: hostCPULabels},
		{name: "nomad_client_host_cpu_idle", help: "Idle CPU of one core of the host (percent).", labels: hostCPULabels},
		{name: "nomad_client_host_memory_total", help: "Total memory of the host (bytes).", labels: nodeLabels},
		{name: "nomad_client_host_memory_used", help: "Used memory of the host (bytes).", labels: nodeLabels},
		{name: "nomad_client_host_memory_available", help: "Available memory of the host (bytes).", labels: nodeLabels},
		{name: "nomad_client_allocs_cpu_total_percent", help: "CPU used by the task, in percent of one core.", labels: allocLabels},
		{name: "nomad_client_allocs_cpu_total_ticks", help: "CPU (MHz) used by the task.", labels: allocLabels},
		{name: "nomad_client_allocs_cpu_allocated", help: "CPU (MHz) allocated to the task.", labels: allocLabels},
		{name: "nomad_client_allocs_memory_usage", help: "Memory used by the task (bytes).", labels: allocLabels},
		{name: "nomad_client_allocs_memory_allocated", help: "Memory allocated to the task (bytes).", labels: allocLabels},
		{name: "nomad_nomad_job_summary_queued", help: "Allocations of the task group waiting to be placed.", labels: summaryLabels},
		{name: "nomad_nomad_job_summary_running", help: "Allocations of the task group running.", labels: summaryLabels},
		{name: "nomad_nomad_job_summary_starting", help: "Allocations of the task group starting.", labels: summaryLabels},
		{name: "nomad_nomad_job_summary_complete", help: "Allocations of the task group complete.", labels: summaryLabels},
		{name: "nomad_nomad_job_summary_failed", help: "Allocations of the task group failed.", labels: summaryLabels},
		{name: "nomad_nomad_job_summary_lost", help: "Allocations of the task group lost.", labels: summaryLabels},
		{name: "nomad_nomad_blocked_evals_total_blocked", help: "Evaluations blocked waiting for resources."},
		{name: "nomad_nomad_blocked_evals_job_cpu", help: "CPU (MHz) asked by the job's blocked evaluations.", labels: []string{"namespace", "job"}},
		{name: "nomad_nomad_blocked_evals_job_memory", help: "Memory (MB) asked by the job's blocked evaluations.", labels: []string{"namespace", "job"}},
		{name: "fleetcast_sim_demand_mhz", help: "Ground truth: CPU demand of the task group (MHz), before any overload.", labels: groupLabels},
		{name: "fleetcast_sim_served_mhz", help: "Ground truth: CPU demand of the task group actually served (MHz).", labels: groupLabels},
		{name: "fleetcast_sim_unplaced_demand_mhz", help: "Ground truth: demand waiting for allocations that could not be placed (MHz).", labels: []string{"namespace", "job"}},
		{name: "fleetcast_sim_job_overload_seconds_total", help: "Ground truth: seconds during which the job's demand exceeded what its running allocations serve.", counter: true, labels: []string{"namespace", "job"}},
		{name: "fleetcast_sim_node_demand_mhz", help: "Ground truth: demand sent to the node's allocations (MHz).", labels: simNodeLabels},
		{name: "fleetcast_sim_node_overload_seconds_total", help: "Ground truth: seconds during which the demand sent to the node exceeded its CPU.", counter: true, labels: simNodeLabels},
		{name: "fleetcast_sim_capacity_mhz", help: "Ground truth: CPU of the pool's ready nodes (MHz).", labels: []string{"node_pool"}},
		{name: "fleetcast_sim_capacity_in_use_mhz", help: "Ground truth: CPU used on the pool's ready nodes (MHz).", labels: []string{"node_pool"}},
		{name: "fleetcast_sim_nodes", help: "Nodes of the pool by status (initializing, ready, down).", labels: []string{"node_pool", "status"}},
		{name: "fleetcast_sim_capacity_mhz_hours_total", help: "Ground truth: CPU capacity of ready nodes integrated over time (MHz·hours)", counter: true},
		{name: "fleetcast_sim_node_hours_total", help: "Ground truth: ready nodes integrated over time (node hours).", counter: true},
		{name: "fleetcast_sim_time_seconds", help: "The simulated clock (Unix seconds)."},
	}
}

// sample is one value of one family; labels follow the family's order.
type sample struct {
	fam    int
	labels []string
	value  float64
}

// seriesExpiry is how long a Nomad agent keeps exporting a series nobody
// updates any more, with its last value: its Prometheus sink forgets a
// label set only after this (about 60 s on a real 1.6.0 client). So when a
// node's eligibility changes, its metrics under the old and the new
// node_scheduling_eligibility are exported side by side for this long, and
// a stopped allocation's metrics linger for as long.
const seriesExpiry = 60 * time.Second

// ghost is a series that stopped being updated: exported with its last
// value until `until`.
type ghost struct {
	s     sample
	until time.Time
}

func sampleKey(s sample) string {
	return strconv.Itoa(s.fam) + "\x00" + strings.Join(s.labels, "\x00")
}

// retire keeps the samples exported, frozen, for seriesExpiry: call it
// with a node's or an allocation's samples just before its labels change
// or it stops. The caller holds the write lock.
func (f *Fleet) retire(ss []sample) {
	until := f.now.Add(seriesExpiry)
	for _, s := range ss {
		f.ghosts = append(f.ghosts, ghost{s: s, until: until})
	}
}

// pruneGhosts forgets the series whose expiry passed.
func (f *Fleet) pruneGhosts(t time.Time) {
	kept := f.ghosts[:0]
	for _, g := range f.ghosts {
		if g.until.After(t) {
			kept = append(kept, g)
		}
	}
	f.ghosts = kept
}

func (f *Fleet) famIndex(name string) int {
	i, ok := f.famIdx[name]
	if !ok {
		panic("sim: unknown metric family " + name) // a typo in this package, caught by its tests
	}
	return i
}

// nodeLabels are a node's labels on Nomad's client metrics now.
func (f *Fleet) nodeLabels(n *node) []string {
	class := n.class
	if class == "" {
		class = "none"
	}
	l := []string{n.id, n.dc, class, n.pool, n.status, eligibility(n)}
	if !f.cfg.DisableHostname {
		l = append(l, n.name)
	}
	return l
}

// nodeSamples are a ready node's client metrics now.
func (f *Fleet) nodeSamples(n *node) []sample {
	var out []sample
	add := func(name string, v float64, labels ...string) {
		out = append(out, sample{fam: f.famIndex(name), labels: labels, value: v})
	}
	nl := f.nodeLabels(n)
	cpu, mem := f.used(n)
	running, pending := 0, 0
	memUsed := 0.0
	for _, a := range f.allocs {
		if a.node == n && a.live() {
			if a.client == "running" {
				running++
			} else {
				pending++
			}
			memUsed += a.mem
		}
	}
	add("nomad_client_allocated_cpu", float64(cpu), nl...)
	add("nomad_client_unallocated_cpu", float64(n.cpu-n.resCPU-cpu), nl...)
	add("nomad_client_allocated_memory", float64(mem), nl...)
	add("nomad_client_unallocated_memory", float64(n.mem-n.resMem-mem), nl...)
	add("nomad_client_allocations_running", float64(running), nl...)
	add("nomad_client_allocations_pending", float64(pending), nl...)
	// The host's own processes use 2% of its CPU and 300 MB.
	used := math.Min(n.usage+0.02*float64(n.cpu), float64(n.cpu))
	pct := 100 * used / float64(n.cpu)
	// One series per core, as Nomad reports host CPU; the load is
	// spread evenly over the cores.
	for c := 0; c < max(n.cores, 1); c++ {
		hl := append(append([]string{}, nl...), "cpu"+strconv.Itoa(c))
		add("nomad_client_host_cpu_total_percent", pct, hl...)
		add("nomad_client_host_cpu_total_ticks", used/float64(max(n.cores, 1)), hl...)
		add("nomad_client_host_cpu_idle", 100-pct, hl...)
	}
	totalB := float64(n.mem) * 1024 * 1024
	usedB := (memUsed + 300) * 1024 * 1024
	add("nomad_client_host_memory_total", totalB, nl...)
	add("nomad_client_host_memory_used", usedB, nl...)
	add("nomad_client_host_memory_available", totalB-usedB, nl...)
	return out
}

// allocSamples are a running allocation's client metrics now.
func (f *Fleet) allocSamples(a *alloc) []sample {
	al := []string{a.job.cfg.Name, a.group.cfg.Name, a.id, a.group.cfg.Task, a.job.ns}
	if a.job.parentID != "" {
		al[0] = a.job.id
	}
	if !f.cfg.DisableHostname {
		al = append(al, a.node.name)
	}
	perCore := float64(a.node.cpu) / float64(max(a.node.cores, 1))
	return []sample{
		{fam: f.famIndex("nomad_client_allocs_cpu_total_percent"), labels: al, value: 100 * a.usage / perCore},
		{fam: f.famIndex("nomad_client_allocs_cpu_total_ticks"), labels: al, value: a.usage},
		{fam: f.famIndex("nomad_client_allocs_cpu_allocated"), labels: al, value: float64(a.group.cfg.CPU)},
		{fam: f.famIndex("nomad_client_allocs_memory_usage"), labels: al, value: a.mem * 1024 * 1024},
		{fam: f.famIndex("nomad_client_allocs_memory_allocated"), labels: al, value: float64(a.group.cfg.MemoryMB) * 1024 * 1024},
	}
}

// exportsAllocMetrics says whether an allocation's client reports metrics
// for it now: it runs on a node whose agent is up.
func exportsAllocMetrics(a *alloc) bool {
	return a.live() && a.client == "running" && a.node != nil && a.node.status == "ready"
}

// samples is the fleet's metrics now. The caller holds the lock.
func (f *Fleet) samples() []sample {
	var out []sample
	add := func(name string, v float64, labels ...string) {
		out = append(out, sample{fam: f.famIndex(name), labels: labels, value: v})
	}
	poolCap := map[string]float64{}
	poolUse := map[string]float64{}
	poolNodes := map[string]map[string]int{}
	for name := range f.pools {
		poolNodes[name] = map[string]int{"initializing": 0, "ready": 0, "down": 0}
		poolCap[name], poolUse[name] = 0, 0
	}
	for _, n := range f.nodes {
		poolNodes[n.pool][n.status]++
		if n.status != "ready" {
			continue
		}
		poolCap[n.pool] += float64(n.cpu)
		poolUse[n.pool] += n.usage
		out = append(out, f.nodeSamples(n)...)
		class := n.class
		if class == "" {
			class = "none"
		}
		add("fleetcast_sim_node_demand_mhz", n.demand, n.id, n.dc, class, n.pool)
		add("fleetcast_sim_node_overload_seconds_total", n.overloadSec, n.id, n.dc, class, n.pool)
	}
	for _, a := range f.allocs {
		if exportsAllocMetrics(a) {
			out = append(out, f.allocSamples(a)...)
		}
	}
	if len(f.ghosts) > 0 {
		live := make(map[string]bool, len(out))
		for _, s := range out {
			live[sampleKey(s)] = true
		}
		for _, g := range f.ghosts {
			k := sampleKey(g.s)
			if g.until.After(f.now) && !live[k] {
				out = append(out, g.s)
				live[k] = true
			}
		}
	}
	blocked := 0
	for _, j := range f.jobs {
		if j.isParent() {
			continue
		}
		s := f.jobSummary(j)
		for _, g := range j.groups {
			ts := s.Summary[g.cfg.Name]
			sl := []string{j.id, g.cfg.Name, j.ns}
			add("nomad_nomad_job_summary_queued", float64(ts.Queued), sl...)
			add("nomad_nomad_job_summary_running", float64(ts.Running), sl...)
			add("nomad_nomad_job_summary_starting", float64(ts.Starting), sl...)
			add("nomad_nomad_job_summary_complete", float64(ts.Complete), sl...)
			add("nomad_nomad_job_summary_failed", float64(ts.Failed), sl...)
			add("nomad_nomad_job_summary_lost", float64(ts.Lost), sl...)
			gl := []string{j.ns, j.id, g.cfg.Name}
			add("fleetcast_sim_demand_mhz", g.demand, gl...)
			add("fleetcast_sim_served_mhz", g.served, gl...)
		}
		var qcpu, qmem float64
		for _, g := range j.groups {
			qcpu += float64(g.queued * g.cfg.CPU)
			qmem += float64(g.queued * g.cfg.MemoryMB)
		}
		if qcpu > 0 {
			blocked++
			add("nomad_nomad_blocked_evals_job_cpu", qcpu, j.ns, j.id)
			add("nomad_nomad_blocked_evals_job_memory", qmem, j.ns, j.id)
		}
	}
	add("nomad_nomad_blocked_evals_total_blocked", float64(blocked))
	// Ground truth per top-level job: a periodic job's children count for it.
	unplaced := map[string]float64{}
	for _, j := range f.jobs {
		key := j.id
		if j.parentID != "" {
			key = j.parentID
		}
		unplaced[j.ns+"\x00"+key] += j.unplaced
	}
	for _, j := range f.jobs {
		if j.parentID == "" {
			add("fleetcast_sim_unplaced_demand_mhz", unplaced[j.ns+"\x00"+j.id], j.ns, j.id)
			add("fleetcast_sim_job_overload_seconds_total", f.truth.jobOverloadSec[j.id], j.ns, j.id)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(poolCap)) {
		add("fleetcast_sim_capacity_mhz", poolCap[p], p)
		add("fleetcast_sim_capacity_in_use_mhz", poolUse[p], p)
		for _, st := range []string{"initializing", "ready", "down"} {
			add("fleetcast_sim_nodes", float64(poolNodes[p][st]), p, st)
		}
	}
	add("fleetcast_sim_capacity_mhz_hours_total", f.truth.capacityMHzSec/3600)
	add("fleetcast_sim_node_hours_total", f.truth.nodeSeconds/3600)
	add("fleetcast_sim_time_seconds", float64(f.now.UnixMilli())/1000)
	sort.SliceStable(out, func(i, k int) bool { return out[i].fam < out[k].fam })
	return out
}

// collector exposes a snapshot of the fleet to client_golang.
type collector struct{ f *Fleet }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, fm := range c.f.fams {
		ch <- desc(fm)
	}
}

func desc(fm family) *prometheus.Desc {
	return prometheus.NewDesc(fm.name, fm.help, fm.labels, nil)
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.f.mu.RLock()
	ss := c.f.samples()
	c.f.mu.RUnlock()
	fams := c.f.fams
	descs := make([]*prometheus.Desc, len(fams))
	for i, fm := range fams {
		descs[i] = desc(fm)
	}
	for _, s := range ss {
		vt := prometheus.GaugeValue
		if fams[s.fam].counter {
			vt = prometheus.CounterValue
		}
		m, err := prometheus.NewConstMetric(descs[s.fam], vt, s.value, s.labels...)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descs[s.fam], err)
			continue
		}
		ch <- m
	}
}
