package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the Nomad HTTP API subset under /v1/, the metrics at
// /metrics, and /-/healthy and /-/ready. Errors are plain text with Nomad's
// status codes, as a Nomad agent writes them.
func (f *Fleet) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	if err := reg.Register(&collector{f: f}); err != nil {
		f.logger.Error("register the fleet's metrics", "err", err)
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	// Where a Nomad agent serves them (no ACL token needed); its JSON
	// format, the default there, is not simulated.
	mux.HandleFunc("/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			invalidMethod(w)
			return
		}
		if r.URL.Query().Get("format") != "prometheus" {
			httpError(w, http.StatusBadRequest, "the simulator serves /v1/metrics only as ?format=prometheus (Nomad's JSON format is not simulated)")
			return
		}
		metrics.ServeHTTP(w, r)
	})
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "OK\n")
	}
	mux.HandleFunc("/-/healthy", ok)
	mux.HandleFunc("/-/ready", ok)
	mux.HandleFunc("/v1/", f.serveAPI)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, `<html><head><title>fleetcast sim</title></head><body><h1>fleetcast simulated Nomad fleet</h1>
<p><a href="/metrics">Metrics</a> · <a href="/v1/jobs">Jobs</a> · <a href="/v1/nodes">Nodes</a> · <a href="/v1/fleetcast/truth">Ground truth</a></p></body></html>`)
			return
		}
		http.NotFound(w, r)
	})
	return mux
}

// request is one API call, its path split into unescaped segments.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	segs []string
	ns   string
}

func (f *Fleet) serveAPI(w http.ResponseWriter, r *http.Request) {
	if f.cfg.ACLToken != "" {
		tok := r.Header.Get("X-Nomad-Token")
		if tok == "" {
			tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		if tok != f.cfg.ACLToken {
			httpError(w, http.StatusForbidden, "Permission denied")
			return
		}
	}
	raw := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/"), "/"), "/")
	segs := make([]string, 0, len(raw))
	for _, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("invalid path: %v", err))
			return
		}
		segs = append(segs, u)
	}
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		ns = "default"
	}
	q := &request{w: w, r: r, segs: segs, ns: ns}
	if r.Method == http.MethodGet {
		f.block(r)
	}
	switch {
	case match(segs, "jobs"):
		f.getOnly(q, f.listJobs)
	case match(segs, "job", "*"):
		f.getOnly(q, f.readJob)
	case match(segs, "job", "*", "scale"):
		switch r.Method {
		case http.MethodGet:
			f.scaleStatus(q)
		case http.MethodPut, http.MethodPost:
			f.scaleJob(q)
		default:
			invalidMethod(w)
		}
	case match(segs, "job", "*", "allocations"):
		f.getOnly(q, f.jobAllocs)
	case match(segs, "job", "*", "summary"):
		f.getOnly(q, f.jobSummaryEndpoint)
	case match(segs, "job", "*", "deployment"):
		f.getOnly(q, f.jobDeployment)
	case match(segs, "job", "*", "deployments"):
		f.getOnly(q, f.jobDeployments)
	case match(segs, "job", "*", "evaluations"):
		f.getOnly(q, func(q *request) { f.listEvals(q, q.segs[1]) })
	case match(segs, "evaluations"):
		f.getOnly(q, func(q *request) { f.listEvals(q, "") })
	case match(segs, "allocations"):
		f.getOnly(q, f.listAllocs)
	case match(segs, "allocation", "*"):
		f.getOnly(q, f.readAlloc)
	case match(segs, "allocation", "*", "stop"):
		f.writeOnly(q, f.stopAllocEndpoint)
	case match(segs, "nodes"):
		f.getOnly(q, f.listNodes)
	case match(segs, "node", "pools"):
		f.getOnly(q, f.listPools)
	case match(segs, "node", "pool", "*"):
		f.getOnly(q, f.readPool)
	case match(segs, "node", "pool", "*", "nodes"):
		f.getOnly(q, f.poolNodesEndpoint)
	case match(segs, "node", "*"):
		f.getOnly(q, f.readNode)
	case match(segs, "node", "*", "allocations"):
		f.getOnly(q, f.nodeAllocs)
	case match(segs, "node", "*", "eligibility"):
		f.writeOnly(q, f.nodeEligibility)
	case match(segs, "node", "*", "drain"):
		f.writeOnly(q, f.nodeDrain)
	case match(segs, "deployments"):
		f.getOnly(q, f.listDeployments)
	case match(segs, "deployment", "*"):
		f.getOnly(q, f.readDeployment)
	case match(segs, "vars"):
		f.getOnly(q, f.listVars)
	case len(segs) >= 2 && segs[0] == "var":
		f.varEndpoint(q, strings.Join(segs[1:], "/"))
	case match(segs, "agent", "self"):
		f.getOnly(q, f.agentSelf)
	case match(segs, "status", "leader"):
		f.getOnly(q, func(q *request) { f.writeJSON(q, "127.0.0.1:4647") })
	case match(segs, "fleetcast", "pools"):
		f.getOnly(q, f.fleetcastPools)
	case match(segs, "fleetcast", "pool", "*", "size"):
		f.poolSizeEndpoint(q)
	case match(segs, "fleetcast", "truth"):
		f.getOnly(q, func(q *request) { f.writeJSON(q, f.Truth()) })
	default:
		// What a Nomad agent answers for a path it has no handler for.
		http.NotFound(w, r)
	}
}

