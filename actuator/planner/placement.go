package planner

import (
	"fmt"
	"math"
)

// Slots is how many allocations reserving perAlloc each the eligible nodes
// hold in all, empty: floor(capacity/perAlloc) per node. Booting, draining
// and ineligible nodes hold none; a scheduler places nothing there.
func Slots(nodes []Node, perAlloc float64) int {
	if perAlloc <= 0 || math.IsNaN(perAlloc) {
		return 0
	}
	n := 0
	for _, nd := range nodes {
		if nd.Eligible && nd.Capacity >= perAlloc {
			n += int(math.Floor(nd.Capacity / perAlloc))
		}
	}
	return n
}

// WaitForNodes holds a task-group scale-out to what the ready nodes can
// place. An allocation asked for beyond them waits unplaced until a node
// boots and serves nothing meanwhile, so asking for it early buys no
// capacity; it only leaves queued allocations (and, in Nomad, blocked
// evaluations) behind. The node pool is asked first, for the whole plan
// (the caller sizes the pool for the plan it passes in, before the cut),
// and the group catches up when the nodes are ready.
//
// placeable is how many allocations of the group the ready nodes can hold
// in all, its running ones included (Slots, less what other jobs reserve
// there). The returned plan never goes below the current count and never
// above the plan it was given; when it was cut, Held is set and the reason
// says what it waits for. Plans that do not scale out pass unchanged.
func WaitForNodes(p CountPlan, placeable int) (held CountPlan, waiting bool) {
	if p.Noop || p.To <= p.From || placeable >= p.To {
		return p, false
	}
	to := max(placeable, p.From)
	p.Held = true
	p.Reason = fmt.Sprintf("%s; waiting for nodes: the ready nodes place %d, %d more when the pool's new nodes are ready",
		p.Reason, to, p.To-to)
	p.To = to
	if to == p.From {
		p.Noop = true
	}
	return p, true
}
