package sim

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"sort"
	"time"

	"github.com/fleetcast/fleetcast/internal/seriescsv"
)

// demandModel computes a group's total demand (MHz) at any time. It is a
// pure function of the seed, the fleet's start and the time, so the history
// written before a run and the run itself are one process.
type demandModel struct {
	cfg    DemandConfig
	seed   uint64
	key    string // job/group, mixes the noise per group
	origin time.Time
	loc    *time.Location
	trace  *traceReplay
}

func newDemandModel(cfg DemandConfig, seed int64, key string, origin time.Time, loc *time.Location) (*demandModel, error) {
	m := &demandModel{cfg: cfg, seed: uint64(seed), key: key, origin: origin, loc: loc}
	if cfg.Trace != nil {
		tr, err := loadTrace(*cfg.Trace, origin)
		if err != nil {
			return nil, err
		}
		m.trace = tr
	}
	return m, nil
}

// at is the demand at t before anomalies.
func (m *demandModel) at(t time.Time) float64 {
	var v float64
	if m.trace != nil {
		v = m.trace.at(t)
	} else {
		v = m.cfg.Base * m.shape(t)
	}
	v *= m.peakFactor(t)
	if m.cfg.Noise > 0 {
		v *= 1 + m.cfg.Noise*m.noise(t)
	}
	if v < 0 || math.IsNaN(v) {
		return 0
	}
	return v
}

// shape is the daily cycle, the weekend dip and the trend, as a multiplier.
func (m *demandModel) shape(t time.Time) float64 {
	lt := t.In(m.loc)
	mid := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, m.loc)
	sinceMid := lt.Sub(mid)
	f := 1.0
	if m.cfg.Daily > 0 {
		phase := 2 * math.Pi * (sinceMid - m.cfg.dailyPeak).Hours() / 24
		f *= 1 + m.cfg.Daily*math.Cos(phase)
	}
	if m.cfg.Weekend > 0 {
		f *= 1 - m.cfg.Weekend*weekendness(lt, sinceMid)
	}
	if m.cfg.Trend != 0 {
		f *= math.Max(0, 1+m.cfg.Trend*t.Sub(m.origin).Hours()/24)
	}
	return f
}

// weekendness is 1 on Saturday and Sunday and 0 on weekdays, with two-hour
// ramps around midnight so demand does not jump.
func weekendness(lt time.Time, sinceMid time.Duration) float64 {
	const ramp = 2 * time.Hour
	isWE := func(d time.Weekday) float64 {
		if d == time.Saturday || d == time.Sunday {
			return 1
		}
		return 0
	}
	today := isWE(lt.Weekday())
	switch {
	case sinceMid < ramp/2:
		prev := isWE((lt.Weekday() + 6) % 7)
		x := 0.5 + float64(sinceMid)/float64(ramp)
		return prev + (today-prev)*x
	case sinceMid > 24*time.Hour-ramp/2:
		next := isWE((lt.Weekday() + 1) % 7)
		x := float64(sinceMid-(24*time.Hour-ramp/2)) / float64(ramp)
		return today + (next-today)*x
	}
	return today
}

// peakFactor multiplies demand inside scheduled peaks. Each peak ramps up and
// down over a tenth of its duration, as real rushes do.
func (m *demandModel) peakFactor(t time.Time) float64 {
	f := 1.0
	for _, p := range m.cfg.Peaks {
		d := time.Duration(p.Duration)
		var start time.Time
		if p.expr != nil {
			// The last firing at or before t: search from t-d.
			lt := t.In(m.loc)
			s := p.expr.Next(lt.Add(-d - time.Second))
			if s.IsZero() || s.After(lt) {
				continue
			}
			start = s
		} else {
			start = p.At
		}
		in := t.Sub(start)
		if in < 0 || in >= d {
			continue
		}
		ramp := d / 10
		w := 1.0
		if ramp > 0 {
			if in < ramp {
				w = float64(in) / float64(ramp)
			} else if d-in < ramp {
				w = float64(d-in) / float64(ramp)
			}
		}
		f *= 1 + (p.Factor-1)*w
	}
	return f
}

// noise is smooth standard-normal noise: independent values each minute,
// hashed from the seed, the group and the minute, interpolated between.
func (m *demandModel) noise(t time.Time) float64 {
	const step = 60
	s := t.Unix()
	k := s / step
	if s < 0 && s%step != 0 {
		k--
	}
	x := float64(s-k*step) / step
	a := gauss(m.seed, m.key, k)
	b := gauss(m.seed, m.key, k+1)
	return a + (b-a)*x
}

