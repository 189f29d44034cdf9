package sim

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// schedule reconciles every job with its allocations, as Nomad's service,
// batch and system schedulers do: allocations on lost or draining nodes are
// stopped and replaced, groups are brought to their count, and new
// allocations go to the feasible node with the best bin-packing score.
func (f *Fleet) schedule() {
	replace := map[*group][]*alloc{} // stopped allocations awaiting a replacement
	for _, a := range f.allocs {
		if !a.live() {
			if a.migrate && a.nextAlloc == "" && a.job.status != "dead" {
				replace[a.group] = append(replace[a.group], a)
			}
			continue
		}
		n := a.node
		switch {
		case n.status == "down":
			f.stopAlloc(a, "alloc is lost since its node is down", "lost")
			a.migrate = true
			replace[a.group] = append(replace[a.group], a)
		case n.drain != nil && !(a.job.typ == "system" && n.drain.IgnoreSystemJobs):
			f.stopAlloc(a, "alloc is being migrated", "complete")
			a.migrate = true
			replace[a.group] = append(replace[a.group], a)
		}
	}
	jobs := append([]*job(nil), f.jobs...)
	sort.SliceStable(jobs, func(i, k int) bool { return jobs[i].cfg.Priority > jobs[k].cfg.Priority })
	for _, j := range jobs {
		for _, g := range j.groups {
			if j.typ == "system" {
				f.reconcileSystem(j, g)
				continue
			}
			var live []*alloc
			for _, a := range f.allocs {
				if a.group == g && a.live() {
					live = append(live, a)
				}
			}
			want := f.desiredCount(j, g)
			if len(live) > want {
				// Scale in: stop pending allocations first, then the highest indexes.
				sort.SliceStable(live, func(i, k int) bool {
					pi, pk := live[i].client == "pending", live[k].client == "pending"
					if pi != pk {
						return pi
					}
					return live[i].index > live[k].index
				})
				for _, a := range live[:len(live)-want] {
					f.stopAlloc(a, "alloc not needed due to job update", "complete")
				}
				live = live[len(live)-want:]
			}
			g.queued = 0
			for len(live) < want {
				var prev *alloc
				if q := replace[g]; len(q) > 0 {
					prev, replace[g] = q[0], q[1:]
				}
				var avoid *node
				if prev != nil {
					avoid = prev.node
				}
				n := f.pickNode(j, g, avoid)
				if n == nil {
					g.queued = want - len(live)
					break
				}
				a := f.place(j, g, n)
				if prev != nil {
					prev.nextAlloc = a.id
					a.prevAlloc = prev.id
				}
				live = append(live, a)
			}
		}
	}
	for _, j := range f.jobs {
		for _, g := range j.groups {
			switch {
			case g.queued > 0 && g.blocked == "":
				g.blocked, g.blockedSince = f.newID("eval"), f.now
				f.bump()
			case g.queued == 0 && g.blocked != "":
				g.blocked = ""
				f.bump()
			}
		}
	}
	f.dirty = false
	f.computeLoad(f.now)
}

// reconcileSystem puts one allocation of a system job's group on every
// feasible node and stops those on nodes that no longer are.
func (f *Fleet) reconcileSystem(j *job, g *group) {
	on := map[*node]*alloc{}
	for _, a := range f.allocs {
		if a.group == g && a.live() {
			if on[a.node] != nil || !f.nodeFits(j, a.node) || g.count == 0 || j.status == "dead" {
				f.stopAlloc(a, "alloc not needed as node is not eligible", "complete")
				continue
			}
			on[a.node] = a
		}
	}
	g.queued = 0
	if g.count == 0 || j.status == "dead" {
		return
	}
	for _, n := range f.nodes {
		if on[n] != nil || !f.nodeFits(j, n) {
			continue
		}
		if !f.hasRoom(n, g) {
			g.queued++
			continue
		}
		f.place(j, g, n)
	}
}

