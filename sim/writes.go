package sim

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/hashicorp/nomad/api"
)

// The API's writes (see routes in http.go), each with Nomad's checks of
// the request and its answer.

func (f *Fleet) scaleJob(q *request) {
	var req api.ScalingRequest
	if !decode(q, &req) {
		return
	}
	id := q.r.PathValue("id")
	if req.Target == nil || req.Target["Group"] == "" {
		httpError(q.w, http.StatusBadRequest, "missing task group name")
		return
	}
	if j := req.Target["Job"]; j != "" && j != id {
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
	resp, err := f.scale(ns, id, &req)
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

// stopAllocEndpoint stops an allocation; the token must be allowed its
// namespace (Nomad's Alloc.Stop checks alloc-lifecycle there: 403).
func (f *Fleet) stopAllocEndpoint(q *request) {
	if ns, ok := f.allocNamespace(q.r.PathValue("id")); ok && !q.canRead(ns) {
		httpError(q.w, http.StatusForbidden, "Permission denied")
		return
	}
	eval, err := f.StopAlloc(q.r.PathValue("id"))
	if err != nil {
		f.fail(q, err)
		return
	}
	f.writeJSON(q, map[string]any{"EvalID": eval, "Index": f.currentIndex()})
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
	if err := f.SetEligibility(q.r.PathValue("id"), eligible); err != nil {
		f.fail(q, err)
		return
	}
	f.writeJSON(q, nodeUpdateResponse(f.currentIndex()))
}

func (f *Fleet) nodeDrain(q *request) {
	var req api.NodeUpdateDrainRequest
	if !decode(q, &req) {
		return
	}
	if err := f.DrainNode(q.r.PathValue("id"), req.DrainSpec, req.MarkEligible); err != nil {
		f.fail(q, err)
		return
	}
	f.writeJSON(q, nodeUpdateResponse(f.currentIndex()))
}

// nodeUpdateResponse is what the agent answers to eligibility and drain
// updates.
func nodeUpdateResponse(idx uint64) map[string]any {
	return map[string]any{"NodeModifyIndex": idx, "EvalIDs": nil, "EvalCreateIndex": 0, "Index": idx}
}

// poolSizeRequest is the body of fleetcast's pool size endpoint.
type poolSizeRequest struct {
	Count int
}

// poolSizeWrite is the simulator's stand-in for a cloud autoscaling
// group: PUT or POST {"Count": n} sets the pool's size (GET reports it).
func (f *Fleet) poolSizeWrite(q *request) {
	var req poolSizeRequest
	req.Count = -1
	if !decode(q, &req) {
		return
	}
	if req.Count < 0 {
		httpError(q.w, http.StatusBadRequest, `missing or negative "Count"`)
		return
	}
	st, err := f.SetPoolSize(q.r.PathValue("name"), req.Count)
	if err != nil {
		f.fail(q, err)
		return
	}
	f.writeJSON(q, st)
}

func (f *Fleet) listVars(q *request) {
	out := []*api.VariableMetadata{}
	for _, v := range f.varList(q.ns, q.r.URL.Query().Get("prefix")) {
		if q.canRead(v.Namespace) {
			out = append(out, v)
		}
	}
	f.writeJSON(q, out)
}

// allocNamespace is the namespace of the allocation with this ID, if the
// fleet has it.
func (f *Fleet) allocNamespace(id string) (string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if a := f.findAlloc(id); a != nil {
		return a.job.ns, true
	}
	return "", false
}

// varEndpoint serves GET, PUT, POST and DELETE of /v1/var/:path. A bad
// ?cas is refused before the method is looked at, as Nomad does.
func (f *Fleet) varEndpoint(q *request) {
	path := q.r.PathValue("path")
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
		setMeta(q.w, f.currentIndex())
		q.w.WriteHeader(http.StatusNoContent)
		return
	}
	f.writeJSONAt(q, f.currentIndex(), res.code, res.body)
}
