package exporter

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
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

// testStart is the fixed clock's start in the tests.
var testStart = time.Unix(1_790_000_000, 0)

// startExporter builds an exporter from o, with testConfig's target and a
// clock at testStart unless o sets them, and runs its first cycle.
func startExporter(t testing.TB, o Options) (*Exporter, *clock) {
	t.Helper()
	clk := &clock{t: testStart}
	if o.Now == nil {
		o.Now = clk.now
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CycleAll(context.Background()); err != nil {
		t.Fatalf("first cycle: %v", err)
	}
	return e, clk
}

// parsePage reads a /metrics page as Prometheus does.
func parsePage(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := tp.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return mfs
}

// find returns the values of the samples of a /metrics page that a PromQL
// selector matches: a metric name, label matchers, or both.
func find(t *testing.T, body, selector string) []float64 {
	t.Helper()
	ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(selector)
	if err != nil {
		t.Fatalf("selector %s: %v", selector, err)
	}
	var out []float64
	for name, mf := range parsePage(t, body) {
	samples:
		for _, m := range mf.GetMetric() {
			for _, mt := range ms {
				v := name
				if mt.Name != model.MetricNameLabel {
					v = ""
					for _, l := range m.GetLabel() {
						if l.GetName() == mt.Name {
							v = l.GetValue()
						}
					}
				}
				if !mt.Matches(v) {
					continue samples
				}
			}
			switch {
			case m.Gauge != nil:
				out = append(out, m.GetGauge().GetValue())
			case m.Counter != nil:
				out = append(out, m.GetCounter().GetValue())
			default:
				out = append(out, m.GetUntyped().GetValue())
			}
		}
	}
	return out
}

// gauge returns the value of the one sample of a /metrics page that the
// selector matches.
func gauge(t *testing.T, body, selector string) float64 {
	t.Helper()
	vs := find(t, body, selector)
	if len(vs) != 1 {
		t.Fatalf("%d samples match %s, want 1, in:\n%s", len(vs), selector, body)
	}
	return vs[0]
}

// TestPrometheusDownKeepsServing checks that while Prometheus is down the
// last forecasts stay published and the outage shows in the exporter's own
// metrics, and that the next cycle after it recovers.
func TestPrometheusDownKeepsServing(t *testing.T) {
	fp := &fakeProm{series: []model.Metric{{"instance": "a"}}, value: daily}
	e, clk := startExporter(t, Options{Config: testConfig(t, ""), Querier: fp})
	ctx := context.Background()
	h := e.Handler()
	const sel = `fleetcast_forecast{horizon="1h",instance="a",q="0.5",target="cpu"}`
	before := gauge(t, scrape(t, h), sel)
	queryErrors := e.self.errors.WithLabelValues("cpu", "query")
	up := e.self.up.WithLabelValues("cpu")
	for _, step := range []struct {
		name       string
		down       bool
		wantErrors float64
		wantUp     float64
	}{
		{"prometheus down", true, 1, 0},
		{"prometheus back", false, 1, 1},
	} {
		fp.mu.Lock()
		fp.down = step.down
		fp.mu.Unlock()
		clk.add(5 * time.Minute)
		if err := e.CycleAll(ctx); (err != nil) != step.down {
			t.Fatalf("%s: cycle error %v", step.name, err)
		}
		if step.down {
			if got := gauge(t, scrape(t, h), sel); got != before {
				t.Errorf("forecast changed while Prometheus was down: %g -> %g", before, got)
			}
		}
		if got := testutil.ToFloat64(queryErrors); got != step.wantErrors {
			t.Errorf("%s: query errors %g, want %g", step.name, got, step.wantErrors)
		}
		if got := testutil.ToFloat64(up); got != step.wantUp {
			t.Errorf("%s: prometheus_up %g, want %g", step.name, got, step.wantUp)
		}
	}
}

type multiProm struct{ byQuery map[string]*fakeProm }

func (m *multiProm) QueryRange(ctx context.Context, q string, r promv1.Range) (model.Matrix, error) {
	return m.byQuery[q].QueryRange(ctx, q, r)
}

func (m *multiProm) Query(ctx context.Context, q string, ts time.Time) (model.Vector, error) {
	return m.byQuery[q].Query(ctx, q, ts)
}
