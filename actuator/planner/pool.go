package planner

import (
	"fmt"
	"sort"
	"time"
)

// PoolState is one node pool: its nodes and when its size last changed.
type PoolState struct {
	Name       string
	Nodes      []Node
	LastChange time.Time
}

// PoolPolicy bounds and sizes a node pool.
type PoolPolicy struct {
	Bounds
	Sizing
	// RemoveOrder chooses nodes to remove on scale-in: "empty_first"
	// (fewest allocations first) or "least_busy" (lowest predicted use first).
	RemoveOrder string
}

// PoolPlan is a new pool size and, on scale-in, the nodes to drain first.
type PoolPlan struct {
	CountPlan
	Remove []string
}

// PlanPool decides a node pool's next size; on scale-in it also chooses the
// nodes to drain before the target removes them.
func PlanPool(s PoolState, p PoolPolicy, f Forecast, dir Direction, esc Escalation, now time.Time) (PoolPlan, error) {
	cp, err := planCount(len(s.Nodes), s.LastChange, p.Bounds, p.Sizing, f, dir, esc, now)
	if err != nil {
		return PoolPlan{}, err
	}
	plan := PoolPlan{CountPlan: cp}
	if cp.Noop || cp.To >= cp.From {
		return plan, nil
	}
	nodes := append([]Node(nil), s.Nodes...)
	switch p.RemoveOrder {
	case "", "empty_first":
		sort.SliceStable(nodes, func(i, j int) bool {
			if nodes[i].Allocs != nodes[j].Allocs {
				return nodes[i].Allocs < nodes[j].Allocs
			}
			return nodes[i].Predicted < nodes[j].Predicted
		})
	case "least_busy":
		sort.SliceStable(nodes, func(i, j int) bool {
			ui, uj := nodes[i].Predicted/nonZero(nodes[i].Capacity), nodes[j].Predicted/nonZero(nodes[j].Capacity)
			if ui != uj {
				return ui < uj
			}
			return nodes[i].Allocs < nodes[j].Allocs
		})
	default:
		return PoolPlan{}, fmt.Errorf("remove_order %q: valid orders are empty_first, least_busy", p.RemoveOrder)
	}
	for i := 0; i < cp.From-cp.To; i++ {
		plan.Remove = append(plan.Remove, nodes[i].ID)
	}
	return plan, nil
}

func nonZero(v float64) float64 {
	if v <= 0 {
		return 1
	}
	return v
}

// Rung is one step of the escalation ladder.
type Rung struct {
	// StepFactor multiplies max_step; BypassCooldown ignores the cooldown.
	StepFactor     float64 `yaml:"step_factor"`
	BypassCooldown bool    `yaml:"bypass_cooldown"`
	// Action is what to do at this rung: scale_group, scale_pool or migrate.
	Action string `yaml:"action"`
}

// NextRung returns the rung for an object that has already escalated
// `done` times in the last hour, or ok=false with the reason when the hourly
// cap is spent. Past the top of the ladder the last rung repeats.
func NextRung(ladder []Rung, done, maxPerHour int) (Rung, int, bool, string) {
	if len(ladder) == 0 {
		return Rung{}, 0, false, "no escalation ladder configured"
	}
	if maxPerHour > 0 && done >= maxPerHour {
		return Rung{}, 0, false, fmt.Sprintf("hard cap reached: %d escalations in the last hour (max_per_hour %d)", done, maxPerHour)
	}
	i := done
	if i >= len(ladder) {
		i = len(ladder) - 1
	}
	return ladder[i], i, true, ""
}
