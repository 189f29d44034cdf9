package sim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRouting pins what the router answers where ServeMux's defaults
// differ from a Nomad agent: methods an endpoint lacks (Nomad's 405, HEAD
// included), trailing slashes, escaped IDs, the node pool paths that
// outrank a node's, and paths nothing serves.
func TestRouting(t *testing.T) {
	f := testFleet(t)
	f.Advance(testStart.Add(2 * time.Hour)) // nightly has launched a child
	var child string
	for _, j := range f.Jobs() {
		if strings.HasPrefix(j.ID, "nightly/periodic-") {
			child = j.ID
		}
	}
	if child == "" {
		t.Fatal("no periodic child after two hours")
	}
	node := f.Nodes()[0].ID
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	const notFound = "404 page not found\n"
	for _, tc := range []struct {
		method, path string
		code         int
		body         string // exact, or the prefix of a JSON answer
		json         bool   // the answer is JSON with X-Nomad-Index
	}{
		{"GET", "/v1/jobs", 200, "[", true},
		{"GET", "/v1/jobs/", 200, "[", true},
		{"GET", "/v1/job/web/", 200, "{", true},
		{"GET", "/v1/job/web/scale/", 200, "{", true},
		{"GET", "/v1/j%6Fbs", 200, "[", true},
		{"GET", "/v1/job/" + url.PathEscape(child), 200, "{", true},
		{"GET", "/v1/job/" + url.PathEscape(child) + "/allocations", 200, "[", true},
		{"GET", "/v1/job/" + child, 404, notFound, false},
		{"GET", "/v1/job/nope", 404, "job not found", false},
		{"GET", "/v1/job/web/other", 404, notFound, false},
		{"HEAD", "/v1/jobs", 405, "", false},
		{"POST", "/v1/jobs", 405, "Invalid method", false},
		{"PATCH", "/v1/job/web/scale", 405, "Invalid method", false},
		{"DELETE", "/v1/node/" + node, 405, "Invalid method", false},
		{"GET", "/v1/allocation/x/stop", 405, "Invalid method", false},
		{"GET", "/v1/node/" + node + "/eligibility", 405, "Invalid method", false},
		{"GET", "/v1/node/" + node + "/", 200, "{", true},
		{"GET", "/v1/node/" + node + "/allocations", 200, "[", true},
		{"GET", "/v1/node/" + node + "/other", 404, notFound, false},
		{"GET", "/v1/node/a%2Fb", 404, "node not found", false},
		{"GET", "/v1/node/pool/allocations", 404, "node pool not found", false},
		{"POST", "/v1/node/pool/eligibility", 405, "Invalid method", false},
		{"GET", "/v1/node/pool", 404, "node not found", false},
		{"GET", "/v1/node/pools/allocations", 404, "node not found", false},
		{"GET", "/v1/node/pool/all/nodes", 200, "[", true},
		{"GET", "/v1/var", 404, notFound, false},
		{"GET", "/v1/var/", 404, notFound, false},
		{"GET", "/v1/var/a%2Fb", 404, "variable not found", false},
		{"PATCH", "/v1/var/x?cas=zz", 400, `failed to parse cas value "zz"`, false},
		{"PATCH", "/v1/var/x", 405, "Invalid method", false},
		{"GET", "/v1/status/leader/", 200, `"127.0.0.1:4647"`, true},
		{"GET", "/v1/", 404, notFound, false},
		{"GET", "/v1/acl/tokens", 404, notFound, false},
		{"GET", "/v1/metrics/", 404, notFound, false},
		{"POST", "/v1/metrics", 405, "Invalid method", false},
		{"GET", "/nope", 404, notFound, false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			body := string(b)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.code, body)
			}
			if tc.json {
				if !strings.HasPrefix(body, tc.body) || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("want JSON starting %q, got %s %q", tc.body, resp.Header.Get("Content-Type"), body)
				}
				if resp.Header.Get("X-Nomad-Index") == "" || resp.Header.Get("X-Nomad-KnownLeader") != "true" {
					t.Errorf("query meta headers missing: %v", resp.Header)
				}
				return
			}
			if body != tc.body || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("body %q (%s), want %q as plain text", body, resp.Header.Get("Content-Type"), tc.body)
			}
		})
	}
}
