package planner

import (
	"fmt"
	"math"
	"time"
)

// This file holds the decisions that tie a task group to the node pool its
// allocations run on: how many nodes a count of allocations needs, the
// pool's size when it leads the group by the boot delay, a scale-out that
// waits for nodes and catches up when they are ready, and a scale-in that
// waits for its pool. The closed-loop benchmark (internal/loopbench) takes
// all of them here; the actuator's scale_group takes the wait for nodes
// (WaitForNodes on Placeable). See internal/loopbench/README.md, "Costs and
// limits", for which the actuator does not take and why.

// AllocNodes relates a task group's allocations to the nodes of its pool.
type AllocNodes struct {
	// PerAlloc is what one allocation reserves; NodeCapacity what one node
	// offers allocations (the same unit, for example CPU MHz).
	PerAlloc, NodeCapacity float64
}

// PerNode is how many allocations one node holds.
func (a AllocNodes) PerNode() (int, error) {
	if a.PerAlloc <= 0 || math.IsNaN(a.PerAlloc) || math.IsInf(a.PerAlloc, 0) {
		return 0, fmt.Errorf("allocation size %v must be a positive number", a.PerAlloc)
	}
	k := math.Floor(a.NodeCapacity / a.PerAlloc)
	if k < 1 || math.IsNaN(k) {
		return 0, fmt.Errorf("a node of %v holds no allocation of %v", a.NodeCapacity, a.PerAlloc)
	}
	return int(min(k, 1e6)), nil
}

// Sizing is the pool's sizing for a demand given in the group's unit: a
// node serves as many whole allocations as it holds, no more.
func (a AllocNodes) Sizing() (Sizing, error) {
	k, err := a.PerNode()
	if err != nil {
		return Sizing{}, err
	}
	return Sizing{PerUnitCapacity: float64(k) * a.PerAlloc}, nil
}

// Nodes is how many nodes hold allocs allocations (Sizing.Units of their
// reservations), within the pool's bounds.
func (a AllocNodes) Nodes(allocs int, b Bounds) (int, error) {
	sz, err := a.Sizing()
	if err != nil {
		return 0, err
	}
	n, err := sz.Units(float64(max(allocs, 0)) * a.PerAlloc)
	if err != nil {
		return 0, err
	}
	return min(max(n, b.Min), b.Max), nil
}

// PoolLead is what a pool that leads its group is sized for, in the
// group's allocations.
type PoolLead struct {
	// Out is what the pool must hold when the nodes asked for now are
	// ready: the group's want over the lead window (the window plus the
	// boot delay), its count and a scale-out waiting for nodes.
	Out int
	// In is what a scale-in of the pool must still hold: the want over the
	// lead window plus the pool's cooldown (a node let go cannot be back
	// sooner), the group's own want and a scale-out waiting for nodes.
	In int
}

// PoolWants is the size the pool of size nodes wants: more nodes when Out
// needs more, fewer when In needs fewer, else as it is.
func (a AllocNodes) PoolWants(size int, l PoolLead, b Bounds) (int, error) {
	out, err := a.Nodes(l.Out, b)
	if err != nil {
		return 0, err
	}
	if out > size {
		return out, nil
	}
	in, err := a.Nodes(l.In, b)
	if err != nil {
		return 0, err
	}
	return min(size, in), nil
}

// PoolScaleIn is what a scale-in of a pool of size nodes is sized for, in
// allocations: what In needs, and never less than the count allocations
// the group keeps. ok is false when those already need every node: the
// pool keeps them all.
func (a AllocNodes) PoolScaleIn(size int, l PoolLead, count int, b Bounds) (allocs int, ok bool, err error) {
	keep, err := a.Nodes(count, b)
	if err != nil {
		return 0, false, err
	}
	if keep >= size {
		return 0, false, nil
	}
	return max(l.In, count), true, nil
}

// PoolSheds says whether the pool lets a node go at now: it wants fewer
// nodes than it has, its surplus has held since surplusSince for
// surplusFor (the alert's `for`), and its cooldown since lastChange is over.
func PoolSheds(want, size int, surplusSince time.Time, surplusFor time.Duration, lastChange time.Time, cooldown time.Duration, now time.Time) bool {
	if want >= size || surplusSince.IsZero() || now.Sub(surplusSince) < surplusFor {
		return false
	}
	return lastChange.IsZero() || now.Sub(lastChange) >= cooldown
}

// ScaleInWaitsForPool says whether a group's scale-in waits for its pool: a
// scale-in in a minute the pool keeps all its nodes frees nothing (on a pool
// of its own, the allocations it would stop run on nodes paid for anyway and
// serve the spikes the forecast does not see), so it waits for the minute
// the pool lets a node go. Only for a group alone on its pool: on a shared
// pool the room would serve other jobs.
func ScaleInWaitsForPool(dir Direction, poolSheds bool) bool {
	return dir == In && !poolSheds
}

// HeldScaleOut is a task group's scale-out that WaitForNodes cut short: the
// count decided, and when. The group catches up as nodes become ready, with
// no cooldown of its own (it is the rest of a decision already taken; the
// cooldown runs from the decision). The zero value holds nothing.
type HeldScaleOut struct {
	// Goal is the count decided (0: nothing waits).
	Goal int
	// DecidedAt is when the decision acted; CaughtUpAt when the group last
	// caught up on it (zero if not since).
	DecidedAt, CaughtUpAt time.Time
}

// Waiting says whether a count below the goal still waits for nodes.
func (h HeldScaleOut) Waiting(count int) bool { return h.Goal > count }

// Want drops the goal when the group's want no longer exceeds its count:
// the forecast no longer asks for what was held back.
func (h *HeldScaleOut) Want(want, count int) {
	if want <= count {
		h.Goal = 0
	}
}

// CooldownFrom is the last change the group's cooldown runs from: the
// decision, when the last change was a catch-up on it.
func (h HeldScaleOut) CooldownFrom(lastChange time.Time) time.Time {
	if !h.CaughtUpAt.IsZero() && lastChange.Equal(h.CaughtUpAt) {
		return h.DecidedAt
	}
	return lastChange
}

// Hold cuts plan p to what placeable allocations allow (WaitForNodes) and
// remembers the goal it was cut from; a plan that acts is a new decision.
func (h *HeldScaleOut) Hold(p CountPlan, placeable int, now time.Time) CountPlan {
	goal := p.To
	p, waiting := WaitForNodes(p, placeable)
	if !p.Noop || waiting {
		h.Goal = 0
		if waiting {
			h.Goal = goal
		}
	}
	if !p.Noop {
		h.DecidedAt, h.CaughtUpAt = now, time.Time{}
	}
	return p
}

// CatchUp moves a group of count allocations toward the goal, no further
// than its want now and than placeable allocations allow. The plan is a
// no-op when nothing more can be placed; the goal is dropped once reached.
func (h *HeldScaleOut) CatchUp(count, want, placeable int, now time.Time) CountPlan {
	p := CountPlan{From: count, To: count, Wanted: want, Noop: true}
	if h.Goal <= count {
		return p
	}
	to := min(h.Goal, want)
	placed := min(to, max(count, placeable))
	if placed > count {
		p.To, p.Noop = placed, false
		p.Held = placed < to
		p.Reason = fmt.Sprintf("catching up on a scale-out held for nodes: %d -> %d of %d", count, placed, to)
		h.CaughtUpAt = now
	}
	if placed >= to {
		h.Goal = 0
	}
	return p
}
