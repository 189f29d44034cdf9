package forecast

import (
	"math"
	"sort"
)

// This file holds the streaming anomaly detector behind `fleetcast detect`,
// the exporter's fleetcast_anomaly_score and the ForecastAnomaly rule.
//
// Each observation is first compared with a band forecast made before it
// arrived (level plus the seasonal profile that has predicted best so far),
// then three statistics are computed from the residual:
//
//   - point: how far outside the band it lies, in robust scale units;
//   - level: a two-sided CUSUM of the standardised residuals, which grows
//     while the series stays on one side of the band (persistence, level
//     shift);
//   - spread: a CUSUM of the absolute standardised residuals, which grows
//     when the series gets noisier than it has been (variance change, or a
//     seasonal shape the profile no longer matches).
//
// Each statistic is turned into a tail probability by comparing it with its
// own history on this series (an exponential tail fitted above an online
// 95th percentile, the peaks-over-threshold method), so a statistic that is
// routinely large on a noisy series does not alarm. The smallest of the three
// probabilities, corrected for taking the smallest, becomes the score:
// score = -log10(p) / DetectScoreDecades, clamped to [0, 1].
//
// Only then does the model learn from the observation, so a score never
// depends on the observation itself through the model, nor on anything later.

// DetectScoreDecades is how many decades of tail probability the score
// spans: score s means "as extreme as 1 in 10^(s*DetectScoreDecades)
// observations of this series' own past behaviour". Score 1 is p <= 1e-10.
const DetectScoreDecades = 10

// AnomalyThreshold is the score above which the ForecastAnomaly alert fires:
// an observation (or run of observations) whose tail probability under the
// series' own past is below 10^(-AnomalyThreshold*DetectScoreDecades).
// See DETECT.md for how it was chosen.
const AnomalyThreshold = 0.5

var detectLogTail = true
var detectLearnClip = 3.0

// detectAdoptLogP is the log tail probability below which a level or spread
// change is adopted by the model.
const detectAdoptLogP = -AnomalyThreshold * DetectScoreDecades * math.Ln10

// Defaults of DetectorOptions.
const (
	detectDefaultWarmup     = 150
	detectDefaultRefractory = 0
	detectMaxBuckets        = 2016 // a week of 5-minute buckets
	detectStepSamples       = 16   // intervals used to learn the step
)

// DetectorOptions configures a Detector. The zero value learns everything.
type DetectorOptions struct {
	// Step is the sampling interval in seconds; 0 learns it as the median
	// of the first intervals seen.
	Step int64
	// Seasons are the seasonal periods in seconds to model. nil tries a
	// daily and a weekly profile and uses one only while it predicts better
	// than the level alone; a non-nil empty slice disables seasonality.
	Seasons []int64
	// Warmup is the number of observations scored 0 while the detector
	// learns; 0 means 150.
	Warmup int
	// Refractory is the number of observations after a detection during
	// which the score is held below AnomalyThreshold unless the evidence
	// grows stronger than at the detection; 0 means the default (none),
	// negative disables it.
	Refractory int
}

// Detection is the verdict on one observation.
type Detection struct {
	// Score is in [0, 1]; above AnomalyThreshold the observation is an
	// anomaly.
	Score float64
	// Expected, Lower and Upper are the forecast and its band for this
	// observation, made before it arrived. Lower/Upper bound the point
	// residuals' 95th percentile. NaN until the detector has a forecast.
	Expected, Lower, Upper float64
	// Warmup is true while the detector is still learning (Score is 0).
	Warmup bool
}

// detectTail is an online peaks-over-threshold tail model of a nonnegative
// statistic: a stochastic-approximation 95th percentile u and the mean
// excess above it, so P(X > x) ~ 0.05 * exp(-(x-u)/excess) for x > u.
type detectTail struct {
	u, excess float64
	n         int
}

var (
	detectTailQ     = 0.95
	detectTailRate  = 0.02  // step of the quantile tracker, relative to its scale
	detectTailERate = 0.02  // EWMA rate of the mean excess
	detectTailClip  = 5.0   // excesses are clipped at this many mean excesses when learnt
	detectTailFloor = 1e-12 // smallest tail probability reported
)

// logp returns the natural log of the tail probability of x (<= 0).
func (t *detectTail) logp(x float64) float64 {
	if t.n == 0 || !(x > 0) {
		return 0
	}
	if x <= t.u {
		// Below the quantile: a linear ramp in log probability from 1 at 0
		// to 0.05 at u, which keeps ordinary points distinct but low.
		return math.Log(1-detectTailQ) * x / math.Max(t.u, 1e-12)
	}
	lp := math.Log(1-detectTailQ) - (x-t.u)/math.Max(t.excess, 1e-12)
	return math.Max(lp, math.Log(detectTailFloor))
}

