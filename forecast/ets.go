package forecast

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// Additive Holt-Winters with a damped trend, ETS(A,Ad,A) in Hyndman's
// terms, in error-correction form:
//
//	ŷ(t)  = l + φb + s(t-m)
//	e     = y(t) - ŷ(t)
//	l     ← l + φb + αe
//	b     ← φb + βe
//	s(t)  = s(t-m) + γe
//
// α, β, γ and φ minimise the one-step error over the history (Nelder-Mead
// from gonum/optimize, in a logistic parametrisation that keeps them in the
// usual region 0<β<α, 0<γ<1-α, 0.8≤φ≤0.98). The error is Huber-clipped at
// etsClip robust standard deviations in the updates and in the loss, so a
// lone outlier does not bend the level or the seasonal shape; a run of
// etsShiftRun or more same-signed exceedances is taken as a level shift and
// followed unclipped.
const (
	etsClip     = 4.0
	etsShiftRun = 3
	etsMaxEvals = 160
	etsFitLen   = 1500
)

type etsState struct {
	m                       int
	alpha, beta, gamma, phi float64
	l0, b0                  float64
	clip                    float64
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
func logit(p float64) float64   { return math.Log(p / (1 - p)) }

func (e *etsState) setParams(x []float64) {
	e.alpha = 0.0001 + 0.9998*sigmoid(x[0])
	e.beta = e.alpha * sigmoid(x[1])
	e.phi = 0.8 + 0.18*sigmoid(x[2])
	if e.m > 0 {
		e.gamma = (1 - e.alpha) * sigmoid(x[3])
	} else {
		e.gamma = 0
	}
}

// etsInit sets the initial level, trend and seasonal state from the first
// few cycles: a least-squares line, and per phase the median deviation
// from it (robust to an outlier early in the history).
func (w *Fitter) etsInit(e *etsState, y []float64) {
	m := e.m
	s0 := grow(&w.etsS0, max(m, 1))
	if m == 0 {
		s0[0] = 0
		k := min(len(y), 10)
		v := grow(&w.tmp4, 0)
		for _, x := range y[:k] {
			if !math.IsNaN(x) {
				v = append(v, x)
			}
		}
		e.l0, e.b0 = median(v), 0
		w.tmp4 = v
		return
	}
	k := min(len(y)/m, 4)
	span := y[:k*m]
	a, b := fitLine(span)
	var vals [4]float64
	mean := 0.0
	for j := 0; j < m; j++ {
		nv := 0
		for cyc := 0; cyc < k; cyc++ {
			i := cyc*m + j
			if v := span[i]; !math.IsNaN(v) {
				vals[nv] = v - a - b*float64(i)
				nv++
			}
		}
		s0[j] = median(vals[:nv])
		mean += s0[j]
	}
	mean /= float64(m)
	for j := range s0 {
		s0[j] -= mean
	}
	e.l0 = a - b // level just before index 0
	e.b0 = b
}

// median of a small slice (reorders it); 0 for an empty one.
func median(v []float64) float64 {
	switch len(v) {
	case 0:
		return 0
	case 1:
		return v[0]
	case 2:
		return (v[0] + v[1]) / 2
	}
	slices.Sort(v)
	h := len(v) / 2
	if len(v)%2 == 1 {
		return v[h]
	}
	return (v[h-1] + v[h]) / 2
}

// etsLoss runs the filter and returns the Huber loss of the one-step errors.
// Without a season (m=0) it runs with one seasonal state held at zero.
func (w *Fitter) etsLoss(e *etsState, y []float64) float64 {
	m := max(e.m, 1)
	s := w.etsS[:m]
	copy(s, w.etsS0[:m])
	l, b := e.l0, e.b0
	a, be, g, phi := e.alpha, e.beta, e.gamma, e.phi
	clip := e.clip
	if clip <= 0 {
		clip = math.Inf(1)
	}
	loss := 0.0
	run, sign := 0, 0.0
	j := 0
	for _, v := range y {
		sj := s[j]
		pb := phi * b
		if v != v { // NaN: a gap
			l += pb
			b = pb
		} else {
			err := v - (l + pb + sj)
			if err > clip || err < -clip {
				sg := 1.0
				ae := err
				if err < 0 {
					sg, ae = -1, -err
				}
				if sg == sign {
					run++
				} else {
					run, sign = 1, sg
				}
				loss += clip * (2*ae - clip)
				if run < etsShiftRun {
					err = sg * clip
				}
			} else {
				run = 0
				loss += err * err
			}
			l += pb + a*err
			b = pb + be*err
			s[j] = sj + g*err
		}
		if j++; j == m {
			j = 0
		}
	}
	return loss
}

// fitETS fits the model to y (season m, 0 for none) and writes the forecast
// of H steps from each origin into folds (row-major, one row per origin;
// origins ascending) and of len(mean) steps from the end into mean. clean, if not nil, gets y
// with the outliers that the filter clipped blanked to NaN.
func (w *Fitter) fitETS(y []float64, m int, origins []int, H int, folds, mean, clean []float64) etsState {
	e := etsState{m: m}
	w.etsS = grow(&w.etsS, max(m, 1))
	w.etsInit(&e, y)
	x0 := [4]float64{logit(0.3), logit(0.1), logit(0.75), logit(0.1)}
	np := 3
	if m > 0 {
		np = 4
	}
	// Robust scale for the clipping: MAD of the one-step errors at the
	// starting parameters.
	e.setParams(x0[:np])
	e.clip = 0
	w.etsRun(&e, y, nil, 0, nil, nil, nil)
	e.clip = etsClip * robustScale(w.etsResid[:len(y)], &w.tmp4)

	if len(y) > 2*max(m, 2)+np {
		// The parameters are fitted on the most recent etsFitLen steps (or
		// five seasons if longer), starting from a state initialised on
		// that window: a few parameters need no more, and the cost of the
		// fit stays flat however long the history.
		fy := y[max(0, len(y)-max(etsFitLen, 5*m)):]
		fe := etsState{m: m, clip: e.clip}
		w.etsInit(&fe, fy)
		prob := optimize.Problem{Func: func(x []float64) float64 {
			fe.setParams(x)
			return w.etsLoss(&fe, fy)
		}}
		settings := &optimize.Settings{
			FuncEvaluations: etsMaxEvals,
			Converger:       &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-5, Iterations: 2 * np},
		}
		res, err := optimize.Minimize(prob, x0[:np], settings, &optimize.NelderMead{SimplexSize: 1.5})
		if err == nil || res != nil {
			if res != nil && !math.IsNaN(res.F) {
				e.setParams(res.X)
			}
		}
		w.etsInit(&e, y)
	} else {
		e.setParams(x0[:np])
	}
	w.etsRun(&e, y, origins, H, folds, mean, clean)
	return e
}

