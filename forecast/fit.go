package forecast

import (
	"fmt"
	"math"
	"strings"
)

// Model names accepted in Options.Model.
const (
	ModelAuto         = "auto"
	ModelNaive        = "naive"         // the latest observation
	ModelSNaive       = "snaive"        // seasonal naive, shortest season (daily)
	ModelSNaiveWeekly = "snaive-weekly" // seasonal naive, longest season (weekly)
	ModelETS          = "ets"           // damped additive Holt-Winters
	ModelRegression   = "regression"    // trend + Fourier seasons + events + AR residuals
	ModelRecent       = "recent"        // median of the recent window; for intermittent and bursty series
	ModelCombo        = "combo"         // mean of the best three by backtest
)

const (
	cNaive = iota
	cSNaive
	cSNaiveW
	cETS
	cReg
	cRecent
	cCombo
	nCand
)

func candName(i int) string {
	return [nCand]string{ModelNaive, ModelSNaive, ModelSNaiveWeekly, ModelETS, ModelRegression, ModelRecent, ModelCombo}[i]
}

// Models lists the model names Options.Model accepts besides "auto".
func Models() []string {
	out := make([]string, nCand)
	for i := range out {
		out[i] = candName(i)
	}
	return out
}

// maxHorizon bounds Options.Horizon so a typo cannot allocate gigabytes.
const maxHorizon = 1 << 20

// comboSize is how many of the best single models the combination averages
// (the M4 competition's lesson: a few good models averaged are robust).
const comboSize = 3

// Fit forecasts s as o says. It is Fitter.Fit with fresh scratch space.
func Fit(s Series, o Options) (*Forecast, error) {
	var w Fitter
	return w.Fit(s, o)
}

// Fitter fits forecasts, keeping its scratch space between calls so that
// refitting many series allocates little more than the results. The zero
// value is ready to use. A Fitter is not safe for concurrent use: keep one
// per goroutine.
type Fitter struct {
	y, cnt, adj, offFut         []float64
	tmp, tmp2, tmp3, tmp4       []float64
	psum, pcnt                  []float64
	etsS0, etsS, etsResid, damp []float64
	stepBuf                     []int64
	origins                     []int
	cand                        [nCand]cand
	errs, scale                 []float64
	calW, pavV, pavW            []float64
	pavS                        []int
	zbuf, zsort, calZ           []float64
	rank                        [nCand]int
	reg                         regWork
	clean                       []float64
	regPast                     [][]float64
	regPastBuf                  []float64
	regCnt                      []float64
	unknownEventNames           []string
	times                       []int64
	tDF                         int
	tRatio                      [nKnots]float64
}

type cand struct {
	on          bool
	folds, mean []float64
	mae         float64
}

func validate(s Series, o Options) (level float64, model string, err error) {
	if o.Horizon < 0 || o.Horizon > maxHorizon || (o.Horizon == 0 && o.HorizonSeconds <= 0) {
		return 0, "", fmt.Errorf("%w: horizon %d steps, want 1 to %d (or HorizonSeconds > 0)", ErrBadOptions, o.Horizon, maxHorizon)
	}
	if len(s.Times) != len(s.Values) {
		return 0, "", fmt.Errorf("%w: %d times but %d values", ErrBadOptions, len(s.Times), len(s.Values))
	}
	if o.Step < 0 {
		return 0, "", fmt.Errorf("%w: step %d s, want a positive number of seconds or 0 for the series' own", ErrBadOptions, o.Step)
	}
	level = o.Level
	if level == 0 {
		level = 0.8
	}
	if !(level > 0 && level < 1) {
		return 0, "", fmt.Errorf("%w: level %v, want a coverage between 0 and 1 such as 0.8", ErrBadOptions, o.Level)
	}
	if o.Folds < 0 {
		return 0, "", fmt.Errorf("%w: folds %d, want 0 (automatic) or more", ErrBadOptions, o.Folds)
	}
	model = strings.ToLower(strings.TrimSpace(o.Model))
	if model == "" {
		model = ModelAuto
	}
	known := model == ModelAuto
	for i := 0; i < nCand; i++ {
		known = known || model == candName(i)
	}
	if !known {
		return 0, "", fmt.Errorf("%w %q; valid: auto, %s", ErrUnknownModel, o.Model, strings.Join(Models(), ", "))
	}
	for _, p := range o.Seasons {
		if p <= 0 {
			return 0, "", fmt.Errorf("%w: seasonal period %d s, want a positive number of seconds", ErrBadOptions, p)
		}
	}
	for _, r := range o.Regressors {
		if len(r.Past) != len(s.Times) {
			return 0, "", fmt.Errorf("%w: regressor %q has %d past values for %d times", ErrBadOptions, r.Name, len(r.Past), len(s.Times))
		}
		if o.Horizon > 0 && len(r.Future) < o.Horizon {
			return 0, "", fmt.Errorf("%w: regressor %q has %d future values, want the horizon's %d", ErrBadOptions, r.Name, len(r.Future), o.Horizon)
		}
	}
	for _, e := range o.Events {
		if e.End <= e.Start {
			return 0, "", fmt.Errorf("%w: event %q ends at %d, not after its start %d", ErrBadOptions, e.Name, e.End, e.Start)
		}
	}
	if err := validateBounds(o); err != nil {
		return 0, "", err
	}
	return level, model, nil
}

