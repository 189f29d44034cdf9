package exporter

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestCapacityExhaustionAndShard checks the capacity join (a series near
// its capacity, one far below it) across two shards of 20 series.
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
	// Each shard publishes its own series; together they hold all 20, and
	// n0 and n1 each once.
	var total int
	exhaustion := map[string][]float64{}
	for shard := range 2 {
		e, _ := startExporter(t, Options{Config: c, Querier: fp, Now: clk.now, Shard: shard, Shards: 2})
		total += len(e.targets[0].series)
		body := scrape(t, e.Handler())
		for _, inst := range []string{"n0", "n1"} {
			exhaustion[inst] = append(exhaustion[inst], find(t, body, `fleetcast_capacity_exhaustion_seconds{target="cpu",instance="`+inst+`"}`)...)
		}
	}
	if total != 20 {
		t.Errorf("two shards hold %d series, want all 20 exactly once", total)
	}
	for _, tc := range []struct {
		instance string
		ok       func(secs float64) bool
		want     string
	}{
		{"n0", func(v float64) bool { return v >= 0 && v <= 6*3600 }, "within the 6h horizon"},
		{"n1", func(v float64) bool { return math.IsInf(v, 1) }, "+Inf"},
	} {
		vs := exhaustion[tc.instance]
		if len(vs) != 1 {
			t.Errorf("%s: %d exhaustion samples over the two shards, want 1", tc.instance, len(vs))
			continue
		}
		if !tc.ok(vs[0]) {
			t.Errorf("%s exhaustion %g, want %s", tc.instance, vs[0], tc.want)
		}
	}
}
