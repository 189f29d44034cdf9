package detect

import (
	"math"
	"sort"
)

// ScoreNats is the evidence (in nats, -ln of a probability) at which
// the score reaches 1. Score s corresponds to raw evidence s*ScoreNats:
// an observation as extreme as 1 in e^(s*ScoreNats) of this series'
// own past.
const ScoreNats = 20

// Threshold is the score above which the ForecastAnomaly alert fires:
// evidence above 0.525*20 = 10.5 nats, a joint tail probability of about 1
// in 36,000 counted at 288 observations a day whatever the series' step (see
// setStepScales); on calm seasonal or white noise, 0.04 to 0.11 false alarms
// per series-day. It is the fixed threshold with the best mean NAB standard
// score over the four groups of development data, and the one chosen on
// every three of them but those without realTweets, which choose 0.515
// (make eval-detect; see README.md).
const Threshold = 0.525

// Defaults of Options and the detector's fixed constants.
const (
	defaultWarmup = 300
	minWarmup     = 100
	maxBuckets    = 2016 // a week of 5-minute buckets
	stepSamples   = 16   // intervals used to learn the step
	refPerDay     = 288  // observations a day the evidence is counted against
)

// Knobs are the detector's learning rates and limits. Users leave
// them alone; the leave-one-group-out evaluation (make eval-detect, see
// README.md) varies some of them through Options.Knobs.
type Knobs struct {
	Alpha        float64 // level learning rate per step
	AlphaSeason  float64 // level learning rate of the seasonal models
	Gamma        float64 // seasonal profile learning rate per visit
	ScaleRate    float64 // robust scale EWMA rate
	CmpRate      float64 // model comparison EWMA rate
	SlowRate     float64 // long-run scale EWMA rate
	ScaleFloor   float64 // the scale never drops below this fraction of the long-run scale
	ScaleClip    float64 // residuals beyond this many scales are clipped when learning the scale
	LearnClip    float64 // residuals beyond this many scales are clipped when learning level and profile
	SeasonWin    float64 // a seasonal model must have at most this fraction of the level model's error
	ShortRate    float64 // EWMA rate of the short level (rarity) and of the persistence statistic
	AdoptZ       float64 // a persistence statistic beyond this many scales is a level change: adopt it
	NmsDecay     float64 // per-observation decay of the running maximum of the evidence
	NmsFactor    float64 // the factor applied to evidence that does not exceed that maximum
	ShortTime    float64 // ShortRate is per this many seconds of the step, so the recent level spans the same time at every step; 0: per observation
	PerObs       bool    // count evidence per observation, not per day (setStepScales is not applied)
	ReportMargin float64 // after an alert, evidence must exceed the alert's (decaying) evidence by this many nats to be reported in full again
	QuietTime    float64 // an event is over once the evidence has stayed below QuietNats for this many seconds: both maxima of step 5 are then forgotten; 0: never (they only decay)
	QuietNats    float64 // see QuietTime
	DayZ         float64 // a new record of the trailing-day |z| (past values' mean and sd over about a day) is worth the threshold's evidence at this |z|, proportionally above; 0: no such view
	DayZGate     float64 // the trailing-day |z| counts only above this many times its own past maximum
	DayZShort    int     // before this many observations the trailing-day |z| counts without being a record: the ranks cannot say much yet
	ShortMaxRate float64 // the short level's rate per observation is at most this, so that it spans more than the observation itself at long steps; 0: no cap
	PerDayUp     float64 // weight of the per-day correction where it adds evidence (steps longer than 5 minutes); 1: in full
}

// DefaultKnobs returns the shipped constants.
func DefaultKnobs() Knobs {
	return Knobs{
		Alpha:        0.6,
		AlphaSeason:  0.6,
		Gamma:        0.1,
		ScaleRate:    0.01,
		CmpRate:      0.005,
		SlowRate:     0.001,
		ScaleFloor:   0.25,
		ScaleClip:    6,
		LearnClip:    0,
		SeasonWin:    0.9,
		ShortRate:    0.1,
		AdoptZ:       3,
		NmsDecay:     0.998,
		ShortTime:    300,
		ReportMargin: 2,
		NmsFactor:    0.5,
		QuietTime:    21600,
		QuietNats:    5,
		DayZ:         5,
		DayZGate:     1,
		DayZShort:    600,
		PerDayUp:     0.5,
	}
}

