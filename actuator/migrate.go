package actuator

import (
	"context"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/fleetcast/fleetcast/actuator/planner"
)

// Meta keys a job author sets to steer migration.
const (
	// MetaMigrate = "false" (job or group meta) pins an allocation to its node.
	MetaMigrate = "fleetcast.migrate"
	// MetaStayWith (group meta) names a set of task groups of one job that
	// must move together; job meta fleetcast.colocate = "true" binds all groups.
	MetaStayWith = "fleetcast.stay_with"
	MetaColocate = "fleetcast.colocate"
)

// NodeReader reads client nodes; the scale_group (room), migrate and
// scale_pool actions all plan from it.
type NodeReader interface {
	Node(ctx context.Context, id string) (*api.Node, error)
	// Nodes lists the nodes of a pool ("" for all).
	Nodes(ctx context.Context, pool string) ([]*api.NodeListStub, error)
}

// AllocLister reads what runs on many nodes at once: the room a task
// group's pool has and a pool's state are planned from every node of the
// pool, so their allocations are listed in one request per decision, never
// one per node.
type AllocLister interface {
	// LiveAllocs lists the allocations that hold resources on the given
	// nodes (desired run; pending or running), of every namespace the
	// token may read, with what each reserves (AllocatedResources), by
	// node ID. A node with none has no entry.
	LiveAllocs(ctx context.Context, nodes []string) (map[string][]*api.AllocationListStub, error)
}

// NodeMigrator is what the migrate action asks of Nomad: the node and its
// allocations, each allocation's job and its group's health, and then
// making the node ineligible, stopping allocations so Nomad places them
// elsewhere, and making it eligible again.
type NodeMigrator interface {
	NodeReader
	// NodeAllocations lists one node's allocations, jobs included: the
	// migration profiles the node it empties.
	NodeAllocations(ctx context.Context, id string) ([]*api.Allocation, error)
	Job(ctx context.Context, namespace, job string) (*api.Job, error)
	// AllocHealthy counts the healthy allocations of a task group of a job
	// of type jobType ("" when not known: it is read then).
	AllocHealthy(ctx context.Context, namespace, job, group, jobType string) (int, error)
	StopAlloc(ctx context.Context, namespace, id string) error
	SetEligibility(ctx context.Context, node string, eligible bool) error
}

// reservedBy is what an allocation's tasks reserve: CPU in MHz and memory
// in MB (nothing when the resources are not known).
func reservedBy(r *api.AllocatedResources) (cpu, memoryMB float64) {
	if r != nil {
		for _, t := range r.Tasks {
			if t != nil {
				cpu += float64(t.Cpu.CpuShares)
				memoryMB += float64(t.Memory.MemoryMB)
			}
		}
	}
	return cpu, memoryMB
}

// allocCPU is the CPU in MHz an allocation's tasks reserve.
func allocCPU(al *api.Allocation) float64 {
	cpu, _ := reservedBy(al.AllocatedResources)
	return cpu
}

// liveStatus says whether an allocation in these states holds its node's
// resources: it is meant to run and is running or about to.
func liveStatus(desired, client string) bool {
	return desired == api.AllocDesiredStatusRun &&
		(client == api.AllocClientStatusRunning || client == api.AllocClientStatusPending)
}

func allocLive(al *api.Allocation) bool { return liveStatus(al.DesiredStatus, al.ClientStatus) }

func nodeCapacity(n *api.Node) float64 {
	if n == nil {
		return 0
	}
	cpu, _ := nodeOffers(n.NodeResources, n.ReservedResources)
	return cpu
}

// nodeOffers is what a node offers allocations, CPU in MHz and memory in
// MB: its resources less what it reserves for itself (none when its
// resources are unknown).
func nodeOffers(res *api.NodeResources, reserved *api.NodeReservedResources) (cpu, memoryMB float64) {
	if res == nil {
		return 0, 0
	}
	cpu, memoryMB = float64(res.Cpu.CpuShares), float64(res.Memory.MemoryMB)
	if reserved != nil {
		cpu -= float64(reserved.Cpu.CpuShares)
		memoryMB -= float64(reserved.Memory.MemoryMB)
	}
	return cpu, memoryMB
}

