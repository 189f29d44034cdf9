package sim

import (
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/hashicorp/nomad/api"
)

// The operations below are what the HTTP API does, callable in-process by
// the closed-loop benchmark and the demo. Refusals are *APIError with the
// status and message Nomad answers.

// ScaleGroup sets a task group's count, as POST /v1/job/:id/scale does,
// and records a scaling event. An empty namespace means "default".
func (f *Fleet) ScaleGroup(namespace, jobID, group string, count int, message string) error {
	c := int64(count)
	_, err := f.scale(namespace, jobID, &api.ScalingRequest{
		Count: &c, Message: message,
		Target: map[string]string{"Job": jobID, "Group": group},
	})
	return err
}

func (f *Fleet) scale(namespace, jobID string, req *api.ScalingRequest) (*api.JobRegisterResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.findJob(namespace, jobID)
	if j == nil || j.parentID != "" && j.status == "dead" {
		return nil, apiErr(http.StatusNotFound, "job %q not found", jobID)
	}
	if req.Count != nil && *req.Count < 0 {
		return nil, apiErr(http.StatusBadRequest, "scaling action count can't be negative")
	}
	if j.typ == "system" && req.Count != nil && *req.Count > 1 {
		return nil, apiErr(http.StatusBadRequest, `jobs of type "system" can only be scaled to 1 or 0`)
	}
	name := req.Target["Group"]
	g := j.group(name)
	if g == nil {
		return nil, apiErr(http.StatusBadRequest, "task group %q specified for scaling does not exist in job", name)
	}
	ts := f.now.UnixNano()
	ev := api.ScalingEvent{
		Count: req.Count, PreviousCount: int64(g.count), Error: req.Error,
		Message: req.Message, Meta: req.Meta, Time: uint64(ts),
	}
	resp := &api.JobRegisterResponse{}
	if req.Count != nil {
		if s := g.cfg.Scaling; s != nil {
			if *req.Count < int64(s.Min) {
				return nil, apiErr(http.StatusBadRequest, "group count was less than scaling policy minimum: %d < %d", *req.Count, s.Min)
			}
			if *req.Count > int64(s.Max) {
				return nil, apiErr(http.StatusBadRequest, "group count was greater than scaling policy maximum: %d > %d", *req.Count, s.Max)
			}
		}
		if d := f.activeDeployment(j); d != nil {
			return nil, apiErr(http.StatusBadRequest, "job scaling blocked due to active deployment")
		}
		// Nomad checks the index only from 1.8.2; before, a scale with a
		// stale index is applied.
		if f.cfg.version.enforcesScaleIndex() && req.JobModifyIndex > 0 && req.JobModifyIndex != j.jobModifyIdx {
			return nil, apiErr(http.StatusInternalServerError,
				"Enforcing job modify index %d: job exists with conflicting job modify index: %d", req.JobModifyIndex, j.jobModifyIdx)
		}
		g.count = int(*req.Count)
		if j.typ != "batch" {
			// A new job version starts a deployment of the whole job:
			// its health counts begin again from nothing.
			for _, gg := range j.groups {
				gg.deployedAt = f.now
			}
		}
		j.version++
		j.submitTime = ts
		j.jobModifyIdx = f.bump()
		j.modifyIndex = j.jobModifyIdx
		resp.JobModifyIndex = j.jobModifyIdx
		if !j.isParent() {
			resp.EvalID = f.newID("eval")
			resp.EvalCreateIndex = f.bump()
			ev.EvalID = &resp.EvalID
		}
		if j.cfg.Deployment > 0 && j.typ == "service" {
			f.startDeployment(j, time.Duration(j.cfg.Deployment))
		}
		f.dirty = true
		f.schedule()
		f.logger.Info("scaled group", "job", j.id, "group", name, "from", ev.PreviousCount, "to", *req.Count, "message", req.Message)
	} else {
		resp.JobModifyIndex = j.jobModifyIdx
	}
	ev.CreateIndex = f.bump()
	g.events = append([]api.ScalingEvent{ev}, g.events...)
	if len(g.events) > 20 { // Nomad keeps the last 20 events per group
		g.events = g.events[:20]
	}
	resp.LastIndex = f.index
	return resp, nil
}

func (f *Fleet) activeDeployment(j *job) *deployment {
	for i := len(f.deploys) - 1; i >= 0; i-- {
		d := f.deploys[i]
		if d.job == j {
			if d.status == "running" {
				return d
			}
			return nil
		}
	}
	return nil
}

