package exporter

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// namedValues is a regressor's values by time.
type namedValues struct {
	name string
	vals map[int64]float64
}

func (n namedValues) at(ts int64) float64 {
	if v, ok := n.vals[ts]; ok {
		return v
	}
	return math.NaN()
}

// regressors queries the target's regressors over history and horizon.
// Each must return one series; it applies to every series of the target.
func (e *Exporter) regressors(ctx context.Context, t *target, from, to int64) ([]namedValues, error) {
	var out []namedValues
	for _, rc := range t.cfg.Regressors {
		nv := namedValues{name: rc.Name, vals: map[int64]float64{}}
		for s := from; s <= to; {
			e2 := min(to, s+(maxStepsPerSeries-1)*t.step)
			m, err := e.q.QueryRange(ctx, rc.Query, promv1.Range{Start: time.Unix(s, 0), End: time.Unix(e2, 0), Step: time.Duration(t.step) * time.Second})
			if err != nil {
				return nil, fmt.Errorf("regressor %q: %w", rc.Name, err)
			}
			if len(m) > 1 {
				return nil, fmt.Errorf("regressor %q: query returned %d series; want one (aggregate it)", rc.Name, len(m))
			}
			for _, ss := range m {
				for _, p := range ss.Values {
					nv.vals[int64(p.Timestamp)/1000] = float64(p.Value)
				}
			}
			s = e2 + t.step
		}
		out = append(out, nv)
	}
	return out, nil
}

// capacity queries the target's capacity and returns the join function.
func (e *Exporter) capacity(ctx context.Context, t *target, end int64) (func(model.Metric) (float64, bool), error) {
	cc := t.cfg.Capacity
	if cc == nil {
		return nil, nil
	}
	vec, err := e.q.Query(ctx, cc.Query, time.Unix(end, 0))
	if err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	// Group the capacity series by their label-name sets so that the join
	// is a map lookup per set rather than a scan per series.
	type group struct {
		names []model.LabelName
		byKey map[string]float64
	}
	groups := map[string]*group{}
	keyOf := func(m model.Metric, names []model.LabelName) (string, bool) {
		var b strings.Builder
		for _, n := range names {
			v, ok := m[n]
			if !ok {
				return "", false
			}
			b.WriteString(string(v))
			b.WriteByte(0xff)
		}
		return b.String(), true
	}
	for _, s := range vec {
		var names []model.LabelName
		if len(cc.On) > 0 {
			for _, n := range cc.On {
				names = append(names, model.LabelName(n))
			}
		} else {
			for n := range s.Metric {
				if n != model.MetricNameLabel {
					names = append(names, n)
				}
			}
			sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
		}
		sig := fmt.Sprint(names)
		g := groups[sig]
		if g == nil {
			g = &group{names: names, byKey: map[string]float64{}}
			groups[sig] = g
		}
		if k, ok := keyOf(s.Metric, names); ok {
			g.byKey[k] = float64(s.Value)
		}
	}
	return func(m model.Metric) (float64, bool) {
		for _, g := range groups {
			if k, ok := keyOf(m, g.names); ok {
				if v, ok := g.byKey[k]; ok {
					return v, true
				}
			}
		}
		return 0, false
	}, nil
}
