package sim

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/nomad/api"
)

// This file turns the fleet's state into the nomad/api types, so that the
// JSON is what a Nomad agent answers.

func ptr[T any](v T) *T { return &v }

func (f *Fleet) jobStatus(j *job) string {
	if j.isParent() {
		return "running"
	}
	if j.status == "dead" {
		return "dead"
	}
	for _, a := range f.allocs {
		if a.job == j && a.live() {
			return "running"
		}
	}
	for _, g := range j.groups {
		if f.desiredCount(j, g) > 0 {
			return "pending"
		}
	}
	// Nothing to run: Nomad calls a job without allocations dead.
	return "dead"
}

func (f *Fleet) apiJob(j *job) *api.Job {
	out := &api.Job{
		Region: ptr(f.cfg.Region), Namespace: ptr(j.ns), ID: ptr(j.id), Name: ptr(j.cfg.Name),
		Type: ptr(j.typ), Priority: ptr(j.cfg.Priority), AllAtOnce: ptr(false),
		Datacenters: append([]string(nil), j.cfg.Datacenters...), NodePool: ptr(j.cfg.NodePool),
		Meta: copyMap(j.cfg.Meta), Stop: ptr(false), Status: ptr(f.jobStatus(j)), StatusDescription: ptr(""),
		Stable: ptr(true), Version: ptr(j.version), SubmitTime: ptr(j.submitTime),
		CreateIndex: ptr(j.createIndex), ModifyIndex: ptr(j.modifyIndex), JobModifyIndex: ptr(j.jobModifyIdx),
	}
	if j.parentID != "" {
		out.ParentID = ptr(j.parentID)
	} else {
		out.ParentID = ptr("")
	}
	if j.cfg.DistinctHosts {
		out.Constraints = []*api.Constraint{{Operand: "distinct_hosts", RTarget: "true"}}
	}
	if j.isParent() {
		p := j.cfg.Periodic
		out.Periodic = &api.PeriodicConfig{Enabled: ptr(true), Spec: ptr(p.Cron), SpecType: ptr("cron"),
			ProhibitOverlap: ptr(p.ProhibitOverlap), TimeZone: ptr(p.TimeZone)}
	}
	for _, g := range j.groups {
		tg := &api.TaskGroup{
			Name: ptr(g.cfg.Name), Count: ptr(g.count), Meta: copyMap(g.cfg.Meta),
			Tasks: []*api.Task{{
				Name: g.cfg.Task, Driver: "docker",
				Config:    map[string]any{"image": "fleetcast/sim-" + g.cfg.Task},
				Resources: &api.Resources{CPU: ptr(g.cfg.CPU), MemoryMB: ptr(g.cfg.MemoryMB)},
			}},
		}
		if g.cfg.DistinctHosts {
			tg.Constraints = []*api.Constraint{{Operand: "distinct_hosts", RTarget: "true"}}
		}
		if s := g.cfg.Scaling; s != nil {
			enabled := true
			if s.Enabled != nil {
				enabled = *s.Enabled
			}
			tg.Scaling = &api.ScalingPolicy{
				Min: ptr(int64(s.Min)), Max: ptr(int64(s.Max)), Enabled: ptr(enabled), Type: "horizontal",
				ID: fmt.Sprintf("%s-%s-%s", j.ns, j.id, g.cfg.Name), Namespace: j.ns,
				Target:      map[string]string{"Namespace": j.ns, "Job": j.id, "Group": g.cfg.Name},
				Policy:      map[string]any{},
				CreateIndex: j.createIndex, ModifyIndex: j.createIndex,
			}
		}
		out.TaskGroups = append(out.TaskGroups, tg)
	}
	return out
}

func (f *Fleet) jobSummary(j *job) *api.JobSummary {
	s := &api.JobSummary{JobID: j.id, Namespace: j.ns, Summary: map[string]api.TaskGroupSummary{},
		CreateIndex: j.createIndex, ModifyIndex: j.modifyIndex}
	for _, g := range j.groups {
		var ts api.TaskGroupSummary
		ts.Queued = g.queued
		for _, a := range f.allocs {
			if a.group != g {
				continue
			}
			switch {
			case a.live() && a.client == "running":
				ts.Running++
			case a.live():
				ts.Starting++
			case a.client == "lost":
				ts.Lost++
			case a.client == "failed":
				ts.Failed++
			default:
				ts.Complete++
			}
		}
		s.Summary[g.cfg.Name] = ts
	}
	// Nomad keeps a children summary for every job, zero for most.
	s.Children = &api.JobChildrenSummary{}
	if j.isParent() {
		for _, c := range f.jobs {
			if c.parentID == j.id && c.ns == j.ns {
				if c.status == "dead" {
					s.Children.Dead++
				} else {
					s.Children.Running++
				}
			}
		}
	}
	return s
}

