package actuator

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
)

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
