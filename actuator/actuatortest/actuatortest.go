// Package actuatortest holds in-memory stand-ins for the actuator's edges (a
// Nomad that only knows task-group counts, forecasts from a map), so
// benchmarks and other packages can drive the real decision path without a
// network.
package actuatortest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/fleetcast/fleetcast/actuator"
)

// MemNomad is an in-memory Nomad holding task-group counts and scaling
// events, and no nodes: an actuator.GroupScaler, for configs whose policies only
// scale_group (actuator.New refuses others).
type MemNomad struct {
	Now    func() time.Time
	mu     sync.Mutex
	groups map[[3]string]*api.TaskGroupScaleStatus
	Scales int
}

// NewMemNomad returns an empty MemNomad.
func NewMemNomad(now func() time.Time) *MemNomad {
	if now == nil {
		now = time.Now
	}
	return &MemNomad{Now: now, groups: map[[3]string]*api.TaskGroupScaleStatus{}}
}

// AddGroup adds a task group with count allocations.
func (m *MemNomad) AddGroup(ns, job, group string, count int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.groups[[3]string{ns, job, group}] = &api.TaskGroupScaleStatus{Desired: count, Running: count, Healthy: count}
}

func notFound(what string) error {
	return &actuator.NomadError{Op: what, Status: 404, Err: fmt.Errorf("%s not found", what)}
}

// ScaleStatus reports the job's groups.
func (m *MemNomad) ScaleStatus(_ context.Context, ns, job string) (*api.JobScaleStatusResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := &api.JobScaleStatusResponse{JobID: job, Namespace: ns, TaskGroups: map[string]api.TaskGroupScaleStatus{}}
	for k, g := range m.groups {
		if k[0] == ns && k[1] == job {
			c := *g
			c.Events = append([]api.ScalingEvent(nil), g.Events...)
			r.TaskGroups[k[2]] = c
		}
	}
	if len(r.TaskGroups) == 0 {
		return nil, notFound("job " + job)
	}
	return r, nil
}

// Scale sets a group's count and records a scaling event.
func (m *MemNomad) Scale(_ context.Context, ns, job, group string, count int, msg string, meta map[string]any, _ uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.groups[[3]string{ns, job, group}]
	if !ok {
		return notFound("group " + group)
	}
	c := int64(count)
	g.Events = append(g.Events, api.ScalingEvent{Count: &c, PreviousCount: int64(g.Desired), Message: msg, Meta: meta, Time: uint64(m.Now().UnixNano())})
	if len(g.Events) > 20 {
		g.Events = g.Events[len(g.Events)-20:] // Nomad keeps a bounded history too
	}
	g.Desired = count
	m.Scales++
	return nil
}

// Job returns a job without scaling blocks.
func (m *MemNomad) Job(_ context.Context, ns, job string) (*api.Job, error) {
	return &api.Job{ID: &job, Namespace: &ns}, nil
}

// Nodes lists no nodes: MemNomad's jobs say nothing of what their
// allocations reserve, so the actuator does not ask what a pool can place.
func (m *MemNomad) Nodes(context.Context, string) ([]*api.NodeListStub, error) {
	return []*api.NodeListStub{}, nil
}

// Node finds no node.
func (m *MemNomad) Node(_ context.Context, id string) (*api.Node, error) {
	return nil, notFound("node " + id)
}

// LiveAllocs finds no allocations.
func (m *MemNomad) LiveAllocs(context.Context, []string) (map[string][]*api.AllocationListStub, error) {
	return map[string][]*api.AllocationListStub{}, nil
}

var _ actuator.GroupScaler = (*MemNomad)(nil)

// Forecasts answers every query with Value (one sample, no labels).
type Forecasts struct{ Value float64 }

// Query returns the constant forecast.
func (f Forecasts) Query(context.Context, string, time.Time) ([]actuator.Sample, error) {
	return []actuator.Sample{{Value: f.Value}}, nil
}