// StartDeployment makes a job's deployment active for d, during which Nomad
// refuses to scale it.
func (f *Fleet) StartDeployment(namespace, jobID string, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.findJob(namespace, jobID)
	if j == nil {
		return apiErr(http.StatusNotFound, "job not found")
	}
	f.startDeployment(j, d)
	return nil
}

func (f *Fleet) startDeployment(j *job, d time.Duration) {
	for _, old := range f.deploys {
		if old.job == j && old.status == "running" {
			old.status = "cancelled"
			old.modifyIndex = f.bump()
		}
	}
	for _, g := range j.groups {
		g.deployedAt = f.now
	}
	idx := f.bump()
	dep := &deployment{id: f.newID("deployment"), job: j, status: "running", until: f.now.Add(d),
		createIndex: idx, modifyIndex: idx, desired: map[string]int{}}
	for _, g := range j.groups {
		dep.desired[g.cfg.Name] = g.count
	}
	f.deploys = append(f.deploys, dep)
	if len(f.deploys) > 200 {
		f.deploys = f.deploys[len(f.deploys)-200:]
	}
}

// StopAlloc stops an allocation and lets the scheduler replace it,
// preferably on another node, as POST /v1/allocation/:id/stop does.
func (f *Fleet) StopAlloc(id string) (evalID string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.findAlloc(id)
	if a == nil {
		return "", apiErr(http.StatusNotFound, "alloc not found")
	}
	if a.live() {
		f.stopAlloc(a, "alloc was stopped by the operator", "complete")
		a.migrate = true
		f.schedule()
		f.logger.Info("stopped allocation", "alloc", a.name, "node", a.node.name, "replacement", a.nextAlloc)
	}
	return f.newID("eval"), nil
}

// SetEligibility marks a node eligible or ineligible for new placements.
func (f *Fleet) SetEligibility(nodeID string, eligible bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.findNode(nodeID)
	if n == nil {
		return apiErr(http.StatusNotFound, "node not found")
	}
	if eligible && n.drain != nil {
		return apiErr(http.StatusBadRequest, "can not set node's scheduling eligibility to eligible while it is draining")
	}
	if n.eligible != eligible {
		f.retireNode(n)
		n.eligible = eligible
		n.modifyIndex = f.bump()
		f.dirty = true
		f.schedule()
	}
	return nil
}

// DrainNode starts (spec non-nil) or cancels a drain. Draining makes the
// node ineligible and moves its allocations to other nodes; markEligible
// on cancel makes it eligible again.
func (f *Fleet) DrainNode(nodeID string, spec *api.DrainSpec, markEligible bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.findNode(nodeID)
	if n == nil {
		return apiErr(http.StatusNotFound, "node not found")
	}
	if spec == nil {
		n.drain = nil
		if markEligible && !n.eligible {
			f.retireNode(n)
			n.eligible = true
		}
	} else {
		if n.eligible {
			f.retireNode(n)
		}
		n.drain = &api.DrainStrategy{DrainSpec: *spec, StartedAt: f.now}
		if spec.Deadline > 0 {
			n.drain.ForceDeadline = f.now.Add(spec.Deadline)
		}
		n.eligible = false
		n.lastDrain = &api.DrainMetadata{StartedAt: f.now, UpdatedAt: f.now, Status: "draining"}
		f.logger.Info("drain started", "node", n.name)
	}
	n.modifyIndex = f.bump()
	f.dirty = true
	f.schedule()
	f.finishDrains(f.now)
	return nil
}

// retireNode keeps a ready node's metrics, under its labels now, exported
// for a while: call it just before a change of its labels.
func (f *Fleet) retireNode(n *node) {
	if n.status == "ready" {
		f.retire(f.nodeSamples(n))
	}
}

// PoolStatus is a node pool's size as fleetcast's pool endpoint reports it.
type PoolStatus struct {
	Name     string
	Count    int // nodes that are ready or booting
	Ready    int
	Booting  int
	Min, Max int
	CPUMHz   int // per node
	MemoryMB int // per node
}

