package forecast

import "math"

// rollingOrigins are the backtest origins and the backtest horizon Hb:
// up to folds (0: automatic, foldsWanted) windows of Hb steps ending at
// the end of the history of n steps, each preceded by at least minTrain
// steps (two of the shortest season, at least 10), spaced Hb apart unless
// that leaves too few (then down to Hb/4).
//
// Hb is the forecast horizon H when the history holds two windows of it
// after minTrain (one if folds asks for one). When it does not (a daily
// series with between two days and about two days plus 1¼ horizons), the
// backtest runs at the shorter horizon that gives the most errors (origins
// × steps) under the same rule, with the count of origins H would want;
// the band's spread beyond Hb is that of step Hb (band). Such a shorter
// backtest needs two origins too; without them there is no backtest (nil).
// A single window would leave the band one draw to calibrate on (Student's
// t with 1 degree of freedom: 2.4 times the normal's 0.9 quantile) and
// nothing to cross-check it with.
func (w *Fitter) rollingOrigins(n, H, mShort, folds int) (origins []int, Hb int) {
	minTrain := max(2*mShort, 10)
	kWant := folds
	if kWant == 0 {
		kWant = foldsWanted(H)
	}
	if originCount(n, H, minTrain, kWant) >= min(2, kWant) {
		return w.originsAt(n, H, minTrain, kWant), H
	}
	best, bestN := 0, 0
	for h := 1; h <= n-minTrain; h++ {
		if K := originCount(n, h, minTrain, kWant); K >= min(2, kWant) && K*h >= bestN {
			best, bestN = h, K*h
		}
	}
	if best == 0 {
		return nil, H
	}
	return w.originsAt(n, best, minTrain, kWant), best
}

// SeasonLimits says which seasons Fit can use on a history of n steps
// forecast H steps ahead with automatic folds, in steps: kept is the
// longest season it keeps (two of it before a backtest of at least two
// origins, however short), whole the longest whose backtest still covers
// the whole horizon (two origins of H steps after two of it; a longer one
// is backtested over fewer steps, rollingOrigins). 0 when none. The
// exporter's short-history warning says this, so that it cannot drift
// from what Fit does.
func SeasonLimits(n, H int) (kept, whole int) {
	kWant := foldsWanted(H)
	longest := func(h int) int {
		for m := n / 2; m >= 1; m-- {
			if originCount(n, h, max(2*m, 10), kWant) >= 2 {
				return m
			}
		}
		return 0
	}
	return longest(1), longest(H)
}

// foldsWanted is the automatic number of backtest origins for a horizon of
// H steps: about 480 errors, at least 6 windows and at most 40.
func foldsWanted(H int) int { return min(40, max(6, (480+H-1)/H)) }

// originStride is the spacing of up to kWant origins of windows of h steps
// in span steps: h, or closer (down to h/4) to fit more.
func originStride(span, h, kWant int) int {
	stride := h
	if kWant > 1 && span/(kWant-1) < stride {
		stride = max(1, span/(kWant-1), h/4)
	}
	return stride
}

// originCount is how many origins originsAt places (0 if none fits).
func originCount(n, h, minTrain, kWant int) int {
	span := n - h - minTrain
	if span < 0 || h < 1 {
		return 0
	}
	return min(kWant, span/originStride(span, h, kWant)+1)
}

// originsAt places originCount origins of windows of h steps, the last
// window ending at the end of the history.
func (w *Fitter) originsAt(n, h, minTrain, kWant int) []int {
	K := originCount(n, h, minTrain, kWant)
	if K == 0 {
		return nil
	}
	stride := originStride(n-h-minTrain, h, kWant)
	origins := growInt(&w.origins, K)
	for k := range origins {
		origins[k] = n - h - (K-1-k)*stride
	}
	return origins
}