// match says whether segs is the pattern, "*" matching one segment. Job
// IDs of periodic children contain a slash, escaped by the client, so it
// stays within one segment.
func match(segs []string, pattern ...string) bool {
	if len(segs) != len(pattern) {
		return false
	}
	for i, p := range pattern {
		if p != "*" && p != segs[i] {
			return false
		}
		if p == "*" && segs[i] == "" {
			return false
		}
	}
	return true
}

// block implements Nomad's blocking queries: with ?index=N a read waits
// until the state changes past N or ?wait (default 5m) passes.
func (f *Fleet) block(r *http.Request) {
	idx, err := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
	if err != nil || idx == 0 {
		return
	}
	wait := 5 * time.Minute
	if s := r.URL.Query().Get("wait"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d > 0 {
			wait = min(d, 10*time.Minute)
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		f.mu.RLock()
		cur, ch := f.index, f.changed
		f.mu.RUnlock()
		if cur > idx {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (f *Fleet) getOnly(q *request, h func(*request)) {
	if q.r.Method != http.MethodGet {
		invalidMethod(q.w)
		return
	}
	h(q)
}

func (f *Fleet) writeOnly(q *request, h func(*request)) {
	if q.r.Method != http.MethodPut && q.r.Method != http.MethodPost {
		invalidMethod(q.w)
		return
	}
	h(q)
}

func invalidMethod(w http.ResponseWriter) {
	httpError(w, http.StatusMethodNotAllowed, "Invalid method")
}

// httpError writes an error as Nomad does: the message as plain text.
func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

func (f *Fleet) fail(q *request, err error) {
	var ae *APIError
	if errors.As(err, &ae) {
		httpError(q.w, ae.Code, ae.Msg)
		return
	}
	httpError(q.w, http.StatusInternalServerError, err.Error())
}

func (f *Fleet) setMeta(w http.ResponseWriter) {
	f.mu.RLock()
	idx := f.index
	f.mu.RUnlock()
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(idx, 10))
	w.Header().Set("X-Nomad-KnownLeader", "true")
	w.Header().Set("X-Nomad-LastContact", "0")
}

func (f *Fleet) writeJSON(q *request, v any) { f.writeJSONCode(q, http.StatusOK, v) }

func (f *Fleet) writeJSONCode(q *request, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpError(q.w, http.StatusInternalServerError, err.Error())
		return
	}
	f.setMeta(q.w)
	q.w.Header().Set("Content-Type", "application/json")
	q.w.WriteHeader(code)
	_, _ = q.w.Write(b)
}

func decode(q *request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(q.r.Body, 1<<20))
	if err != nil {
		httpError(q.w, http.StatusBadRequest, fmt.Sprintf("failed to read request body: %v", err))
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return true
	}
	if err := json.Unmarshal(body, v); err != nil {
		httpError(q.w, http.StatusBadRequest, fmt.Sprintf("Failed to decode request body: %v", err))
		return false
	}
	return true
}

func (q *request) nsMatch(ns string) bool { return q.ns == "*" || q.ns == ns }

// writeFiltered writes a list, keeping what the request's `filter`
// expression selects (see filter.go); a filter the simulator cannot read
// is a 400.
func (f *Fleet) writeFiltered(q *request, list any) {
	src := q.r.URL.Query().Get("filter")
	if src == "" {
		f.writeJSON(q, list)
		return
	}
	fail := func(err error) {
		httpError(q.w, http.StatusBadRequest, fmt.Sprintf("failed to read filter expression: %v", err))
	}
	e, err := parseFilter(src)
	if err != nil {
		fail(err)
		return
	}
	b, err := json.Marshal(list)
	var items []map[string]any
	if err == nil {
		err = json.Unmarshal(b, &items)
	}
	if err != nil {
		httpError(q.w, http.StatusInternalServerError, err.Error())
		return
	}
	kept := []map[string]any{}
	for _, it := range items {
		ok, err := e(it)
		if err != nil {
			fail(err)
			return
		}
		if ok {
			kept = append(kept, it)
		}
	}
	f.writeJSON(q, kept)
}

func (f *Fleet) listJobs(q *request) {
	prefix := q.r.URL.Query().Get("prefix")
	meta := q.r.URL.Query().Get("meta") == "true"
	f.mu.RLock()
	out := []*api.JobListStub{}
	for _, j := range f.jobs {
		if q.nsMatch(j.ns) && strings.HasPrefix(j.id, prefix) {
			out = append(out, f.jobStub(j, meta))
		}
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, k int) bool { return out[i].ID < out[k].ID })
	f.writeFiltered(q, out)
}

