package forecast

import (
	"math"
	"slices"
)

// Candidate seasonal periods, in seconds, tried when Options.Seasons is nil.
const (
	Day  = int64(86400)
	Week = 7 * Day
)

// seasonGain is how much (as a share of the remaining variance, adjusted
// for the degrees of freedom a profile spends) a seasonal profile must
// explain to be kept. Ten percent keeps weak but real daily patterns and
// rejects the spurious structure that wandering series show by chance.
const seasonGain = 0.10

// period is a seasonal period both in seconds and in grid steps.
type period struct {
	secs  int64
	steps int
}

// usablePeriods keeps the periods (in seconds) that fit the step and that
// the history covers at least twice, sorted by length.
func usablePeriods(secs []int64, step int64, n int) []period {
	var out []period
	for _, p := range secs {
		if p <= 0 {
			continue
		}
		m := int(math.Round(float64(p) / float64(step)))
		if m < 2 || n < 2*m {
			continue
		}
		dup := false
		for _, q := range out {
			dup = dup || q.steps == m
		}
		if !dup {
			out = append(out, period{secs: p, steps: m})
		}
	}
	slices.SortFunc(out, func(a, b period) int { return a.steps - b.steps })
	return out
}

// phaseBase is the absolute step number of grid index 0, so that seasonal
// phases are tied to the clock rather than to where the history starts.
func phaseBase(g *grid) int64 {
	return floorDiv(g.tLast, g.step) - int64(g.n()-1)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func mod(a int64, m int) int {
	r := int(a % int64(m))
	if r < 0 {
		r += m
	}
	return r
}

// detectSeasons keeps the candidate periods whose phase profile explains a
// share of the detrended variance (see seasonGain). The daily candidate is
// judged on the series minus a one-day moving average (minus a straight
// line on less than about three days, where the average would leave less
// than two days); longer candidates on
// the series minus a moving average of their own length when the history is
// three cycles long, else minus a straight line, and they must improve on
// the shorter accepted periods.
func (w *Fitter) detectSeasons(g *grid, cands []period) []period {
	if len(cands) == 0 {
		return nil
	}
	if m := refinePeriod(g.y, cands[0].steps); m != cands[0].steps {
		cands[0] = period{secs: int64(m) * g.step, steps: m}
	}
	var out []period
	n := g.n()
	d := grow(&w.tmp, n)
	for ci, c := range cands {
		m := c.steps
		switch {
		case ci == 0 && n < 3*m-1:
			// Under about three days a one-day moving average
			// leaves less than two days to judge the profile on
			// (n-m+1 points): judge it on the series minus a
			// straight line instead.
			lineDetrend(g.y, d)
		case ci == 0 || n >= 3*m:
			movingDetrend(g.y, m, d, grow(&w.tmp2, n+1), grow(&w.tmp3, n+1))
		default:
			lineDetrend(g.y, d)
		}
		ssd, N := centredSS(d)
		if N < 2*m {
			continue
		}
		base := ssd / float64(N-1)
		// Compare with the best shorter accepted period on this same
		// detrended series.
		for _, p := range out {
			if v := w.profileResidualVar(g, d, p.steps); v < base {
				base = v
			}
		}
		v := w.profileResidualVar(g, d, m)
		if v < (1-seasonGain)*base {
			out = append(out, c)
		}
	}
	return out
}

// profileResidualVar is the variance left after subtracting the per-phase
// mean of d for period m, per residual degree of freedom.
func (w *Fitter) profileResidualVar(g *grid, d []float64, m int) float64 {
	sum := grow(&w.psum, m)
	cnt := grow(&w.pcnt, m)
	for j := range sum {
		sum[j], cnt[j] = 0, 0
	}
	base := phaseBase(g)
	ss := 0.0
	N := 0
	for i, v := range d {
		if math.IsNaN(v) {
			continue
		}
		j := mod(base+int64(i), m)
		sum[j] += v
		cnt[j]++
		ss += v * v
		N++
	}
	used := 0
	for j := range sum {
		if cnt[j] > 0 {
			ss -= sum[j] * sum[j] / cnt[j]
			used++
		}
	}
	df := N - used
	if df <= 0 {
		return math.Inf(1)
	}
	return math.Max(ss, 0) / float64(df)
}

// movingDetrend sets d = y minus the centred moving average of window m
// (NaN where fewer than half the window is observed).
func movingDetrend(y []float64, m int, d, csum, ccnt []float64) {
	n := len(y)
	csum[0], ccnt[0] = 0, 0
	for i, v := range y {
		if math.IsNaN(v) {
			csum[i+1], ccnt[i+1] = csum[i], ccnt[i]
		} else {
			csum[i+1], ccnt[i+1] = csum[i]+v, ccnt[i]+1
		}
	}
	half := m / 2
	for i := range y {
		lo, hi := i-half, i-half+m
		if lo < 0 || hi > n || math.IsNaN(y[i]) {
			d[i] = math.NaN()
			continue
		}
		c := ccnt[hi] - ccnt[lo]
		if c < float64(m)/2 {
			d[i] = math.NaN()
			continue
		}
		d[i] = y[i] - (csum[hi]-csum[lo])/c
	}
}

// lineDetrend sets d = y minus its least-squares line.
func lineDetrend(y []float64, d []float64) {
	a, b := fitLine(y)
	for i, v := range y {
		d[i] = v - a - b*float64(i)
	}
}

// fitLine returns the intercept a and slope b of the least-squares line
// through the finite points (i, y[i]); a is 0 when there are none and b is 0
// when there are fewer than two.
func fitLine(y []float64) (a, b float64) {
	var sx, sy, sxx, sxy, c float64
	for i, v := range y {
		if math.IsNaN(v) {
			continue
		}
		x := float64(i)
		sx += x
		sy += v
		sxx += x * x
		sxy += x * v
		c++
	}
	if den := c*sxx - sx*sx; den > 0 {
		b = (c*sxy - sx*sy) / den
	}
	if c > 0 {
		a = (sy - b*sx) / c
	}
	return a, b
}

func centredSS(d []float64) (float64, int) {
	s, ss := 0.0, 0.0
	N := 0
	for _, v := range d {
		if !math.IsNaN(v) {
			s += v
			ss += v * v
			N++
		}
	}
	if N == 0 {
		return 0, 0
	}
	return ss - s*s/float64(N), N
}

// refinePeriod looks for the true length of a cycle near the nominal m: a
// series sampled on a clock that drifts against its cycle (some M4 "hourly"
// series repeat every 23 steps) shows the smallest mean absolute seasonal
// difference at another lag. A lag within 20% of m is taken only if it is a
// strict local minimum of that error, below every lag in the range
// including both ends (trends and random walks favour the shortest lag
// instead), and at least refineGain better than m itself.
func refinePeriod(y []float64, m int) int {
	lo, hi := max(2, m*4/5), m*6/5
	n := len(y)
	if hi-lo < 2 || n < 3*hi {
		return m
	}
	// Subsample the differences to bound the cost on long histories.
	stride := max(1, (n-hi)/1024)
	errAt := func(L int) float64 {
		s, c := 0.0, 0
		for i := n - 1; i >= hi; i -= stride {
			if d := y[i] - y[i-L]; d == d {
				s += math.Abs(d)
				c++
			}
		}
		if c == 0 {
			return math.Inf(1)
		}
		return s / float64(c)
	}
	best, bestErr := m, errAt(m)
	nominal := bestErr
	endErr := math.Min(errAt(lo), errAt(hi))
	for L := lo + 1; L < hi; L++ {
		if L == m {
			continue
		}
		if e := errAt(L); e < bestErr {
			best, bestErr = L, e
		}
	}
	if best == m || bestErr >= refineGain*nominal || bestErr >= endErr {
		return m
	}
	// A cycle kept by a clock does not drift by a fraction of a percent:
	// at one-minute steps a lag of 1439 against 1440 wins only when the
	// noise repeats every few steps (an aliased sampling pattern), and a
	// profile one step short smears the cycle's sharp edges over the week.
	if d := best - m; max(d, -d)*refineMinDrift < m {
		return m
	}
	if errAt(best-1) <= bestErr || errAt(best+1) <= bestErr {
		return m
	}
	return best
}

// refineGain: a refined period must cut the seasonal-difference error by
// at least this factor.
const refineGain = 0.7

// refineMinDrift: a refined period differs from the nominal one by at
// least 1/refineMinDrift of it (2%). At hourly steps every refinement does
// (one step of 24 is 4%), so this only stops sub-percent refinements of
// fine-grained series.
const refineMinDrift = 50
