package actuator

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/fleetcast/fleetcast/actuator/planner"
	"github.com/fleetcast/fleetcast/sim"
)

// requestCounter counts the requests that reach the simulator, by method
// and path.
type requestCounter struct {
	mu  sync.Mutex
	n   map[string]int
	all int
}

func (c *requestCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		p := r.URL.Path
		if strings.HasPrefix(p, "/v1/node/") && strings.HasSuffix(p, "/allocations") {
			p = "/v1/node/:id/allocations" // one line for every node
		}
		c.n[r.Method+" "+p]++
		c.all++
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (c *requestCounter) reset() (total int, byPath string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []string
	for k := range c.n {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, c.n[k])
	}
	total = c.all
	c.n, c.all = map[string]int{}, 0
	return total, b.String()
}

// wideFleetYAML is a simulated fleet of nodes nodes in pool default (8000
// MHz each), with jobs in two namespaces: web (the group a scale-out
// grows), api and a periodic batch job whose allocations complete in
// default, and billing in namespace finance, spread across the pool.
func wideFleetYAML(nodes int) string {
	return fmt.Sprintf(`seed: 11
nomad_version: 1.8.2
step: 10s
boot_delay: 2m
alloc_start_delay: 20s
node_pools:
  - name: default
    datacenter: dc1
    cpu_mhz: 8000
    memory_mb: 16384
    count: %d
    min: 1
    max: %d
jobs:
  - id: web
    groups:
      - name: web
        count: %d
        cpu: 1000
        memory_mb: 512
        scaling: {min: 1, max: %d}
        demand: {base_mhz: 2000}
  - id: api
    groups:
      - name: api
        count: %d
        cpu: 2500
        memory_mb: 2048
        demand: {base_mhz: 600}
  - id: billing
    namespace: finance
    groups:
      - name: ledger
        count: %d
        cpu: 3000
        memory_mb: 4096
        demand: {base_mhz: 900}
  - id: report
    type: batch
    periodic:
      cron: "*/5 * * * *"
      time_zone: UTC
      duration: 1m
    groups:
      - name: crunch
        count: 2
        cpu: 500
        memory_mb: 256
`, nodes, 2*nodes, nodes/2, 8*nodes, nodes/3+1, nodes/2+1)
}

// newCountingRig is newSimRig on the fleet the YAML describes, run for 12
// simulated minutes (report's children have run and completed: the lists
// hold allocations that no longer reserve anything), its requests counted.
// The actuator knows the server's release, as the command reads it at
// start.
func newCountingRig(t *testing.T, fleetYAML string) (*simRig, *requestCounter) {
	t.Helper()
	c := &requestCounter{n: map[string]int{}}
	f, url, n := serveSim(t, fleetYAML, "fleet.yml", 12*time.Minute, c.wrap)
	ver, err := n.ServerVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := startRig(t, f, url, n, ver, func(cfg *Config) {
		cfg.Policies[0].ScaleGroup.Max = 1000
		cfg.Policies[0].ScaleGroup.MaxStep = 1000
		for i := range cfg.Policies {
			if p := cfg.Policies[i].ScalePool; p != nil {
				p.Max, p.MaxStep = 1000, 1000
			}
		}
	})
	c.reset() // what the rig read is not the decision's
	return r, c
}

// TestDecisionRequestsDoNotGrowWithNodes: one scale-out of a task group
// (which checks the room its pool has) and one pool scale-out make as many
// requests to Nomad on a pool of 50 nodes as on one of 5. Before the
// allocations were listed once per decision, they were read node by node:
// 5 + 5 and 50 + 50 more.
func TestDecisionRequestsDoNotGrowWithNodes(t *testing.T) {
	counts := map[string][]int{}
	for _, nodes := range []int{5, 50} {
		r, c := newCountingRig(t, wideFleetYAML(nodes))
		r.fc.v[`max(fleetcast_forecast_peak{job="web",task_group="web",q="0.9"})`] = []Sample{{Value: 100 * float64(nodes)}}
		al := alert("JobPredictedSaturation", map[string]string{"action": "scale_group", "direction": "out", "namespace": "default", "job": "web", "task_group": "web"}, r.f.Now())
		out := r.a.Handle(context.Background(), al)
		if out.Result != ResultActed {
			t.Fatalf("%d nodes: scale-out: %+v", nodes, out)
		}
		total, paths := c.reset()
		t.Logf("%d nodes: scale_group out: %d requests: %s", nodes, total, paths)
		counts["scale_group"] = append(counts["scale_group"], total)

		r.fc.v[`sum(fleetcast_forecast_peak{node_pool="default"})`] = []Sample{{Value: 1000 * float64(nodes+2)}}
		al = alert("PoolPredictedShortage", map[string]string{"action": "scale_pool", "direction": "out", "node_pool": "default"}, r.f.Now())
		out = r.a.Handle(context.Background(), al)
		if out.Result != ResultActed {
			t.Fatalf("%d nodes: pool scale-out: %+v", nodes, out)
		}
		total, paths = c.reset()
		t.Logf("%d nodes: scale_pool out: %d requests: %s", nodes, total, paths)
		counts["scale_pool"] = append(counts["scale_pool"], total)
	}
	for action, c := range counts {
		if c[0] != c[1] {
			t.Errorf("%s: %d requests on 5 nodes, %d on 50: the reads grow with the pool", action, c[0], c[1])
		}
	}
}

