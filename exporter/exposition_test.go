package exporter

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from this run")

// goldenFile is /metrics after one deterministic cycle, as node_exporter
// keeps its fixtures/e2e-output.txt. Regenerate it with
//
//	go test ./exporter -run TestGoldenExposition -update
//
// and read the diff: every changed line is a change of what Prometheus
// scrapes.
const goldenFile = "testdata/e2e-output.txt"

// goldenSkip are the families whose values depend on the machine rather
// than on the cycle: the wall time of the fits and the build's versions.
// The Go and process collectors (not fleetcast_) are skipped too.
var goldenSkip = map[string]bool{
	"fleetcast_exporter_fit_cpu_seconds": true,
	"fleetcast_build_info":               true,
}

// goldenDigits is the precision non-integer values are compared at:
// enough to catch any change of model, horizon or band, and not the last
// bits that another CPU's floating point (fused multiply-add) may change.
// Integers (counts, timestamps, asks) are compared exactly.
const goldenDigits = 6

// staticJobs is a JobLister with a fixed list.
type staticJobs []PeriodicJob

func (s staticJobs) PeriodicJobs(context.Context) ([]PeriodicJob, error) { return s, nil }

// noisyDaily is daily with a deterministic noise of ±10, so that the bands
// have a width.
func noisyDaily(i int, ts int64) float64 {
	h := uint64(ts/60)*0x9E3779B97F4A7C15 + uint64(i+1)*0xBF58476D1CE4E5B9
	h ^= h >> 31
	h *= 0x94D049BB133111EB
	h ^= h >> 29
	return daily(i, ts) + 20*(float64(h%1_000_000)/1_000_000-0.5)
}

// TestGoldenExposition runs one cycle at a fixed clock on fixed data (two
// noisy daily sines, a capacity, one Nomad periodic job) and compares
// /metrics with goldenFile.
func TestGoldenExposition(t *testing.T) {
	c := testConfig(t, `    min: 0
    capacity:
      query: node_capacity
    scheduled_demand:
      resource: cpu
nomad:
  address: http://127.0.0.1:4646
  horizons: [1h]
`)
	fp := &fakeProm{
		series:   []model.Metric{{"__name__": "node_cpu", "instance": "a"}, {"__name__": "node_cpu", "instance": "b"}},
		value:    noisyDaily,
		capacity: model.Vector{{Metric: model.Metric{"instance": "a"}, Value: 140}, {Metric: model.Metric{"instance": "b"}, Value: 400}},
	}
	jobs := staticJobs{{Namespace: "batch", ID: "nightly-etl", NodePool: "default", Specs: []string{"0 0 * * *"},
		CPU: 2000, Memory: 1 << 30, Duration: time.Hour}}
	now := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	e, _ := startExporter(t, Options{Config: c, Querier: fp, Jobs: jobs, Now: func() time.Time { return now }})

	got, names := goldenGatherer(t, scrape(t, e.Handler()))
	if *update {
		b, err := testutil.GatherAndFormat(got, expfmt.TypeTextPlain, names...)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", goldenFile)
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	for _, name := range []string{"fleetcast_forecast", "fleetcast_capacity_exhaustion_seconds", "fleetcast_scheduled_demand", "fleetcast_exporter_series"} {
		if !bytes.Contains(want, []byte("\n"+name+"{")) {
			t.Errorf("%s has no %s sample, so the comparison would not cover it", goldenFile, name)
		}
	}
	if err := testutil.GatherAndCompare(got, bytes.NewReader(want)); err != nil {
		t.Errorf("/metrics differs from %s (if the change is meant, rerun with -update and commit the diff):\n%v", goldenFile, err)
	}
}

// goldenGatherer reads a /metrics page back into metric families, keeps
// the fleetcast_ families not in goldenSkip and rounds their values to
// goldenDigits; it returns them and their names.
func goldenGatherer(t *testing.T, body string) (prometheus.Gatherer, []string) {
	t.Helper()
	var mfs []*dto.MetricFamily
	var names []string
	for name, mf := range parsePage(t, body) {
		if !strings.HasPrefix(name, "fleetcast_") || goldenSkip[name] {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, v := range []*float64{gaugeValue(m), counterValue(m), untypedValue(m)} {
				if v != nil {
					*v = round(*v)
				}
			}
		}
		mfs = append(mfs, mf)
		names = append(names, name)
	}
	// Gatherers sorts the families and their samples, as a registry does.
	return prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil })}, names
}

func gaugeValue(m *dto.Metric) *float64 {
	if m.Gauge == nil {
		return nil
	}
	return m.Gauge.Value
}

func counterValue(m *dto.Metric) *float64 {
	if m.Counter == nil {
		return nil
	}
	return m.Counter.Value
}

func untypedValue(m *dto.Metric) *float64 {
	if m.Untyped == nil {
		return nil
	}
	return m.Untyped.Value
}

func round(v float64) float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) || v == math.Trunc(v) {
		return v
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', goldenDigits, 64), 64)
	return r
}
