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
	relErrs, units, relScale    []float64
	floorBuf                    []float64
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
	tDF                         float64
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

// Fit forecasts s as o says, reusing the Fitter's scratch space: it
// regularises the series, takes known events out, finds its seasons, runs
// the candidate models from rolling origins (choose.go), keeps the one
// asked for or the best, and puts a calibrated band around it
// (interval.go), within the bounds.
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
		step = w.seriesStep(s.Times)
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
	f := newForecast(g.tLast, step, H, level)
	n := g.n()

	// Events whose effect is known, and those whose effect was learnt by
	// the regression, are taken out of the history and put back into the
	// forecast, so every model sees them.
	y := w.applyKnownEvents(&g, o.Events, f.Times)

	pers, mShort, mLong := w.seasons(&g, o, model, step, H)
	if len(pers) > 0 {
		f.Seasons = make([]int64, len(pers))
		for i, p := range pers {
			f.Seasons[i] = p.secs
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
	scale := maseScale(y, max(mShort, 1))

	origins, Hb := w.rollingOrigins(n, H, mShort, o.Folds)
	K := len(origins)
	w.enableCandidates(model, f.Intermittent, mShort, mLong, K)
	w.runCandidates(&g, s.Times, y, pers, o, origins, H, Hb, mShort, mLong, f.Intermittent)
	best := w.choose(model, K, n, f.Intermittent)
	c := &w.cand[best]
	f.Model = candName(best)
	copy(f.Mean, c.mean)
	for h := range f.Mean {
		f.Mean[h] = clamp(f.Mean[h]+w.offFut[h], bLo, bHi)
	}

	cal, cover := w.band(f, c, y, origins, Hb, level)
	f.applyBounds(bLo, bHi)
	f.cal = cal
	f.Coverage = cover
	if K > 0 && scale > 0 && !math.IsInf(c.mae, 0) {
		f.MASE = c.mae / scale
	}
	return f, nil
}

// seriesStep is the step of a series whose Options.Step is unset: its
// median sampling interval, snapped to a multiple of 10 s within 1%.
func (w *Fitter) seriesStep(times []int64) int64 {
	step := medianStep(times, w.stepBuf[:0])
	if step <= 0 {
		return 60 // a single timestamp says nothing about the step
	}
	// Jittered timestamps give a median a second or two off the
	// scrape interval; snap to a multiple of 10 s within 1%.
	if r := (step + 5) / 10 * 10; step >= 100 && r != step && 100*abs64(r-step) <= step {
		step = r
	}
	return step
}

// newForecast allocates the result for H steps after tLast.
func newForecast(tLast, step int64, H int, level float64) *Forecast {
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
		f.Times[h] = tLast + int64(h+1)*step
	}
	return f
}

// seasons are the seasonal periods the models use: Options.Seasons, else
// those detected among a day and a week; mShort and mLong are the shortest
// and longest in steps (0 without a season). snaive-weekly asked for by
// name uses a week whenever the history covers two.
//
// A detected season must leave room for a backtest: rolling origins with
// two of the shortest season before them and at least one step after
// (rollingOrigins; the backtest horizon may be shorter than H). Without
// that room (exactly two weeks of history and only the weekly season
// detected, as an exporter's 14d history gives) there would be no
// backtest, so no model choice on evidence and a band no error calibrated;
// the detected seasons are then dropped. Seasons asked for in Options are
// kept.
func (w *Fitter) seasons(g *grid, o Options, model string, step int64, H int) (pers []period, mShort, mLong int) {
	n := g.n()
	if o.Seasons != nil {
		pers = usablePeriods(o.Seasons, step, n)
	} else {
		pers = w.detectSeasons(g, usablePeriods([]int64{Day, Week}, step, n))
		if len(pers) > 0 {
			if origins, _ := w.rollingOrigins(n, H, pers[0].steps, o.Folds); len(origins) == 0 {
				pers = nil
			}
		}
	}
	if len(pers) > 0 {
		mShort, mLong = pers[0].steps, pers[len(pers)-1].steps
	}
	if model == ModelSNaiveWeekly && len(pers) < 2 {
		if wp := usablePeriods([]int64{Week}, step, n); len(wp) == 1 {
			mLong = wp[0].steps
		}
	}
	return pers, mShort, mLong
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
