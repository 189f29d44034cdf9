package forecast

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Prediction intervals come from the backtest: the errors of the chosen
// model at every rolling origin and horizon step. Their spread per step is
// fitted as a non-decreasing function of the step (isotonic regression of
// the mean absolute error, weighted by the number of errors), and the
// errors divided by it are pooled over all steps; the band at a probability
// is the step's scale times the pooled standardised error at that
// probability. Tail quantiles use the conformal rank ceil((N+1)p), so a
// band covers at least its level on exchangeable errors.

const nKnots = 25

// knotProbs are the probabilities at which a forecast keeps its pooled
// standardised error quantiles; Quantile interpolates between them.
func knotProbs() [nKnots]float64 {
	return [nKnots]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
		0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.975, 0.99, 0.995}
}

func normQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// calib is what a forecast keeps to answer Quantile.
type calib struct {
	ok       bool
	zk       [nKnots]float64 // standardised error quantiles at knotProbs
	zLo, zHi float64         // those of Lower and Upper
}

// zAt interpolates the standardised error quantile at probability q,
// linearly in normal scores, extrapolating the end segments.
func (c *calib) zAt(q float64) float64 {
	p := knotProbs()
	for i, pk := range p {
		if math.Abs(q-pk) < 1e-12 { // (1-0.8)/2 is 0.09999999999999998
			return c.zk[i]
		}
	}
	x := normQuantile(q)
	i := 1
	for i < nKnots-1 && q > p[i] {
		i++
	}
	x0, x1 := normQuantile(p[i-1]), normQuantile(p[i])
	z := c.zk[i-1] + (c.zk[i]-c.zk[i-1])*(x-x0)/(x1-x0)
	if q > p[0] && q < p[nKnots-1] {
		// Between two knots: stay between them despite rounding.
		z = max(min(z, max(c.zk[i-1], c.zk[i])), min(c.zk[i-1], c.zk[i]))
	}
	return z
}

// normalCalib is the calibration of Gaussian errors with unit scale.
func normalCalib(level float64) calib {
	c := calib{ok: true}
	for i, p := range knotProbs() {
		c.zk[i] = normQuantile(p)
	}
	c.zLo, c.zHi = c.zAt((1-level)/2), c.zAt((1+level)/2)
	return c
}

// calibrate fits the per-step scale (into scale, length H) and the pooled
// standardised error quantiles from errs (K rows of H, NaN where the truth
// was missing); draws is how many separate windows the K rows amount to
// (K unless they overlap, windowDraws). cover is the coverage of the level
// band on each half of the origins when calibrated on the other half (NaN
// with fewer than 2 origins), and score that band's mean interval score in
// the series' own units: errs[i] times units[i] (nil: 1) is the error as
// the series measures it.
func (w *Fitter) calibrate(errs, units []float64, K, H int, draws, level float64, scale []float64) (c calib, cover, score float64) {
	wt := grow(&w.calW, H)
	for h := 0; h < H; h++ {
		s, n := 0.0, 0.0
		for k := 0; k < K; k++ {
			if e := errs[k*H+h]; !math.IsNaN(e) {
				s += math.Abs(e)
				n++
			}
		}
		wt[h] = n
		if n > 0 {
			scale[h] = s / n
		} else {
			scale[h] = 0
		}
	}
	w.isotonic(scale, wt)
	z := w.zbuf[:0]
	for k := 0; k < K; k++ {
		for h := 0; h < H; h++ {
			e := errs[k*H+h]
			if math.IsNaN(e) {
				continue
			}
			if scale[h] > 0 {
				z = append(z, e/scale[h])
			} else {
				z = append(z, 0)
			}
		}
	}
	w.zbuf = z
	if len(z) == 0 {
		return calib{}, math.NaN(), math.NaN()
	}
	c.ok = true
	sorted := grow(&w.zsort, len(z))
	copy(sorted, z)
	slices.Sort(sorted)
	// The errors of one origin's window are strongly dependent, so the
	// spread is really estimated from about as many samples as there are
	// separate windows (draws): widen the quantiles about the median by the
	// ratio of Student's t with draws-1 degrees of freedom to the normal,
	// as for a scale estimated from that many draws.
	if w.tDF != draws {
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: max(draws-1, 1)}
		for i, p := range knotProbs() {
			w.tRatio[i] = 1
			if p != 0.5 {
				w.tRatio[i] = t.Quantile(p) / normQuantile(p)
			}
		}
		w.tDF = draws
	}
	med := conformalQuantile(sorted, 0.5)
	for i, p := range knotProbs() {
		c.zk[i] = med + (conformalQuantile(sorted, p)-med)*w.tRatio[i]
	}
	c.zLo, c.zHi = c.zAt((1-level)/2), c.zAt((1+level)/2)
	cover, score = w.crossCheck(errs, units, K, H, level, scale)
	return c, cover, score
}