// listedOffers is what a listed node offers allocations (nodeOffers): from
// the list when it carries the node's resources (NomadAPI.Nodes asks for
// them), else read from the node itself, one call more.
func listedOffers(ctx context.Context, nr NodeReader, s *api.NodeListStub) (cpu, memoryMB float64, err error) {
	res, reserved := s.NodeResources, s.ReservedResources
	if res == nil {
		n, err := nr.Node(ctx, s.ID)
		if err != nil {
			return 0, 0, err
		}
		if n == nil {
			return 0, 0, nil
		}
		res, reserved = n.NodeResources, n.ReservedResources
	}
	cpu, memoryMB = nodeOffers(res, reserved)
	return cpu, memoryMB, nil
}

// profile describes one allocation for the migrate planner: what it uses,
// whether and with whom it can move, and its group's disruption budget.
func profile(al *api.Allocation, job *api.Job, healthy int, predicted map[string]float64) planner.Alloc {
	p := planner.Alloc{ID: al.ID, Namespace: al.Namespace, Job: al.JobID, Group: al.TaskGroup, Predicted: allocCPU(al), GroupHealthy: healthy}
	if v, ok := predicted[al.ID]; ok {
		p.Predicted = v
	}
	if job == nil {
		p.Pinned = "job not readable"
		return p
	}
	if job.Type != nil {
		p.Type = *job.Type
	}
	if job.Meta[MetaMigrate] == "false" {
		p.Pinned = `job meta fleetcast.migrate = "false"`
	}
	if job.Meta[MetaColocate] == "true" {
		p.StayWith = "job:" + al.JobID
	}
	tg := taskGroup(job, al.TaskGroup)
	if tg == nil {
		p.Pinned = "task group not in job"
		return p
	}
	count, maxPar := 1, 1
	if tg.Count != nil {
		count = *tg.Count
	}
	if tg.Migrate != nil && tg.Migrate.MaxParallel != nil {
		maxPar = *tg.Migrate.MaxParallel
	}
	p.MinHealthy = count - maxPar
	if tg.Meta[MetaMigrate] == "false" {
		p.Pinned = `group meta fleetcast.migrate = "false"`
	}
	if k := tg.Meta[MetaStayWith]; k != "" {
		p.StayWith = "set:" + al.JobID + ":" + k
	}
	for _, v := range tg.Volumes {
		if v != nil && v.Type == "host" {
			p.Pinned = "host volume " + v.Name
		}
	}
	if tg.EphemeralDisk != nil && tg.EphemeralDisk.Sticky != nil && *tg.EphemeralDisk.Sticky {
		p.Pinned = "sticky ephemeral disk"
	}
	for _, c := range append(append([]*api.Constraint{}, job.Constraints...), tg.Constraints...) {
		if c != nil && c.Operand == api.ConstraintDistinctHosts {
			// Where a replacement may go depends on where the siblings
			// run; without that view, moving it is not safe to promise.
			p.Pinned = "distinct_hosts constraint"
		}
	}
	return p
}