// TestRoomAndPoolStateSameFromTheList: the planner's inputs for a
// scale-out's room (planner.Room per node) and for a pool decision
// (planner.PoolState) come out the same from the one allocation list
// (LiveAllocs) as from reading each node's allocations, on a simulated
// pool of 50 nodes with allocations in two namespaces, completed and
// stopped ones, an ineligible node, a drained one, and (as the node list
// shows them to both) one draining and one down.
func TestRoomAndPoolStateSameFromTheList(t *testing.T) {
	r, _ := newCountingRig(t, wideFleetYAML(50))
	ctx := context.Background()
	stubs, err := r.n.Nodes(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.n.SetEligibility(ctx, stubs[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if err := r.n.Drain(ctx, stubs[1].ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	var ledger string
	for _, al := range r.f.Allocs() {
		if al.JobID == "billing" && ledger == "" {
			ledger = al.ID
		}
	}
	if err := r.n.StopAlloc(ctx, "finance", ledger); err != nil {
		t.Fatal(err)
	}
	if stubs, err = r.n.Nodes(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	// The simulator's drains finish at once (its allocations move in the
	// same step): nodes that still drain or are down are shown so.
	stubs[2].Drain, stubs[3].Status = true, api.NodeStatusDown
	listed, err := r.n.LiveAllocs(ctx, staying(stubs))
	if err != nil {
		t.Fatal(err)
	}
	// As before: every node's allocations, one request per node.
	perNode := map[string][]*api.AllocationListStub{}
	seen := map[string]int{}
	for _, s := range stubs {
		allocs, err := r.n.NodeAllocations(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, al := range allocs {
			perNode[s.ID] = append(perNode[s.ID], stubOf(al, s.ID))
			switch {
			case !allocLive(al):
				seen["not live"]++
			case al.Namespace == "finance":
				seen["finance"]++
			}
		}
	}
	// The fleet must hold what could make the two differ.
	for _, k := range []string{"not live", "finance"} {
		if seen[k] == 0 {
			t.Fatalf("the fleet has no %s allocation: %v", k, seen)
		}
	}
	for _, g := range [][3]string{{"default", "web", "web"}, {"default", "api", "api"}, {"finance", "billing", "ledger"}} {
		j, err := r.n.Job(ctx, g[0], g[1])
		if err != nil {
			t.Fatal(err)
		}
		before, err := roomsOf(ctx, r.n, stubs, perNode, j.Datacenters, g[0], g[1], g[2])
		if err != nil {
			t.Fatal(err)
		}
		after, err := roomsOf(ctx, r.n, stubs, listed, j.Datacenters, g[0], g[1], g[2])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(before, after) {
			t.Errorf("%s: rooms differ\nper node: %+v\nlisted:   %+v", g, before, after)
		}
		var own, used, unschedulable int
		for _, room := range after {
			own += room.Own
			if room.UsedCPU > 0 {
				used++
			}
			if !room.Schedulable {
				unschedulable++
			}
		}
		if len(after) != 48 || own == 0 || used == 0 || unschedulable != 2 {
			t.Errorf("%s: %d rooms (want 48: one node drains, one is down), %d own allocations, %d nodes with others' use, %d unschedulable (want 2: ineligible, drained)",
				g, len(after), own, used, unschedulable)
		}
	}
	before, after := poolState("default", stubs, perNode), poolState("default", stubs, listed)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("pool state differs\nper node: %+v\nlisted:   %+v", before, after)
	}
	allocs := 0
	for _, n := range after.Nodes {
		allocs += n.Allocs
	}
	if len(after.Nodes) != 48 || allocs == 0 {
		t.Errorf("pool state: %d nodes (want 48), %d allocations", len(after.Nodes), allocs)
	}
}

// TestHealthWaitReadsTheJobOnce: a migration moves the only allocation of
// a service group, whose healthy count is 0 until the replacement has run
// min_healthy_time; the health wait polls the scale status once a second
// meanwhile, and reads the job only once, when the migration is planned
// (before, every poll at 0 read it again to learn it was not a batch job).
func TestHealthWaitReadsTheJobOnce(t *testing.T) {
	r, c := newCountingRig(t, `seed: 5
nomad_version: 1.8.2
step: 10s
alloc_start_delay: 20s
node_pools:
  - {name: default, datacenter: dc1, cpu_mhz: 4000, memory_mb: 8192, count: 3, min: 1, max: 6}
jobs:
  - id: solo
    groups:
      - {name: solo, count: 1, cpu: 1500, memory_mb: 512, demand: {base_mhz: 1000}}
`)
	ctx := context.Background()
	var busy string
	for _, al := range r.f.Allocs() {
		busy = al.NodeID
	}
	stubs, err := r.n.Nodes(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stubs {
		r.fc.v[`fleetcast_forecast_peak{target="node_cpu"}`] = append(r.fc.v[`fleetcast_forecast_peak{target="node_cpu"}`],
			Sample{Labels: map[string]string{"node_id": s.ID}, Value: 500})
	}
	r.fc.v[`max(fleetcast_forecast_peak{node_id="`+busy+`"})`] = []Sample{{Value: 3600}}
	r.fc.v[`fleetcast_forecast_peak{target="alloc_cpu",node_id="`+busy+`"}`] = nil
	c.reset()
	out := r.a.Handle(ctx, alert("NodePredictedOverload", map[string]string{"action": "migrate", "node_id": busy}, r.f.Now()))
	if out.Result != ResultActed {
		t.Fatalf("migrate: %+v", out)
	}
	r.a.Wait()
	c.mu.Lock()
	jobReads, polls := c.n["GET /v1/job/solo"], c.n["GET /v1/job/solo/scale"]
	c.mu.Unlock()
	total, paths := c.reset()
	t.Logf("migration and its health wait: %d requests: %s", total, paths)
	if polls < 10 {
		t.Fatalf("the health wait polled the scale status %d times; the test needs a wait of 10 polls or more", polls)
	}
	if jobReads != 1 {
		t.Errorf("the job was read %d times over %d polls of its health; want once, when the migration was planned", jobReads, polls)
	}
}

// TestRoomWithoutANamespaceCountsItFree: the one list of allocations holds
// the namespaces the token may read-job in, and Nomad leaves the others out
// without an error (as the per-node read did): with a token for namespace
// default only, the CPU that finance's allocations reserve looks free and
// the room for web is overestimated. This is why the ACL policy gives
// read-job in every namespace (examples/nomad-acl-actuator.hcl).
func TestRoomWithoutANamespaceCountsItFree(t *testing.T) {
	scfg, err := sim.ParseConfig([]byte(`acl_token: root
namespace_tokens:
  - {secret: ops, namespaces: [default]}
nomad_version: 1.8.2
node_pools:
  - {name: default, datacenter: dc1, cpu_mhz: 4000, memory_mb: 8192, count: 4}
jobs:
  - id: web
    groups:
      - {name: web, count: 2, cpu: 1000, memory_mb: 512}
  - id: books
    namespace: finance
    groups:
      - {name: ledger, count: 4, cpu: 3000, memory_mb: 1024}
`), "fleet.yml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := sim.New(scfg, simStart)
	if err != nil {
		t.Fatal(err)
	}
	f.Advance(simStart.Add(time.Minute))
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	placeable := func(token string) int {
		t.Helper()
		n, err := NewNomadAPI(srv.URL, "", token, nil)
		if err != nil {
			t.Fatal(err)
		}
		stubs, err := n.Nodes(ctx, "default")
		if err != nil {
			t.Fatal(err)
		}
		allocs, err := n.LiveAllocs(ctx, staying(stubs))
		if err != nil {
			t.Fatal(err)
		}
		rooms, err := roomsOf(ctx, n, stubs, allocs, nil, "default", "web", "web")
		if err != nil {
			t.Fatal(err)
		}
		p, err := planner.Placeable(rooms, planner.Ask{CPU: 1000, MemoryMB: 512})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	all, defaultOnly := placeable("root"), placeable("ops")
	t.Logf("web placeable: %d read with a token for every namespace, %d with one for default only", all, defaultOnly)
	// Unseen, finance reserves nothing: 4 nodes of 4000 MHz place 4 each.
	if defaultOnly != 16 || all >= defaultOnly {
		t.Fatalf("web placeable %d with the full token, %d with the default-only token; want fewer than 16, and 16 (finance unseen)", all, defaultOnly)
	}
}

// BenchmarkPoolAllocReads reads the live allocations of a 1,000-node
// simulated pool over loopback HTTP, as a decision did before (one request
// per node) and as it does now (one list): go test -run XXX -bench
// PoolAllocReads ./actuator.
func BenchmarkPoolAllocReads(b *testing.B) {
	c := &requestCounter{n: map[string]int{}}
	_, _, n := serveSim(b, wideFleetYAML(1000), "fleet.yml", 12*time.Minute, c.wrap)
	ctx := context.Background()
	stubs, err := n.Nodes(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	ids := staying(stubs)
	b.Run("per_node", func(b *testing.B) {
		c.reset()
		for b.Loop() {
			for _, id := range ids {
				if _, err := n.NodeAllocations(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		}
		total, _ := c.reset()
		b.ReportMetric(float64(total)/float64(b.N), "requests/op")
	})
	b.Run("one_list", func(b *testing.B) {
		c.reset()
		for b.Loop() {
			if _, err := n.LiveAllocs(ctx, ids); err != nil {
				b.Fatal(err)
			}
		}
		total, _ := c.reset()
		b.ReportMetric(float64(total)/float64(b.N), "requests/op")
	})
}