// conformalQuantile is the order statistic of rank floor((N+1)p) below the
// median and ceil((N+1)p) above it, clamped to the sample; the median
// itself is interpolated.
func conformalQuantile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if p == 0.5 {
		if n%2 == 1 {
			return sorted[n/2]
		}
		return (sorted[n/2-1] + sorted[n/2]) / 2
	}
	var r int
	if p > 0.5 {
		r = int(math.Ceil(float64(n+1)*p)) - 1
	} else {
		r = int(math.Floor(float64(n+1)*p)) - 1
	}
	return sorted[max(0, min(n-1, r))]
}

// crossCheck calibrates the band on the even origins and checks it on the
// odd ones, and the other way round: the share of errors inside it, and
// its mean interval score (width, plus 2/(1−level) times any miss; lower is
// better, Gneiting and Raftery's proper score behind MSIS) in the units that
// units[i] (nil: 1) converts errs[i] to.
func (w *Fitter) crossCheck(errs, units []float64, K, H int, level float64, scale []float64) (cover, score float64) {
	if K < 2 {
		return math.NaN(), math.NaN()
	}
	inside, total := 0, 0
	sum, pen := 0.0, 2/(1-level)
	for half := 0; half < 2; half++ {
		z := w.calZ[:0]
		for k := half; k < K; k += 2 {
			for h := 0; h < H; h++ {
				if e := errs[k*H+h]; !math.IsNaN(e) {
					if scale[h] > 0 {
						z = append(z, e/scale[h])
					} else {
						z = append(z, 0)
					}
				}
			}
		}
		w.calZ = z
		if len(z) == 0 {
			continue
		}
		n := len(z)
		rlo := max(0, min(n-1, int(math.Floor(float64(n+1)*(1-level)/2))-1))
		rhi := max(0, min(n-1, int(math.Ceil(float64(n+1)*(1+level)/2))-1))
		zlo := selectK(z, rlo)
		zhi := selectK(z, rhi)
		for k := 1 - half; k < K; k += 2 {
			for h := 0; h < H; h++ {
				i := k*H + h
				e := errs[i]
				if math.IsNaN(e) {
					continue
				}
				total++
				lo, hi := zlo*scale[h], zhi*scale[h]
				if e >= lo && e <= hi {
					inside++
				}
				u := 1.0
				if units != nil {
					u = units[i]
				}
				sum += u * ((hi - lo) + pen*(max(lo-e, 0)+max(e-hi, 0)))
			}
		}
	}
	if total == 0 {
		return math.NaN(), math.NaN()
	}
	return float64(inside) / float64(total), sum / float64(total)
}

// isotonic replaces v by its weighted least-squares non-decreasing fit
// (pool adjacent violators); entries of zero weight take their block's value.
func (w *Fitter) isotonic(v, wt []float64) {
	n := len(v)
	val := grow(&w.pavV, n)
	wsum := grow(&w.pavW, n)
	start := growInt(&w.pavS, n)
	nb := 0
	for i := 0; i < n; i++ {
		val[nb], wsum[nb], start[nb] = v[i], wt[i], i
		nb++
		for nb > 1 && (wsum[nb-1] == 0 || wsum[nb-2] == 0 || val[nb-2] > val[nb-1]) {
			tw := wsum[nb-2] + wsum[nb-1]
			var nv float64
			switch {
			case wsum[nb-2] == 0:
				nv = val[nb-1]
			case wsum[nb-1] == 0:
				nv = val[nb-2]
			default:
				nv = (val[nb-2]*wsum[nb-2] + val[nb-1]*wsum[nb-1]) / tw
			}
			val[nb-2], wsum[nb-2] = nv, tw
			nb--
		}
	}
	for b := 0; b < nb; b++ {
		end := n
		if b+1 < nb {
			end = start[b+1]
		}
		for i := start[b]; i < end; i++ {
			v[i] = val[b]
		}
	}
}

