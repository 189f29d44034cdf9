package actuator

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/hashicorp/nomad/api"

	"github.com/fleetcast/fleetcast/actuator/planner"
)

// groupRoom is what a task group's node pool can place: the pool's name,
// the group's ask and how many allocations of the group its ready, eligible
// nodes hold in all (planner.Placeable), its running ones included. known
// is false when the job does not say what one allocation reserves; then
// nothing limits the scale-out, as before the actuator waited for nodes.
type groupRoom struct {
	Pool      string      `json:"pool"`
	Ask       planner.Ask `json:"ask"`
	Placeable int         `json:"placeable"`
	Nodes     int         `json:"schedulable_nodes"`
	known     bool
}

// readRoom reads, through Nomad's API, the pool a task group runs in and
// what its schedulable nodes can still place of the group: each ready,
// eligible, not draining node of the job's pool and datacenters, less what
// other allocations reserve there (CPU and memory), one per node under
// distinct_hosts. The group's allocations on other nodes that stay up
// (ineligible ones) count as placed; those on draining or down nodes do
// not, since they must move. Nomad's own scheduler weighs more (affinities,
// constraints on attributes, devices, ports); this is the room a plain
// group of CPU and memory needs. It takes two reads whatever the pool's
// size: the pool's nodes, and the live allocations (LiveAllocs).
func (a *Actuator) readRoom(ctx context.Context, j *api.Job, ns, job, group string) (groupRoom, error) {
	r := groupRoom{Pool: jobPool(j)}
	if j == nil {
		return r, nil
	}
	tg := taskGroup(j, group)
	if tg == nil {
		return r, nil
	}
	for _, t := range tg.Tasks {
		if t != nil && t.Resources != nil {
			if t.Resources.CPU != nil {
				r.Ask.CPU += float64(*t.Resources.CPU)
			}
			if t.Resources.MemoryMB != nil {
				r.Ask.MemoryMB += float64(*t.Resources.MemoryMB)
			}
		}
	}
	r.Ask.DistinctHosts = distinctHosts(j.Constraints) || distinctHosts(tg.Constraints)
	if r.Ask.CPU <= 0 && r.Ask.MemoryMB <= 0 {
		return r, nil
	}
	pool := r.Pool
	if pool == api.NodePoolAll {
		pool = ""
	}
	stubs, err := a.groups.Nodes(ctx, pool)
	if err != nil {
		return r, err
	}
	allocs, err := a.groups.LiveAllocs(ctx, staying(stubs))
	if err != nil {
		return r, err
	}
	rooms, err := roomsOf(ctx, a.groups, stubs, allocs, j.Datacenters, ns, job, group)
	if err != nil {
		return r, err
	}
	for _, room := range rooms {
		if room.Schedulable {
			r.Nodes++
		}
	}
	r.Placeable, err = planner.Placeable(rooms, r.Ask)
	if err != nil {
		return r, err
	}
	r.known = true
	return r, nil
}

// stays says whether a listed node keeps its allocations: it is neither
// down nor draining. The room check and the pool's state leave the others
// out (their allocations must move; they are leaving already).
func stays(s *api.NodeListStub) bool { return s.Status != api.NodeStatusDown && !s.Drain }

// staying is the IDs of the listed nodes that stay.
func staying(stubs []*api.NodeListStub) []string {
	ids := make([]string, 0, len(stubs))
	for _, s := range stubs {
		if stays(s) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// roomsOf is what each listed node holds for planner.Placeable, from the
// nodes' live allocations (by node ID, LiveAllocs): a down or draining node
// is left out (its allocations of the group must move: not placed); a
// ready, eligible node in one of the datacenters is schedulable, with what
// it offers; every other allocation's CPU and memory count as used, the
// group's own (namespace ns, job, group) as placed.
func roomsOf(ctx context.Context, nr NodeReader, stubs []*api.NodeListStub, allocs map[string][]*api.AllocationListStub,
	datacenters []string, ns, job, group string) ([]planner.Room, error) {
	var rooms []planner.Room
	for _, s := range stubs {
		if !stays(s) {
			continue
		}
		room := planner.Room{ID: s.ID, Schedulable: s.Status == api.NodeStatusReady &&
			s.SchedulingEligibility == api.NodeSchedulingEligible && inDatacenters(s.Datacenter, datacenters)}
		if room.Schedulable {
			var err error
			if room.CPU, room.MemoryMB, err = listedOffers(ctx, nr, s); err != nil {
				return nil, err
			}
		}
		for _, al := range allocs[s.ID] {
			if !liveStatus(al.DesiredStatus, al.ClientStatus) {
				continue
			}
			if al.Namespace == ns && al.JobID == job && al.TaskGroup == group {
				room.Own++
				continue
			}
			cpu, mb := reservedBy(al.AllocatedResources)
			room.UsedCPU += cpu
			room.UsedMemoryMB += mb
		}
		rooms = append(rooms, room)
	}
	return rooms, nil
}

// jobPool is the node pool a job's allocations are placed in: its own, or
// Nomad's default pool when it names none (as before Nomad 1.6).
func jobPool(j *api.Job) string {
	if j != nil && j.NodePool != nil && *j.NodePool != "" {
		return *j.NodePool
	}
	return api.NodePoolDefault
}

// distinctHosts says whether the constraints hold distinct_hosts (its
// value defaults to true).
func distinctHosts(cs []*api.Constraint) bool {
	for _, c := range cs {
		if c != nil && c.Operand == api.ConstraintDistinctHosts && (c.RTarget == "" || c.RTarget == "true") {
			return true
		}
	}
	return false
}

// inDatacenters says whether a node's datacenter is one the job may run in;
// Nomad 1.5+ takes glob patterns ("*", "dc-*"). No datacenters means all.
func inDatacenters(dc string, want []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if ok, err := path.Match(w, dc); err == nil && ok {
			return true
		}
	}
	return false
}

// poolNote says who adds the nodes a held scale-out waits for: the
// actuator's scale_pool policies, if it has any, when the pool's own alert
// fires; the actuator never resizes a pool from a task group's alert.
func (a *Actuator) poolNote(pool string) string {
	var names []string
	for _, p := range a.cur().cfg.Policies {
		if p.Action == ActionScalePool {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("node pool %q needs more nodes; no scale_pool policy here adds them", pool)
	}
	return fmt.Sprintf("node pool %q needs more nodes; left to the scale_pool policy %s when the pool's alert fires", pool, strings.Join(names, ", "))
}
