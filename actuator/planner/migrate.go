package planner

import (
	"fmt"
	"sort"
)

// Node is one client node as the planners see it. Capacity and Predicted are
// in one resource unit (for example CPU MHz).
type Node struct {
	ID, Pool string
	Capacity float64
	// Predicted is the node's predicted peak use over the overload window.
	Predicted float64
	// Eligible is false for nodes that take no new work (ineligible, draining, down).
	Eligible bool
	// Allocs is the number of running allocations, for choosing nodes to remove.
	Allocs int
}

// Alloc is the workload profile of one allocation on the overloaded node.
type Alloc struct {
	ID, Namespace, Job, Group string
	// Type is the job type: service, batch or system.
	Type string
	// Predicted is the allocation's predicted peak use, in the node's unit.
	Predicted float64
	// Pinned says why the allocation cannot move ("" if it can): host
	// volumes, sticky or ephemeral-migrate disks, distinct_hosts with no
	// room, fleetcast.migrate = "false", system jobs.
	Pinned string
	// StayWith groups allocations that must move together (from job meta
	// fleetcast.colocate); empty for none.
	StayWith string
	// GroupHealthy is the number of healthy allocations in the task group
	// and MinHealthy the fewest that must stay up (count - migrate.max_parallel).
	GroupHealthy, MinHealthy int
}

// MigratePolicy says when a node counts as overloaded.
type MigratePolicy struct {
	// Threshold is the fraction of capacity the predicted peak must stay under.
	Threshold float64
	// MaxAllocs bounds how many allocations one plan may stop.
	MaxAllocs int
}

// MigratePlan is the allocations to stop so Nomad reschedules them elsewhere.
type MigratePlan struct {
	Node string
	// Stop lists the chosen allocation IDs, in stopping order.
	Stop []string
	// Moved is their predicted use; After the node's predicted peak without them.
	Moved, After float64
	Noop         bool
	Reason       string
	// Skipped says, per allocation ID, why it was not a candidate.
	Skipped map[string]string
}

type unit struct {
	key    string
	allocs []Alloc
	use    float64
	cost   float64
}

// disruption is the cost of moving an allocation: batch work restarts
// cheapest, then services; each allocation counts.
func disruption(a Alloc) float64 {
	if a.Type == "batch" {
		return 1
	}
	return 2
}

// PlanMigrate picks the fewest, least disruptive allocations whose removal
// brings the node's predicted peak under threshold × capacity, and checks
// that the rest of the fleet has predicted room for them.
func PlanMigrate(node Node, allocs []Alloc, fleet []Node, p MigratePolicy) (MigratePlan, error) {
	if p.Threshold <= 0 || p.Threshold > 1 {
		return MigratePlan{}, fmt.Errorf("threshold %v must be in (0, 1]", p.Threshold)
	}
	if node.Capacity <= 0 {
		return MigratePlan{}, fmt.Errorf("node %s: capacity %v must be positive", node.ID, node.Capacity)
	}
	plan := MigratePlan{Node: node.ID, After: node.Predicted, Skipped: map[string]string{}}
	limit := p.Threshold * node.Capacity
	excess := node.Predicted - limit
	if excess <= 0 {
		plan.Noop = true
		plan.Reason = fmt.Sprintf("predicted peak %g is under %g (%.0f%% of %g)", node.Predicted, limit, p.Threshold*100, node.Capacity)
		return plan, nil
	}
	chosen := chooseUnits(movableUnits(allocs, plan.Skipped), excess, plan.Skipped)
	for _, u := range chosen {
		for _, a := range u.allocs {
			plan.Stop = append(plan.Stop, a.ID)
		}
		plan.Moved += u.use
	}
	if p.MaxAllocs > 0 && len(plan.Stop) > p.MaxAllocs {
		plan.Noop = true
		plan.Reason = fmt.Sprintf("needs %d allocations moved, over max_allocs %d", len(plan.Stop), p.MaxAllocs)
		plan.Stop = nil
		return plan, nil
	}
	if plan.Moved < excess {
		plan.Noop = true
		plan.Reason = fmt.Sprintf("cannot bring predicted peak %g under %g: movable allocations carry only %g", node.Predicted, limit, plan.Moved)
		plan.Stop = nil
		return plan, nil
	}
	if u := unplaced(chosen, node.ID, fleet, p.Threshold); u != nil {
		plan.Noop = true
		plan.Reason = fmt.Sprintf("no other eligible node has predicted room for %g (from %s)", u.use, u.allocs[0].ID)
		plan.Stop = nil
		return plan, nil
	}
	plan.After = node.Predicted - plan.Moved
	plan.Reason = fmt.Sprintf("stop %d allocation(s) carrying %g: predicted peak %g -> %g, under %g", len(plan.Stop), plan.Moved, node.Predicted, plan.After, limit)
	return plan, nil
}