// enableCandidates switches on the candidates model needs: the one named,
// or for auto and combo every one the seasons allow (only recent for an
// intermittent series under auto; combo only with a backtest, K > 0).
func (w *Fitter) enableCandidates(model string, intermittent bool, mShort, mLong, K int) {
	for i := range w.cand {
		w.cand[i].on = false
	}
	want := func(i int) { w.cand[i].on = true }
	switch {
	case model == ModelAuto && intermittent:
		want(cRecent)
	case model == ModelAuto || model == ModelCombo:
		want(cRecent)
		want(cNaive)
		if mShort > 0 {
			want(cSNaive)
		}
		if mLong > mShort {
			want(cSNaiveW)
		}
		want(cETS)
		want(cReg)
		if model == ModelCombo || K > 0 {
			want(cCombo)
		}
	default:
		for i := 0; i < nCand; i++ {
			if candName(i) == model {
				want(i)
			}
		}
	}
}

// runCandidates fits every enabled candidate from each origin (Hb steps)
// and at the end of the history (H steps), and scores it by its backtest
// MAE; intermittent says the history was recognised as intermittent.
func (w *Fitter) runCandidates(g *grid, times []int64, y []float64, pers []period, o Options, origins []int, H, Hb, mShort, mLong int, intermittent bool) {
	K, n := len(origins), len(y)
	W := recentWindow(H, mShort)
	for i := range w.cand {
		c := &w.cand[i]
		if !c.on {
			continue
		}
		c.folds = grow(&c.folds, K*Hb)
		c.mean = grow(&c.mean, H)
		c.mae = math.Inf(1)
	}
	// Holt-Winters runs first: the outliers its robust filter clips are
	// blanked for the other models, so that they bend no seasonal shape.
	yc := y
	if w.cand[cETS].on || w.cand[cReg].on {
		c := &w.cand[cETS]
		if !c.on {
			c.folds, c.mean = grow(&c.folds, K*Hb), grow(&c.mean, H)
		}
		yc = grow(&w.clean, n)
		w.fitETS(y, mShort, origins, Hb, c.folds, c.mean, yc)
	}
	// Naive is the latest observation as it is: a point the filter
	// clipped is unconfirmed at the end of a history (it may start a new
	// level), and naive is the one candidate that says so; on the cleaned
	// history every candidate would forecast as if the jump had not been.
	if w.cand[cNaive].on {
		w.runSNaive(&w.cand[cNaive], y, origins, Hb, 1)
	}
	if w.cand[cSNaive].on {
		w.runSNaive(&w.cand[cSNaive], yc, origins, Hb, max(mShort, 1))
	}
	if w.cand[cSNaiveW].on {
		w.runSNaive(&w.cand[cSNaiveW], yc, origins, Hb, max(mLong, mShort, 1))
	}
	if w.cand[cReg].on {
		w.times = times
		w.runRegression(g, yc, y, pers, o, origins, H, Hb, &w.cand[cReg])
		w.times = nil
	}
	if w.cand[cRecent].on {
		w.runRecent(&w.cand[cRecent], y, origins, Hb, W)
	}
	for i := 0; i < cCombo; i++ {
		if c := &w.cand[i]; c.on {
			if i == cETS || i == cReg || i == cSNaiveW {
				w.spanGuard(c, y, origins, Hb, W)
			}
			c.mae = backtestMAE(y, origins, Hb, c.folds)
		}
	}
	// A recent median that the latest observations contradict is out:
	// a level change after the last origin (a ramp in its last hours) is
	// seen by no backtest, and the median would forecast the old level.
	// Intermittent series keep it whatever their last burst says.
	if c := &w.cand[cRecent]; c.on && K > 0 && !intermittent && w.contradicted(c, y, origins, Hb) {
		c.mae = math.Inf(1)
	}
	if w.cand[cCombo].on {
		w.combine(y, origins, Hb)
	}
}

