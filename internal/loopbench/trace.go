package loopbench

import (
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"github.com/fleetcast/fleetcast/internal/seriescsv"
	"github.com/fleetcast/fleetcast/sim"
)

// Trace is one series of a demand trace, already scaled to the job it
// drives: Values are CPU MHz the job wants at Times (Unix seconds).
type Trace struct {
	Name   string
	Times  []int64
	Values []float64
	// Raw are the values as read, before scaling, for the report.
	Raw []float64
	// Scale is the factor from raw values to MHz.
	Scale float64
}

// ReadTraces reads one or more long CSV files (series,timestamp,value) and
// joins the series of the same name across files, so a train file and its
// test continuation form one trace. Rows that repeat a timestamp of their
// series (NAB's recordings do) are averaged into one sample.
func ReadTraces(paths []string) ([]seriescsv.Series, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no trace file given; want --trace FILE (long CSV series,timestamp,value)")
	}
	index := map[string]int{}
	var out []seriescsv.Series
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open trace: %w", err)
		}
		ss, err := seriescsv.ReadKeepRepeats(f, p)
		cerr := f.Close()
		if err != nil {
			return nil, err
		}
		if cerr != nil {
			return nil, fmt.Errorf("close %s: %w", p, cerr)
		}
		for _, s := range ss {
			i, ok := index[s.Name]
			if !ok {
				index[s.Name] = len(out)
				out = append(out, seriescsv.Series{Name: s.Name})
				i = len(out) - 1
			}
			out[i].Times = append(out[i].Times, s.Times...)
			out[i].Values = append(out[i].Values, s.Values...)
		}
	}
	for i := range out {
		sortMerge(&out[i])
	}
	return out, nil
}

// sortMerge sorts a series by time and averages the values of repeated
// timestamps (NaN values are left out of the mean, all-NaN stays a gap).
func sortMerge(s *seriescsv.Series) {
	idx := make([]int, len(s.Times))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.Times[idx[a]] < s.Times[idx[b]] })
	ts := make([]int64, 0, len(idx))
	vs := make([]float64, 0, len(idx))
	n := 0 // finite values summed into the last sample
	for _, i := range idx {
		t, v := s.Times[i], s.Values[i]
		if k := len(ts) - 1; k >= 0 && ts[k] == t {
			if !math.IsNaN(v) {
				if n == 0 {
					vs[k] = v
				} else {
					vs[k] = (vs[k]*float64(n) + v) / float64(n+1)
				}
				n++
			}
			continue
		}
		ts, vs = append(ts, t), append(vs, v)
		n = 0
		if !math.IsNaN(v) {
			n = 1
		}
	}
	s.Times, s.Values = ts, vs
}

// ScaleTrace turns a raw series into a job's CPU demand. The scale is fixed
// from the warm-up window alone (the first `warmup` seconds), so it carries no
// knowledge of the future: the 95th percentile of the warm-up values becomes
// refAllocs fully used allocations of allocCPU MHz each. Negative and
// non-finite values become 0 demand (a gap in a trace is no demand, for both
// policies alike).
func ScaleTrace(s seriescsv.Series, warmup int64, refAllocs, allocCPU float64) (Trace, error) {
	if len(s.Times) < 2 {
		return Trace{}, fmt.Errorf("series %q: %d points, want at least 2", s.Name, len(s.Times))
	}
	var head []float64
	for i, t := range s.Times {
		if t-s.Times[0] > warmup {
			break
		}
		if v := s.Values[i]; !math.IsNaN(v) && !math.IsInf(v, 0) && v > 0 {
			head = append(head, v)
		}
	}
	ref := 0.0
	if len(head) > 0 {
		sort.Float64s(head)
		ref = head[int(0.95*float64(len(head)-1))]
		if ref <= 0 {
			ref = head[len(head)-1]
		}
	}
	if ref <= 0 {
		return Trace{}, fmt.Errorf("series %q: no positive value in the first %s of the trace, so it cannot be scaled to a job", s.Name, fmtSeconds(warmup))
	}
	scale := refAllocs * allocCPU / ref
	tr := Trace{Name: s.Name, Times: s.Times, Raw: s.Values, Scale: scale, Values: make([]float64, len(s.Values))}
	for i, v := range s.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			v = 0
		}
		tr.Values[i] = v * scale
	}
	return tr, nil
}

// At returns the demand at t: the latest trace point at or before t (a trace
// point holds until the next one), and 0 before the first. i is a hint for
// sequential reads; the returned index is the next hint.
func (tr *Trace) At(t int64, i int) (float64, int) {
	if i < 0 {
		i = 0
	}
	for i+1 < len(tr.Times) && tr.Times[i+1] <= t {
		i++
	}
	for i > 0 && tr.Times[i] > t {
		i--
	}
	if len(tr.Times) == 0 || tr.Times[i] > t {
		return 0, i
	}
	return tr.Values[i], i
}

func fmtSeconds(s int64) string {
	return (secondsDuration(s)).String()
}

// Demand is the trace as the simulated fleet replays it (sim.TraceDemand at
// the trace's own timestamps, linear between samples, gaps bridged): the
// job's CPU demand in MHz at any time. The fleets replay it, and the oracle
// alone is given it.
func (tr Trace) Demand(start time.Time) (func(time.Time) float64, error) {
	d, err := sim.TraceDemand(tr.Times, tr.Raw, tr.Scale, 0, "absolute", start)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", tr.Name, err)
	}
	return d, nil
}