func (f *Fleet) readJob(q *request) {
	f.mu.RLock()
	j := f.findJob(q.ns, q.segs[1])
	var out *api.Job
	if j != nil {
		out = f.apiJob(j)
	}
	f.mu.RUnlock()
	if out == nil {
		httpError(q.w, http.StatusNotFound, "job not found")
		return
	}
	f.writeJSON(q, out)
}

func (f *Fleet) jobSummaryEndpoint(q *request) {
	f.mu.RLock()
	j := f.findJob(q.ns, q.segs[1])
	var out *api.JobSummary
	if j != nil {
		out = f.jobSummary(j)
	}
	f.mu.RUnlock()
	if out == nil {
		httpError(q.w, http.StatusNotFound, "job not found")
		return
	}
	f.writeJSON(q, out)
}

func (f *Fleet) scaleStatus(q *request) {
	f.mu.RLock()
	j := f.findJob(q.ns, q.segs[1])
	var out *api.JobScaleStatusResponse
	if j != nil {
		out = &api.JobScaleStatusResponse{JobID: j.id, Namespace: j.ns, JobCreateIndex: j.createIndex,
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
	}
	f.mu.RUnlock()
	if out == nil {
		httpError(q.w, http.StatusNotFound, "job not found")
		return
	}
	f.writeJSON(q, out)
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

func (f *Fleet) scaleJob(q *request) {
	var req api.ScalingRequest
	if !decode(q, &req) {
		return
	}
	if req.Target == nil || req.Target["Group"] == "" {
		httpError(q.w, http.StatusBadRequest, "missing task group name")
		return
	}
	if j := req.Target["Job"]; j != "" && j != q.segs[1] {
		httpError(q.w, http.StatusBadRequest, "job ID does not match")
		return
	}
	if req.Count != nil && req.Error {
		httpError(q.w, http.StatusBadRequest, "scaling action should not contain count if error is true")
		return
	}
	ns := q.ns
	if req.Namespace != "" && q.r.URL.Query().Get("namespace") == "" {
		ns = req.Namespace
	}
	resp, err := f.scale(ns, q.segs[1], &req)
	if err != nil {
		f.fail(q, err)
		return
	}
	// The api type embeds the client's QueryMeta; the agent sends its
	// own fields instead.
	f.writeJSON(q, map[string]any{
		"EvalID": resp.EvalID, "EvalCreateIndex": resp.EvalCreateIndex, "JobModifyIndex": resp.JobModifyIndex,
		"Warnings": "", "Index": resp.LastIndex, "LastContact": 0, "KnownLeader": true, "NextToken": "",
	})
}

func (f *Fleet) jobAllocs(q *request) {
	f.mu.RLock()
	j := f.findJob(q.ns, q.segs[1])
	out := []*api.AllocationListStub{}
	for _, a := range f.allocs {
		if j != nil && a.job == j {
			out = append(out, f.allocStub(a, false))
		}
	}
	f.mu.RUnlock()
	f.writeJSON(q, out)
}

func (f *Fleet) jobDeployment(q *request) {
	f.mu.RLock()
	j := f.findJob(q.ns, q.segs[1])
	var out *api.Deployment
	for i := len(f.deploys) - 1; i >= 0 && j != nil; i-- {
		if f.deploys[i].job == j {
			out = f.apiDeployment(f.deploys[i])
			break
		}
	}
	f.mu.RUnlock()
	f.writeJSON(q, out) // null when there is none, as Nomad answers
}

func (f *Fleet) jobDeployments(q *request) {
	f.mu.RLock()
	j := f.findJob(q.ns, q.segs[1])
	out := []*api.Deployment{}
	for i := len(f.deploys) - 1; i >= 0 && j != nil; i-- {
		if f.deploys[i].job == j {
			out = append(out, f.apiDeployment(f.deploys[i]))
		}
	}
	f.mu.RUnlock()
	f.writeJSON(q, out)
}

func (f *Fleet) listDeployments(q *request) {
	f.mu.RLock()
	out := []*api.Deployment{}
	for i := len(f.deploys) - 1; i >= 0; i-- {
		if q.nsMatch(f.deploys[i].job.ns) {
			out = append(out, f.apiDeployment(f.deploys[i]))
		}
	}
	f.mu.RUnlock()
	f.writeJSON(q, out)
}

func (f *Fleet) readDeployment(q *request) {
	f.mu.RLock()
	var out *api.Deployment
	for _, d := range f.deploys {
		if d.id == q.segs[1] {
			out = f.apiDeployment(d)
		}
	}
	f.mu.RUnlock()
	if out == nil {
		httpError(q.w, http.StatusNotFound, "deployment not found")
		return
	}
	f.writeJSON(q, out)
}

func (f *Fleet) listAllocs(q *request) {
	prefix := q.r.URL.Query().Get("prefix")
	res := q.r.URL.Query().Get("resources") == "true"
	f.mu.RLock()
	out := []*api.AllocationListStub{}
	for _, a := range f.allocs {
		if q.nsMatch(a.job.ns) && strings.HasPrefix(a.id, prefix) {
			out = append(out, f.allocStub(a, res))
		}
	}
	f.mu.RUnlock()
	f.writeFiltered(q, out)
}

func (f *Fleet) readAlloc(q *request) {
	f.mu.RLock()
	a := f.findAlloc(q.segs[1])
	var out *api.Allocation
	if a != nil {
		out = f.apiAlloc(a)
	}
	f.mu.RUnlock()
	if out == nil {
		httpError(q.w, http.StatusNotFound, "alloc not found")
		return
	}
	f.writeJSON(q, out)
}

func (f *Fleet) stopAllocEndpoint(q *request) {
	eval, err := f.StopAlloc(q.segs[1])
	if err != nil {
		f.fail(q, err)
		return
	}
	f.mu.RLock()
	idx := f.index
	f.mu.RUnlock()
	f.writeJSON(q, map[string]any{"EvalID": eval, "Index": idx})
}

func (f *Fleet) listNodes(q *request) {
	prefix := q.r.URL.Query().Get("prefix")
	res := q.r.URL.Query().Get("resources") == "true"
	f.mu.RLock()
	out := []*api.NodeListStub{}
	for _, n := range f.nodes {
		if strings.HasPrefix(n.id, prefix) {
			out = append(out, f.nodeStub(n, res))
		}
	}
	f.mu.RUnlock()
	f.writeFiltered(q, out)
}

func (f *Fleet) readNode(q *request) {
	f.mu.RLock()
	n := f.findNode(q.segs[1])
	var out *api.Node
	if n != nil {
		out = f.apiNode(n)
	}
	f.mu.RUnlock()
	if out == nil {
		httpError(q.w, http.StatusNotFound, "node not found")
		return
	}
	if f.cfg.version.hasNodeMaxAllocs() {
		f.writeJSON(q, out)
		return
	}
	// The api type is that of a newer Nomad: leave out the fields the
	// claimed release does not have.
	b, err := json.Marshal(out)
	var m map[string]json.RawMessage
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		httpError(q.w, http.StatusInternalServerError, err.Error())
		return
	}
	delete(m, "NodeMaxAllocs")
	delete(m, "GCVolumesOnNodeGC")
	f.writeJSON(q, m)
}

func (f *Fleet) nodeAllocs(q *request) {
	f.mu.RLock()
	n := f.findNode(q.segs[1])
	out := []*api.Allocation{}
	for _, a := range f.allocs {
		if n != nil && a.node == n {
			out = append(out, f.apiAlloc(a))
		}
	}
	f.mu.RUnlock()
	if n == nil {
		httpError(q.w, http.StatusNotFound, "node not found")
		return
	}
	f.writeJSON(q, out)
}

func (f *Fleet) nodeEligibility(q *request) {
	var req api.NodeUpdateEligibilityRequest
	if !decode(q, &req) {
		return
	}
	var eligible bool
	switch req.Eligibility {
	case api.NodeSchedulingEligible:
		eligible = true
	case api.NodeSchedulingIneligible:
	default:
		httpError(q.w, http.StatusBadRequest, fmt.Sprintf("invalid scheduling eligibility %q", req.Eligibility))
		return
	}
	if err := f.SetEligibility(q.segs[1], eligible); err != nil {
		f.fail(q, err)
		return
	}
	f.mu.RLock()
	idx := f.index
	f.mu.RUnlock()
	f.writeJSON(q, nodeUpdateResponse(idx))
}

func (f *Fleet) nodeDrain(q *request) {
	var req api.NodeUpdateDrainRequest
	if !decode(q, &req) {
		return
	}
	if err := f.DrainNode(q.segs[1], req.DrainSpec, req.MarkEligible); err != nil {
		f.fail(q, err)
		return
	}
	f.mu.RLock()
	idx := f.index
	f.mu.RUnlock()
	f.writeJSON(q, nodeUpdateResponse(idx))
}

func (f *Fleet) listPools(q *request) {
	f.mu.RLock()
	out := []*api.NodePool{
		{Name: "all", Description: "Node pool with all nodes in the cluster."},
		{Name: "default", Description: "Default node pool."},
	}
	for _, name := range sortedKeys(f.pools) {
		if name != "default" && name != "all" {
			out = append(out, &api.NodePool{Name: name, Meta: copyMap(f.pools[name].cfg.Meta)})
		}
	}
	f.mu.RUnlock()
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	f.writeJSON(q, out)
}

func (f *Fleet) readPool(q *request) {
	name := q.segs[2]
	f.mu.RLock()
	p := f.pools[name]
	f.mu.RUnlock()
	switch {
	case p != nil:
		f.writeJSON(q, &api.NodePool{Name: name, Meta: copyMap(p.cfg.Meta)})
	case name == "default" || name == "all":
		f.writeJSON(q, &api.NodePool{Name: name})
	default:
		httpError(q.w, http.StatusNotFound, "node pool not found")
	}
}

func (f *Fleet) poolNodesEndpoint(q *request) {
	name := q.segs[2]
	f.mu.RLock()
	out := []*api.NodeListStub{}
	for _, n := range f.nodes {
		if n.pool == name || name == "all" {
			out = append(out, f.nodeStub(n, false))
		}
	}
	_, known := f.pools[name]
	f.mu.RUnlock()
	if !known && name != "all" && name != "default" {
		httpError(q.w, http.StatusNotFound, "node pool not found")
		return
	}
	f.writeJSON(q, out)
}

func (f *Fleet) listVars(q *request) {
	f.writeJSON(q, f.varList(q.ns, q.r.URL.Query().Get("prefix")))
}

func (f *Fleet) varEndpoint(q *request, path string) {
	query := q.r.URL.Query()
	var cas *uint64
	if s := query.Get("cas"); query.Has("cas") {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			httpError(q.w, http.StatusBadRequest, fmt.Sprintf("failed to parse cas value %q", s))
			return
		}
		cas = &n
	}
	var res varResult
	switch q.r.Method {
	case http.MethodGet:
		res = f.varRead(q.ns, path)
	case http.MethodPut, http.MethodPost:
		var in api.Variable
		if !decode(q, &in) {
			return
		}
		op := ""
		for _, o := range []string{"lock-acquire", "lock-renew", "lock-release"} {
			if query.Has(o) {
				op = o
			}
		}
		ns := q.ns
		if in.Namespace != "" && query.Get("namespace") == "" {
			ns = in.Namespace
		}
		res = f.varWrite(ns, path, op, cas, &in)
	case http.MethodDelete:
		res = f.varDelete(q.ns, path, cas)
	default:
		invalidMethod(q.w)
		return
	}
	if s, ok := res.body.(string); ok {
		httpError(q.w, res.code, s)
		return
	}
	if res.code == http.StatusNoContent {
		f.setMeta(q.w)
		q.w.WriteHeader(http.StatusNoContent)
		return
	}
	f.writeJSONCode(q, res.code, res.body)
}

