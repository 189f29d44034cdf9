package exporter

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// targetSnapshot is everything published about a target after one
// complete cycle; /metrics and the status page read only snapshots.
type targetSnapshot struct {
	at      time.Time
	metrics []prometheus.Metric
	text    *exposition
	rows    []seriesRow
	lastErr string
}

// seriesRow is one line of the status page.
type seriesRow struct {
	fp       model.Fingerprint
	labels   string
	model    string
	mase     float64
	coverage float64
	observed float64
	score    float64
	err      string
	bounds   string  // the forecast's [min, max]
	capacity float64 // the series' capacity, NaN without one
}

// publish appends the series' gauges to the snapshot and returns its row.
func (e *Exporter) publish(snap *targetSnapshot, t *target, sr *series, capFor func(model.Metric) (float64, bool), end int64) seriesRow {
	tc := t.cfg
	row := seriesRow{fp: sr.fp, labels: sr.labels.String(), mase: math.NaN(), coverage: math.NaN(), observed: math.NaN(), score: sr.score, capacity: math.NaN()}
	names, values := exportedLabels(sr.labels)
	base := append(values, tc.Name)
	add := func(metric string, v float64, extraNames []string, extra ...string) {
		d := e.descs.get(metric, names, extraNames)
		lv := append(append(make([]string, 0, len(base)+len(extra)), base...), extra...)
		snap.metrics = append(snap.metrics, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...))
	}
	for i := len(sr.vals) - 1; i >= 0; i-- {
		if !math.IsNaN(sr.vals[i]) {
			row.observed = sr.vals[i]
			break
		}
	}
	if !math.IsNaN(row.observed) {
		add("fleetcast_observed", row.observed, nil)
	}
	add("fleetcast_anomaly_score", sr.score, nil)
	r := sr.result.Load()
	if r == nil {
		return row
	}
	if r.err != nil {
		row.err = r.err.Error()
		return row
	}
	f := r.f
	row.model, row.mase, row.coverage = f.Model, f.MASE, f.Coverage
	row.bounds = fmt.Sprintf("[%g, %g]", f.Min, f.Max)
	add("fleetcast_model_info", 1, []string{"model"}, f.Model)
	if !math.IsNaN(f.MASE) && !math.IsInf(f.MASE, 0) {
		add("fleetcast_backtest_mase", f.MASE, nil)
	}
	if !math.IsNaN(f.Coverage) {
		add("fleetcast_backtest_coverage_ratio", f.Coverage, nil)
	}
	qs := make([][]float64, len(tc.Quantiles))
	for i, q := range tc.Quantiles {
		qs[i] = f.Quantile(q)
	}
	// The forecast may be a few steps old (refit); index it by time.
	at := func(ts int64) int {
		if len(f.Times) == 0 || ts < f.Times[0] {
			return -1
		}
		return int((ts - f.Times[0]) / t.step)
	}
	for _, h := range tc.Horizons {
		k := at(end + int64(time.Duration(h)/time.Second))
		if k < 0 {
			continue
		}
		for i, q := range tc.Quantiles {
			if k < len(qs[i]) && !math.IsNaN(qs[i][k]) {
				add("fleetcast_forecast", qs[i][k], []string{"horizon", "q"}, h.String(), formatQ(q))
			}
		}
	}
	from := max(0, at(end+t.step))
	for _, w := range tc.PeakWindows {
		k := at(end + int64(time.Duration(w)/time.Second))
		for i, q := range tc.Quantiles {
			peak := math.Inf(-1)
			for _, v := range qs[i][min(from, len(qs[i])):max(from, min(k+1, len(qs[i])))] {
				if v > peak {
					peak = v
				}
			}
			if !math.IsInf(peak, -1) {
				add("fleetcast_forecast_peak", peak, []string{"window", "q"}, w.String(), formatQ(q))
			}
		}
	}
	if capFor != nil {
		if c, ok := capFor(sr.labels); ok {
			row.capacity = c
			secs := math.Inf(1)
			if row.observed >= c {
				secs = 0
			} else {
				for i, u := range f.Upper {
					if f.Times[i] > end && f.Times[i] <= end+int64(t.maxH)*t.step && u >= c {
						secs = float64(f.Times[i] - end)
						break
					}
				}
			}
			add("fleetcast_capacity_exhaustion_seconds", secs, nil)
		}
	}
	return row
}

func formatQ(q float64) string { return strconv.FormatFloat(q, 'g', -1, 64) }

// reservedLabels are added by the exporter; a series label of the same
// name is published as exported_<name>, as Prometheus does on conflicts.
var reservedLabels = map[model.LabelName]bool{"target": true, "horizon": true, "q": true, "window": true, "model": true}

// exportedLabels returns the series' label names and values, sorted, with
// reserved names renamed.
func exportedLabels(m model.Metric) ([]string, []string) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, string(k))
	}
	sort.Strings(names)
	values := make([]string, len(names))
	for i, n := range names {
		values[i] = string(m[model.LabelName(n)])
		if reservedLabels[model.LabelName(n)] {
			names[i] = "exported_" + n
		}
	}
	return names, values
}
