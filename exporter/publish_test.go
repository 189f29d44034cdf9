package exporter

import (
	"context"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

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
	if n := len(parsePage(t, body)["fleetcast_forecast"].GetMetric()); n != 2*3 {
		t.Errorf("fleetcast_forecast has %d samples, want 6 (2 targets × 3 quantiles)", n)
	}
	for _, sel := range []string{
		`fleetcast_forecast{horizon="1h",node_id="n1",q="0.5",target="nodes"}`,
		`fleetcast_forecast{exported_target="clash",horizon="1h",job="web",namespace="default",q="0.5",target="jobs"}`,
	} {
		if n := len(find(t, body, sel)); n != 1 {
			t.Errorf("/metrics has %d samples of %s, want 1", n, sel)
		}
	}
}

// burst is a deterministic stand-in for a disk-write-bytes series: 0 on
// most steps, a burst of up to about 1e9 on roughly one step in six, and a
// near-idle CPU percentage (series 1) that hovers just above 0.
func burst(i int, ts int64) float64 {
	h := uint64(ts/300)*0x9E3779B97F4A7C15 + uint64(i)*0xBF58476D1CE4E5B9
	h ^= h >> 31
	h *= 0x94D049BB133111EB
	h ^= h >> 29
	u := float64(h%1_000_000) / 1_000_000
	if i == 1 {
		return math.Abs(0.3 + 0.6*math.Sin(float64(h%1000)))
	}
	if u < 0.17 {
		return math.Exp(9 + 11*u/0.17)
	}
	return 0
}

// forecastSamples returns every fleetcast_forecast and
// fleetcast_forecast_peak sample of the exposition, by its labels.
func forecastSamples(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	mfs := parsePage(t, body)
	for _, name := range []string{"fleetcast_forecast", "fleetcast_forecast_peak"} {
		for _, m := range mfs[name].GetMetric() {
			out[name+fmt.Sprint(m.GetLabel())] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestGaugesRespectBounds(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		lo, hi      float64
	}{
		{"default lower bound 0", "", 0, math.Inf(1)},
		{"percentage", "    min: 0\n    max: 1.5\n", 0, 1.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := &fakeProm{series: []model.Metric{{"instance": "disk"}, {"instance": "cpu"}}, value: burst}
			clk := &clock{t: time.Unix(1_790_000_000, 0)}
			e, err := New(Options{Config: testConfig(t, tc.extra), Querier: fp, Now: clk.now})
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if err := e.CycleAll(context.Background()); err != nil {
					t.Fatal(err)
				}
				body := scrape(t, e.Handler())
				got := forecastSamples(t, body)
				if len(got) < 10 {
					t.Fatalf("only %d forecast samples:\n%s", len(got), body)
				}
				for k, v := range got {
					if !(v >= tc.lo && v <= tc.hi) {
						t.Errorf("%s = %g, outside [%g, %g]", k, v, tc.lo, tc.hi)
					}
				}
				clk.add(time.Hour)
			}
			rec := httptest.NewRecorder()
			e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/target?name=cpu", nil))
			want := "[0, +Inf]"
			if !math.IsInf(tc.hi, 1) {
				want = "[0, 1.5]"
			}
			if !strings.Contains(html.UnescapeString(rec.Body.String()), want) {
				t.Errorf("status page does not show the bounds %s:\n%s", want, rec.Body)
			}
		})
	}
}