func (f *Fleet) jobStub(j *job, meta bool) *api.JobListStub {
	s := &api.JobListStub{
		ID: j.id, ParentID: j.parentID, Name: j.cfg.Name, Namespace: j.ns,
		Datacenters: append([]string(nil), j.cfg.Datacenters...), Type: j.typ, Priority: j.cfg.Priority,
		Periodic: j.isParent(), Status: f.jobStatus(j), JobSummary: f.jobSummary(j),
		CreateIndex: j.createIndex, ModifyIndex: j.modifyIndex, JobModifyIndex: j.jobModifyIdx, SubmitTime: j.submitTime,
	}
	if meta {
		s.Meta = copyMap(j.cfg.Meta)
	}
	return s
}

func (f *Fleet) taskStates(a *alloc) map[string]*api.TaskState {
	st := &api.TaskState{State: "pending"}
	switch {
	case a.live() && a.client == "running":
		st.State = "running"
		st.StartedAt = a.startAt.UTC()
	case !a.live():
		st.State = "dead"
		st.StartedAt = a.startAt.UTC()
		st.FinishedAt = a.modifyTime.UTC()
	}
	return map[string]*api.TaskState{a.group.cfg.Task: st}
}

func (f *Fleet) allocResources(a *alloc) *api.AllocatedResources {
	return &api.AllocatedResources{
		Tasks: map[string]*api.AllocatedTaskResources{a.group.cfg.Task: {
			Cpu:    api.AllocatedCpuResources{CpuShares: int64(a.group.cfg.CPU)},
			Memory: api.AllocatedMemoryResources{MemoryMB: int64(a.group.cfg.MemoryMB)},
		}},
		Shared: api.AllocatedSharedResources{DiskMB: 300},
	}
}

func (f *Fleet) apiAlloc(a *alloc) *api.Allocation {
	out := &api.Allocation{
		ID: a.id, Namespace: a.job.ns, EvalID: a.evalID, Name: a.name, NodeID: a.node.id, NodeName: a.node.name,
		JobID: a.job.id, Job: f.apiJob(a.job), TaskGroup: a.group.cfg.Name,
		AllocatedResources: f.allocResources(a),
		DesiredStatus:      a.desired, DesiredDescription: a.desiredDesc,
		ClientStatus: a.client, ClientDescription: a.clientDesc,
		TaskStates:         f.taskStates(a),
		PreviousAllocation: a.prevAlloc, NextAllocation: a.nextAlloc,
		CreateIndex: a.createIndex, ModifyIndex: a.modifyIdx, AllocModifyIndex: a.createIndex,
		CreateTime: a.createTime.UnixNano(), ModifyTime: a.modifyTime.UnixNano(),
	}
	if a.migrate {
		out.DesiredTransition.Migrate = ptr(true)
	}
	return out
}

// AllocListStub is an allocation as Nomad's list endpoints answer it: the
// api type's fields and DesiredTransition, which Nomad's list stub
// (structs.AllocListStub) carries and the api type leaves out.
type AllocListStub struct {
	*api.AllocationListStub
	DesiredTransition api.DesiredTransition
}

// stubFields are the list's optional parts, as /v1/allocations takes them:
// AllocatedResources only with ?resources=true, TaskStates unless
// ?task_states=false.
type stubFields struct{ resources, taskStates bool }

// allocStubFields reads them from the request (Nomad's defaults: no
// resources, task states).
func allocStubFields(q *request) stubFields {
	fl := stubFields{taskStates: true}
	v := q.r.URL.Query()
	if b, err := strconv.ParseBool(v.Get("resources")); err == nil {
		fl.resources = b
	}
	if b, err := strconv.ParseBool(v.Get("task_states")); err == nil {
		fl.taskStates = b
	}
	return fl
}

