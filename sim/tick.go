package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Advance moves simulated time forward to `to` in steps, running the
// scheduler, periodic launches, boots and drains and integrating the ground
// truth. Times at or before the fleet's current time are ignored.
func (f *Fleet) Advance(to time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance(to)
}

func (f *Fleet) advance(to time.Time) {
	for f.now.Before(to) {
		next := f.now.Add(f.step)
		if next.After(to) {
			next = to
		}
		dt := next.Sub(f.now).Seconds()
		f.now = next
		f.tick(next, dt)
	}
}

// Run advances the fleet to now() every tick until ctx ends. With an
// accelerated now (see cmd sim --speed) simulated time runs faster.
func (f *Fleet) Run(ctx context.Context, tick time.Duration, now func() time.Time) {
	if tick <= 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		f.Advance(now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (f *Fleet) tick(t time.Time, dt float64) {
	// The state computed at the previous step held until now.
	f.integrate(dt)
	// Nodes finish booting; removed nodes are forgotten after a while.
	kept := f.nodes[:0]
	for _, n := range f.nodes {
		if n.status == "initializing" && !t.Before(n.readyAt) {
			n.status = "ready"
			n.modifyIndex = f.bump()
			f.dirty = true
			f.logger.Info("node ready", "node", n.name, "pool", n.pool)
		}
		if n.status == "down" && t.Sub(n.downAt) > time.Hour {
			continue
		}
		kept = append(kept, n)
	}
	f.nodes = kept
	for _, a := range f.allocs {
		if a.client == "pending" && a.desired == "run" && !t.Before(a.startAt) {
			a.client = "running"
			a.modifyIdx = f.bump()
			a.modifyTime = t
		}
	}
	for _, d := range f.deploys {
		if d.status == "running" && !t.Before(d.until) {
			d.status = "successful"
			d.modifyIndex = f.bump()
		}
	}
	f.periodic(t)
	if f.dirty || f.anyQueued() {
		f.schedule()
	}
	f.finishDrains(t)
	f.gc(t)
	f.pruneGhosts(t)
	f.computeLoad(t)
}

func (f *Fleet) anyQueued() bool {
	for _, j := range f.jobs {
		for _, g := range j.groups {
			if g.queued > 0 {
				return true
			}
		}
	}
	return false
}

// periodic launches children of periodic jobs when their cron fires and
// finishes children whose run is over.
func (f *Fleet) periodic(t time.Time) {
	for _, j := range f.jobs {
		if j.parentID != "" && j.status == "running" && !t.Before(j.endAt) {
			j.status = "dead"
			j.deadAt = t
			j.modifyIndex = f.bump()
			for _, a := range f.allocs {
				if a.job == j && !a.terminal() {
					if exportsAllocMetrics(a) {
						f.retire(f.allocSamples(a))
					}
					a.desired, a.client, a.clientDesc = "run", "complete", "All tasks have completed"
					a.modifyIdx = f.bump()
					a.modifyTime = t
				}
			}
			f.dirty = true
		}
	}
	for _, j := range append([]*job(nil), f.jobs...) {
		if !j.isParent() {
			continue
		}
		for n := 0; !j.nextLaunch.IsZero() && !t.Before(j.nextLaunch) && n < 1000; n++ {
			launch := j.nextLaunch
			j.nextLaunch = j.cron.Next(launch.In(j.cronLoc))
			if j.cfg.Periodic.ProhibitOverlap && f.childRunning(j) {
				continue
			}
			jc := j.cfg
			jc.ID = fmt.Sprintf("%s/periodic-%d", j.id, launch.Unix())
			jc.Periodic = nil
			child, err := f.newJob(jc, j.id)
			if err != nil {
				f.logger.Error("launch periodic child", "job", j.id, "err", err)
				continue
			}
			child.submitTime = launch.UnixNano()
			child.endAt = launch.Add(time.Duration(j.cfg.Periodic.Duration))
			f.jobs = append(f.jobs, child)
			f.logger.Info("periodic launch", "job", j.id, "child", child.id, "at", launch)
		}
	}
}

func (f *Fleet) childRunning(parent *job) bool {
	for _, j := range f.jobs {
		if j.parentID == parent.id && j.ns == parent.ns && j.status == "running" {
			return true
		}
	}
	return false
}

// gc forgets dead periodic children an hour after they finished and
// terminal allocations that have been replaced long ago, as Nomad's garbage
// collector does, so that a long run keeps a bounded state.
func (f *Fleet) gc(t time.Time) {
	keptJobs := f.jobs[:0]
	gone := map[*job]bool{}
	for _, j := range f.jobs {
		if j.parentID != "" && j.status == "dead" && t.Sub(j.deadAt) > time.Hour {
			gone[j] = true
			continue
		}
		keptJobs = append(keptJobs, j)
	}
	f.jobs = keptJobs
	keptAllocs := f.allocs[:0]
	for _, a := range f.allocs {
		if gone[a.job] || (a.terminal() && t.Sub(a.modifyTime) > time.Hour) {
			continue
		}
		keptAllocs = append(keptAllocs, a)
	}
	f.allocs = keptAllocs
}

func (f *Fleet) finishDrains(t time.Time) {
	for _, n := range f.nodes {
		if n.drain == nil {
			continue
		}
		busy := false
		for _, a := range f.allocs {
			if a.node == n && a.live() && !(a.job.typ == "system" && n.drain.IgnoreSystemJobs) {
				busy = true
				break
			}
		}
		if !busy {
			n.lastDrain = &api.DrainMetadata{StartedAt: n.drain.StartedAt, UpdatedAt: t, Status: "complete"}
			n.drain = nil
			n.modifyIndex = f.bump()
			f.logger.Info("drain complete", "node", n.name)
		}
	}
}