// Fit forecasts s as o says, reusing the Fitter's scratch space.
func (w *Fitter) Fit(s Series, o Options) (*Forecast, error) {
	level, model, err := validate(s, o)
	if err != nil {
		return nil, err
	}
	if len(s.Times) == 0 {
		return nil, fmt.Errorf("%w: the series has no points", ErrEmpty)
	}
	step := o.Step
	if step <= 0 {
		step = medianStep(s.Times, w.stepBuf[:0])
		if step <= 0 {
			step = 60 // a single timestamp says nothing about the step
		}
		// Jittered timestamps give a median a second or two off the
		// scrape interval; snap to a multiple of 10 s within 1%.
		if r := (step + 5) / 10 * 10; step >= 100 && r != step && 100*abs64(r-step) <= step {
			step = r
		}
	}
	g, ok := w.regularise(s, step)
	if !ok {
		return nil, fmt.Errorf("%w: %d points, none of them a finite number", ErrEmpty, len(s.Times))
	}
	H := o.Horizon
	if H == 0 {
		H = int(min((o.HorizonSeconds+step-1)/step, maxHorizon))
	}
	for _, r := range o.Regressors {
		if len(r.Future) < H {
			return nil, fmt.Errorf("%w: regressor %q has %d future values, want the horizon's %d", ErrBadOptions, r.Name, len(r.Future), H)
		}
	}
	f := &Forecast{
		Times:    make([]int64, H),
		Mean:     make([]float64, H),
		Lower:    make([]float64, H),
		Upper:    make([]float64, H),
		Level:    level,
		MASE:     math.NaN(),
		Coverage: math.NaN(),
	}
	for h := range f.Times {
		f.Times[h] = g.tLast + int64(h+1)*step
	}
	n := g.n()

	// Events whose effect is known, and those whose effect was learnt by
	// the regression, are taken out of the history and put back into the
	// forecast, so every model sees them.
	y := w.applyKnownEvents(&g, o.Events, f.Times)

	// Seasons.
	var pers []period
	if o.Seasons != nil {
		pers = usablePeriods(o.Seasons, step, n)
	} else {
		pers = w.detectSeasons(&g, usablePeriods([]int64{Day, Week}, step, n))
	}
	if len(pers) > 0 {
		f.Seasons = make([]int64, len(pers))
		for i, p := range pers {
			f.Seasons[i] = p.secs
		}
	}
	mShort, mLong := 0, 0
	if len(pers) > 0 {
		mShort, mLong = pers[0].steps, pers[len(pers)-1].steps
	}
	if model == ModelSNaiveWeekly && len(pers) < 2 {
		// Asked for by name: use a week if the history covers two.
		if wp := usablePeriods([]int64{Week}, step, n); len(wp) == 1 {
			mLong = wp[0].steps
		}
	}

	bLo, bHi := resolveBounds(s.Values, o)

	// A constant history forecasts itself exactly.
	if c, ok := constant(y); ok {
		for h := range f.Mean {
			v := c + w.offFut[h]
			f.Mean[h], f.Lower[h], f.Upper[h] = v, v, v
		}
		f.Model = model
		if model == ModelAuto {
			f.Model = ModelNaive
		}
		f.cal = calib{ok: true}
		f.applyBounds(bLo, bHi)
		return f, nil
	}

	// Intermittent series (mostly zeros, in many runs) are forecast by
	// the recent median, which reads bursts as a tail of the band, not as
	// a level or a trend.
	zeros, runs := intermittency(y)
	f.Intermittent = zeros >= intermittentZeros && runs >= intermittentRuns
	W := recentWindow(H, mShort)

	scale := maseScale(y, max(mShort, 1))

	// Rolling origins: K windows of H steps, ending at the end of the
	// history, each preceded by at least minTrain steps.
	minTrain := max(2*mShort, 10)
	kWant := o.Folds
	if kWant == 0 {
		kWant = min(40, max(6, (480+H-1)/H))
	}
	span := n - H - minTrain
	var origins []int
	if span >= 0 {
		stride := H
		if kWant > 1 && span/(kWant-1) < stride {
			stride = max(1, span/(kWant-1), H/4)
		}
		K := min(kWant, span/stride+1)
		origins = growInt(&w.origins, K)
		for k := range origins {
			origins[k] = n - H - (K-1-k)*stride
		}
	}
	K := len(origins)

	// Which candidates to run.
	for i := range w.cand {
		w.cand[i].on = false
	}
	want := func(i int) { w.cand[i].on = true }
	switch {
	case model == ModelAuto && f.Intermittent:
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
	for i := range w.cand {
		c := &w.cand[i]
		if !c.on {
			continue
		}
		c.folds = grow(&c.folds, K*H)
		c.mean = grow(&c.mean, H)
		c.mae = math.Inf(1)
	}
	// Holt-Winters runs first: the outliers its robust filter clips are
	// blanked for the other models, so that they bend no seasonal shape.
	yc := y
	if w.cand[cETS].on || w.cand[cReg].on {
		c := &w.cand[cETS]
		if !c.on {
			c.folds, c.mean = grow(&c.folds, K*H), grow(&c.mean, H)
		}
		yc = grow(&w.clean, n)
		w.fitETS(y, mShort, origins, H, c.folds, c.mean, yc)
	}
	if w.cand[cNaive].on {
		w.runSNaive(&w.cand[cNaive], yc, origins, H, 1)
	}
	if w.cand[cSNaive].on {
		w.runSNaive(&w.cand[cSNaive], yc, origins, H, max(mShort, 1))
	}
	if w.cand[cSNaiveW].on {
		w.runSNaive(&w.cand[cSNaiveW], yc, origins, H, max(mLong, mShort, 1))
	}
	if w.cand[cReg].on {
		w.times = s.Times
		w.runRegression(&g, yc, y, pers, o, origins, H, &w.cand[cReg])
		w.times = nil
	}
	if w.cand[cRecent].on {
		w.runRecent(&w.cand[cRecent], y, origins, H, W)
	}
	for i := 0; i < cCombo; i++ {
		if c := &w.cand[i]; c.on {
			if i == cETS || i == cReg || i == cSNaiveW {
				w.spanGuard(c, y, origins, H, W)
			}
			c.mae = backtestMAE(y, origins, H, c.folds)
		}
	}
	if w.cand[cCombo].on {
		w.combine(y, origins, H)
	}

	// Choose.
	best := -1
	switch model {
	case ModelAuto:
		for i := 0; i < nCand; i++ {
			if c := &w.cand[i]; c.on && !math.IsNaN(c.mae) && (best < 0 || c.mae < w.cand[best].mae) {
				best = i
			}
		}
		if best < 0 || K == 0 {
			// No backtest possible: a short history takes the simplest
			// model that adapts.
			best = cETS
			if n < 10 || !w.cand[cETS].on {
				best = cNaive
			}
			if f.Intermittent {
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
	c := &w.cand[best]
	f.Model = candName(best)
	copy(f.Mean, c.mean)
	for h := range f.Mean {
		f.Mean[h] = clamp(f.Mean[h]+w.offFut[h], bLo, bHi)
	}

	// Intervals.
	sc := grow(&w.scale, H)
	var cal calib
	cover := math.NaN()
	if K > 0 {
		errs := grow(&w.errs, K*H)
		for k, o := range origins {
			for h := 0; h < H; h++ {
				errs[k*H+h] = y[o+h] - c.folds[k*H+h]
			}
		}
		cal, cover = w.calibrate(errs, K, H, level, sc)
	}
	if !cal.ok {
		// Random-walk growth of the one-step spread.
		sig := oneStepSpread(y)
		for h := range sc {
			sc[h] = sig * math.Sqrt(float64(h+1))
		}
		cal = normalCalib(level)
	}
	f.sd = make([]float64, H)
	copy(f.sd, sc)
	for h := range f.Mean {
		f.Lower[h] = f.Mean[h] + cal.zLo*sc[h]
		f.Upper[h] = f.Mean[h] + cal.zHi*sc[h]
	}
	f.applyBounds(bLo, bHi)
	f.cal = cal
	f.Coverage = cover
	if K > 0 && scale > 0 && !math.IsInf(c.mae, 0) {
		f.MASE = c.mae / scale
	}
	return f, nil
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

// oneStepSpread is the root mean square of the differences between
// consecutive observations (0 with fewer than two).
func oneStepSpread(y []float64) float64 {
	s, n := 0.0, 0
	prev := math.NaN()
	for _, v := range y {
		if math.IsNaN(v) {
			continue
		}
		if !math.IsNaN(prev) {
			s += (v - prev) * (v - prev)
			n++
		}
		prev = v
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(s / float64(n))
}

func constant(y []float64) (float64, bool) {
	c := math.NaN()
	for _, v := range y {
		if math.IsNaN(v) {
			continue
		}
		if math.IsNaN(c) {
			c = v
		} else if v != c {
			return 0, false
		}
	}
	return c, !math.IsNaN(c)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