// Quantile returns the forecast's q-quantile (0<q<1) at every step: the
// point forecast plus the step's calibrated scale times the pooled
// backtest error quantile, clamped to the forecast's Min and Max. For a Forecast not made by Fit it assumes
// Gaussian errors between Lower and Upper.
func (f *Forecast) Quantile(q float64) []float64 {
	out := make([]float64, len(f.Mean))
	if math.IsNaN(q) || q <= 0 || q >= 1 {
		for i := range out {
			out[i] = math.NaN()
		}
		return out
	}
	c := f.cal
	if !c.ok {
		level := f.Level
		if level <= 0 || level >= 1 {
			level = 0.8
		}
		c = normalCalib(level)
	}
	zq := c.zAt(q)
	span := c.zHi - c.zLo
	for i := range out {
		sd := 0.0
		switch {
		case i < len(f.sd):
			sd = f.sd[i]
		case span > 0 && i < len(f.Lower) && i < len(f.Upper):
			sd = (f.Upper[i] - f.Lower[i]) / span
		}
		out[i] = f.Mean[i] + zq*sd
		if f.bounded {
			out[i] = clamp(out[i], f.Min, f.Max)
		}
	}
	return out
}

// relativeFloor reports whether a series' errors may be measured relative
// to the forecast level, and the smallest level they are divided by. A
// series that never left (0, ∞) (CPU seconds, requests, bytes in use) often
// has errors that grow with its level: a band fitted on absolute errors is
// then too narrow at the daily peak and too wide in the trough. The floor
// is the history's lower quartile: below it the spread stops shrinking
// with the level, so a fold forecast near a dip (or near 0) does not turn
// an ordinary error into a relative one of thousands. Whether the relative
// band is used at all is the backtest's call (band).
func (w *Fitter) relativeFloor(y []float64) (float64, bool) {
	v := w.floorBuf[:0]
	for _, x := range y {
		if math.IsNaN(x) {
			continue
		}
		if !(x > 0) {
			return 0, false
		}
		v = append(v, x)
	}
	w.floorBuf = v
	if len(v) == 0 {
		return 0, false
	}
	return selectK(v, (len(v)-1)/4), true
}