// SetPoolSize grows or shrinks a node pool, as a cloud autoscaling group
// would: new nodes become ready after the boot delay; removed nodes are
// the emptiest ones (booting nodes first), and their allocations are
// rescheduled.
func (f *Fleet) SetPoolSize(name string, count int) (PoolStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pools[name]
	if p == nil {
		return PoolStatus{}, apiErr(http.StatusNotFound, "node pool %q not found", name)
	}
	if count < p.cfg.Min || count > p.cfg.Max {
		return PoolStatus{}, apiErr(http.StatusBadRequest, "node pool %q size %d is outside its min %d and max %d", name, count, p.cfg.Min, p.cfg.Max)
	}
	cur := f.poolNodes(name)
	for len(cur) < count {
		n := f.addNode(p)
		n.readyAt = f.now.Add(time.Duration(f.cfg.BootDelay))
		cur = append(cur, n)
		f.logger.Info("node booting", "node", n.name, "pool", name, "ready_at", n.readyAt)
	}
	if len(cur) > count {
		sort.SliceStable(cur, func(i, k int) bool {
			bi, bk := cur[i].status == "initializing", cur[k].status == "initializing"
			if bi != bk {
				return bi
			}
			ci, _ := f.used(cur[i])
			ck, _ := f.used(cur[k])
			if ci != ck {
				return ci < ck
			}
			return cur[i].createIndex > cur[k].createIndex
		})
		for _, n := range cur[:len(cur)-count] {
			n.status = "down"
			n.downAt = f.now
			n.eligible = false
			n.modifyIndex = f.bump()
			f.logger.Info("node removed", "node", n.name, "pool", name)
		}
		f.dirty = true
		f.schedule()
	}
	return f.poolStatus(p), nil
}

// PoolSize reports a node pool's size.
func (f *Fleet) PoolSize(name string) (PoolStatus, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.poolSize(name)
}

// poolSize is PoolSize for a caller that holds the lock.
func (f *Fleet) poolSize(name string) (PoolStatus, error) {
	p := f.pools[name]
	if p == nil {
		return PoolStatus{}, apiErr(http.StatusNotFound, "node pool %q not found", name)
	}
	return f.poolStatus(p), nil
}

func (f *Fleet) poolNodes(name string) []*node {
	var out []*node
	for _, n := range f.nodes {
		if n.pool == name && n.status != "down" {
			out = append(out, n)
		}
	}
	return out
}

func (f *Fleet) poolStatus(p *pool) PoolStatus {
	st := PoolStatus{Name: p.cfg.Name, Min: p.cfg.Min, Max: p.cfg.Max, CPUMHz: p.cfg.CPUMHz, MemoryMB: p.cfg.MemoryMB}
	for _, n := range f.poolNodes(p.cfg.Name) {
		st.Count++
		if n.status == "ready" {
			st.Ready++
		} else {
			st.Booting++
		}
	}
	return st
}

// SetDemand replaces a group's demand (MHz, total over its allocations) by
// fn, for trace replay in the closed-loop benchmark; nil restores the
// configured demand. See TraceDemand.
func (f *Fleet) SetDemand(namespace, jobID, group string, fn func(time.Time) float64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.findJob(namespace, jobID)
	if j == nil {
		return apiErr(http.StatusNotFound, "job %q not found", jobID)
	}
	g := j.group(group)
	if g == nil {
		return apiErr(http.StatusNotFound, "task group %q not found in job %q", group, jobID)
	}
	g.override = fn
	f.computeLoad(f.now)
	return nil
}

// DemandAt is a group's demand at any time, past or future, anomalies
// included: what a perfect forecast would say.
func (f *Fleet) DemandAt(namespace, jobID, group string, t time.Time) (float64, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	j := f.findJob(namespace, jobID)
	if j == nil {
		return 0, apiErr(http.StatusNotFound, "job %q not found", jobID)
	}
	g := j.group(group)
	if g == nil {
		return 0, apiErr(http.StatusNotFound, "task group %q not found in job %q", group, jobID)
	}
	return f.demandOf(j, g, t), nil
}

// InjectAnomaly multiplies the demand of every group of a job (and of a
// periodic job's children) by factor from `from` until `to`.
func (f *Fleet) InjectAnomaly(jobID string, factor float64, from, to time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if factor < 0 || !to.After(from) {
		return fmt.Errorf("anomaly for job %q: want factor >= 0 and to after from", jobID)
	}
	found := false
	for _, j := range f.jobs {
		if j.id == jobID && j.parentID == "" {
			j.anomalies = append(j.anomalies, anomaly{factor: factor, from: from, to: to})
			found = true
		}
	}
	if !found {
		return apiErr(http.StatusNotFound, "job %q not found", jobID)
	}
	f.computeLoad(f.now)
	return nil
}

