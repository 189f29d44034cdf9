package planner

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkPlanScaleGroup(b *testing.B) {
	p := ScalePolicy{Bounds: Bounds{Min: 1, Max: 100, MaxStep: 4, CooldownOut: time.Minute, CooldownIn: time.Hour}, Sizing: Sizing{PerUnitCapacity: 500, Headroom: 0.2}}
	s := GroupState{Count: 10, LastChange: t0.Add(-time.Hour)}
	for b.Loop() {
		if _, err := PlanScaleGroup(s, p, Forecast{"q", 9000}, Out, Escalation{}, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanMigrate is a busy node (60 allocations) in a 500-node pool.
func BenchmarkPlanMigrate(b *testing.B) {
	node := Node{ID: "hot", Capacity: 16000, Predicted: 19000, Eligible: true}
	allocs := make([]Alloc, 60)
	for i := range allocs {
		allocs[i] = Alloc{ID: fmt.Sprint("a", i), Namespace: "default", Job: fmt.Sprint("j", i%12), Group: "g", Type: "service",
			Predicted: float64(100 + 20*i), GroupHealthy: 5, MinHealthy: 2}
	}
	fleet := make([]Node, 500)
	for i := range fleet {
		fleet[i] = Node{ID: fmt.Sprint("n", i), Capacity: 16000, Predicted: float64(8000 + 10*i), Eligible: true}
	}
	b.ReportAllocs()
	for b.Loop() {
		p, err := PlanMigrate(node, allocs, fleet, MigratePolicy{Threshold: 0.8})
		if err != nil || p.Noop {
			b.Fatal(err, p.Reason)
		}
	}
}
