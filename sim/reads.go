package sim

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// The lookups of the API's GET endpoints (see routes in http.go). Each
// runs under the fleet's read lock and returns what the endpoint answers,
// or an *APIError with Nomad's status and text.

func (f *Fleet) jobList(q *request) ([]*api.JobListStub, error) {
	prefix := q.r.URL.Query().Get("prefix")
	meta := q.r.URL.Query().Get("meta") == "true"
	out := []*api.JobListStub{}
	for _, j := range f.jobs {
		if q.nsMatch(j.ns) && strings.HasPrefix(j.id, prefix) {
			out = append(out, f.jobStub(j, meta))
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	return out, nil
}

// requestJob is the job the request's path names, or Nomad's 404.
func (f *Fleet) requestJob(q *request) (*job, error) {
	j := f.findJob(q.ns, q.r.PathValue("id"))
	if j == nil {
		return nil, apiErr(http.StatusNotFound, "job not found")
	}
	return j, nil
}

func (f *Fleet) jobRead(q *request) (*api.Job, error) {
	j, err := f.requestJob(q)
	if err != nil {
		return nil, err
	}
	return f.apiJob(j), nil
}

func (f *Fleet) jobSummaryRead(q *request) (*api.JobSummary, error) {
	j, err := f.requestJob(q)
	if err != nil {
		return nil, err
	}
	return f.jobSummary(j), nil
}

func (f *Fleet) scaleStatus(q *request) (*api.JobScaleStatusResponse, error) {
	j, err := f.requestJob(q)
	if err != nil {
		return nil, err
	}
	out := &api.JobScaleStatusResponse{JobID: j.id, Namespace: j.ns, JobCreateIndex: j.createIndex,
		JobModifyIndex: j.jobModifyIdx, JobStopped: false, TaskGroups: map[string]api.TaskGroupScaleStatus{}}
	for _, g := range j.groups {
		st := api.TaskGroupScaleStatus{Desired: g.count}
		if len(g.events) > 0 { // null when there are none, as Nomad answers
			st.Events = append([]api.ScalingEvent(nil), g.events...)
		}
		for _, a := range f.allocs {
			if a.group == g && a.live() {
				st.Placed++
				if a.client == "running" {
					st.Running++
					if f.deploymentHealthy(j, g, a) {
						st.Healthy++
					}
				}
			}
		}
		out.TaskGroups[g.cfg.Name] = st
	}
	return out, nil
}

// minHealthyTime is how long an allocation must run before a deployment
// counts it healthy: the default of a job's update block.
const minHealthyTime = 10 * time.Second

// deploymentHealthy says whether the job's latest deployment counts a
// running allocation healthy, as scale status reports it: Nomad takes
// Healthy from the deployment, so it is 0 for batch jobs (they have none)
// and right after a scale (a new deployment starts from nothing), and an
// allocation counts once it has run min_healthy_time within the deployment.
// Allocations from before the fleet's start are healthy already. The caller
// holds the lock.
func (f *Fleet) deploymentHealthy(j *job, g *group, a *alloc) bool {
	if j.typ == "batch" || a.client != "running" {
		return false
	}
	if g.deployedAt.IsZero() && !a.startAt.After(f.start) {
		return true
	}
	since := a.startAt
	if g.deployedAt.After(since) {
		since = g.deployedAt
	}
	return !f.now.Before(since.Add(minHealthyTime))
}

// jobAllocs lists a job's allocations; an unknown job has none.
func (f *Fleet) jobAllocs(q *request) ([]AllocListStub, error) {
	j := f.findJob(q.ns, q.r.PathValue("id"))
	out := []AllocListStub{}
	for _, a := range f.allocs {
		if j != nil && a.job == j {
			out = append(out, f.allocStub(a, stubFields{taskStates: true}))
		}
	}
	return out, nil
}

// jobDeployment is a job's latest deployment, null when there is none, as
// Nomad answers.
func (f *Fleet) jobDeployment(q *request) (*api.Deployment, error) {
	j := f.findJob(q.ns, q.r.PathValue("id"))
	for i := len(f.deploys) - 1; i >= 0 && j != nil; i-- {
		if f.deploys[i].job == j {
			return f.apiDeployment(f.deploys[i]), nil
		}
	}
	return nil, nil
}

func (f *Fleet) jobDeployments(q *request) ([]*api.Deployment, error) {
	j := f.findJob(q.ns, q.r.PathValue("id"))
	out := []*api.Deployment{}
	for i := len(f.deploys) - 1; i >= 0 && j != nil; i-- {
		if f.deploys[i].job == j {
			out = append(out, f.apiDeployment(f.deploys[i]))
		}
	}
	return out, nil
}

func (f *Fleet) deploymentList(q *request) ([]*api.Deployment, error) {
	out := []*api.Deployment{}
	for i := len(f.deploys) - 1; i >= 0; i-- {
		if q.nsMatch(f.deploys[i].job.ns) {
			out = append(out, f.apiDeployment(f.deploys[i]))
		}
	}
	return out, nil
}

func (f *Fleet) deploymentRead(q *request) (*api.Deployment, error) {
	var out *api.Deployment
	for _, d := range f.deploys {
		if d.id == q.r.PathValue("id") {
			out = f.apiDeployment(d)
		}
	}
	if out == nil {
		return nil, apiErr(http.StatusNotFound, "deployment not found")
	}
	return out, nil
}

// evalList lists the blocked evaluations, of the job the path names or of
// all; the simulator keeps no others.
func (f *Fleet) evalList(q *request) ([]*api.Evaluation, error) {
	status := q.r.URL.Query().Get("status")
	out := []*api.Evaluation{}
	if status == "" || status == "blocked" {
		for _, e := range f.blockedEvals(q.ns, q.r.PathValue("id")) {
			if q.canRead(e.Namespace) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// allocList lists the allocations of the request's namespace ("*": every
// namespace), with the optional fields it asks for (allocStubFields).
func (f *Fleet) allocList(q *request) ([]AllocListStub, error) {
	prefix := q.r.URL.Query().Get("prefix")
	fl := allocStubFields(q)
	out := []AllocListStub{}
	for _, a := range f.allocs {
		if q.nsMatch(a.job.ns) && strings.HasPrefix(a.id, prefix) {
			out = append(out, f.allocStub(a, fl))
		}
	}
	return out, nil
}

// allocRead reads an allocation; one of a namespace the token may not use
// is unknown to it, as Nomad answers (Alloc.GetAlloc).
func (f *Fleet) allocRead(q *request) (*api.Allocation, error) {
	a := f.findAlloc(q.r.PathValue("id"))
	if a == nil || !q.canRead(a.job.ns) {
		return nil, apiErr(http.StatusNotFound, "alloc not found")
	}
	return f.apiAlloc(a), nil
}

func (f *Fleet) nodeList(q *request) ([]*api.NodeListStub, error) {
	prefix := q.r.URL.Query().Get("prefix")
	res := q.r.URL.Query().Get("resources") == "true"
	out := []*api.NodeListStub{}
	for _, n := range f.nodes {
		if strings.HasPrefix(n.id, prefix) {
			out = append(out, f.nodeStub(n, res))
		}
	}
	return out, nil
}

// nodeRead is a node as the claimed release shows it: the api type is that
// of a newer Nomad, so fields the release does not have are left out.
func (f *Fleet) nodeRead(q *request) (any, error) {
	n := f.findNode(q.r.PathValue("id"))
	if n == nil {
		return nil, apiErr(http.StatusNotFound, "node not found")
	}
	out := f.apiNode(n)
	if f.cfg.version.hasNodeMaxAllocs() {
		return out, nil
	}
	b, err := json.Marshal(out)
	var m map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return nil, err
	}
	delete(m, "NodeMaxAllocs")
	delete(m, "GCVolumesOnNodeGC")
	return m, nil
}

func (f *Fleet) nodeAllocs(q *request) ([]*api.Allocation, error) {
	n := f.findNode(q.r.PathValue("id"))
	if n == nil {
		return nil, apiErr(http.StatusNotFound, "node not found")
	}
	out := []*api.Allocation{}
	for _, a := range f.allocs {
		// Nomad leaves out the namespaces the token may not read
		// (Node.GetAllocs), without an error.
		if a.node == n && q.canRead(a.job.ns) {
			out = append(out, f.apiAlloc(a))
		}
	}
	return out, nil
}

// poolList lists Nomad's node pools: the built-in all and default, and
// the fleet's.
func (f *Fleet) poolList(*request) ([]*api.NodePool, error) {
	out := []*api.NodePool{
		{Name: "all", Description: "Node pool with all nodes in the cluster."},
		{Name: "default", Description: "Default node pool."},
	}
	for _, name := range slices.Sorted(maps.Keys(f.pools)) {
		if name != "default" && name != "all" {
			out = append(out, &api.NodePool{Name: name, Meta: copyMap(f.pools[name].cfg.Meta)})
		}
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out, nil
}

func (f *Fleet) poolRead(q *request) (*api.NodePool, error) {
	name := q.r.PathValue("name")
	p := f.pools[name]
	switch {
	case p != nil:
		return &api.NodePool{Name: name, Meta: copyMap(p.cfg.Meta)}, nil
	case name == "default" || name == "all":
		return &api.NodePool{Name: name}, nil
	default:
		return nil, apiErr(http.StatusNotFound, "node pool not found")
	}
}

func (f *Fleet) poolNodeList(q *request) ([]*api.NodeListStub, error) {
	name := q.r.PathValue("name")
	if _, known := f.pools[name]; !known && name != "all" && name != "default" {
		return nil, apiErr(http.StatusNotFound, "node pool not found")
	}
	out := []*api.NodeListStub{}
	for _, n := range f.nodes {
		if n.pool == name || name == "all" {
			out = append(out, f.nodeStub(n, false))
		}
	}
	return out, nil
}

func (f *Fleet) fleetcastPools(*request) ([]PoolStatus, error) {
	out := []PoolStatus{}
	for _, name := range slices.Sorted(maps.Keys(f.pools)) {
		out = append(out, f.poolStatus(f.pools[name]))
	}
	return out, nil
}

func (f *Fleet) poolSizeRead(q *request) (PoolStatus, error) {
	return f.poolSize(q.r.PathValue("name"))
}

// agentSelf answers /v1/agent/self as the leader server agent does (it is
// also a client): the release in config.Version and in the member's
// "build" tag, which is where clients read the server's version.
func (f *Fleet) agentSelf(*request) (api.AgentSelf, error) {
	v := f.cfg.version
	pre, meta := "", ""
	if i := strings.IndexByte(v.text, '+'); i >= 0 {
		meta = v.text[i+1:]
	}
	if i := strings.IndexByte(v.text, '-'); i >= 0 {
		pre = strings.SplitN(v.text[i+1:], "+", 2)[0]
	}
	dc := f.cfg.NodePools[0].Datacenter
	return api.AgentSelf{
		Config: map[string]any{
			"Region": f.cfg.Region, "Datacenter": dc, "NodeName": "fleetcast-sim",
			"Version": map[string]any{"Version": v.String(), "VersionPrerelease": pre, "VersionMetadata": meta,
				"Revision": "fleetcast-sim"},
			"Server": map[string]any{"Enabled": true},
			"Client": map[string]any{"Enabled": true},
		},
		Member: api.AgentMember{
			Name: "fleetcast-sim." + f.cfg.Region, Addr: "127.0.0.1", Port: 4648, Status: "alive",
			Tags: map[string]string{"build": v.text, "region": f.cfg.Region, "dc": dc, "role": "nomad",
				"port": "4647", "vsn": "1", "raft_vsn": "3"},
			ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
		},
		Stats: map[string]map[string]string{
			"nomad":  {"server": "true", "leader": "true", "known_regions": "1"},
			"client": {"known_servers": "127.0.0.1:4647"},
		},
	}, nil
}
