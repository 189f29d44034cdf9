// Package actuatortest holds in-memory stand-ins for the actuator's edges (a
// Nomad that only knows task-group counts, forecasts from a map), so
// benchmarks and other packages can drive the real decision path without a
// network.
package actuatortest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/fleetcast/fleetcast/actuator"
)

// MemNomad is an in-memory Nomad holding task-group counts and scaling
// events. Node and allocation calls fail: it serves scale_group only.
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

var errUnsupported = errors.New("actuatortest.MemNomad: not supported")

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

func (m *MemNomad) Node(context.Context, string) (*api.Node, error) { return nil, errUnsupported }
func (m *MemNomad) NodeAllocations(context.Context, string) ([]*api.Allocation, error) {
	return nil, errUnsupported
}
func (m *MemNomad) Nodes(context.Context, string) ([]*api.NodeListStub, error) {
	return nil, errUnsupported
}
func (m *MemNomad) StopAlloc(context.Context, string, string) error    { return errUnsupported }
func (m *MemNomad) SetEligibility(context.Context, string, bool) error { return errUnsupported }
func (m *MemNomad) Drain(context.Context, string, time.Duration) error { return errUnsupported }
func (m *MemNomad) AllocHealthy(context.Context, string, string, string) (int, error) {
	return 0, errUnsupported
}

// Forecasts answers every query with Value (one sample, no labels).
type Forecasts struct{ Value float64 }

// Query returns the constant forecast.
func (f Forecasts) Query(context.Context, string, time.Time) ([]actuator.Sample, error) {
	return []actuator.Sample{{Value: f.Value}}, nil
}
