package forecast

import (
	"math"
	"slices"
)

// maxGrid caps the history a fit looks at: the most recent points are kept.
// Six weeks at 5-minute steps; a longer history adds cost, not accuracy.
const maxGrid = 12096

// grid is a series regularised onto a fixed step: y[i] is the mean of the
// observations nearest to time tLast-(n-1-i)*step, NaN where there were none.
type grid struct {
	y     []float64
	step  int64
	tLast int64
}

func (g *grid) n() int { return len(g.y) }

// time returns the Unix time of grid index i (which may be past the end).
func (g *grid) time(i int) int64 { return g.tLast - int64(len(g.y)-1-i)*g.step }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// medianStep is the median positive difference between consecutive times.
func medianStep(ts []int64, buf []int64) int64 {
	if len(ts) < 2 {
		return 0
	}
	// Fast path: a regular series.
	d0 := ts[1] - ts[0]
	regular := d0 > 0
	for i := 2; i < len(ts) && regular; i++ {
		regular = ts[i]-ts[i-1] == d0
	}
	if regular {
		return d0
	}
	buf = buf[:0]
	for i := 1; i < len(ts); i++ {
		if d := ts[i] - ts[i-1]; d > 0 {
			buf = append(buf, d)
		}
	}
	if len(buf) == 0 {
		return 0
	}
	slices.Sort(buf)
	return buf[len(buf)/2]
}

// regularise bins s onto a grid of the given step that ends at the series'
// last timestamp, averaging observations that fall in the same bin and
// leaving NaN where none did. Non-finite values are gaps. The grid starts at
// the first finite observation (or maxGrid steps before the end).
func (w *Fitter) regularise(s Series, step int64) (grid, bool) {
	tLast := s.Times[0]
	tFirst := int64(math.MaxInt64)
	for i, t := range s.Times {
		if t > tLast {
			tLast = t
		}
		if finite(s.Values[i]) && t < tFirst {
			tFirst = t
		}
	}
	if tFirst == math.MaxInt64 {
		return grid{}, false
	}
	n64 := (tLast-tFirst+step/2)/step + 1
	if n64 > maxGrid {
		n64 = maxGrid
	}
	n := int(n64)
	y := grow(&w.y, n)
	cnt := grow(&w.cnt, n)
	for i := range y {
		y[i], cnt[i] = 0, 0
	}
	for i, t := range s.Times {
		v := s.Values[i]
		if !finite(v) {
			continue
		}
		back := (tLast - t + step/2) / step
		if back < 0 || back >= n64 {
			continue
		}
		k := n - 1 - int(back)
		y[k] += v
		cnt[k]++
	}
	any := false
	for i := range y {
		if cnt[i] == 0 {
			y[i] = math.NaN()
		} else {
			y[i] /= cnt[i]
			any = true
		}
	}
	if !any {
		return grid{}, false
	}
	// Trim leading gaps (possible when the history was capped).
	first := 0
	for first < n && math.IsNaN(y[first]) {
		first++
	}
	return grid{y: y[first:], step: step, tLast: tLast}, true
}

// alignPast regularises a covariate given at the series' own times onto g,
// into dst.
func alignPast(g *grid, times []int64, vals []float64, dst, cnt []float64) {
	n := g.n()
	for i := range dst {
		dst[i], cnt[i] = 0, 0
	}
	for i, t := range times {
		if i >= len(vals) || !finite(vals[i]) {
			continue
		}
		back := (g.tLast - t + g.step/2) / g.step
		if back < 0 || back >= int64(n) {
			continue
		}
		k := n - 1 - int(back)
		dst[k] += vals[i]
		cnt[k]++
	}
	for i := range dst {
		if cnt[i] == 0 {
			dst[i] = math.NaN()
		} else {
			dst[i] /= cnt[i]
		}
	}
}

// grow returns (*buf)[:n], reallocating only when the capacity is short.
func grow(buf *[]float64, n int) []float64 {
	if cap(*buf) < n {
		*buf = make([]float64, n, n+n/4)
	}
	*buf = (*buf)[:n]
	return *buf
}

func growInt(buf *[]int, n int) []int {
	if cap(*buf) < n {
		*buf = make([]int, n, n+n/4)
	}
	*buf = (*buf)[:n]
	return *buf
}
