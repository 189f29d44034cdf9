package loopbench

import "math"

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
