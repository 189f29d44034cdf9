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
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/forecast"
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

func TestCycleIncrementalAndVanish(t *testing.T) {
	fp := &fakeProm{series: []model.Metric{{"__name__": "node_cpu", "instance": "a"}, {"__name__": "node_cpu", "instance": "b"}}, value: daily}
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	e, err := New(Options{Config: testConfig(t, ""), Querier: fp, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.CycleAll(ctx); err != nil {
		t.Fatalf("first cycle: %v", err)
	}
	// 3 days of 5m steps = 864 points: loaded in chunks of at most 288 first.
	if fp.maxSteps > maxStepsPerSeries {
		t.Errorf("a range query asked %d steps per series, over %d", fp.maxSteps, maxStepsPerSeries)
	}
	first := len(fp.ranges)
	h := e.Handler()
	body := scrape(t, h)
	for _, want := range []string{
		`fleetcast_forecast{horizon="1h",instance="a",q="0.5",target="cpu"}`,
		`fleetcast_forecast_peak{instance="b",q="0.9",target="cpu",window="6h"}`,
		`fleetcast_observed{instance="a",target="cpu"}`,
		`fleetcast_anomaly_score{instance="a",target="cpu"} 0`,
		`fleetcast_model_info{instance="a",model=`,
		`fleetcast_exporter_series{target="cpu"} 2`,
		"Computed on the exporter's own schedule",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The 1h forecast of a daily sine is close to the truth an hour ahead.
	end := clk.now().Unix() / 300 * 300
	got := gauge(t, body, `fleetcast_forecast{horizon="1h",instance="a",q="0.5",target="cpu"}`)
	if want := daily(0, end+3600); math.Abs(got-want) > 5 {
		t.Errorf("1h forecast %g, truth %g", got, want)
	}

	// Ten minutes later: one query for the two new steps (and the last one again).
	clk.add(10 * time.Minute)
	if err := e.CycleAll(ctx); err != nil {
		t.Fatalf("second cycle: %v", err)
	}
	if n := len(fp.ranges) - first; n != 1 {
		t.Fatalf("incremental cycle made %d range queries, want 1", n)
	}
	r := fp.ranges[len(fp.ranges)-1]
	if steps := int(r.End.Sub(r.Start)/(5*time.Minute)) + 1; steps != 3 {
		t.Errorf("incremental query asked %d steps, want 3", steps)
	}

	// Series b vanishes: after two steps without it, it leaves memory and /metrics.
	fp.mu.Lock()
	fp.series = fp.series[:1]
	fp.mu.Unlock()
	clk.add(15 * time.Minute)
	if err := e.CycleAll(ctx); err != nil {
		t.Fatal(err)
	}
	body = scrape(t, h)
	if strings.Contains(body, `instance="b"`) {
		t.Errorf("vanished series b still published")
	}
	if n := len(e.targets[0].series); n != 1 {
		t.Errorf("series in memory: %d, want 1", n)
	}
	// Memory stays bounded to the history.
	if l := len(e.targets[0].series[model.Metric{"instance": "a"}.Fingerprint()].vals); l != 864 {
		t.Errorf("grid length %d, want 864 (3d of 5m)", l)
	}
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

func TestCapacityExhaustionAndShard(t *testing.T) {
	var ms []model.Metric
	for i := range 20 {
		ms = append(ms, model.Metric{"instance": model.LabelValue(fmt.Sprint("n", i))})
	}
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	// n0's capacity is just under its highest value in the next 6 hours,
	// so the forecast reaches it within the horizon; n1's is far above.
	end := clk.now().Unix() / 300 * 300
	peak := math.Inf(-1)
	for ts := end + 300; ts <= end+6*3600; ts += 300 {
		peak = math.Max(peak, daily(0, ts))
	}
	fp := &fakeProm{series: ms, value: daily, capacity: model.Vector{
		{Metric: model.Metric{"instance": "n0"}, Value: model.SampleValue(peak - 1)},
		{Metric: model.Metric{"instance": "n1"}, Value: 1000},
	}}
	c := testConfig(t, "    capacity:\n      query: node_capacity\n")
	var total int
	for shard := range 2 {
		e, err := New(Options{Config: c, Querier: fp, Now: clk.now, Shard: shard, Shards: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.CycleAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		total += len(e.targets[0].series)
		body := scrape(t, e.Handler())
		if strings.Contains(body, `instance="n1"`) {
			if v := gauge(t, body, `fleetcast_capacity_exhaustion_seconds{instance="n1",target="cpu"}`); !math.IsInf(v, 1) {
				t.Errorf("n1 exhaustion %g, want +Inf", v)
			}
		}
		if strings.Contains(body, `instance="n0"`) {
			v := gauge(t, body, `fleetcast_capacity_exhaustion_seconds{instance="n0",target="cpu"}`)
			if v < 0 || v > 6*3600 || math.IsInf(v, 1) {
				t.Errorf("n0 exhaustion %g, want within the 6h horizon", v)
			}
		}
	}
	if total != 20 {
		t.Errorf("two shards hold %d series, want all 20 exactly once", total)
	}
}

func TestAnomalyScoreFromDetector(t *testing.T) {
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
	if s := gauge(t, scrape(t, h), `fleetcast_anomaly_score{instance="a",target="cpu"}`); s > forecast.AnomalyThreshold {
		t.Errorf("a regular daily sine scored %g, above the threshold", s)
	}
	fp.mu.Lock()
	fp.value = func(i int, ts int64) float64 { return 1000 }
	fp.mu.Unlock()
	clk.add(5 * time.Minute)
	if err := e.CycleAll(ctx); err != nil {
		t.Fatal(err)
	}
	if s := gauge(t, scrape(t, h), `fleetcast_anomaly_score{instance="a",target="cpu"}`); s <= forecast.AnomalyThreshold || s > 1 {
		t.Errorf("a jump from ~100 to 1000 scored %g, want above %g and at most 1", s, forecast.AnomalyThreshold)
	}
}

func TestAnomalyScoreFromPreviousBand(t *testing.T) {
	fp := &fakeProm{series: []model.Metric{{"instance": "a"}}, value: daily}
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	e, err := New(Options{Config: testConfig(t, ""), Querier: fp, Now: clk.now, NewScorer: NewBandScorer})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.CycleAll(ctx); err != nil {
		t.Fatal(err)
	}
	fp.mu.Lock()
	fp.value = func(i int, ts int64) float64 { return 1000 }
	fp.mu.Unlock()
	clk.add(5 * time.Minute)
	if err := e.CycleAll(ctx); err != nil {
		t.Fatal(err)
	}
	if s := gauge(t, scrape(t, e.Handler()), `fleetcast_anomaly_score{instance="a",target="cpu"}`); s <= 1 {
		t.Errorf("a jump from ~100 to 1000 scored %g, want well outside the band", s)
	}
}

// Targets whose series have different label names share metric names; the
// exposition must hold both, and a series label that clashes with one the
// exporter adds is renamed.
func TestTargetsWithDifferentLabels(t *testing.T) {
	c, err := ParseConfig([]byte(`prometheus:
  url: http://127.0.0.1:9090
targets:
  - name: nodes
    query: a
    history: 1d
    horizons: [1h]
  - name: jobs
    query: b
    history: 1d
    horizons: [1h]
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fp := &multiProm{byQuery: map[string]*fakeProm{
		"a": {series: []model.Metric{{"node_id": "n1"}}, value: daily},
		"b": {series: []model.Metric{{"namespace": "default", "job": "web", "target": "clash"}}, value: daily},
	}}
	e, err := New(Options{Config: c, Querier: fp, Now: func() time.Time { return time.Unix(1_790_000_000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CycleAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, e.Handler())
	// The whole exposition parses, each family once, as Prometheus reads it.
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	if n := len(mfs["fleetcast_forecast"].GetMetric()); n != 2*3 {
		t.Errorf("fleetcast_forecast has %d samples, want 6 (2 targets × 3 quantiles)", n)
	}
	for _, want := range []string{
		`fleetcast_forecast{horizon="1h",node_id="n1",q="0.5",target="nodes"}`,
		`fleetcast_forecast{exported_target="clash",horizon="1h",job="web",namespace="default",q="0.5",target="jobs"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
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

// With refit: 30m and a 5m refresh, each series is refit once per half
// hour, the fits are spread over the cycles, and the forecasts published in
// between are read further along the last fit, still at the right time.
func TestRefitSpreadsFits(t *testing.T) {
	var ms []model.Metric
	for i := range 60 {
		ms = append(ms, model.Metric{"instance": model.LabelValue(fmt.Sprint("n", i))})
	}
	fp := &fakeProm{series: ms, value: daily}
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	e, err := New(Options{Config: testConfig(t, "    refit: 30m\n"), Querier: fp, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.CycleAll(ctx); err != nil {
		t.Fatal(err)
	}
	h := e.Handler()
	fits := func() float64 { return gauge(t, scrape(t, h), `fleetcast_exporter_fits_total{target="cpu"}`) }
	if n := fits(); n != 60 {
		t.Fatalf("first cycle fits %g, want 60", n)
	}
	prev := 60.0
	for c := range 6 {
		clk.add(5 * time.Minute)
		if err := e.CycleAll(ctx); err != nil {
			t.Fatal(err)
		}
		n := fits()
		if d := n - prev; d < 2 || d > 25 {
			t.Errorf("cycle %d refit %g series; want a share of the 60 spread over 6 cycles", c, d)
		}
		prev = n
		end := clk.now().Unix() / 300 * 300
		got := gauge(t, scrape(t, h), `fleetcast_forecast{horizon="1h",instance="n0",q="0.5",target="cpu"}`)
		if want := daily(0, end+3600); math.Abs(got-want) > 5 {
			t.Errorf("cycle %d: 1h forecast %g, truth %g", c, got, want)
		}
	}
	if prev != 120 {
		t.Errorf("after 30 minutes %g fits, want 120 (every series once more)", prev)
	}
}

// The collector, for programs that embed the exporter, sends what /metrics shows.
func TestCollectorMatchesExposition(t *testing.T) {
	fp := &fakeProm{series: []model.Metric{{"instance": "a"}, {"instance": "b"}}, value: daily}
	e, err := New(Options{Config: testConfig(t, ""), Querier: fp, Now: func() time.Time { return time.Unix(1_790_000_000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CycleAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	mfs, err := e.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, mf := range mfs {
		got[mf.GetName()] = len(mf.GetMetric())
	}
	body := scrape(t, e.Handler())
	for _, name := range []string{"fleetcast_forecast", "fleetcast_forecast_peak", "fleetcast_observed", "fleetcast_model_info"} {
		if want := strings.Count(body, "\n"+name+"{"); got[name] != want || want == 0 {
			t.Errorf("%s: collector %d samples, /metrics %d", name, got[name], want)
		}
	}
}
