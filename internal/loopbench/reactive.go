package loopbench

import (
	"fmt"
	"math"
	"time"
)

// TargetValue is the reactive baseline: the target-value strategy of
// nomad-autoscaler, which users run today. It scales a count by the ratio of
// the current metric to its target, new = ceil(count * metric/target), and
// does nothing while that ratio stays within 1±Threshold. From zero it starts
// at ceil(metric/target). (Written from the strategy's documentation; its
// default threshold is 0.01.)
type TargetValue struct {
	Target    float64
	Threshold float64
}

// Count returns the count the strategy asks for, and false when it asks for
// no change.
func (s TargetValue) Count(count int, metric float64) (int, bool) {
	if math.IsNaN(metric) || math.IsInf(metric, 0) {
		return count, false
	}
	factor := metric
	if s.Target != 0 {
		factor = metric / s.Target
	}
	e := s.Threshold
	if count == 0 {
		if factor <= 0 {
			return count, false
		}
		return int(math.Ceil(factor)), true
	}
	if factor >= 1-e && factor <= 1+e {
		return count, false
	}
	n := int(math.Ceil(float64(count) * factor))
	if n == count {
		return count, false
	}
	return n, true
}

// Reactive is the baseline policy: nomad-autoscaler's target-value strategy
// on the job's current CPU utilisation and on the pool's allocated CPU, each
// with the cooldown after its own actions.
type Reactive struct {
	S Settings
}

// Name implements Policy.
func (r *Reactive) Name() string { return "reactive" }

// Decide implements Policy.
func (r *Reactive) Decide(now time.Time, v View) ([]Action, error) {
	var acts []Action
	tv := TargetValue{Target: r.S.Target, Threshold: r.S.Threshold}
	count := v.Count
	if cooled(now, v.GroupLastChange, r.S.Cooldown) {
		var util float64
		if v.Running > 0 {
			util = 100 * v.Demand / v.Capacity()
		} else {
			// Nothing runs to measure: treat the demand as landing on the
			// count asked for, as the APM would once they start.
			util = 100 * v.Demand / (math.Max(1, float64(v.Count)) * v.AllocCPU)
		}
		if n, ok := tv.Count(v.Count, util); ok {
			n = clamp(n, r.S.MinCount, r.S.MaxCount)
			if n != v.Count {
				acts = append(acts, Action{At: now, Kind: "scale_group", From: v.Count, To: n,
					Reason: fmt.Sprintf("target-value: utilisation %.1f%% vs target %.0f%%", util, r.S.Target)})
				count = n
			}
		}
	}
	if cooled(now, v.PoolLastChange, r.S.Cooldown) && v.PoolSize > 0 {
		// Allocated CPU over the ready nodes, with the allocations waiting
		// for room (what a queued-allocations check adds) counted in.
		ready := float64(len(v.Nodes)) * v.NodeCPU
		if ready == 0 {
			ready = v.NodeCPU
		}
		pct := 100 * float64(count) * v.AllocCPU / ready
		pv := TargetValue{Target: r.S.PoolTarget, Threshold: r.S.Threshold}
		cur := len(v.Nodes)
		if n, ok := pv.Count(cur, pct); ok {
			n = clamp(n, r.S.MinNodes, r.S.MaxNodes)
			// Nodes still booting already count toward what was asked.
			if n != v.PoolSize && (n < cur || n > v.PoolSize) {
				acts = append(acts, Action{At: now, Kind: "scale_pool", From: v.PoolSize, To: n,
					Reason: fmt.Sprintf("target-value: allocated CPU %.1f%% vs target %.0f%%", pct, r.S.PoolTarget)})
			}
		}
	}
	return acts, nil
}