// poolSizeRequest is the body of fleetcast's pool size endpoint.
type poolSizeRequest struct {
	Count int
}

func (f *Fleet) fleetcastPools(q *request) {
	f.mu.RLock()
	out := []PoolStatus{}
	for _, name := range sortedKeys(f.pools) {
		out = append(out, f.poolStatus(f.pools[name]))
	}
	f.mu.RUnlock()
	f.writeJSON(q, out)
}

// poolSizeEndpoint is the simulator's stand-in for a cloud autoscaling
// group: GET reports the pool's size, PUT or POST {"Count": n} sets it.
func (f *Fleet) poolSizeEndpoint(q *request) {
	name := q.segs[2]
	switch q.r.Method {
	case http.MethodGet:
		st, err := f.PoolSize(name)
		if err != nil {
			f.fail(q, err)
			return
		}
		f.writeJSON(q, st)
	case http.MethodPut, http.MethodPost:
		var req poolSizeRequest
		req.Count = -1
		if !decode(q, &req) {
			return
		}
		if req.Count < 0 {
			httpError(q.w, http.StatusBadRequest, `missing or negative "Count"`)
			return
		}
		st, err := f.SetPoolSize(name, req.Count)
		if err != nil {
			f.fail(q, err)
			return
		}
		f.writeJSON(q, st)
	default:
		invalidMethod(q.w)
	}
}