func (a *Actuator) migrate(ctx context.Context, d *decision, p *Policy) Outcome {
	l := d.alert.Labels
	m := p.Migrate
	nodeID := l["node_id"]
	skey := "node/" + nodeID
	prev, err := a.cur().state.Get(ctx, skey)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	if prev["alert_key"] == d.actKey {
		return ok(ResultDuplicate, "the node's state in Nomad already holds this alert's migration")
	}
	if until, err := time.Parse(time.RFC3339Nano, prev["restore_at"]); err == nil && prev["restored"] == "false" && until.After(a.o.Now()) {
		return ok(ResultCooldown, fmt.Sprintf("allocations moved off this node at %s; it stays ineligible until %s", prev["acted_at"], prev["restore_at"]))
	}
	node, err := a.migrator.Node(ctx, nodeID)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	allocs, err := a.migrator.NodeAllocations(ctx, nodeID)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	nodeF, bad := a.forecastFor(ctx, d, m.nodeQ, l) // node_query is required
	if bad != nil {
		return *bad
	}
	peak := nodeF.Value
	allocPred, out := a.forecastsByLabel(ctx, m.allocQ, l, "alloc_id")
	if out != nil {
		return *out
	}
	nodePred, out := a.forecastsByLabel(ctx, m.fleetQ, l, "node_id")
	if out != nil {
		return *out
	}
	profiles, healthy, err := a.profileAllocs(ctx, allocs, allocPred)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	fleet, err := a.otherNodes(ctx, nodeID, node.NodePool, nodePred)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	self := planner.Node{ID: nodeID, Pool: node.NodePool, Capacity: nodeCapacity(node), Predicted: peak, Eligible: true}
	plan, err := planner.PlanMigrate(self, profiles, fleet, planner.MigratePolicy{Threshold: m.Threshold, MaxAllocs: m.MaxAllocs})
	if err != nil {
		return Outcome{Result: ResultRejected, Code: 422, Detail: err.Error()}
	}
	d.plan = plan
	if plan.Noop {
		return ok(ResultNoop, plan.Reason)
	}
	mv := migration{nodeID: nodeID, pool: node.NodePool, key: skey, policy: m, allocs: allocs, healthy: healthy, plan: plan}
	return a.act(ctx, d, plan.Reason, func() Outcome { return a.moveAllocs(ctx, d, mv) })
}

// forecastsByLabel runs a policy's per-object query (nil: none) rendered
// over the alert's labels, and returns each series' value by its key label.
// A query that does not render is the alert's fault (422); one Prometheus
// does not answer is retried (503).
func (a *Actuator) forecastsByLabel(ctx context.Context, t *template.Template, labels map[string]string, key string) (map[string]float64, *Outcome) {
	out := map[string]float64{}
	if t == nil {
		return out, nil
	}
	q, err := render(t, labels)
	if err != nil {
		return nil, &Outcome{Result: ResultRejected, Code: 422, Detail: err.Error()}
	}
	if q == "" {
		return out, nil
	}
	s, err := a.o.Forecasts.Query(ctx, q, a.o.Now())
	if err != nil {
		return nil, &Outcome{Result: ResultForecastError, Code: 503, Detail: err.Error()}
	}
	for _, x := range s {
		if id := x.Labels[key]; id != "" {
			out[id] = x.Value
		}
	}
	return out, nil
}

// groupHealth is a task group's healthy count before a migration, which
// its replacements must reach before the node is given back, and its job's
// type, which says how Nomad counts it (AllocHealthy).
type groupHealth struct {
	healthy int
	jobType string
}

// profileAllocs describes the node's running allocations for the planner,
// reading each job and each group's healthy count from Nomad once. It
// returns each group's health too, by namespace/job/group.
func (a *Actuator) profileAllocs(ctx context.Context, allocs []*api.Allocation, predicted map[string]float64) ([]planner.Alloc, map[string]groupHealth, error) {
	jobs := map[string]*api.Job{}
	healthy := map[string]groupHealth{}
	profiles := make([]planner.Alloc, 0, len(allocs))
	for _, al := range allocs {
		if !allocLive(al) {
			continue
		}
		jk := al.Namespace + "/" + al.JobID
		job, seen := jobs[jk]
		if !seen {
			var err error
			if job, err = a.migrator.Job(ctx, al.Namespace, al.JobID); err != nil {
				return nil, nil, err
			}
			jobs[jk] = job
		}
		gk := jk + "/" + al.TaskGroup
		h, seen := healthy[gk]
		if !seen {
			if job != nil && job.Type != nil {
				h.jobType = *job.Type
			}
			var err error
			if h.healthy, err = a.migrator.AllocHealthy(ctx, al.Namespace, al.JobID, al.TaskGroup, h.jobType); err != nil {
				return nil, nil, err
			}
			healthy[gk] = h
		}
		profiles = append(profiles, profile(al, job, h.healthy, predicted))
	}
	return profiles, healthy, nil
}

