package sim

import "time"

type truthAcc struct {
	jobOverloadSec    map[string]float64
	nodeOverloadSec   map[string]float64 // by node ID; kept after a node is gone
	unplacedMHzSec    float64
	nodeSeconds       float64
	capacityMHzSec    float64
	allocatedMHzSec   float64
	demandMHzSec      float64
	servedMHzSec      float64
	anyOverloadSecond float64
}

// integrate adds dt seconds of the current state to the ground truth.
func (f *Fleet) integrate(dt float64) {
	anyOver := false
	for _, n := range f.nodes {
		if n.status != "ready" {
			continue
		}
		f.truth.nodeSeconds += dt
		f.truth.capacityMHzSec += float64(n.cpu) * dt
		if n.demand > float64(n.cpu-n.resCPU)*(1+1e-9) {
			n.overloadSec += dt
			f.truth.nodeOverloadSec[n.id] += dt
			anyOver = true
		}
	}
	for _, a := range f.allocs {
		if a.live() && a.node != nil {
			f.truth.allocatedMHzSec += float64(a.group.cfg.CPU) * dt
		}
	}
	for _, j := range f.jobs {
		over := false
		for _, g := range j.groups {
			f.truth.demandMHzSec += g.demand * dt
			f.truth.servedMHzSec += g.served * dt
			if j.typ == "batch" {
				// Batch work waits rather than degrades: it is short of
				// capacity only when allocations cannot be placed.
				g.overloaded = g.queued > 0
			} else {
				g.overloaded = g.demand > g.served*(1+1e-9)+1e-9
			}
			if g.overloaded {
				over = true
			}
		}
		if over {
			j.overloadSec += dt
			key := j.id
			if j.parentID != "" {
				key = j.parentID
			}
			f.truth.jobOverloadSec[key] += dt
			anyOver = true
		}
		f.truth.unplacedMHzSec += j.unplaced * dt
	}
	if anyOver {
		f.truth.anyOverloadSecond += dt
	}
}

// Truth is the simulator's ground truth: what a perfect observer would know.
type Truth struct {
	Time time.Time
	// NodeOverloadSeconds: per node ID (removed nodes included), seconds
	// during which the demand sent to the node's allocations exceeded its CPU.
	NodeOverloadSeconds map[string]float64
	// JobOverloadSeconds: per job ID (periodic children count for their
	// parent), seconds during which some group's demand exceeded what its
	// running allocations could serve.
	JobOverloadSeconds map[string]float64
	// OverloadSeconds: seconds during which any node or job was overloaded.
	OverloadSeconds float64
	// UnplacedDemandMHz: per job ID, demand now waiting for allocations the
	// scheduler could not place; UnplacedMHzSeconds integrates all of it.
	UnplacedDemandMHz  map[string]float64
	UnplacedMHzSeconds float64
	// Now: demand, served demand, CPU of ready nodes and CPU asked by
	// placed allocations, all in MHz, and ready nodes.
	DemandMHz, ServedMHz, CapacityMHz, AllocatedMHz float64
	ReadyNodes                                      int
	// Integrals since start.
	NodeHours, CapacityMHzHours, AllocatedMHzHours, DemandMHzHours, ServedMHzHours float64
}

// Truth returns the ground truth so far.
func (f *Fleet) Truth() Truth {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.truthLocked()
}

// truthLocked is Truth for a caller that holds the lock.
func (f *Fleet) truthLocked() Truth {
	tr := Truth{
		Time:                f.now,
		NodeOverloadSeconds: map[string]float64{},
		JobOverloadSeconds:  map[string]float64{},
		UnplacedDemandMHz:   map[string]float64{},
		OverloadSeconds:     f.truth.anyOverloadSecond,
		UnplacedMHzSeconds:  f.truth.unplacedMHzSec,
		NodeHours:           f.truth.nodeSeconds / 3600,
		CapacityMHzHours:    f.truth.capacityMHzSec / 3600,
		AllocatedMHzHours:   f.truth.allocatedMHzSec / 3600,
		DemandMHzHours:      f.truth.demandMHzSec / 3600,
		ServedMHzHours:      f.truth.servedMHzSec / 3600,
	}
	for k, v := range f.truth.jobOverloadSec {
		tr.JobOverloadSeconds[k] = v
	}
	for id, v := range f.truth.nodeOverloadSec {
		tr.NodeOverloadSeconds[id] = v
	}
	for _, n := range f.nodes {
		if _, ok := tr.NodeOverloadSeconds[n.id]; !ok {
			tr.NodeOverloadSeconds[n.id] = 0
		}
		if n.status == "ready" {
			tr.ReadyNodes++
			tr.CapacityMHz += float64(n.cpu)
		}
	}
	for _, j := range f.jobs {
		key := j.id
		if j.parentID != "" {
			key = j.parentID
		}
		if j.unplaced > 0 {
			tr.UnplacedDemandMHz[key] += j.unplaced
		}
		for _, g := range j.groups {
			tr.DemandMHz += g.demand
			tr.ServedMHz += g.served
		}
	}
	for _, a := range f.allocs {
		if a.live() {
			tr.AllocatedMHz += float64(a.group.cfg.CPU)
		}
	}
	return tr
}
