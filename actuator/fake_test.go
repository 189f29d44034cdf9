package actuator

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"
)

// fakeNomad is an in-memory Nomad for unit tests.
type fakeNomad struct {
	mu       sync.Mutex
	now      func() time.Time
	groups   map[string]*api.TaskGroupScaleStatus // ns/job/group
	scales   []string                             // "ns/job/group=count key"
	blocked  int                                  // scale calls still refused by a deployment
	down     bool
	nodes    map[string]*api.Node
	allocs   map[string][]*api.Allocation
	jobs     map[string]*api.Job
	stopped  []string
	elig     map[string]bool
	drained  []string
	keyCalls map[string]int
}

func newFakeNomad(now func() time.Time) *fakeNomad {
	return &fakeNomad{now: now, groups: map[string]*api.TaskGroupScaleStatus{}, nodes: map[string]*api.Node{},
		allocs: map[string][]*api.Allocation{}, jobs: map[string]*api.Job{}, elig: map[string]bool{}, keyCalls: map[string]int{}}
}

var errDown = &NomadError{Op: "fake", Err: fmt.Errorf("dial tcp 127.0.0.1:4646: connection refused")}

func (f *fakeNomad) ScaleStatus(_ context.Context, ns, job string) (*api.JobScaleStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	r := &api.JobScaleStatusResponse{JobID: job, Namespace: ns, TaskGroups: map[string]api.TaskGroupScaleStatus{}}
	found := false
	for k, g := range f.groups {
		var n, j, tg string
		fmt.Sscanf(k, "%s %s %s", &n, &j, &tg)
		if n == ns && j == job {
			r.TaskGroups[tg] = *g
			found = true
		}
	}
	if !found {
		return nil, &NomadError{Op: "scale status", Status: 404, Err: fmt.Errorf("job not found")}
	}
	return r, nil
}

func (f *fakeNomad) Scale(_ context.Context, ns, job, group string, count int, msg string, meta map[string]any, _ uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	if f.blocked > 0 {
		f.blocked--
		return wrapNomad("scale", fmt.Errorf("Unexpected response code: 400 (job scaling blocked due to active deployment)"))
	}
	g := f.groups[ns+" "+job+" "+group]
	prev := g.Desired
	g.Desired = count
	c := int64(count)
	g.Events = append(g.Events, api.ScalingEvent{Count: &c, PreviousCount: int64(prev), Message: msg, Meta: meta, Time: uint64(f.now().UnixNano())})
	k, _ := meta["fleetcast_alert_key"].(string)
	f.keyCalls[k]++
	f.scales = append(f.scales, fmt.Sprintf("%s/%s/%s=%d", ns, job, group, count))
	return nil
}

func (f *fakeNomad) Job(_ context.Context, ns, job string) (*api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[ns+"/"+job]
	if !ok && f.down {
		return nil, errDown
	}
	if !ok {
		for k := range f.groups {
			if strings.HasPrefix(k, ns+" "+job+" ") {
				return &api.Job{ID: &job}, nil // a job without scaling blocks
			}
		}
		return nil, &NomadError{Op: "job", Status: 404, Err: fmt.Errorf("job not found")}
	}
	return j, nil
}

func (f *fakeNomad) Node(_ context.Context, id string) (*api.Node, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	n, ok := f.nodes[id]
	if !ok {
		return nil, &NomadError{Op: "node", Status: 404, Err: fmt.Errorf("node not found")}
	}
	return n, nil
}

func (f *fakeNomad) NodeAllocations(_ context.Context, id string) ([]*api.Allocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.allocs[id], nil
}

// LiveAllocs lists the nodes' live allocations as the list endpoint
// returns them (stubOf).
func (f *fakeNomad) LiveAllocs(_ context.Context, nodes []string) (map[string][]*api.AllocationListStub, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	out := map[string][]*api.AllocationListStub{}
	for _, id := range nodes {
		for _, al := range f.allocs[id] {
			if allocLive(al) {
				out[id] = append(out[id], stubOf(al, id))
			}
		}
	}
	return out, nil
}

// stubOf is an allocation as /v1/allocations?resources=true lists it, the
// fields the actuator reads; node is its node's ID.
func stubOf(al *api.Allocation, node string) *api.AllocationListStub {
	return &api.AllocationListStub{ID: al.ID, Namespace: al.Namespace, NodeID: node, JobID: al.JobID, TaskGroup: al.TaskGroup,
		DesiredStatus: al.DesiredStatus, ClientStatus: al.ClientStatus, AllocatedResources: al.AllocatedResources}
}

func (f *fakeNomad) Nodes(_ context.Context, pool string) ([]*api.NodeListStub, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*api.NodeListStub
	for _, n := range f.nodes {
		if pool == "" || n.NodePool == pool {
			out = append(out, &api.NodeListStub{ID: n.ID, NodePool: n.NodePool, Datacenter: n.Datacenter, Status: n.Status, SchedulingEligibility: n.SchedulingEligibility, Drain: n.DrainStrategy != nil})
		}
	}
	return out, nil
}

func (f *fakeNomad) StopAlloc(_ context.Context, ns, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, id)
	return nil
}

func (f *fakeNomad) SetEligibility(_ context.Context, node string, eligible bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.elig[node] = eligible
	return nil
}

func (f *fakeNomad) Drain(_ context.Context, node string, deadline time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drained = append(f.drained, node)
	return nil
}

func (f *fakeNomad) AllocHealthy(_ context.Context, ns, job, group, _ string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g, ok := f.groups[ns+" "+job+" "+group]; ok {
		return g.Desired, nil
	}
	return 3, nil
}

// fakeForecasts answers queries from a map; unknown queries fail.
type fakeForecasts struct {
	mu sync.Mutex
	v  map[string][]Sample
	n  int
}

func (f *fakeForecasts) Query(_ context.Context, q string, _ time.Time) ([]Sample, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	s, ok := f.v[q]
	if !ok {
		return nil, fmt.Errorf("prometheus query %q: no such test series", q)
	}
	return s, nil
}

type fakePool struct {
	mu    sync.Mutex
	calls []string
}

func (p *fakePool) SetSize(_ context.Context, pool string, current, desired int, remove []string, reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, fmt.Sprintf("%s %d->%d %v", pool, current, desired, remove))
	return nil
}