// NodeInfo is a node as the in-process API shows it.
type NodeInfo struct {
	ID, Name, Pool, Datacenter, Class string
	Status                            string // initializing, ready, down
	Eligible, Draining                bool
	CPUMHz, MemoryMB                  int
	AllocatedCPU, AllocatedMemory     int     // asks of placed allocations
	DemandMHz, UsedMHz                float64 // demand routed to it, CPU it gives
	Allocs                            int
}

// Nodes lists the nodes, oldest first.
func (f *Fleet) Nodes() []NodeInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]NodeInfo, 0, len(f.nodes))
	for _, n := range f.nodes {
		cpu, mem := f.used(n)
		cnt := 0
		for _, a := range f.allocs {
			if a.node == n && a.live() {
				cnt++
			}
		}
		out = append(out, NodeInfo{ID: n.id, Name: n.name, Pool: n.pool, Datacenter: n.dc, Class: n.class,
			Status: n.status, Eligible: n.eligible, Draining: n.drain != nil,
			CPUMHz: n.cpu, MemoryMB: n.mem, AllocatedCPU: cpu, AllocatedMemory: mem,
			DemandMHz: n.demand, UsedMHz: n.usage, Allocs: cnt})
	}
	return out
}

// JobInfo is a job as the in-process API shows it.
type JobInfo struct {
	ID, Namespace, Type, ParentID string
	Periodic                      string // the cron spec of a periodic parent
	Status                        string
	Meta                          map[string]string
	Groups                        []GroupInfo
}

// GroupInfo is a task group's state now.
type GroupInfo struct {
	Name                    string
	Count, Running, Pending int
	Queued                  int
	ScalingMin, ScalingMax  int // 0, 0 without a scaling block
	CPU, MemoryMB           int
	CapacityMHz             float64
	DemandMHz, ServedMHz    float64
	Overloaded              bool
	LastScaled              time.Time // zero if never
}

// Jobs lists the jobs, periodic children included.
func (f *Fleet) Jobs() []JobInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]JobInfo, 0, len(f.jobs))
	for _, j := range f.jobs {
		ji := JobInfo{ID: j.id, Namespace: j.ns, Type: j.typ, ParentID: j.parentID, Status: j.status, Meta: copyMap(j.cfg.Meta)}
		if j.isParent() {
			ji.Periodic = j.cfg.Periodic.Cron
		}
		for _, g := range j.groups {
			gi := GroupInfo{Name: g.cfg.Name, Count: g.count, Queued: g.queued, CPU: g.cfg.CPU, MemoryMB: g.cfg.MemoryMB,
				CapacityMHz: g.cfg.Capacity, DemandMHz: g.demand, ServedMHz: g.served, Overloaded: g.overloaded}
			if s := g.cfg.Scaling; s != nil {
				gi.ScalingMin, gi.ScalingMax = s.Min, s.Max
			}
			for _, e := range g.events {
				if e.Count != nil {
					gi.LastScaled = time.Unix(0, int64(e.Time))
					break
				}
			}
			for _, a := range f.allocs {
				if a.group == g && a.live() {
					if a.client == "running" {
						gi.Running++
					} else {
						gi.Pending++
					}
				}
			}
			ji.Groups = append(ji.Groups, gi)
		}
		out = append(out, ji)
	}
	return out
}

// AllocInfo is an allocation as the in-process API shows it.
type AllocInfo struct {
	ID, Name, JobID, Namespace, Group, NodeID, NodeName string
	DesiredStatus, ClientStatus                         string
	UsedMHz, DemandMHz, MemoryMB                        float64
}

// Allocs lists the allocations that hold resources (pending or running).
func (f *Fleet) Allocs() []AllocInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []AllocInfo
	for _, a := range f.allocs {
		if !a.live() {
			continue
		}
		out = append(out, AllocInfo{ID: a.id, Name: a.name, JobID: a.job.id, Namespace: a.job.ns, Group: a.group.cfg.Name,
			NodeID: a.node.id, NodeName: a.node.name, DesiredStatus: a.desired, ClientStatus: a.client,
			UsedMHz: a.usage, DemandMHz: a.demandShare, MemoryMB: a.mem})
	}
	return out
}