// etsRun runs the filter with fixed parameters, forecasting H steps at each
// origin (indices into y, ascending) and len(mean) at the end. It leaves the one-step
// errors in w.etsResid and, if clean is not nil, y without the clipped
// outliers in clean.
func (w *Fitter) etsRun(e *etsState, y []float64, origins []int, H int, folds, mean, clean []float64) {
	resid := grow(&w.etsResid, len(y))
	m := e.m
	s := w.etsS[:max(m, 1)]
	copy(s, w.etsS0[:max(m, 1)])
	l, b := e.l0, e.b0
	a, be, g, phi := e.alpha, e.beta, e.gamma, e.phi
	clip := e.clip
	var damp []float64
	if L := max(H, len(mean)); L > 0 {
		damp = grow(&w.damp, L+1)
		acc, p := 0.0, 1.0
		damp[0] = 0
		for h := 1; h <= L; h++ {
			p *= phi
			acc += p
			damp[h] = acc
		}
	}
	emit := func(dst []float64, j int) {
		for h := range dst {
			sj := 0.0
			if m > 0 {
				sj = s[(j+h)%m]
			}
			dst[h] = l + damp[h+1]*b + sj
		}
	}
	run, sign := 0, 0.0
	j := 0
	k := 0
	for i, v := range y {
		for k < len(origins) && origins[k] == i {
			emit(folds[k*H:(k+1)*H], j)
			k++
		}
		sj := 0.0
		if m > 0 {
			sj = s[j]
		}
		pb := phi * b
		if math.IsNaN(v) {
			l += pb
			b = pb
			resid[i] = math.NaN()
			if clean != nil {
				clean[i] = v
			}
		} else {
			err := v - (l + pb + sj)
			resid[i] = err
			if clean != nil {
				clean[i] = v
			}
			if clip > 0 && math.Abs(err) > clip {
				sg := math.Copysign(1, err)
				if sg == sign {
					run++
				} else {
					run, sign = 1, sg
				}
				if run < etsShiftRun {
					err = sg * clip
					if clean != nil {
						clean[i] = math.NaN()
					}
				}
			} else {
				run = 0
			}
			l += pb + a*err
			b = pb + be*err
			if m > 0 {
				s[j] = sj + g*err
			}
		}
		if j++; j == m {
			j = 0
		}
	}
	if mean != nil {
		emit(mean, j)
	}
}

// robustScale is 1.4826 times the median absolute value of the finite
// entries of r (the MAD about zero), using buf as scratch.
func robustScale(r []float64, buf *[]float64) float64 {
	v := (*buf)[:0]
	for _, x := range r {
		if !math.IsNaN(x) {
			v = append(v, math.Abs(x))
		}
	}
	*buf = v
	if len(v) == 0 {
		return 0
	}
	return 1.4826 * selectK(v, len(v)/2)
}

// selectK returns the k-th smallest element of v (reordering v).
func selectK(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		// Median of three pivot.
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		p := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < p {
				i++
			}
			for v[j] > p {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		if k <= j {
			hi = j
		} else if k >= i {
			lo = i
		} else {
			return v[k]
		}
	}
	return v[k]
}
