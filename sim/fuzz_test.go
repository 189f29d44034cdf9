package sim

import (
	"bytes"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
)

// FuzzParseConfig: no fleet file makes the parser panic, and a fleet that
// parses can be built.
func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{"testdata/fleet.yml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("node_pools: [{name: a, cpu_mhz: 1, memory_mb: 1, count: 1}]\njobs: [{id: j, groups: [{name: g, count: 3, cpu: 1, memory_mb: 1}]}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig(b, "fuzz.yml")
		if err != nil {
			return
		}
		// A fleet that parses can be built, unless a trace file is missing.
		if _, err := New(cfg, testStart); err != nil && !strings.Contains(err.Error(), "trace") {
			t.Fatalf("parsed config refused by New: %v", err)
		}
	})
}

// FuzzAPIPaths: no request path, method or body makes the API panic.
func FuzzAPIPaths(f *testing.F) {
	f.Add("GET", "/v1/job/web", "")
	f.Add("PUT", "/v1/job/web/scale", `{"Count": 2, "Target": {"Group": "web"}}`)
	f.Add("PUT", "/v1/var/a/b?lock-acquire", `{"Lock": {"TTL": "1s"}}`)
	f.Add("POST", "/v1/fleetcast/pool/default/size", `{"Count": 2}`)
	f.Add("PUT", "/v1/node/x/drain", `{"DrainSpec": {}}`)
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			return
		}
		switch method {
		case "GET", "PUT", "POST", "DELETE":
		default:
			return
		}
		cfg, err := LoadConfig("testdata/fleet.yml")
		if err != nil {
			t.Fatal(err)
		}
		fl, err := New(cfg, testStart)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := url.Parse("http://sim" + path); err != nil {
			return
		}
		req := httptest.NewRequest(method, "http://sim"+path, bytes.NewReader([]byte(body)))
		// A blocking query would wait for a change that never comes.
		q := req.URL.Query()
		q.Del("index")
		req.URL.RawQuery = q.Encode()
		rec := httptest.NewRecorder()
		fl.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != 500 {
			t.Fatalf("%s %s: %d", method, path, rec.Code)
		}
	})
}

// FuzzFilter: no filter expression makes the parser or its evaluation
// panic; what parses evaluates on a node without error or with one.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`NodePool == "default"`, `not (Drain == true) or "docker" in Drivers`,
		`Name matches "^a.*$" and Meta["zone"] is not empty`, `Attributes.kernel.name contains "lin"`, `((`, `"x`} {
		f.Add(s)
	}
	obj := map[string]any{"NodePool": "default", "Drain": false, "Drivers": map[string]any{"docker": map[string]any{"Healthy": true}},
		"Attributes": map[string]any{"kernel.name": "linux"}, "Meta": nil, "Name": "a-1", "Tags": []any{"x", 1.0}}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := parseFilter(src)
		if err != nil {
			return
		}
		_, _ = e(obj)
	})
}
