package loopbench

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/actuator/planner"
	"github.com/fleetcast/fleetcast/sim"
)

// The benchmark's fleet: one node pool and one service job whose one task
// group replays the trace.
const (
	benchPool  = "bench"
	benchJob   = "bench"
	benchGroup = "demand"
)

// simFleet runs one trace on the simulator (package sim) in virtual time,
// through the simulator's in-process API: the same operations its Nomad
// HTTP API performs, without the HTTP.
type simFleet struct {
	f        *sim.Fleet
	s        Settings
	poolLast time.Time
}

// NewSimFleet builds the simulated fleet for one trace: a pool of
// s.NodeCPU-MHz nodes booting in s.BootDelay, and a job whose allocations
// reserve s.AllocCPU MHz each and serve up to that much demand; its demand
// is the trace, replayed by the simulator at the trace's own timestamps and
// scaled by tr.Scale. It starts sized for its first demand at the reactive
// target, so both policies start alike.
func NewSimFleet(tr Trace, s Settings, start time.Time) (Fleet, error) {
	first := 0.0
	if len(tr.Values) > 0 {
		first = tr.Values[0]
	}
	count, err := planner.Sizing{PerUnitCapacity: s.AllocCPU * s.Target / 100}.Units(first)
	if err != nil {
		return nil, fmt.Errorf("simulated fleet for %s: size the task group: %w", tr.Name, err)
	}
	count = clamp(count, s.MinCount, s.MaxCount)
	nodes, err := planner.AllocNodes{PerAlloc: s.AllocCPU, NodeCapacity: s.NodeCPU}.Nodes(count, planner.Bounds{Min: s.MinNodes, Max: s.MaxNodes})
	if err != nil {
		return nil, fmt.Errorf("simulated fleet for %s: size the node pool: %w", tr.Name, err)
	}
	enabled := true
	cfg := &sim.Config{
		Seed:            1,
		Step:            model.Duration(s.Step),
		BootDelay:       model.Duration(s.BootDelay),
		AllocStartDelay: model.Duration(min(15*time.Second, s.Step)),
		NodePools: []sim.PoolConfig{{
			Name: benchPool, CPUMHz: int(s.NodeCPU), MemoryMB: 64 * 1024,
			Count: nodes, Min: s.MinNodes, Max: s.MaxNodes,
		}},
		Jobs: []sim.JobConfig{{
			ID: benchJob, Type: "service", NodePool: benchPool,
			Groups: []sim.GroupConfig{{
				Name: benchGroup, Count: count, CPU: int(s.AllocCPU), MemoryMB: 256,
				Capacity: s.AllocCPU,
				Scaling:  &sim.ScalingRange{Min: s.MinCount, Max: s.MaxCount, Enabled: &enabled},
				// The trace replaces this demand below.
				Demand: sim.DemandConfig{Base: first},
			}},
		}},
	}
	f, err := sim.New(cfg, start)
	if err != nil {
		return nil, fmt.Errorf("simulated fleet for %s: %w", tr.Name, err)
	}
	demand, err := tr.Demand(start)
	if err != nil {
		return nil, err
	}
	if err := f.SetDemand("", benchJob, benchGroup, demand); err != nil {
		return nil, err
	}
	return &simFleet{f: f, s: s}, nil
}

func (sf *simFleet) Advance(t time.Time) error {
	sf.f.Advance(t)
	return nil
}

func (sf *simFleet) View() (View, error) {
	var g *sim.GroupInfo
	for _, j := range sf.f.Jobs() {
		if j.ID == benchJob {
			for i := range j.Groups {
				if j.Groups[i].Name == benchGroup {
					g = &j.Groups[i]
				}
			}
		}
	}
	if g == nil {
		return View{}, errors.New("the benchmark job is gone from the simulated fleet")
	}
	ps, err := sf.f.PoolSize(benchPool)
	if err != nil {
		return View{}, err
	}
	v := View{
		Demand: g.DemandMHz, Served: g.ServedMHz, Count: g.Count, Running: g.Running, Queued: g.Queued,
		AllocCPU: float64(g.CPU), NodeCPU: float64(ps.CPUMHz), PoolSize: ps.Count, Booting: ps.Booting,
		GroupLastChange: g.LastScaled, PoolLastChange: sf.poolLast,
	}
	for _, n := range sf.f.Nodes() {
		if n.Pool == benchPool && n.Status == "ready" {
			v.Nodes = append(v.Nodes, planner.Node{ID: n.ID, Pool: n.Pool, Capacity: float64(n.CPUMHz),
				Eligible: n.Eligible && !n.Draining, Allocs: n.Allocs})
		}
	}
	return v, nil
}

func (sf *simFleet) ScaleGroup(count int, reason string) error {
	return sf.f.ScaleGroup("", benchJob, benchGroup, count, reason)
}

// ScalePool resizes the pool. The simulator, like a cloud autoscaling
// group, removes booting nodes first and then the emptiest; the planner's
// choice is the same order (empty first), so remove is not passed on.
func (sf *simFleet) ScalePool(size int, _ []string, _ string) error {
	if _, err := sf.f.SetPoolSize(benchPool, size); err != nil {
		return err
	}
	sf.poolLast = sf.f.Now()
	return nil
}
