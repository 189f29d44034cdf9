package loopbench

import "sort"

// Trial is one combination of settings run on one dataset: the sums of the
// three policies, compared (see Compare).
type Trial struct {
	Label      string // the combination, as flags
	Dataset    string
	Reactive   Result
	Predictive Result
	Oracle     Result
}

// Meets says whether the predictive policy met the targets on this trial:
// at least minShare of the avoidable overload removed, at most maxCapacity
// times reactive's capacity-hours, and allocations waiting for nodes no
// more minutes than reactive's (WaitedMinutes: unplaced, or held back for
// nodes).
func (t Trial) Meets(minShare, maxCapacity float64) bool {
	p := t.Predictive
	return p.AvoidableRemoved != nil && *p.AvoidableRemoved >= minShare &&
		p.CapacityToReactive != nil && *p.CapacityToReactive <= maxCapacity &&
		p.WaitedMinutes() <= t.Reactive.WaitedMinutes()
}

// Choose picks, from the trials of one dataset, the settings to ship: of
// those within maxCapacity times reactive's capacity-hours whose
// allocations wait for nodes no longer than reactive's (WaitedMinutes), the one that removes the largest
// share of the avoidable overload (the cheaper on a tie). If none is within
// both, the one that removes the largest share per unit of capacity. It
// returns the index into trials, or -1 if there are none.
func Choose(trials []Trial, maxCapacity float64) int {
	if len(trials) == 0 {
		return -1
	}
	idx := make([]int, len(trials))
	for i := range idx {
		idx[i] = i
	}
	share := func(t Trial) float64 {
		if t.Predictive.AvoidableRemoved == nil {
			return 0
		}
		return *t.Predictive.AvoidableRemoved
	}
	capacity := func(t Trial) float64 {
		if t.Predictive.CapacityToReactive == nil {
			return 1
		}
		return *t.Predictive.CapacityToReactive
	}
	within := func(t Trial) bool {
		return capacity(t) <= maxCapacity && t.Predictive.WaitedMinutes() <= t.Reactive.WaitedMinutes()
	}
	sort.SliceStable(idx, func(a, b int) bool {
		ta, tb := trials[idx[a]], trials[idx[b]]
		if wa, wb := within(ta), within(tb); wa != wb {
			return wa
		}
		if within(ta) {
			if share(ta) != share(tb) {
				return share(ta) > share(tb)
			}
			return capacity(ta) < capacity(tb)
		}
		return share(ta)/capacity(ta) > share(tb)/capacity(tb)
	})
	return idx[0]
}
