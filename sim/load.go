package sim

import (
	"math"
	"time"
)

// demandOf is a group's demand at t, anomalies included.
func (f *Fleet) demandOf(j *job, g *group, t time.Time) float64 {
	if j.isParent() || j.status == "dead" {
		return 0
	}
	var d float64
	switch {
	case g.override != nil:
		d = g.override(t)
	case j.typ == "batch" && g.cfg.Demand.Base == 0 && g.cfg.Demand.Trace == nil:
		// A batch job works flat out: every allocation it asked for is busy.
		d = float64(g.count) * g.cfg.Capacity
	case j.typ == "system" && g.cfg.Demand.Base == 0 && g.cfg.Demand.Trace == nil:
		d = float64(f.desiredCount(j, g)) * g.cfg.Capacity * 0.5
	default:
		d = g.model.at(t)
	}
	for _, an := range j.anomalies {
		if !t.Before(an.from) && t.Before(an.to) {
			d *= an.factor
		}
	}
	if j.parentID != "" {
		for _, p := range f.jobs {
			if p.id == j.parentID && p.ns == j.ns {
				for _, an := range p.anomalies {
					if !t.Before(an.from) && t.Before(an.to) {
						d *= an.factor
					}
				}
			}
		}
	}
	if d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
		return 0
	}
	return d
}

// computeLoad spreads each group's demand evenly over its running
// allocations; an allocation serves at most its capacity and its node's CPU.
func (f *Fleet) computeLoad(t time.Time) {
	for _, n := range f.nodes {
		n.demand, n.usage = 0, 0
	}
	running := map[*group][]*alloc{}
	for _, a := range f.allocs {
		a.usage, a.mem, a.demandShare = 0, 0, 0
		if a.live() && a.client == "running" {
			running[a.group] = append(running[a.group], a)
		}
	}
	for _, j := range f.jobs {
		j.unplaced = 0
		for _, g := range j.groups {
			d := f.demandOf(j, g, t)
			g.demand = d
			rs := running[g]
			g.served = 0
			if len(rs) > 0 {
				share := d / float64(len(rs))
				for _, a := range rs {
					a.demandShare = share
					a.usage = math.Min(share, g.cfg.Capacity)
					a.node.demand += share
					a.node.usage += a.usage
				}
			}
			if want := f.desiredCount(j, g); want > 0 && g.queued > 0 {
				j.unplaced += d * float64(g.queued) / float64(want)
			}
		}
	}
	// A node cannot give more CPU than it has: scale its allocations down.
	for _, n := range f.nodes {
		capacity := float64(n.cpu - n.resCPU)
		if n.usage > capacity && n.usage > 0 {
			k := capacity / n.usage
			for _, a := range f.allocs {
				if a.node == n && a.usage > 0 {
					a.usage *= k
				}
			}
			n.usage = capacity
		}
	}
	for _, a := range f.allocs {
		if a.usage > 0 || (a.live() && a.client == "running") {
			g := a.group
			util := 0.0
			if g.cfg.Capacity > 0 {
				util = math.Min(1, a.usage/g.cfg.Capacity)
			}
			dm := g.cfg.Demand
			a.mem = float64(g.cfg.MemoryMB) * (dm.MemoryIdle + (dm.MemoryBusy-dm.MemoryIdle)*util)
		}
	}
	for _, j := range f.jobs {
		for _, g := range j.groups {
			g.served = 0
		}
	}
	for _, a := range f.allocs {
		if a.usage > 0 {
			a.group.served += a.usage
		}
	}
}