func (t *detectTail) learn(x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	if t.n == 0 {
		t.u = x
		t.excess = math.Max(math.Abs(x)*0.5, 1e-9)
		t.n = 1
		return
	}
	t.n++
	// The quantile tracker steps in units of the current tail scale, so it
	// is scale free.
	step := detectTailRate * math.Max(t.excess, 1e-9) * 2
	// Early on, move faster.
	if t.n < 50 {
		step *= 4
	}
	if x > t.u {
		ex := math.Min(x-t.u, detectTailClip*t.excess)
		t.excess += detectTailERate * (ex - t.excess)
		t.u += step * detectTailQ
	} else {
		t.u -= step * (1 - detectTailQ)
		if t.u < 0 {
			t.u = 0
		}
	}
	t.excess = math.Max(t.excess, 1e-9)
}

// detectModel is one candidate forecaster: a level alone (period 0) or a
// level plus an additive seasonal profile of the given period.
type detectModel struct {
	period   int64 // seconds; 0 for the level-only model
	width    int64 // bucket width, seconds
	level    float64
	hasLvl   bool
	prof     []float64
	seen     []bool
	first    int64   // time of the first observation, to know when a full period was seen
	err      float64 // EWMA of |residual| (clipped): both the selection score and the scale
	hasErr   bool
	nErr     int
	cmpErr   float64 // EWMA of |residual| used to compare models (slower)
	slowErr  float64 // long-run EWMA of |residual|: a floor for the scale on flat stretches
	lastPred float64
}

const (
	detectAlpha      = 0.1   // level learning rate per step
	detectGamma      = 0.1   // seasonal profile learning rate per visit
	detectScaleRate  = 0.01  // robust scale EWMA rate
	detectCmpRate    = 0.005 // model comparison EWMA rate
	detectScaleClip  = 6.0   // residuals beyond this many scales are clipped when learning the scale
	detectSeasonWin  = 0.9   // a seasonal model must have at most this fraction of the level model's error
	detectShortRate  = 0.1   // EWMA rate of the level and spread statistics
	detectCusumClip  = 4.0   // standardised residuals are clipped at this when fed to the level CUSUM
	detectMinScale   = 1e-9
	detectSlowRate   = 0.001 // long-run scale EWMA rate
	detectScaleFloor = 0.25  // the scale never drops below this fraction of the long-run scale
)

func (m *detectModel) bucket(t int64) int {
	ph := t % m.period
	if ph < 0 {
		ph += m.period
	}
	return int(ph / m.width)
}

// predict returns the forecast for time t, or false if the model cannot
// predict yet.
func (m *detectModel) predict(t int64) (float64, bool) {
	if !m.hasLvl {
		return 0, false
	}
	if m.period == 0 {
		return m.level, true
	}
	if t-m.first < m.period {
		return 0, false
	}
	n := len(m.prof)
	b := m.bucket(t)
	// Average the bucket with its neighbours: one noisy visit should not
	// make the profile jagged.
	sum, w := 0.0, 0.0
	for _, d := range [3]int{-1, 0, 1} {
		j := (b + d + n) % n
		if m.seen[j] {
			wt := 1.0
			if d == 0 {
				wt = 2
			}
			sum += wt * m.prof[j]
			w += wt
		}
	}
	if w == 0 {
		return 0, false
	}
	return m.level + sum/w, true
}

// learn updates the model with observation v at t, gap steps after the last.
func (m *detectModel) learn(t int64, v float64, gap float64) {
	if !m.hasLvl {
		m.level, m.hasLvl, m.first = v, true, t
		if m.period > 0 {
			b := m.bucket(t)
			m.prof[b], m.seen[b] = 0, true
		}
		return
	}
	a := 1 - math.Pow(1-detectAlpha, gap)
	// Huber-style: a spike moves the level and the profile by at most
	// detectLearnClip scales; real shifts are adopted by change detection.
	lim := math.Inf(1)
	if m.hasErr && detectLearnClip > 0 {
		lim = detectLearnClip * math.Max(m.err, detectScaleFloor*m.slowErr)
	}
	clip := func(x float64) float64 { return math.Max(-lim, math.Min(lim, x)) }
	if m.period == 0 {
		m.level += a * clip(v-m.level)
		return
	}
	b := m.bucket(t)
	if !m.seen[b] {
		m.prof[b], m.seen[b] = v-m.level, true
	}
	m.level += a * clip(v-m.prof[b]-m.level)
	m.prof[b] += detectGamma * clip(v-m.level-m.prof[b])
}

