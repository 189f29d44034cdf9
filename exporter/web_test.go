package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestEventsAPI(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig([]byte(`prometheus:
  url: http://127.0.0.1:9090
events_file: events.yml
events_api:
  token_file: token
targets:
  - name: cpu
    query: node_cpu
    history: 2d
    horizons: [1h]
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	fp := &fakeProm{series: []model.Metric{{"instance": "a"}}, value: daily}
	e, err := New(Options{Config: c, Querier: fp, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	h := e.Handler()
	do := func(method, path, token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	good := `{"name":"sale","start":"2026-09-21T20:00:00Z","duration":"4h","every":"1d","count":3,"effect":50,"known":true,"targets":["cpu"]}`
	for _, tc := range []struct {
		name, token, body string
		code              int
		want              string
	}{
		{"no token", "", good, 401, "bearer token"},
		{"wrong token", "nope", good, 401, "bearer token"},
		{"unknown field", "s3cret", `{"name":"x","begin":"2026-01-01T00:00:00Z"}`, 400, "unknown field"},
		{"no duration", "s3cret", `{"name":"x","start":"2026-01-01T00:00:00Z","effect":1}`, 400, "duration: missing"},
		{"unknown target", "s3cret", `{"name":"x","start":"2026-01-01T00:00:00Z","duration":"1h","targets":["mem"]}`, 400, "is not a configured target"},
		{"bad duration", "s3cret", `{"name":"x","start":"2026-01-01T00:00:00Z","duration":"1 hour"}`, 400, "decode event"},
		{"good", "s3cret", good, 201, `"name":"sale"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(http.MethodPost, "/api/v1/events", tc.token, tc.body)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("got %d %s, want %d containing %s", rec.Code, rec.Body, tc.code, tc.want)
			}
		})
	}
	// Persisted: a new calendar on the same file sees it, expanded into 3 occurrences.
	cal, err := OpenCalendar(filepath.Join(dir, "events.yml"))
	if err != nil {
		t.Fatal(err)
	}
	occ, err := cal.For("cpu", time.Unix(1_700_000_000, 0), time.Unix(1_800_000_000, 0))
	if err != nil || len(occ) != 3 || occ[0].Effect != 50 || occ[1].Start-occ[0].Start != 86400 || occ[0].End-occ[0].Start != 4*3600 {
		t.Fatalf("persisted occurrences: %+v %v", occ, err)
	}
	rec := do(http.MethodGet, "/api/v1/events", "s3cret", "")
	var list struct {
		Events []CalendarEvent `json:"events"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list.Events) != 1 {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	id := list.Events[0].ID
	if rec := do(http.MethodDelete, "/api/v1/events/"+id, "s3cret", ""); rec.Code != 200 {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	if rec := do(http.MethodDelete, "/api/v1/events/"+id, "s3cret", ""); rec.Code != 404 {
		t.Fatalf("second DELETE: %d, want 404", rec.Code)
	}
	if evs, _ := cal.Events(); len(evs) != 0 {
		t.Fatalf("after DELETE the file still holds %v", evs)
	}
}

func TestStatusPageChartAndHealth(t *testing.T) {
	fp := &fakeProm{series: []model.Metric{{"instance": "a"}}, value: daily}
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	e, err := New(Options{Config: testConfig(t, ""), Querier: fp, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	h := e.Handler()
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if rec := get("/-/ready"); rec.Code != 503 {
		t.Errorf("ready before the first cycle: %d", rec.Code)
	}
	if rec := get("/-/healthy"); rec.Code != 200 {
		t.Errorf("healthy: %d", rec.Code)
	}
	if err := e.CycleAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec := get("/-/ready"); rec.Code != 200 {
		t.Errorf("ready after the first cycle: %d", rec.Code)
	}
	if rec := get("/"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `href="/target?name=cpu"`) {
		t.Errorf("status page: %d %s", rec.Code, rec.Body)
	}
	fpr := model.Metric{"instance": "a"}.Fingerprint().String()
	rec := get("/target?name=cpu")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "series="+fpr) || !strings.Contains(rec.Body.String(), "snaive") && !strings.Contains(rec.Body.String(), "<td>") {
		t.Errorf("target page: %d %s", rec.Code, rec.Body)
	}
	rec = get("/chart.svg?target=cpu&series=" + fpr)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/svg+xml" || !strings.Contains(rec.Body.String(), "<svg") {
		t.Errorf("chart: %d %s", rec.Code, rec.Header())
	}
	if rec := get("/chart.svg?target=cpu&series=0000000000000001"); rec.Code != 404 {
		t.Errorf("chart of an unknown series: %d", rec.Code)
	}
}

// Scrapes, the status page and charts run while cycles refit (run with
// -race): a scrape never waits for a cycle and sees whole snapshots.
func TestServeWhileCycling(t *testing.T) {
	var ms []model.Metric
	for i := range 30 {
		ms = append(ms, model.Metric{"instance": model.LabelValue(fmt.Sprint("n", i))})
	}
	c, err := ParseConfig([]byte(`prometheus:
  url: http://127.0.0.1:9090
targets:
  - name: cpu
    query: node_cpu
    step: 1m
    history: 1d
    horizons: [5m, 1h]
    refresh: 1s
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Config: c, Querier: &fakeProm{series: ms, value: daily}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.Run(ctx)
	}()
	h := e.Handler()
	fpr := model.Metric{"instance": "n0"}.Fingerprint().String()
	scrapes := 0
	began := time.Now()
	for ctx.Err() == nil && (scrapes < 20 || time.Since(began) < 3*time.Second) {
		for _, path := range []string{"/metrics", "/", "/target?name=cpu", "/chart.svg?target=cpu&series=" + fpr} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != 200 && !(rec.Code == 404 && strings.HasPrefix(path, "/chart")) {
				t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
			}
			if path != "/metrics" {
				continue
			}
			if n := len(find(t, rec.Body.String(), "fleetcast_forecast")); n > 0 {
				if n != 30*2*3 {
					t.Fatalf("a scrape saw %d forecast samples, want 180: a partial snapshot", n)
				}
				scrapes++
			}
		}
	}
	cancel()
	<-done
	if scrapes == 0 {
		t.Fatal("no scrape saw a forecast")
	}
}
