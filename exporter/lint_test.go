package exporter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/model"
)

// TestExpositionPassesLint runs the checks of `promtool check metrics` on
// a full /metrics page: forecast gauges of two series, the exporter's own
// health and build info, and the Go and process collectors.
func TestExpositionPassesLint(t *testing.T) {
	fp := &fakeProm{series: []model.Metric{{"__name__": "node_cpu", "instance": "a"}, {"__name__": "node_cpu", "instance": "b"}}, value: daily}
	clk := &clock{t: time.Unix(1_790_000_000, 0)}
	e, err := New(Options{Config: testConfig(t, ""), Querier: fp, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CycleAll(context.Background()); err != nil {
		t.Fatalf("cycle: %v", err)
	}
	body := scrape(t, e.Handler())
	for _, name := range []string{"fleetcast_forecast", "fleetcast_backtest_coverage_ratio", "fleetcast_build_info"} {
		if len(find(t, body, name)) == 0 {
			t.Errorf("/metrics lacks %s, so the lint would not cover it", name)
		}
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promtool check metrics would say: %s: %s", p.Metric, p.Text)
	}
}