func (m *detectModel) learnErr(r float64) {
	ar := math.Abs(r)
	if !m.hasErr {
		m.err, m.cmpErr, m.slowErr, m.hasErr = ar, ar, ar, true
		m.nErr = 1
		return
	}
	m.nErr++
	rate := detectScaleRate
	if k := 1 / float64(m.nErr); k > rate {
		rate = k // a plain mean until there is enough history
	}
	if m.err > 0 {
		ar = math.Min(ar, detectScaleClip*m.err)
	}
	m.err += rate * (ar - m.err)
	cr := detectCmpRate
	if k := 1 / float64(m.nErr); k > cr {
		cr = k
	}
	m.cmpErr += cr * (math.Abs(r) - m.cmpErr)
	sr := detectSlowRate
	if k := 1 / float64(m.nErr); k > sr {
		sr = k
	}
	m.slowErr += sr * (math.Abs(r) - m.slowErr)
}

// scale is the robust residual scale used to standardise residuals.
func (m *detectModel) scale(pred float64) float64 {
	return math.Max(math.Max(m.err, detectScaleFloor*m.slowErr), detectMinScale*math.Max(1, math.Abs(pred)))
}

// Detector scores a stream of observations of one series. It is not safe for
// concurrent use; use one per series.
type Detector struct {
	o      DetectorOptions
	n      int // observations seen (finite values)
	lastT  int64
	hasT   bool
	dts    []int64
	step   int64
	models []*detectModel // [0] is level-only; seasonal ones are created once the step is known

	lvlZ      float64 // short EWMA of standardised residuals
	runSum    float64 // short EWMA of residuals
	spread    float64 // short EWMA of |standardised residuals|
	spreadSum float64 // short EWMA of |residuals|

	tails     [3]detectTail // point, level, spread
	lastLP    [3]float64
	lastStats [3]float64

	refr      int     // observations left in the refractory period
	refrScore float64 // the score that started it
}

// NewDetector returns a detector for one series.
func NewDetector(o DetectorOptions) *Detector {
	if o.Warmup <= 0 {
		o.Warmup = detectDefaultWarmup
	}
	if o.Refractory == 0 {
		o.Refractory = detectDefaultRefractory
	}
	if o.Seasons != nil {
		o.Seasons = append([]int64(nil), o.Seasons...)
	}
	d := &Detector{o: o, step: o.Step, spread: 1}
	d.models = []*detectModel{{}}
	if d.step > 0 {
		d.addSeasons()
	}
	return d
}

// Step returns the sampling interval in use, 0 while it is being learnt.
func (d *Detector) Step() int64 { return d.step }

func (d *Detector) addSeasons() {
	seasons := d.o.Seasons
	if seasons == nil {
		seasons = []int64{86400, 604800}
	}
	for _, p := range seasons {
		if p <= 0 || p < 4*d.step {
			continue
		}
		w := d.step
		if p/w > detectMaxBuckets {
			w = (p + detectMaxBuckets - 1) / detectMaxBuckets
		}
		nb := int((p + w - 1) / w)
		d.models = append(d.models, &detectModel{period: p, width: w, prof: make([]float64, nb), seen: make([]bool, nb)})
	}
}

// best returns the model to forecast t with, and its forecast.
func (d *Detector) best(t int64) (*detectModel, float64, bool) {
	base := d.models[0]
	pred, ok := base.predict(t)
	if !ok {
		return nil, math.NaN(), false
	}
	bm := base
	bestErr := base.cmpErr
	for _, m := range d.models[1:] {
		p, ok := m.predict(t)
		if !ok || !m.hasErr || m.nErr < 50 {
			continue
		}
		if m.cmpErr < detectSeasonWin*base.cmpErr && m.cmpErr < bestErr {
			bm, pred, bestErr = m, p, m.cmpErr
		}
	}
	return bm, pred, true
}

