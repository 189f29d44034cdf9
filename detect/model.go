package detect

import "math"

// minScale is the smallest robust scale, relative to the forecast's size,
// so that a constant series is not divided by zero.
const minScale = 1e-9

// model is one candidate forecaster: a level alone (period 0) or a
// level plus an additive seasonal profile of the given period.
type model struct {
	period  int64   // seconds; 0 for the level-only models
	alpha   float64 // level learning rate per step
	width   int64   // bucket width, seconds
	level   float64
	hasLvl  bool
	prof    []float64
	seen    []bool
	first   int64   // time of the first observation, to know when a full period was seen
	err     float64 // EWMA of |residual| (clipped): the robust scale
	cmpErr  float64 // EWMA of |residual| used to compare models (slower)
	slowErr float64 // long-run EWMA of |residual|: a floor for the scale on flat stretches
	nErr    int
}

func (m *model) bucket(t int64) int {
	ph := t % m.period
	if ph < 0 {
		ph += m.period
	}
	return int(ph/m.width) % len(m.prof)
}

// predict returns the forecast for time t, or false if the model cannot
// predict yet.
func (m *model) predict(t int64) (float64, bool) {
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

func (m *model) scale(p *Knobs, pred float64) float64 {
	return math.Max(math.Max(m.err, p.ScaleFloor*m.slowErr), minScale*math.Max(1, math.Abs(pred)))
}

// learn updates the model with observation v at t, gap steps after the last.
func (m *model) learn(p *Knobs, t int64, v, gap float64) {
	if !m.hasLvl {
		m.level, m.hasLvl, m.first = v, true, t
		if m.period > 0 {
			b := m.bucket(t)
			m.prof[b], m.seen[b] = 0, true
		}
		return
	}
	a := 1 - math.Pow(1-m.alpha, gap)
	// Huber-style: a spike moves the level and the profile by at most
	// learnClip scales; real shifts are adopted by change detection.
	lim := math.Inf(1)
	if m.nErr > 0 && p.LearnClip > 0 {
		lim = p.LearnClip * m.scale(p, m.level)
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
	m.prof[b] += p.Gamma * clip(v-m.level-m.prof[b])
}

func (m *model) learnErr(p *Knobs, r float64) {
	ar := math.Abs(r)
	if m.nErr == 0 {
		m.err, m.cmpErr, m.slowErr, m.nErr = ar, ar, ar, 1
		return
	}
	m.nErr++
	// A plain mean until there is enough history for the EWMA.
	k := 1 / float64(m.nErr)
	if m.err > 0 {
		ar = math.Min(ar, p.ScaleClip*m.err)
	}
	m.err += math.Max(k, p.ScaleRate) * (ar - m.err)
	m.cmpErr += math.Max(k, p.CmpRate) * (math.Abs(r) - m.cmpErr)
	m.slowErr += math.Max(k, p.SlowRate) * (math.Abs(r) - m.slowErr)
}
