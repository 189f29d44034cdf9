package exporter

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

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