// otherNodes describes the pool's other nodes for the planner's room check:
// their predicted peak from the fleet query, and the capacity of those that
// take new work. A node the fleet query does not know is not counted on.
func (a *Actuator) otherNodes(ctx context.Context, nodeID, pool string, predicted map[string]float64) ([]planner.Node, error) {
	stubs, err := a.migrator.Nodes(ctx, pool)
	if err != nil {
		return nil, err
	}
	fleet := make([]planner.Node, 0, len(stubs))
	for _, s := range stubs {
		if s.ID == nodeID {
			continue
		}
		pred, known := predicted[s.ID]
		n := planner.Node{ID: s.ID, Pool: s.NodePool, Predicted: pred,
			Eligible: known && s.Status == "ready" && s.SchedulingEligibility == "eligible" && !s.Drain}
		if n.Eligible {
			var err error
			if n.Capacity, _, err = listedOffers(ctx, a.migrator, s); err != nil {
				return nil, err
			}
		}
		fleet = append(fleet, n)
	}
	return fleet, nil
}

// migration is a planned migration, as moveAllocs carries it out.
type migration struct {
	nodeID, pool, key string // key: the node's state variable
	policy            *MigratePolicy
	allocs            []*api.Allocation
	healthy           map[string]groupHealth // by namespace/job/group, before the move
	plan              planner.MigratePlan
}

// moveAllocs carries a migration out: it records the node's restore time,
// makes the node ineligible, stops the chosen allocations so Nomad places
// them elsewhere, and leaves restoring eligibility to the background.
func (a *Actuator) moveAllocs(ctx context.Context, d *decision, mv migration) Outcome {
	m, plan, nodeID := mv.policy, mv.plan, mv.nodeID
	now := a.o.Now()
	// Saved before the node turns ineligible, so whichever replica leads
	// later gives eligibility back even if this process dies meanwhile.
	err := a.cur().state.Put(ctx, mv.key, map[string]string{"alert_key": d.actKey, "acted_at": now.UTC().Format(time.RFC3339Nano),
		"restore_at": now.Add(durOr(m.OverloadWindow, time.Hour)).UTC().Format(time.RFC3339Nano), "restored": "false",
		"stop": strings.Join(plan.Stop, ",")})
	if err != nil {
		return a.nomadFailed(d, err)
	}
	if err := a.migrator.SetEligibility(ctx, nodeID, false); err != nil {
		return a.nomadFailed(d, err)
	}
	byID := map[string]*api.Allocation{}
	for _, al := range mv.allocs {
		byID[al.ID] = al
	}
	stopped := 0
	for _, id := range plan.Stop {
		if err := a.migrator.StopAlloc(ctx, byID[id].Namespace, id); err != nil {
			d.nomad = fmt.Sprintf("node %s ineligible, stopped %d of %d allocations, then: %v", nodeID, stopped, len(plan.Stop), err)
			a.o.Metrics.NomadErrors.Inc()
			a.restoreLater(nodeID, m, nil, byID, mv.healthy)
			return Outcome{Result: ResultError, Code: 503, Detail: d.nomad}
		}
		stopped++
	}
	d.nomad = fmt.Sprintf("node %s ineligible, stopped %v; eligibility returns after %s", nodeID, plan.Stop, durOr(m.OverloadWindow, time.Hour))
	a.o.Metrics.LastAction.WithLabelValues(ActionMigrate, "", "", "", nodeID, mv.pool).Set(float64(a.o.Now().Unix()))
	a.restoreLater(nodeID, m, plan.Stop, byID, mv.healthy)
	return ok(ResultActed, plan.Reason)
}