func (f *Fleet) allocStub(a *alloc, fl stubFields) AllocListStub {
	s := &api.AllocationListStub{
		ID: a.id, EvalID: a.evalID, Name: a.name, Namespace: a.job.ns, NodeID: a.node.id, NodeName: a.node.name,
		JobID: a.job.id, JobType: a.job.typ, JobVersion: a.job.version, TaskGroup: a.group.cfg.Name,
		DesiredStatus: a.desired, DesiredDescription: a.desiredDesc,
		ClientStatus: a.client, ClientDescription: a.clientDesc,
		NextAllocation: a.nextAlloc,
		CreateIndex:    a.createIndex, ModifyIndex: a.modifyIdx,
		CreateTime: a.createTime.UnixNano(), ModifyTime: a.modifyTime.UnixNano(),
	}
	if fl.resources {
		s.AllocatedResources = f.allocResources(a)
	}
	if fl.taskStates {
		s.TaskStates = f.taskStates(a)
	}
	out := AllocListStub{AllocationListStub: s}
	if a.migrate {
		out.DesiredTransition.Migrate = ptr(true)
	}
	return out
}

func nodeClassOf(n *node) string { return n.class }

func eligibility(n *node) string {
	if n.eligible {
		return api.NodeSchedulingEligible
	}
	return api.NodeSchedulingIneligible
}

func (f *Fleet) nodeAttributes(n *node) map[string]string {
	return map[string]string{
		"cpu.numcores":              strconv.Itoa(n.cores),
		"cpu.totalcompute":          strconv.Itoa(n.cpu),
		"cpu.frequency":             strconv.Itoa(n.cpu / max(n.cores, 1)),
		"memory.totalbytes":         strconv.FormatInt(int64(n.mem)*1024*1024, 10),
		"unique.hostname":           n.name,
		"kernel.name":               "linux",
		"os.name":                   "fleetcast-sim",
		"nomad.version":             f.cfg.version.String(),
		"driver.docker":             "1",
		"unique.network.ip-address": "127.0.0.1",
	}
}

func (f *Fleet) nodeResources(n *node) (*api.NodeResources, *api.NodeReservedResources) {
	return &api.NodeResources{
			Cpu:    api.NodeCpuResources{CpuShares: int64(n.cpu), TotalCpuCores: uint16(n.cores)},
			Memory: api.NodeMemoryResources{MemoryMB: int64(n.mem)},
			Disk:   api.NodeDiskResources{DiskMB: 100 * 1024},
		}, &api.NodeReservedResources{
			Cpu:    api.NodeReservedCpuResources{CpuShares: uint64(n.resCPU)},
			Memory: api.NodeReservedMemoryResources{MemoryMB: uint64(n.resMem)},
		}
}

func (f *Fleet) apiNodeStatus(n *node) string {
	return n.status
}

func (f *Fleet) apiNode(n *node) *api.Node {
	res, reserved := f.nodeResources(n)
	return &api.Node{
		ID: n.id, Datacenter: n.dc, Name: n.name, HTTPAddr: "127.0.0.1:4646",
		Attributes: f.nodeAttributes(n), NodeResources: res, ReservedResources: reserved,
		Meta: copyMap(n.meta), NodeClass: nodeClassOf(n), NodePool: n.pool,
		Drain: n.drain != nil, DrainStrategy: n.drain, SchedulingEligibility: eligibility(n),
		Status: f.apiNodeStatus(n), StatusUpdatedAt: n.readyAt.Unix(), LastDrain: n.lastDrain,
		Drivers:     map[string]*api.DriverInfo{"docker": {Detected: true, Healthy: true, HealthDescription: "Healthy", UpdateTime: n.readyAt.UTC()}},
		CreateIndex: n.createIndex, ModifyIndex: n.modifyIndex,
		// Deprecated since 0.9 but still filled in by every release the
		// simulator claims.
		Resources: &api.Resources{CPU: ptr(n.cpu), MemoryMB: ptr(n.mem), DiskMB: ptr(100 * 1024)},
		Reserved:  &api.Resources{CPU: ptr(n.resCPU), MemoryMB: ptr(n.resMem), DiskMB: ptr(0)},
		// A client's first event, as every registered node has it.
		Events: []*api.NodeEvent{{Message: "Node registered", Subsystem: "Cluster",
			Timestamp: n.readyAt.UTC(), CreateIndex: n.createIndex}},
	}
}