// band sets f's Lower and Upper around its Mean from candidate c's backtest
// errors (Hb steps from each origin), calibrated to level. For a strictly
// positive series (Fitter.relativeFloor) it also calibrates on the errors relative
// to each fold's forecast level, and keeps whichever band has the lower
// cross-validated interval score (crossCheck) in the series' own units: a
// relative band is right where errors grow with the level, and absurd
// where a fold forecast near a dip of the history (nyc_taxi's blizzard
// night, 8 rides in half an hour) turns an ordinary error into a relative
// one of thousands, which the forecast level then multiplies back (an
// upper bound of 22 million on a series near 20,000). When the backtest is
// shorter than the forecast (Hb < len(f.Mean), a short history), the steps
// beyond Hb take the spread of step Hb (the isotonic fit's own
// continuation, with no growth that no error showed), and the t-widening
// counts the overlapping windows as the separate windows they span
// (windowDraws). Without a backtest (or when calibration fails) the band
// grows as a random walk of the one-step spread. It returns the
// calibration and the band's backtest coverage (NaN without).
func (w *Fitter) band(f *Forecast, c *cand, y []float64, origins []int, Hb int, level float64) (calib, float64) {
	K, H := len(origins), len(f.Mean)
	sc := grow(&w.scale, H)
	var cal calib
	cover := math.NaN()
	relBand := false
	// ceil is the highest level a fold forecast had where the backtest saw
	// an error: the relative band's errors are known to scale with the
	// level only over the levels the backtest saw.
	ceil := math.Inf(-1)
	if K > 0 {
		errs := grow(&w.errs, K*Hb)
		for k, o := range origins {
			for h := 0; h < Hb; h++ {
				errs[k*Hb+h] = y[o+h] - c.folds[k*Hb+h]
			}
		}
		draws := float64(K)
		if Hb < H {
			draws = windowDraws(origins, Hb)
		}
		var score float64
		cal, cover, score = w.calibrate(errs, nil, K, Hb, draws, level, sc[:Hb])
		floor, rel := w.relativeFloor(y)
		if rel {
			rerrs, units := grow(&w.relErrs, K*Hb), grow(&w.units, K*Hb)
			for i, e := range errs {
				units[i] = math.Max(c.folds[i], floor)
				rerrs[i] = e / units[i]
				if !math.IsNaN(e) {
					ceil = math.Max(ceil, units[i])
				}
			}
			rsc := grow(&w.relScale, Hb)
			rcal, rcover, rscore := w.calibrate(rerrs, units, K, Hb, draws, level, rsc)
			// Without a cross-check (under two origins) the relative band is
			// kept, as before the check existed.
			if rcal.ok && (!(rscore >= score) || !cal.ok) {
				cal, cover, relBand = rcal, rcover, true
				copy(sc, rsc)
			}
		}
		for h := Hb; h < H; h++ {
			sc[h] = sc[Hb-1]
		}
		if relBand {
			for h := range sc {
				sc[h] *= clamp(f.Mean[h], floor, ceil)
			}
		}
	}
	if !cal.ok {
		// Random-walk growth of the one-step spread, over at most as many
		// steps as the history spans: nothing without a backtest says how
		// errors grow beyond what was seen. A node whose series began with
		// a batch launch 7 minutes ago (800, then 9,000 to 12,000) was
		// forecast a 0.9 quantile of 60,658 two hours out, five times its
		// capacity, and the demo migrated and grew the pool on it.
		sig := oneStepSpread(y)
		span := float64(max(observedSteps(y), 1))
		for h := range sc {
			sc[h] = sig * math.Sqrt(math.Min(float64(h+1), span))
		}
		cal = normalCalib(level)
	}
	// A point forecast outside its own band is a model whose backtest
	// errors lean to one side beyond what the band allows (a flat
	// forecast of a counter that only grows: nine in ten of its errors
	// above 0). The band says where the truth lies; its median is then
	// the point forecast (the model moved by its median error), so the
	// published mean is never outside the published band. Only then: on
	// every series, the shift cost 1.9% of NAB's 1 d MASE (README, Audit).
	if zm := cal.zk[nKnots/2]; (cal.zLo > 0 || cal.zHi < 0) && !math.IsNaN(zm) {
		for i := range cal.zk {
			cal.zk[i] -= zm
		}
		cal.zLo, cal.zHi = cal.zLo-zm, cal.zHi-zm
		for h := range f.Mean {
			f.Mean[h] += zm * sc[h]
		}
	}
	f.sd = make([]float64, H)
	copy(f.sd, sc)
	for h := range f.Mean {
		f.Lower[h] = f.Mean[h] + cal.zLo*sc[h]
		f.Upper[h] = f.Mean[h] + cal.zHi*sc[h]
	}
	return cal, cover
}

// observedSteps is the number of steps from the first finite value of y to
// the last.
func observedSteps(y []float64) int {
	first, last := -1, -1
	for i, v := range y {
		if !math.IsNaN(v) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	return last - first
}

// windowDraws is how many separate windows of Hb steps the backtest's
// origins amount to: the time they span over Hb (K when they are Hb or
// more apart). A backtest shorter than the horizon has its origins crammed
// into the last steps of a short history, a quarter window apart, and
// real errors persist over hours: counting each overlapping window as a
// draw made its bands too narrow (ms-anomaly with 3 days of history,
// forecasts 1 day and 30 minutes ahead: coverage 0.66 of the 80% band;
// forecast/README.md).
func windowDraws(origins []int, Hb int) float64 {
	K := len(origins)
	if K < 2 || origins[1]-origins[0] >= Hb {
		return float64(K)
	}
	return 1 + float64(origins[K-1]-origins[0])/float64(Hb)
}