// Options configures a Detector. The zero value learns everything.
type Options struct {
	// Step is the sampling interval in seconds; 0 learns it as the median
	// of the first intervals seen.
	Step int64
	// Seasons are the seasonal periods in seconds to model. nil tries a
	// daily and a weekly profile and uses one only while it predicts better
	// than the level alone; a non-nil empty slice disables seasonality.
	Seasons []int64
	// Warmup is the number of observations scored 0 while the detector
	// learns; 0 means a day's worth once the step is known, at least 100
	// and at most 300 (288 for 5-minute samples).
	Warmup int

	// Knobs overrides the detector's constants, for the experiments of
	// README.md (make eval-detect); nil means DefaultKnobs().
	Knobs *Knobs
}

// Detection is the verdict on one observation.
type Detection struct {
	// Score is in [0, 1]; above Threshold the observation is an
	// anomaly.
	Score float64
	// Expected, Lower and Upper are the forecast and its band for this
	// observation, made before it arrived: the band holds about 95% of past
	// residuals. NaN until the detector has a forecast.
	Expected, Lower, Upper float64
	// Warmup is true while the detector is still learning (Score is 0).
	Warmup bool
}

// Detector scores a stream of observations of one series. It is not safe for
// concurrent use; use one per series.
type Detector struct {
	o      Options
	p      Knobs
	n      int // finite observations seen
	lastT  int64
	hasT   bool
	dts    []int64
	step   int64
	models []*model // level-only models first; seasonal ones are added once the step is known

	short     float64 // short EWMA of the values: the recent level
	hasShort  bool
	levelUnit float64 // the unit of levelTx, fixed by the first value
	persistZ  float64 // short EWMA of the standardised residuals
	persistR  float64 // short EWMA of the residuals, to adopt a level change

	zHist, levelHist hist
	nmsMax           float64
	perDay           float64 // ln(observations per day / 288), once the step is known
	sRate            float64 // the short level's rate per observation, once the step is known
	alertMax         float64 // decaying maximum of the evidence of alerts
	quietFrom        int64   // time since which the evidence has stayed below QuietNats
	quiet            bool    // the evidence is below QuietNats

	dayMean, dayVar float64 // EWMA mean and variance of the values over about a day
	nDay            int     // values in them
	dayZMax         float64 // the largest trailing-day |z| seen

	warmup    int  // observations scored 0
	dayWarmup bool // the warm-up is a day of observations, set once the step is known
}

// New returns a detector for one series.
func New(o Options) *Detector {
	d0 := o.Warmup <= 0
	if o.Seasons != nil {
		o.Seasons = append([]int64{}, o.Seasons...)
	}
	d := &Detector{o: o, step: o.Step, p: DefaultKnobs(), warmup: o.Warmup}
	if d0 {
		d.warmup = defaultWarmup
		d.dayWarmup = true
		if d.step > 0 {
			d.setWarmup()
		}
	}
	if o.Knobs != nil {
		d.p = *o.Knobs
	}
	d.models = []*model{{alpha: d.p.Alpha}}
	if d.step > 0 {
		d.addSeasons()
		d.setStepScales()
	}
	return d
}

// setStepScales fixes what depends on the step. The short level spans the
// same time at every step (ShortTime). And the evidence becomes a rarity per
// day rather than per observation:
// an hourly series has 24 chances a day to produce a 1-in-10,000 value, a
// 1-minute series 1,440. Evidence is counted against 288 observations a day
// (5-minute samples, where the threshold was first set), so the threshold
// means the same false-alarm rate per day at every step. Where the step is
// longer than 5 minutes the correction adds evidence, and only half of it
// (PerDayUp) is added: at an hour the recent level is mostly the current
// observation, so rarity and surprise score the same value twice, and calm
// hourly white noise would alarm 0.186 times a day in full (README.md, the
// fifth round).
func (d *Detector) setStepScales() {
	perDay := math.Max(1, math.Min(86400, 86400/float64(d.step)))
	d.perDay = math.Log(perDay / refPerDay)
	if d.perDay < 0 {
		d.perDay *= d.p.PerDayUp
	}
	if d.p.ShortTime > 0 {
		d.sRate = 1 - math.Pow(1-d.p.ShortRate, float64(d.step)/d.p.ShortTime)
	}
	if d.p.ShortMaxRate > 0 && d.sRate > d.p.ShortMaxRate {
		d.sRate = d.p.ShortMaxRate
	}
}

// setWarmup makes the default warm-up a day of observations, within
// [minWarmup, defaultWarmup].
func (d *Detector) setWarmup() {
	d.warmup = int(max(minWarmup, min(defaultWarmup, 86400/d.step)))
}

// Step returns the sampling interval in use, 0 while it is being learnt.
func (d *Detector) Step() int64 { return d.step }