func (f *Fleet) nodeStub(n *node, resources bool) *api.NodeListStub {
	s := &api.NodeListStub{
		Address: "127.0.0.1", ID: n.id, Datacenter: n.dc, Name: n.name, NodeClass: nodeClassOf(n), NodePool: n.pool,
		Version: f.cfg.version.String(), Drain: n.drain != nil, SchedulingEligibility: eligibility(n), Status: f.apiNodeStatus(n),
		Drivers:   map[string]*api.DriverInfo{"docker": {Detected: true, Healthy: true}},
		LastDrain: n.lastDrain, CreateIndex: n.createIndex, ModifyIndex: n.modifyIndex,
	}
	if resources {
		s.NodeResources, s.ReservedResources = f.nodeResources(n)
	}
	return s
}

func (f *Fleet) apiDeployment(d *deployment) *api.Deployment {
	out := &api.Deployment{
		ID: d.id, Namespace: d.job.ns, JobID: d.job.id, JobVersion: d.job.version,
		JobModifyIndex: d.job.modifyIndex, JobSpecModifyIndex: d.job.jobModifyIdx, JobCreateIndex: d.job.createIndex,
		TaskGroups: map[string]*api.DeploymentState{}, Status: d.status,
		CreateIndex: d.createIndex, ModifyIndex: d.modifyIndex,
	}
	switch d.status {
	case "running":
		out.StatusDescription = "Deployment is running"
	case "successful":
		out.StatusDescription = "Deployment completed successfully"
	case "cancelled":
		out.StatusDescription = "Cancelled due to newer version of job"
	}
	for name, want := range d.desired {
		out.TaskGroups[name] = &api.DeploymentState{DesiredTotal: want, ProgressDeadline: 10 * time.Minute,
			RequireProgressBy: d.until.UTC()}
	}
	return out
}

// blockedEvals are the evaluations Nomad keeps blocked while allocations
// cannot be placed: one per job, naming the groups and how many of each
// wait, with the resource dimension that ran out.
func (f *Fleet) blockedEvals(ns, jobID string) []*api.Evaluation {
	var out []*api.Evaluation
	for _, j := range f.jobs {
		if (ns != "*" && j.ns != ns) || (jobID != "" && j.id != jobID) {
			continue
		}
		var ev *api.Evaluation
		for _, g := range j.groups {
			if g.blocked == "" {
				continue
			}
			if ev == nil {
				ev = &api.Evaluation{
					ID: g.blocked, Priority: j.cfg.Priority, Type: j.typ, TriggeredBy: "queued-allocs",
					Namespace: j.ns, JobID: j.id, JobModifyIndex: j.jobModifyIdx, Status: "blocked",
					StatusDescription: "created to place remaining allocations",
					FailedTGAllocs:    map[string]*api.AllocationMetric{}, QueuedAllocations: map[string]int{},
					ClassEligibility: map[string]bool{}, CreateIndex: j.modifyIndex, ModifyIndex: j.modifyIndex,
					CreateTime: g.blockedSince.UnixNano(), ModifyTime: g.blockedSince.UnixNano(),
				}
			}
			ev.QueuedAllocations[g.cfg.Name] = g.queued
			m := &api.AllocationMetric{NodePool: j.cfg.NodePool, NodesAvailable: map[string]int{},
				DimensionExhausted: map[string]int{}, ConstraintFiltered: map[string]int{}, CoalescedFailures: g.queued - 1}
			for _, n := range f.nodes {
				if n.pool != j.cfg.NodePool {
					continue
				}
				m.NodesInPool++
				if !f.nodeFits(j, n) {
					m.NodesFiltered++
					continue
				}
				m.NodesEvaluated++
				m.NodesAvailable[n.dc]++
				switch cpu, mem := f.used(n); {
				case !f.distinctOK(j, g, n):
					m.ConstraintFiltered["${node.unique.id}"]++
				case cpu+g.cfg.CPU > n.cpu-n.resCPU:
					m.NodesExhausted++
					m.DimensionExhausted["cpu"]++
				case mem+g.cfg.MemoryMB > n.mem-n.resMem:
					m.NodesExhausted++
					m.DimensionExhausted["memory"]++
				}
			}
			ev.FailedTGAllocs[g.cfg.Name] = m
		}
		if ev != nil {
			out = append(out, ev)
		}
	}
	return out
}