// Observe scores v at time t (Unix seconds) from the past alone, then learns
// from it. NaN and infinite values are gaps: they are scored 0 and not
// learnt. Times should increase; a repeated or earlier time is treated as
// following the previous observation immediately.
func (d *Detector) Observe(t int64, v float64) Detection {
	m, pred, ok := d.best(t)
	det := Detection{Expected: math.NaN(), Lower: math.NaN(), Upper: math.NaN(), Warmup: d.n < d.o.Warmup}
	var scale float64
	if ok {
		scale = m.scale(pred)
		band := d.tails[0].u * scale
		if d.tails[0].n == 0 {
			band = 2 * scale
		}
		det.Expected, det.Lower, det.Upper = pred, pred-band, pred+band
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return det
	}

	// Gap in steps since the last observation, for the level's learning rate.
	gap := 1.0
	if d.hasT {
		dt := t - d.lastT
		if d.step == 0 && dt > 0 {
			d.dts = append(d.dts, dt)
			if len(d.dts) >= detectStepSamples {
				d.step = detectMedian(d.dts)
				d.dts = nil
				d.addSeasons()
			}
		}
		if d.step > 0 {
			gap = math.Max(float64(dt)/float64(d.step), 0)
			gap = math.Min(gap, 1/detectAlpha*3)
		}
	}
	d.lastT, d.hasT = t, true

	var r, z float64
	var stats [3]float64
	if ok && m.hasErr {
		r = v - pred
		z = r / scale
		// Point statistic.
		stats[0] = math.Abs(z)
		// Level: a short EWMA of the clipped standardised residuals, which
		// stays away from 0 while the series stays on one side of the
		// forecast (persistence, level shift).
		zc := math.Max(-detectCusumClip, math.Min(detectCusumClip, z))
		d.lvlZ += detectShortRate * (zc - d.lvlZ)
		d.runSum += detectShortRate * (r - d.runSum)
		stats[1] = math.Abs(d.lvlZ)
		// Spread: a short EWMA of |z|, about 1 while the scale is right.
		d.spread += detectShortRate * (math.Abs(zc) - d.spread)
		d.spreadSum += detectShortRate * (math.Abs(r) - d.spreadSum)
		stats[2] = d.spread
	}

	d.lastStats = stats
	if ok && m.hasErr {
		d.lastStats[0] = z
		d.lastStats[1] = d.lvlZ
	}
	if !det.Warmup && ok && m.hasErr {
		lp := 0.0
		for i := range stats {
			d.lastLP[i] = d.tails[i].logp(detectTx(stats[i]))
			lp = math.Min(lp, d.lastLP[i])
		}
		// Taking the smallest of three probabilities: Bonferroni.
		lp = math.Min(0, lp+math.Log(3))
		s := -lp / math.Ln10 / DetectScoreDecades
		det.Score = math.Max(0, math.Min(1, s))
		if d.refr > 0 {
			d.refr--
			if det.Score > AnomalyThreshold && det.Score <= d.refrScore {
				det.Score = AnomalyThreshold * det.Score / math.Max(d.refrScore, 1e-9)
			} else if det.Score > d.refrScore {
				d.refrScore = det.Score
			}
		} else if det.Score > AnomalyThreshold && d.o.Refractory > 0 {
			d.refr, d.refrScore = d.o.Refractory, det.Score
		}
	}

	// A change was detected: adopt the new level or spread at once instead
	// of alarming until the slow learning catches up.
	if ok && m.hasErr && !det.Warmup {
		if d.tails[1].logp(detectTx(stats[1])) < detectAdoptLogP {
			for _, mm := range d.models {
				mm.level += d.runSum
			}
			d.lvlZ, d.runSum = 0, 0
		}
		if d.tails[2].logp(detectTx(stats[2])) < detectAdoptLogP {
			ratio := d.spreadSum / math.Max(m.err, detectMinScale)
			if ratio > 1 {
				for _, mm := range d.models {
					mm.err *= ratio
				}
			}
			d.spread, d.spreadSum = 1, m.err
		}
	}

	// Learn.
	for i := range stats {
		if ok && m.hasErr {
			d.tails[i].learn(detectTx(stats[i]))
		}
	}
	for _, mm := range d.models {
		if p, ok := mm.predict(t); ok {
			mm.learnErr(v - p)
		}
		mm.learn(t, v, gap)
	}
	d.n++
	return det
}

func detectMedian(xs []int64) int64 {
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return s[len(s)/2]
}

// detectTx maps a statistic to the scale its tail is modelled on. Residuals
// of real series are heavy tailed (tweet volumes, latencies): an
// exponential tail of the logarithm is a power-law tail of the statistic.
func detectTx(x float64) float64 {
	if detectLogTail {
		return math.Log1p(x)
	}
	return x
}