func (d *Detector) addSeasons() {
	seasons := d.o.Seasons
	if seasons == nil {
		seasons = []int64{86400, 604800}
	}
	for _, per := range seasons {
		if per <= 0 || per < 4*d.step {
			continue
		}
		w := d.step
		if per/w > maxBuckets {
			w = (per + maxBuckets - 1) / maxBuckets
		}
		nb := int((per + w - 1) / w)
		d.models = append(d.models, &model{period: per, alpha: d.p.AlphaSeason, width: w, prof: make([]float64, nb), seen: make([]bool, nb)})
	}
}

// best returns the model to forecast t with, and its forecast.
func (d *Detector) best(t int64) (*model, float64, bool) {
	base := d.models[0]
	pred, ok := base.predict(t)
	if !ok || base.nErr == 0 {
		return nil, math.NaN(), false
	}
	bm, bestErr := base, base.cmpErr
	for _, m := range d.models[1:] {
		// A seasonal model is judged on a full period of its own forecasts
		// before it may take over.
		p, ok := m.predict(t)
		if !ok || m.nErr < max(50, len(m.prof)) {
			continue
		}
		if m.cmpErr < d.p.SeasonWin*base.cmpErr && m.cmpErr < bestErr {
			bm, pred, bestErr = m, p, m.cmpErr
		}
	}
	return bm, pred, true
}

// Observe scores v at time t (Unix seconds) from the past alone, then learns
// from it. NaN and infinite values are gaps: they get the band but score 0
// and are not learnt. Times should increase; a repeated or earlier time is
// treated as following the previous observation immediately.
func (d *Detector) Observe(t int64, v float64) Detection {
	m, pred, ok := d.best(t)
	det := Detection{Expected: math.NaN(), Lower: math.NaN(), Upper: math.NaN(), Warmup: d.n < d.warmup}
	var scale float64
	if ok {
		scale = m.scale(&d.p, pred)
		band := 2 * scale
		if d.zHist.n >= 20 {
			band = math.Exp(d.zHist.quantile(0.95)) * scale
		}
		det.Expected, det.Lower, det.Upper = pred, pred-band, pred+band
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return det
	}
	gap := d.advance(t)

	// The recent level, including this observation.
	if !d.hasShort {
		d.short, d.hasShort = v, true
		d.levelUnit = math.Max(math.Abs(v)*0.01, 1e-9)
	} else {
		d.short += d.shortRate() * (v - d.short)
	}
	level := d.levelTx(d.short)

	if ok {
		r := v - pred
		z := r / scale
		if math.IsNaN(z) {
			z = 0 // an infinite residual over an infinite scale, at the edge of the float range
		}
		lz := logAbs(z)
		zc := math.Max(-4, math.Min(4, z))
		pr := d.shortRate()
		d.persistZ += pr * (zc - d.persistZ)
		d.persistR += pr * (r - d.persistR)
		// The two views' log tail probabilities, and the evidence (nats)
		// before it is reduced for what was already reported.
		var logSurprise, logRarity float64
		if d.zHist.n > 0 {
			logSurprise = d.zHist.logUpper(lz)
			logSurprise += d.zHist.logBeyond(lz - d.zHist.max)
			logRarity = d.levelHist.logTwoSided(level)
		}
		evidence := -logSurprise - logRarity
		if !d.p.PerObs {
			evidence -= d.perDay
		}
		evidence = math.Max(evidence, d.dayZEvidence(v, det.Warmup))
		if !det.Warmup {
			raw := evidence
			if raw <= d.nmsMax || raw <= d.alertMax+d.p.ReportMargin {
				// Already reported: do not report it again at full strength.
				raw *= d.p.NmsFactor
			}
			det.Score = math.Max(0, math.Min(1, raw/ScoreNats))
			if det.Score > Threshold {
				d.alertMax = math.Max(d.alertMax, evidence)
			}
		}
		d.nmsMax = math.Max(d.nmsMax*d.p.NmsDecay, evidence)
		d.alertMax *= d.p.NmsDecay
		d.endEvent(t, evidence)
		d.zHist.add(lz)

		// A sustained shift: adopt the new level at once instead of
		// alarming until the slow learning catches up.
		if math.Abs(d.persistZ) > d.p.AdoptZ {
			for _, mm := range d.models {
				mm.level += d.persistR
			}
			d.persistZ, d.persistR = 0, 0
		}
	}
	d.levelHist.add(level)
	d.learnDay(v)

	for _, mm := range d.models {
		if p, ok := mm.predict(t); ok {
			mm.learnErr(&d.p, v-p)
		}
		mm.learn(&d.p, t, v, gap)
	}
	d.n++
	return det
}