// movableUnits groups the allocations that may move into units that move
// together (fleetcast.stay_with, fleetcast.colocate), in the order they
// come. It records in skipped why each other allocation stays: its own
// pin, or a pinned member of its unit. Units that carry nothing are left
// out: moving them would not help.
func movableUnits(allocs []Alloc, skipped map[string]string) []*unit {
	byKey := map[string]*unit{}
	var order []string
	for _, a := range allocs {
		if a.Type == "system" && a.Pinned == "" {
			a.Pinned = "system job runs on every node"
		}
		if a.Pinned != "" {
			skipped[a.ID] = a.Pinned
			continue
		}
		key := "alloc/" + a.ID
		if a.StayWith != "" {
			key = "with/" + a.Namespace + "/" + a.StayWith
		}
		u, ok := byKey[key]
		if !ok {
			u = &unit{key: key}
			byKey[key] = u
			order = append(order, key)
		}
		u.allocs = append(u.allocs, a)
		u.use += a.Predicted
		u.cost += disruption(a)
	}
	// A unit with a pinned member cannot move at all.
	for _, a := range allocs {
		if a.StayWith == "" || skipped[a.ID] == "" {
			continue
		}
		key := "with/" + a.Namespace + "/" + a.StayWith
		if u, ok := byKey[key]; ok {
			for _, m := range u.allocs {
				skipped[m.ID] = fmt.Sprintf("must stay with %s, which cannot move", a.ID)
			}
			delete(byKey, key)
		}
	}
	units := make([]*unit, 0, len(byKey))
	for _, k := range order {
		if u, ok := byKey[k]; ok && u.use > 0 {
			units = append(units, u)
		}
	}
	return units
}

// chooseUnits picks the units to move, within each task group's disruption
// budget: the least disruptive, then the smallest, single unit that covers
// the excess if one does; otherwise the largest first until the excess is
// covered, so the fewest allocations move. It may return too little; the
// caller checks. Units skipped for the budget are recorded in skipped.
func chooseUnits(units []*unit, excess float64, skipped map[string]string) []*unit {
	budget := disruptionBudget{}
	var best *unit
	for _, u := range units {
		if u.use < excess || !budget.fits(u) {
			continue
		}
		if best == nil || u.cost < best.cost || (u.cost == best.cost && u.use < best.use) {
			best = u
		}
	}
	if best != nil {
		return []*unit{best}
	}
	sort.SliceStable(units, func(i, j int) bool {
		if units[i].use != units[j].use {
			return units[i].use > units[j].use
		}
		return units[i].cost < units[j].cost
	})
	var chosen []*unit
	moved := 0.0
	for _, u := range units {
		if moved >= excess {
			break
		}
		if !budget.fits(u) {
			for _, a := range u.allocs {
				skipped[a.ID] = "disruption budget: its group would fall below its healthy minimum"
			}
			continue
		}
		chosen = append(chosen, u)
		budget.take(u)
		moved += u.use
	}
	return chosen
}

// disruptionBudget is how many more allocations each task group (by
// namespace/job/group) may lose in this plan.
type disruptionBudget map[string]int

func groupOf(a Alloc) string { return a.Namespace + "/" + a.Job + "/" + a.Group }

// left is how many more allocations a's group may lose: its healthy ones
// above the minimum that must stay up, less those this plan took.
func (b disruptionBudget) left(a Alloc) int {
	if l, ok := b[groupOf(a)]; ok {
		return l
	}
	return a.GroupHealthy - max(a.MinHealthy, 0)
}

// fits says whether moving u keeps every group it touches at its minimum.
func (b disruptionBudget) fits(u *unit) bool {
	need := map[string]int{}
	for _, a := range u.allocs {
		need[groupOf(a)]++
	}
	for _, a := range u.allocs {
		if need[groupOf(a)] > b.left(a) {
			return false
		}
	}
	return true
}

// take charges u's allocations to their groups.
func (b disruptionBudget) take(u *unit) {
	for _, a := range u.allocs {
		b[groupOf(a)] = b.left(a) - 1
	}
}

// unplaced checks that the chosen units fit, first-fit decreasing, into the
// predicted headroom (under threshold × capacity) of the other eligible
// nodes, and returns the first unit that does not (nil when all fit).
func unplaced(chosen []*unit, self string, fleet []Node, threshold float64) *unit {
	room := make([]float64, 0, len(fleet))
	for _, n := range fleet {
		if n.ID == self || !n.Eligible || n.Capacity <= 0 {
			continue
		}
		if r := threshold*n.Capacity - n.Predicted; r > 0 {
			room = append(room, r)
		}
	}
	sort.Slice(chosen, func(i, j int) bool { return chosen[i].use > chosen[j].use })
	for _, u := range chosen {
		placed := false
		for i := range room {
			if room[i] >= u.use {
				room[i] -= u.use
				placed = true
				break
			}
		}
		if !placed {
			return u
		}
	}
	return nil
}
