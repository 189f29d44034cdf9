package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// fakeProm answers range queries from a function of the series and time,
// and records what it was asked.
type fakeProm struct {
	mu       sync.Mutex
	series   []model.Metric
	value    func(i int, ts int64) float64
	down     bool
	ranges   []promv1.Range
	maxSteps int
	capacity model.Vector
}

func (f *fakeProm) QueryRange(_ context.Context, q string, r promv1.Range) (model.Matrix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("connection refused")
	}
	f.ranges = append(f.ranges, r)
	steps := int(r.End.Sub(r.Start)/r.Step) + 1
	f.maxSteps = max(f.maxSteps, steps)
	var m model.Matrix
	for i, lbls := range f.series {
		ss := &model.SampleStream{Metric: lbls}
		for ts := r.Start.Unix(); ts <= r.End.Unix(); ts += int64(r.Step / time.Second) {
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.Time(ts * 1000), Value: model.SampleValue(f.value(i, ts))})
		}
		m = append(m, ss)
	}
	return m, nil
}

func (f *fakeProm) Query(context.Context, string, time.Time) (model.Vector, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("connection refused")
	}
	return f.capacity, nil
}

// daily is a daily sine around 100 with amplitude 50, offset per series.
func daily(i int, ts int64) float64 {
	return 100 + float64(10*i) + 50*math.Sin(2*math.Pi*float64(ts%86400)/86400)
}

func testConfig(t *testing.T, extra string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(`prometheus:
  url: http://127.0.0.1:9090
targets:
  - name: cpu
    query: node_cpu
    step: 5m
    history: 3d
    horizons: [5m, 1h]
    quantiles: [0.1, 0.5, 0.9]
    peak_windows: [6h]
`+extra), t.TempDir())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return c
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func gauge(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no sample %s in:\n%s", series, body)
	return 0
}

func TestPrometheusDownKeepsServing(t *testing.T) {
	fp := &fakeProm{series: []model.Metric{{"instance": "a"}}, value: daily}
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	e, err := New(Options{Config: testConfig(t, ""), Querier: fp, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.CycleAll(ctx); err != nil {
		t.Fatal(err)
	}
	h := e.Handler()
	before := gauge(t, scrape(t, h), `fleetcast_forecast{horizon="1h",instance="a",q="0.5",target="cpu"}`)
	fp.mu.Lock()
	fp.down = true
	fp.mu.Unlock()
	clk.add(5 * time.Minute)
	if err := e.CycleAll(ctx); err == nil {
		t.Fatal("cycle with Prometheus down did not fail")
	}
	body := scrape(t, h)
	if got := gauge(t, body, `fleetcast_forecast{horizon="1h",instance="a",q="0.5",target="cpu"}`); got != before {
		t.Errorf("forecast changed while Prometheus was down: %g -> %g", before, got)
	}
	if gauge(t, body, `fleetcast_exporter_errors_total{stage="query",target="cpu"}`) != 1 || gauge(t, body, `fleetcast_exporter_prometheus_up{target="cpu"}`) != 0 {
		t.Errorf("errors/up not reported:\n%s", body)
	}
	fp.mu.Lock()
	fp.down = false
	fp.mu.Unlock()
	clk.add(5 * time.Minute)
	if err := e.CycleAll(ctx); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if gauge(t, scrape(t, h), `fleetcast_exporter_prometheus_up{target="cpu"}`) != 1 {
		t.Errorf("not up after recovery")
	}
}

type multiProm struct{ byQuery map[string]*fakeProm }

func (m *multiProm) QueryRange(ctx context.Context, q string, r promv1.Range) (model.Matrix, error) {
	return m.byQuery[q].QueryRange(ctx, q, r)
}

func (m *multiProm) Query(ctx context.Context, q string, ts time.Time) (model.Vector, error) {
	return m.byQuery[q].Query(ctx, q, ts)
}