// gauss returns a standard normal number determined by its arguments.
func gauss(seed uint64, key string, k int64) float64 {
	u1 := uniform(seed, key, k, 1)
	u2 := uniform(seed, key, k, 2)
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

func uniform(seed uint64, key string, k int64, salt uint64) float64 {
	h := fnv.New64a()
	var b [24]byte
	binary.LittleEndian.PutUint64(b[0:], seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(k))
	binary.LittleEndian.PutUint64(b[16:], salt)
	_, _ = h.Write(b[:])
	_, _ = h.Write([]byte(key))
	v := splitmix(h.Sum64())
	// (0, 1], never 0 so that log is finite.
	return (float64(v>>11) + 1) / (1 << 53)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// traceReplay is a CSV series mapped onto the fleet's time line.
type traceReplay struct {
	times  []int64
	values []float64
	align  string
	shift  int64 // added to trace time to get fleet time (align start)
	period int64 // loop length for align start
}

func loadTrace(c TraceConfig, origin time.Time) (*traceReplay, error) {
	f, err := os.Open(c.File)
	if err != nil {
		return nil, fmt.Errorf("demand trace: %w", err)
	}
	series, err := seriescsv.Read(f, c.File)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("demand trace: %w", err)
	}
	var s *seriescsv.Series
	for i := range series {
		if c.Series == "" || series[i].Name == c.Series {
			s = &series[i]
			break
		}
	}
	if s == nil {
		names := make([]string, 0, len(series))
		for _, x := range series {
			names = append(names, x.Name)
		}
		return nil, fmt.Errorf("demand trace %s: no series %q; the file has %v", c.File, c.Series, names)
	}
	return newTraceReplay(s.Times, s.Values, c.Scale, c.PeakMHz, c.Align, origin)
}

// TraceDemand turns a series (Unix seconds and values) into a demand
// function for SetDemand, as a fleet config's trace block does: values are
// multiplied by scale, or scaled so that the largest becomes peakMHz when
// peakMHz > 0; with align "start" the trace is shifted to begin at origin and
// loops, with "absolute" its own timestamps are used.
func TraceDemand(times []int64, values []float64, scale, peakMHz float64, align string, origin time.Time) (func(time.Time) float64, error) {
	tr, err := newTraceReplay(times, values, scale, peakMHz, align, origin)
	if err != nil {
		return nil, err
	}
	return tr.at, nil
}

func newTraceReplay(times []int64, values []float64, scale, peak float64, align string, origin time.Time) (*traceReplay, error) {
	tr := &traceReplay{align: align}
	for i := range times {
		if i < len(values) && !math.IsNaN(values[i]) && !math.IsInf(values[i], 0) {
			tr.times = append(tr.times, times[i])
			tr.values = append(tr.values, values[i])
		}
	}
	if len(tr.times) < 2 {
		return nil, fmt.Errorf("demand trace: want at least two finite samples, got %d", len(tr.times))
	}
	if !sort.SliceIsSorted(tr.times, func(a, b int) bool { return tr.times[a] < tr.times[b] }) {
		return nil, fmt.Errorf("demand trace: timestamps are not sorted")
	}
	if scale == 0 {
		scale = 1
	}
	if peak > 0 {
		mx := 0.0
		for _, v := range tr.values {
			mx = math.Max(mx, v)
		}
		if mx <= 0 {
			return nil, fmt.Errorf("demand trace: peak_mhz needs a positive value in the trace")
		}
		scale = peak / mx
	}
	for i := range tr.values {
		tr.values[i] = math.Max(0, tr.values[i]*scale)
	}
	switch align {
	case "", "start":
		tr.align = "start"
		tr.shift = origin.Unix() - tr.times[0]
		n := len(tr.times)
		// One more sampling interval so that the loop closes evenly.
		tr.period = tr.times[n-1] - tr.times[0] + (tr.times[n-1]-tr.times[0])/int64(n-1)
	case "absolute":
	default:
		return nil, fmt.Errorf("demand trace: align %q; valid values are start and absolute", align)
	}
	return tr, nil
}

func (tr *traceReplay) at(t time.Time) float64 {
	s := t.Unix()
	if tr.align == "start" {
		s -= tr.shift
		off := (s - tr.times[0]) % tr.period
		if off < 0 {
			off += tr.period
		}
		s = tr.times[0] + off
	}
	n := len(tr.times)
	if s <= tr.times[0] {
		return tr.values[0]
	}
	if s >= tr.times[n-1] {
		if tr.align == "start" {
			// Between the last sample and the loop's restart.
			span := tr.times[0] + tr.period - tr.times[n-1]
			x := float64(s-tr.times[n-1]) / float64(span)
			return tr.values[n-1] + (tr.values[0]-tr.values[n-1])*x
		}
		return tr.values[n-1]
	}
	i := sort.Search(n, func(i int) bool { return tr.times[i] > s })
	a, b := tr.times[i-1], tr.times[i]
	x := float64(s-a) / float64(b-a)
	return tr.values[i-1] + (tr.values[i]-tr.values[i-1])*x
}