// contradicted reports whether the latest observations lie further from
// c's forecast than c's backtest ever erred over as many steps: the level
// moved after the last origin, where no backtest can see it.
func (w *Fitter) contradicted(c *cand, y []float64, origins []int, H int) bool {
	s := max(3, min(12, H))
	worst := 0.0
	for k, o := range origins {
		for h := 0; h < s && h < H; h++ {
			if v := y[o+h]; !math.IsNaN(v) {
				worst = max(worst, math.Abs(v-c.folds[k*H+h]))
			}
		}
	}
	now := w.windowMedian(y, len(y), s)
	return math.Abs(now-c.mean[0]) > worst
}

// choose is the candidate to forecast with: the one named, or under auto
// the smallest backtest MAE. Without a backtest (K == 0) a short history
// takes the simplest model that adapts.
func (w *Fitter) choose(model string, K, n int, intermittent bool) int {
	best := -1
	switch model {
	case ModelAuto:
		for i := 0; i < nCand; i++ {
			if c := &w.cand[i]; c.on && !math.IsNaN(c.mae) && (best < 0 || c.mae < w.cand[best].mae) {
				best = i
			}
		}
		if best < 0 || K == 0 {
			best = cETS
			if n < 10 || !w.cand[cETS].on {
				best = cNaive
			}
			if intermittent {
				best = cRecent
			}
		}
	default:
		for i := 0; i < nCand; i++ {
			if candName(i) == model {
				best = i
			}
		}
	}
	return best
}

func (w *Fitter) runSNaive(c *cand, y []float64, origins []int, H, m int) {
	for k, o := range origins {
		snaiveForecast(y, o, m, c.folds[k*H:(k+1)*H])
	}
	snaiveForecast(y, len(y), m, c.mean)
}

// combine averages the best comboSize single models by backtest error.
func (w *Fitter) combine(y []float64, origins []int, H int) {
	r := w.rank[:0]
	for i := 0; i < cCombo; i++ {
		if w.cand[i].on && !math.IsInf(w.cand[i].mae, 0) && !math.IsNaN(w.cand[i].mae) {
			r = append(r, i)
		}
	}
	// Insertion sort by MAE (a handful of entries).
	for a := 1; a < len(r); a++ {
		for b := a; b > 0 && w.cand[r[b]].mae < w.cand[r[b-1]].mae; b-- {
			r[b], r[b-1] = r[b-1], r[b]
		}
	}
	if len(r) == 0 {
		// No backtest: average what there is.
		for i := 0; i < cCombo; i++ {
			if w.cand[i].on {
				r = append(r, i)
			}
		}
	}
	if len(r) > comboSize {
		r = r[:comboSize]
	}
	c := &w.cand[cCombo]
	inv := 1 / float64(len(r))
	for j := range c.folds {
		s := 0.0
		for _, i := range r {
			s += w.cand[i].folds[j]
		}
		c.folds[j] = s * inv
	}
	for j := range c.mean {
		s := 0.0
		for _, i := range r {
			s += w.cand[i].mean[j]
		}
		c.mean[j] = s * inv
	}
	c.mae = backtestMAE(y, origins, H, c.folds)
}

// backtestMAE is the mean absolute error of the forecasts from each origin.
func backtestMAE(y []float64, origins []int, H int, folds []float64) float64 {
	s, n := 0.0, 0
	for k, o := range origins {
		for h := 0; h < H; h++ {
			if v := y[o+h]; !math.IsNaN(v) {
				s += math.Abs(v - folds[k*H+h])
				n++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// maseScale is the mean absolute seasonal difference at lag m (MASE's
// denominator), or at lag 1 when the history is not longer than m.
func maseScale(y []float64, m int) float64 {
	if len(y) <= m {
		m = 1
	}
	s, n := 0.0, 0
	for i := m; i < len(y); i++ {
		if d := y[i] - y[i-m]; !math.IsNaN(d) {
			s += math.Abs(d)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}
