package promclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"gopkg.in/yaml.v3"
)

// TestClientSendsAuthHeadersAndParams checks that what an http_config and
// query_params say reaches Prometheus: the bearer token, a tenant header and
// the extra parameters, beside the query itself.
func TestClientSendsAuthHeadersAndParams(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse form: %v", err)
		}
		got = r
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`))
	}))
	defer srv.Close()
	hc := config.DefaultHTTPClientConfig
	if err := yaml.Unmarshal([]byte("authorization: {credentials: s3cret}\nhttp_headers: {X-Scope-OrgID: {values: [tenant-a]}}\n"), &hc); err != nil {
		t.Fatal(err)
	}
	if err := hc.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := New(srv.URL, hc, map[string]string{"dedup": "true"}, "fleetcast_test")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := promv1.NewAPI(c).Query(context.Background(), "up", time.Unix(0, 0)); err != nil {
		t.Fatalf("query: %v", err)
	}
	if got == nil {
		t.Fatal("no request reached the server")
	}
	for k, want := range map[string]string{"Authorization": "Bearer s3cret", "X-Scope-Orgid": "tenant-a"} {
		if g := got.Header.Get(k); g != want {
			t.Errorf("header %s = %q, want %q", k, g, want)
		}
	}
	if g := got.Form.Get("dedup"); g != "true" {
		t.Errorf("dedup = %q, want true", g)
	}
	if g := got.Form.Get("query"); g != "up" {
		t.Errorf("query = %q, want up", g)
	}
}

func TestCheckQueryParams(t *testing.T) {
	if err := CheckQueryParams("prometheus.query_params", map[string]string{"dedup": "true"}); err != nil {
		t.Errorf("dedup: %v", err)
	}
	err := CheckQueryParams("prometheus.query_params", map[string]string{"time": "0"})
	if err == nil || !strings.Contains(err.Error(), "prometheus.query_params.time") {
		t.Errorf("time: %v; want an error naming prometheus.query_params.time", err)
	}
}
