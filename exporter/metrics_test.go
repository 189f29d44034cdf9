package exporter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"
)

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
	// The snapshot families, as the collector sends them and as /metrics
	// shows them, compared sample by sample.
	body := scrape(t, e.Handler())
	names := []string{"fleetcast_forecast", "fleetcast_forecast_peak", "fleetcast_observed", "fleetcast_anomaly_score",
		"fleetcast_model_info", "fleetcast_backtest_coverage_ratio"}
	for _, name := range names {
		if len(find(t, body, name)) == 0 {
			t.Errorf("/metrics has no %s, so the comparison would not cover it", name)
		}
	}
	if err := testutil.CollectAndCompare(e.Collector(), strings.NewReader(body), names...); err != nil {
		t.Errorf("the collector and /metrics differ: %v", err)
	}
}