// endEvent forgets what was already reported once the evidence has stayed
// below QuietNats for QuietTime seconds: the event is over, and the next
// one is judged on its own, not against the last one's evidence.
func (d *Detector) endEvent(t int64, raw float64) {
	switch {
	case d.p.QuietTime <= 0:
	case raw >= d.p.QuietNats:
		d.quiet = false
	case !d.quiet:
		d.quiet, d.quietFrom = true, t
	case float64(t-d.quietFrom) >= d.p.QuietTime:
		d.nmsMax, d.alertMax = raw, 0
	}
}

// dayZEvidence is the third view: how far v is from the past day's mean,
// in the past day's standard deviations, an absolute measure that ranks
// cannot give (a rank is never worth more than ln(n + 2) nats, and a spike
// that recurs is ranked among its own repeats). It counts only when it
// beats every earlier value of the same view on this series (times
// DayZGate): a series whose ordinary days hold huge spikes sets its own
// record high before it is scored. On a short history (fewer than
// DayZShort observations) it counts without being a record: each rank can
// then say at most ln(DayZShort + 2), 6.4 nats at 600, so an absolute
// measure is the better evidence. The record is kept through the warm-up,
// but the view scores only after it.
func (d *Detector) dayZEvidence(v float64, warmup bool) float64 {
	if d.p.DayZ <= 0 || d.nDay < 10 || !(d.dayVar > 0) {
		return 0
	}
	z := math.Abs(v-d.dayMean) / math.Sqrt(d.dayVar)
	if math.IsNaN(z) {
		return 0 // an infinite distance over an infinite spread
	}
	counts := z > d.p.DayZGate*d.dayZMax || d.n < d.p.DayZShort
	d.dayZMax = math.Max(d.dayZMax, z)
	if !counts || warmup {
		return 0
	}
	return z / d.p.DayZ * Threshold * ScoreNats
}

// learnDay adds v to the trailing-day mean and variance: a plain mean until
// a day of values is in, then an EWMA over about a day (every step at steps
// of a day or longer, which leaves no variance: the view is then off).
func (d *Detector) learnDay(v float64) {
	if d.p.DayZ <= 0 {
		return
	}
	d.nDay++
	rho := 1 / float64(d.nDay)
	if d.step > 0 {
		rho = math.Max(rho, math.Min(1, float64(d.step)/86400))
	}
	dv := v - d.dayMean
	mean, vr := d.dayMean+rho*dv, 0.0
	if rho < 1 {
		// (At rho 1 the variance is 0; computed, an overflowing dv*dv
		// times 0 would make it NaN.)
		vr = (1 - rho) * (d.dayVar + rho*dv*dv)
	}
	if math.IsInf(mean, 0) || math.IsNaN(mean) || math.IsNaN(vr) {
		// Values at the edge of the float range: start the day again.
		d.nDay, mean, vr = 1, v, 0
	}
	d.dayMean, d.dayVar = mean, vr
}

// advance records time t and returns the gap since the last observation in
// steps, learning the step first if needed.
func (d *Detector) advance(t int64) float64 {
	gap := 1.0
	if d.hasT {
		dt := t - d.lastT
		if d.step == 0 && dt > 0 {
			d.dts = append(d.dts, dt)
			if len(d.dts) >= stepSamples {
				d.step = median(d.dts)
				d.dts = nil
				d.addSeasons()
				d.setStepScales()
				if d.dayWarmup {
					d.setWarmup()
				}
			}
		}
		if d.step > 0 {
			// A long gap counts as a few steps at most: the level should
			// move on, not be replaced.
			gap = math.Min(math.Max(float64(dt)/float64(d.step), 0), 3/d.p.Alpha)
		}
	}
	d.lastT, d.hasT = t, true
	return gap
}

func median(xs []int64) int64 {
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return s[len(s)/2]
}

// The histograms hold transformed values, so that one huge outlier does not
// stretch their range over the ordinary values (ranks do not change under a
// monotone transform): log |z| for distances, asinh for levels.
func logAbs(z float64) float64 { return math.Log(math.Abs(z) + 1e-3) }

func (d *Detector) levelTx(v float64) float64 { return math.Asinh(v / d.levelUnit) }

// shortRate is the rate of the short level and of the persistence
// statistic: ShortRate per ShortTime seconds, so that they span the same
// time at every step (per observation until the step is known).
func (d *Detector) shortRate() float64 {
	if d.sRate > 0 {
		return d.sRate
	}
	return d.p.ShortRate
}
