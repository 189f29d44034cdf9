package planner

import (
	"fmt"
	"math"
)

// Room is one node as a scheduler sees it when it places allocations of one
// task group.
type Room struct {
	ID string
	// Schedulable: ready, eligible and not draining, so a scheduler places
	// new allocations there (in the group's pool and datacenters).
	Schedulable bool
	// CPU (MHz) and MemoryMB are what the node offers allocations: its
	// resources less what the node reserves for itself.
	CPU, MemoryMB float64
	// UsedCPU and UsedMemoryMB are what other task groups' allocations
	// reserve there.
	UsedCPU, UsedMemoryMB float64
	// Own is how many allocations of the group run there. On a node that is
	// not schedulable they keep running, so they count as placed; the
	// caller leaves out those that must move (on a draining or down node).
	Own int
}

// Ask is what one allocation of the group reserves, and whether the group's
// allocations must sit on distinct nodes (Nomad's distinct_hosts).
type Ask struct {
	CPU, MemoryMB float64
	DistinctHosts bool
}

// Placeable is how many allocations of the group the nodes hold in all,
// the group's own included: on each schedulable node as many as fit beside
// what other groups reserve there (one with DistinctHosts), and the group's
// allocations on the other nodes, which keep running. A dimension the ask
// does not reserve (zero) does not limit; an ask that reserves nothing is an
// error, since nothing would limit it.
func Placeable(nodes []Room, ask Ask) (int, error) {
	bad := func(v float64) bool { return v < 0 || math.IsNaN(v) || math.IsInf(v, 0) }
	if bad(ask.CPU) || bad(ask.MemoryMB) || (ask.CPU == 0 && ask.MemoryMB == 0) {
		return 0, fmt.Errorf("allocation ask cpu %v, memory %v MB: want a finite, non-negative ask that reserves cpu or memory", ask.CPU, ask.MemoryMB)
	}
	n := 0
	for _, nd := range nodes {
		if !nd.Schedulable {
			n += max(nd.Own, 0)
			continue
		}
		k := math.MaxInt32
		if ask.CPU > 0 {
			k = min(k, int(math.Floor((nd.CPU-nd.UsedCPU)/ask.CPU)))
		}
		if ask.MemoryMB > 0 {
			k = min(k, int(math.Floor((nd.MemoryMB-nd.UsedMemoryMB)/ask.MemoryMB)))
		}
		if ask.DistinctHosts {
			k = min(k, 1)
		}
		n += max(k, 0)
	}
	return n, nil
}

// Slots is how many allocations reserving perAlloc (CPU) each the eligible
// nodes hold in all, empty: Placeable with nothing else on the nodes.
// Booting, draining and ineligible nodes hold none; a scheduler places
// nothing there.
func Slots(nodes []Node, perAlloc float64) int {
	rooms := make([]Room, 0, len(nodes))
	for _, nd := range nodes {
		rooms = append(rooms, Room{ID: nd.ID, Schedulable: nd.Eligible, CPU: nd.Capacity})
	}
	n, err := Placeable(rooms, Ask{CPU: perAlloc})
	if err != nil {
		return 0
	}
	return n
}

// WaitForNodes holds a task-group scale-out to what the ready nodes can
// place. An allocation asked for beyond them waits unplaced until a node
// boots and serves nothing meanwhile, so asking for it early buys no
// capacity; it only leaves queued allocations (and, in Nomad, blocked
// evaluations) behind. The node pool is asked first, for the whole plan
// (the caller sizes the pool for the plan it passes in, before the cut),
// and the group catches up when the nodes are ready (HeldScaleOut).
//
// placeable is how many allocations of the group the ready nodes can hold
// in all, its running ones included (Placeable). The returned plan never
// goes below the current count and never above the plan it was given; when
// it was cut, Held is set and the reason says what it waits for. Plans that
// do not scale out pass unchanged.
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