// nodeUpdateResponse is what the agent answers to eligibility and drain
// updates.
func nodeUpdateResponse(idx uint64) map[string]any {
	return map[string]any{"NodeModifyIndex": idx, "EvalIDs": nil, "EvalCreateIndex": 0, "Index": idx}
}

// listEvals lists the blocked evaluations; the simulator keeps no others.
func (f *Fleet) listEvals(q *request, jobID string) {
	status := q.r.URL.Query().Get("status")
	f.mu.RLock()
	out := []*api.Evaluation{}
	if status == "" || status == "blocked" {
		out = append(out, f.blockedEvals(q.ns, jobID)...)
	}
	f.mu.RUnlock()
	f.writeJSON(q, out)
}

// agentSelf answers /v1/agent/self as the leader server agent does (it is
// also a client): the release in config.Version and in the member's
// "build" tag, which is where clients read the server's version.
func (f *Fleet) agentSelf(q *request) {
	v := f.cfg.version
	pre, meta := "", ""
	if i := strings.IndexByte(v.text, '+'); i >= 0 {
		meta = v.text[i+1:]
	}
	if i := strings.IndexByte(v.text, '-'); i >= 0 {
		pre = strings.SplitN(v.text[i+1:], "+", 2)[0]
	}
	dc := f.cfg.NodePools[0].Datacenter
	out := api.AgentSelf{
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
	}
	f.writeJSON(q, out)
}

// Collector returns the fleet's metrics (those /metrics serves), for a
// program that serves them with its own (the command's reload gauges).
func (f *Fleet) Collector() prometheus.Collector { return &collector{f: f} }
