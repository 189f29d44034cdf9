package exporter

import (
	"context"
	"strings"
	"testing"
	"time"

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
