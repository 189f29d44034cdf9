package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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
	mux.Handle("/v1/", f.apiHandler())
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<html><head><title>fleetcast sim</title></head><body><h1>fleetcast simulated Nomad fleet</h1>
<p><a href="/metrics">Metrics</a> · <a href="/v1/jobs">Jobs</a> · <a href="/v1/nodes">Nodes</a> · <a href="/v1/fleetcast/truth">Ground truth</a></p></body></html>`)
	})
	return mux
}

// Collector returns the fleet's metrics (those /metrics serves), for a
// program that serves them with its own (the command's reload gauges).
func (f *Fleet) Collector() prometheus.Collector { return &collector{f: f} }

// route is one path of the API and what answers it.
type route struct {
	pattern string
	h       http.Handler
}

// routes are the API's paths as ServeMux patterns. The patterns carry no
// method: an endpoint answers the methods it has and Nomad's 405 "Invalid
// method" to the others (ServeMux's own 405 has another body, and would
// serve HEAD as GET, which a Nomad agent does not). A wildcard matches one
// unescaped segment, so a periodic child's ID (a slash, escaped by the
// client) and a URL-escaped node ID stay whole.
func (f *Fleet) routes() []route {
	// Nomad routes /v1/node/pool/… apart from /v1/node/:id/…, so a node
	// named "pool" has no endpoints; ServeMux cannot register
	// /v1/node/pool/{name} beside /v1/node/{id}/allocations (both match
	// /v1/node/pool/allocations), so a node's own endpoints are one
	// pattern, /v1/node/{id}/{op}, that the pool pattern outranks.
	nodeOps := map[string]endpoint{
		"allocations": {get: read(f, f.nodeAllocs)},
		"eligibility": {write: f.nodeEligibility},
		"drain":       {write: f.nodeDrain},
	}
	return []route{
		{"/v1/jobs", inNamespace(endpoint{get: list(f, f.jobList)})},
		{"/v1/job/{id}", inNamespace(endpoint{get: read(f, f.jobRead)})},
		{"/v1/job/{id}/scale", inNamespace(endpoint{get: read(f, f.scaleStatus), write: f.scaleJob})},
		{"/v1/job/{id}/allocations", inNamespace(endpoint{get: read(f, f.jobAllocs)})},
		{"/v1/job/{id}/summary", inNamespace(endpoint{get: read(f, f.jobSummaryRead)})},
		{"/v1/job/{id}/deployment", inNamespace(endpoint{get: read(f, f.jobDeployment)})},
		{"/v1/job/{id}/deployments", inNamespace(endpoint{get: read(f, f.jobDeployments)})},
		{"/v1/job/{id}/evaluations", inNamespace(endpoint{get: read(f, f.evalList)})},
		{"/v1/evaluations", inNamespace(endpoint{get: read(f, f.evalList)})},
		{"/v1/allocations", inNamespace(endpoint{get: list(f, f.allocList)})},
		{"/v1/allocation/{id}", endpoint{get: read(f, f.allocRead)}},
		{"/v1/allocation/{id}/stop", endpoint{write: f.stopAllocEndpoint}},
		{"/v1/nodes", endpoint{get: list(f, f.nodeList)}},
		{"/v1/node/{id}", endpoint{get: read(f, f.nodeRead)}},
		{"/v1/node/{id}/{op}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, ok := nodeOps[r.PathValue("op")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			e.ServeHTTP(w, r)
		})},
		{"/v1/node/pools", endpoint{get: read(f, f.poolList)}},
		{"/v1/node/pool/{name}", endpoint{get: read(f, f.poolRead)}},
		{"/v1/node/pool/{name}/nodes", endpoint{get: read(f, f.poolNodeList)}},
		{"/v1/deployments", inNamespace(endpoint{get: read(f, f.deploymentList)})},
		{"/v1/deployment/{id}", inNamespace(endpoint{get: read(f, f.deploymentRead)})},
		{"/v1/vars", inNamespace(endpoint{get: f.listVars})},
		{"/v1/var/{path...}", inNamespace(handle(f.varEndpoint))},
		// Without it ServeMux would redirect /v1/var to /v1/var/, which
		// {path...} matches; Nomad answers 404 to both.
		{"/v1/var", http.NotFoundHandler()},
		{"/v1/agent/self", endpoint{get: read(f, f.agentSelf)}},
		{"/v1/status/leader", endpoint{get: read(f, func(*request) (string, error) { return "127.0.0.1:4647", nil })}},
		{"/v1/fleetcast/pools", endpoint{get: read(f, f.fleetcastPools)}},
		{"/v1/fleetcast/pool/{name}/size", endpoint{get: read(f, f.poolSizeRead), write: f.poolSizeWrite}},
		{"/v1/fleetcast/truth", endpoint{get: read(f, func(*request) (Truth, error) { return f.truthLocked(), nil })}},
	}
}

// apiHandler serves /v1/: the ACL token is checked first, then a GET with
// ?index waits as a blocking query, then the routes answer; a path none
// matches is the 404 "404 page not found" a Nomad agent gives. A trailing
// slash is ignored, as Nomad's handlers ignore it.
func (f *Fleet) apiHandler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range f.routes() {
		mux.Handle(rt.pattern, rt.h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.cfg.ACLToken != "" {
			tok := r.Header.Get("X-Nomad-Token")
			if tok == "" {
				tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			}
			if tok != f.cfg.ACLToken {
				ns, ok := f.tokenNamespaces(tok)
				if !ok {
					httpError(w, http.StatusForbidden, "Permission denied")
					return
				}
				r = r.WithContext(context.WithValue(r.Context(), namespacesKey{}, ns))
			}
		}
		if r.Method == http.MethodGet {
			f.block(r)
		}
		mux.ServeHTTP(w, withoutTrailingSlash(r))
	})
}

// withoutTrailingSlash returns r for its path without the one trailing
// slash ServeMux leaves in a cleaned path. An escaped slash (%2F) at the
// end is part of an ID and stays.
func withoutTrailingSlash(r *http.Request) *http.Request {
	esc, ok := strings.CutSuffix(r.URL.EscapedPath(), "/")
	if !ok {
		return r
	}
	p, err := url.PathUnescape(esc)
	if err != nil {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = new(url.URL)
	*r2.URL = *r.URL
	r2.URL.Path, r2.URL.RawPath = p, esc
	return r2
}

// namespacesKey carries, in a request's context, the namespaces a
// namespace token may use (absent: every namespace).
type namespacesKey struct{}

// tokenNamespaces is the set of namespaces of the namespace token with
// this secret, if there is one.
func (f *Fleet) tokenNamespaces(secret string) (map[string]bool, bool) {
	for _, nt := range f.cfg.NamespaceTokens {
		if nt.Secret == secret {
			set := map[string]bool{}
			for _, ns := range nt.Namespaces {
				set[ns] = true
			}
			return set, true
		}
	}
	return nil, false
}

// request is one API call and the namespace it asks about.
type request struct {
	w        http.ResponseWriter
	r        *http.Request
	ns       string          // ?namespace, "default" when unset; "*" is every namespace
	readable map[string]bool // the token's namespaces; nil: every namespace
}

func newRequest(w http.ResponseWriter, r *http.Request) *request {
	ns := r.URL.Query().Get("namespace")
	if ns == "" {
		ns = "default"
	}
	readable, _ := r.Context().Value(namespacesKey{}).(map[string]bool)
	return &request{w: w, r: r, ns: ns, readable: readable}
}

// canRead says whether the request's token may use namespace ns.
func (q *request) canRead(ns string) bool { return q.readable == nil || q.readable[ns] }

// nsMatch says whether an object of namespace ns is listed: it is the
// request's namespace (or that is "*") and the token may read it. With
// namespace=* Nomad lists the namespaces the token reads and leaves the
// others out without an error (Alloc.List).
func (q *request) nsMatch(ns string) bool { return (q.ns == "*" || q.ns == ns) && q.canRead(ns) }

// inNamespace guards an endpoint of the request's namespace: a token that
// may not use it is refused with Nomad's 403 "Permission denied" (with
// namespace=* it is served, and nsMatch filters).
func inNamespace(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := newRequest(w, r); q.ns != "*" && !q.canRead(q.ns) {
			httpError(w, http.StatusForbidden, "Permission denied")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// handler answers one method of one endpoint.
type handler func(q *request)

// handle serves h for every method: h checks the method itself.
func handle(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(newRequest(w, r)) })
}

// endpoint is what one API path answers, by method. PUT and POST are one
// write, as Nomad takes them; any other method is 405 "Invalid method".
type endpoint struct {
	get, write handler
}

func (e endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var h handler
	switch r.Method {
	case http.MethodGet:
		h = e.get
	case http.MethodPut, http.MethodPost:
		h = e.write
	}
	if h == nil {
		invalidMethod(w)
		return
	}
	h(newRequest(w, r))
}

// read answers a GET with what lookup finds under the fleet's read lock:
// Nomad's JSON, with the X-Nomad-Index of the state it was read from. An
// *APIError from lookup is Nomad's plain-text refusal ("job not found"
// with 404 and the like).
func read[T any](f *Fleet, lookup func(q *request) (T, error)) handler {
	return func(q *request) {
		v, idx, err := lookupLocked(f, q, lookup)
		if err != nil {
			f.fail(q, err)
			return
		}
		f.writeJSONAt(q, idx, http.StatusOK, v)
	}
}

// list is read for the lists that take Nomad's ?filter expression: it
// keeps the items the filter selects.
func list[T any](f *Fleet, lookup func(q *request) ([]T, error)) handler {
	return func(q *request) {
		v, idx, err := lookupLocked(f, q, lookup)
		if err != nil {
			f.fail(q, err)
			return
		}
		f.writeFiltered(q, idx, v)
	}
}

func lookupLocked[T any](f *Fleet, q *request, lookup func(q *request) (T, error)) (T, uint64, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	v, err := lookup(q)
	return v, f.index, err
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

// currentIndex is the index a write answers with, taken after it.
func (f *Fleet) currentIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.index
}

func setMeta(w http.ResponseWriter, idx uint64) {
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(idx, 10))
	w.Header().Set("X-Nomad-KnownLeader", "true")
	w.Header().Set("X-Nomad-LastContact", "0")
}

func (f *Fleet) writeJSON(q *request, v any) {
	f.writeJSONAt(q, f.currentIndex(), http.StatusOK, v)
}

func (f *Fleet) writeJSONAt(q *request, idx uint64, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpError(q.w, http.StatusInternalServerError, err.Error())
		return
	}
	setMeta(q.w, idx)
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

// writeFiltered writes a list read at index idx, keeping what the
// request's `filter` expression selects (see filter.go); a filter the
// simulator cannot read is a 400.
func (f *Fleet) writeFiltered(q *request, idx uint64, list any) {
	src := q.r.URL.Query().Get("filter")
	if src == "" {
		f.writeJSONAt(q, idx, http.StatusOK, list)
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
	f.writeJSONAt(q, idx, http.StatusOK, kept)
}