// restoreLater waits (in the background, bounded) for the stopped
// allocations' groups to be healthy again, then restores the node's
// eligibility once the overload window has passed.
func (a *Actuator) restoreLater(nodeID string, m *MigratePolicy, stopped []string, byID map[string]*api.Allocation, before map[string]groupHealth) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		ctx := a.bgCtx
		// Deadlines run on the injected clock, so a caller in virtual time
		// (the simulator, the closed-loop benchmark) is bounded in it too.
		deadline := a.o.Now().Add(durOr(m.HealthyTimeout, 5*time.Minute))
		groups := map[string]*api.Allocation{}
		for _, id := range stopped {
			al := byID[id]
			groups[al.Namespace+"/"+al.JobID+"/"+al.TaskGroup] = al
		}
		for gk, al := range groups {
			for {
				// The job's type as profileAllocs read it: polled once a
				// second, this reads the scale status only.
				h, err := a.migrator.AllocHealthy(ctx, al.Namespace, al.JobID, al.TaskGroup, before[gk].jobType)
				if err == nil && h >= before[gk].healthy {
					a.o.Audit.Info("migration replacements healthy", "node", nodeID, "group", gk, "healthy", h)
					break
				}
				if a.o.Now().After(deadline) {
					a.o.Audit.Warn("migration replacements not healthy in time", "node", nodeID, "group", gk, "healthy", h, "want", before[gk].healthy, "err", err)
					break
				}
				if a.o.Sleep(ctx, time.Second) != nil {
					a.o.Audit.Warn("shutting down during a migration's health wait: the node stays ineligible until the leader's sweep gives it back after the overload window",
						"node", nodeID, "group", gk, "healthy", h, "want", before[gk].healthy, "restore_after", durOr(m.OverloadWindow, time.Hour))
					return
				}
			}
		}
		if a.o.Sleep(ctx, durOr(m.OverloadWindow, time.Hour)) != nil {
			a.o.Audit.Warn("shutting down before the overload window ended: the node stays ineligible until the leader's sweep gives it back",
				"node", nodeID, "restore_after", durOr(m.OverloadWindow, time.Hour))
			return
		}
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a.restore(rctx, nodeID)
	}()
}

// restore gives a node its eligibility back and records that it did.
func (a *Actuator) restore(ctx context.Context, nodeID string) {
	err := a.migrator.SetEligibility(ctx, nodeID, true)
	if err == nil {
		st, gerr := a.cur().state.Get(ctx, "node/"+nodeID)
		if gerr == nil && st != nil {
			st["restored"] = "true"
			err = a.cur().state.Put(ctx, "node/"+nodeID, st)
		}
	} else {
		a.o.Metrics.NomadErrors.Inc()
	}
	a.o.Audit.Info("overload window over: node eligible again", "node", nodeID, "err", err)
}

// Sweep gives eligibility back to every node whose overload window has
// passed but whose restore did not happen (the process that migrated it
// stopped). It returns how many nodes it restored.
func (a *Actuator) Sweep(ctx context.Context) (int, error) {
	if a.migrator == nil {
		return 0, nil // a Nomad that cannot migrate left no node to give back
	}
	all, err := a.cur().state.List(ctx, "node/")
	if err != nil {
		return 0, err
	}
	n := 0
	for key, st := range all {
		until, err := time.Parse(time.RFC3339Nano, st["restore_at"])
		if err != nil || st["restored"] != "false" || until.After(a.o.Now()) {
			continue
		}
		id := strings.TrimPrefix(key, "node/")
		a.restore(ctx, id)
		n++
	}
	return n, nil
}

// RunSweeper calls Sweep every interval while this replica leads, until ctx ends.
func (a *Actuator) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if a.o.IsLeader == nil || a.o.IsLeader() {
			if _, err := a.Sweep(ctx); err != nil && ctx.Err() == nil {
				a.o.Log.Warn("eligibility sweep failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