// nodeFits says whether a node may run the job: ready, eligible, not
// draining, in the job's pool and datacenters. Room and distinct_hosts are
// checked apart, as they depend on the group.
func (f *Fleet) nodeFits(j *job, n *node) bool {
	if n.status != "ready" || !n.eligible || n.drain != nil || n.pool != j.cfg.NodePool {
		return false
	}
	okDC := false
	for _, dc := range j.cfg.Datacenters {
		if dc == "*" || dc == n.dc || (strings.HasSuffix(dc, "*") && strings.HasPrefix(n.dc, strings.TrimSuffix(dc, "*"))) {
			okDC = true
			break
		}
	}
	return okDC
}

// distinctOK applies distinct_hosts: no other allocation of the job (or
// group) on the node.
func (f *Fleet) distinctOK(j *job, g *group, n *node) bool {
	if !j.cfg.DistinctHosts && !g.cfg.DistinctHosts {
		return true
	}
	for _, a := range f.allocs {
		if a.node != n || !a.live() {
			continue
		}
		if j.cfg.DistinctHosts && a.job == j {
			return false
		}
		if g.cfg.DistinctHosts && a.group == g {
			return false
		}
	}
	return true
}

// used is the CPU and memory that placed allocations ask of a node.
func (f *Fleet) used(n *node) (cpu, mem int) {
	for _, a := range f.allocs {
		if a.node == n && a.live() {
			cpu += a.group.cfg.CPU
			mem += a.group.cfg.MemoryMB
		}
	}
	return cpu, mem
}

func (f *Fleet) hasRoom(n *node, g *group) bool {
	cpu, mem := f.used(n)
	return cpu+g.cfg.CPU <= n.cpu-n.resCPU && mem+g.cfg.MemoryMB <= n.mem-n.resMem
}

// pickNode returns the feasible node with the best bin-packing score, the
// fuller the better (Nomad's default binpack algorithm); a node an
// allocation is being moved off loses a point, as Nomad's reschedule
// penalty does. Ties go to the older node.
func (f *Fleet) pickNode(j *job, g *group, avoid *node) *node {
	var best *node
	bestScore := math.Inf(-1)
	for _, n := range f.nodes {
		if !f.nodeFits(j, n) || !f.distinctOK(j, g, n) || !f.hasRoom(n, g) {
			continue
		}
		cpu, mem := f.used(n)
		freeCPU := 1 - float64(cpu+g.cfg.CPU)/float64(n.cpu-n.resCPU)
		freeMem := 1 - float64(mem+g.cfg.MemoryMB)/float64(n.mem-n.resMem)
		score := (20 - (math.Pow(10, freeCPU) + math.Pow(10, freeMem))) / 18
		if n == avoid {
			score--
		}
		if score > bestScore+1e-12 {
			best, bestScore = n, score
		}
	}
	return best
}

func (f *Fleet) place(j *job, g *group, n *node) *alloc {
	used := map[int]bool{}
	for _, a := range f.allocs {
		if a.group == g && a.live() {
			used[a.index] = true
		}
	}
	idx := 0
	for used[idx] {
		idx++
	}
	ci := f.bump()
	a := &alloc{
		id: f.newID("alloc"), evalID: f.newID("eval"),
		name: fmt.Sprintf("%s.%s[%d]", j.id, g.cfg.Name, idx),
		job:  j, group: g, node: n, index: idx,
		desired: "run", client: "pending",
		createTime: f.now, modifyTime: f.now,
		startAt:     f.now.Add(time.Duration(f.cfg.AllocStartDelay)),
		createIndex: ci, modifyIdx: ci,
	}
	f.allocs = append(f.allocs, a)
	f.logger.Debug("placed allocation", "alloc", a.name, "node", n.name)
	return a
}

func (f *Fleet) stopAlloc(a *alloc, why, client string) {
	if exportsAllocMetrics(a) {
		f.retire(f.allocSamples(a)) // its client keeps exporting them a while
	}
	a.desired, a.desiredDesc = "stop", why
	a.client = client
	a.modifyIdx = f.bump()
	a.modifyTime = f.now
	f.dirty = true
}

// desiredCount is how many allocations a group should have.
func (f *Fleet) desiredCount(j *job, g *group) int {
	if j.isParent() || j.status == "dead" {
		return 0
	}
	if j.typ == "system" {
		if g.count == 0 {
			return 0
		}
		n := 0
		for _, nd := range f.nodes {
			if f.nodeFits(j, nd) {
				n++
			}
		}
		return n
	}
	return g.count
}
