package detect

import (
	"math"
	"sort"
)

// A variance-stabilising transform, chosen per series from its warm-up
// (Knobs.SkewCut; off in the shipped constants, see README.md's ninth
// round). Cloud metrics such as CPU or bytes written are non-negative and
// heavily right-skewed: a |z| of 5 is not rare in their tail, and one
// extreme value is both far off its forecast and at a rare level. On such
// a series the detector works on log(x + c) or asinh(x / s) instead, as a
// forecaster would after a Box-Cox transform.
//
// The decision is made at the end of the warm-up, on its finite values:
// all >= 0 and the quantile skewness (q90 + q10 - 2 q50) / (q90 - q10)
// above SkewCut. Then the detector's state, learnt on raw values, is
// thrown away and the warm-up is replayed transformed, so no model ever
// mixes raw and transformed values. The warm-up scores 0 either way, so
// nothing already reported changes; the replay costs one pass over at most
// 300 values, once, and the buffer is then freed.

// minTxValues is the fewest warm-up values a transform is decided on.
const minTxValues = 30

type txObs struct {
	t int64
	v float64
}

// transform maps a value to what the models see, and back.
type transform struct {
	on    bool
	asinh bool
	k     float64 // c of log(x + c), or s of asinh(x / s); > 0
	logK  float64 // ln k
}

// fwd is finite for every finite x. Below 0, outside the domain the
// warm-up showed, log(x + c) continues as its tangent at 0, so a negative
// value is far and finite rather than NaN.
func (tr transform) fwd(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x // a gap either way
	}
	if tr.asinh {
		u := x / tr.k
		if math.IsInf(u, 0) {
			// asinh(u) = sign(u) (ln 2|u|) for large |u|, without the overflow.
			return math.Copysign(math.Ln2+math.Log(math.Abs(x))-tr.logK, x)
		}
		return math.Asinh(u)
	}
	switch {
	case x < 0:
		return tr.logK + x/tr.k
	case x > tr.k:
		return math.Log(x) + math.Log1p(tr.k/x) // x + c could overflow
	default:
		return math.Log(x + tr.k)
	}
}

// inv is fwd's inverse, clamped at 0: the transform is only chosen for a
// series that was never negative, so a negative expectation or bound would
// be absurd.
func (tr transform) inv(y float64) float64 {
	if math.IsNaN(y) {
		return y
	}
	var x float64
	switch {
	case tr.asinh:
		x = tr.k * math.Sinh(y)
	case y < tr.logK:
		x = 0
	default:
		x = math.Exp(y) - tr.k
	}
	return math.Max(0, x)
}

// back returns the forecast and band of a detection in the series' units.
func (tr transform) back(det Detection) Detection {
	det.Expected, det.Lower, det.Upper = tr.inv(det.Expected), tr.inv(det.Lower), tr.inv(det.Upper)
	return det
}

// watchWarmup keeps the warm-up's finite values and, at its end, decides
// whether to transform the series.
func (d *Detector) watchWarmup(t int64, v float64) {
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		d.txBuf = append(d.txBuf, txObs{t, v})
	}
	if d.n < d.warmup {
		return
	}
	buf := d.txBuf
	d.txDone, d.txBuf = true, nil
	tr, ok := chooseTransform(buf, d.p.SkewCut, d.p.SkewAsinh)
	if !ok {
		return
	}
	// Start again from nothing and replay the warm-up transformed.
	o, k := d.o, d.p
	o.Knobs = &k
	fresh := New(o)
	fresh.txDone = true
	for _, ob := range buf {
		fresh.observe(ob.t, tr.fwd(ob.v))
	}
	fresh.tx = tr
	*d = *fresh
}

// chooseTransform decides from the warm-up's values whether, and how, to
// transform: only a series never below 0 whose quantile skewness is above
// cut, with positive values to take the transform's constant from.
func chooseTransform(obs []txObs, cut float64, useAsinh bool) (transform, bool) {
	if len(obs) < minTxValues {
		return transform{}, false
	}
	xs := make([]float64, len(obs))
	var pos []float64
	for i, ob := range obs {
		if ob.v < 0 {
			return transform{}, false
		}
		xs[i] = ob.v
		if ob.v > 0 {
			pos = append(pos, ob.v)
		}
	}
	sort.Float64s(xs)
	q10, q50, q90 := quantileSorted(xs, 0.1), quantileSorted(xs, 0.5), quantileSorted(xs, 0.9)
	if !(q90 > q10) || len(pos) == 0 {
		return transform{}, false
	}
	if skew := (q90 + q10 - 2*q50) / (q90 - q10); !(skew > cut) {
		return transform{}, false
	}
	sort.Float64s(pos)
	k := quantileSorted(pos, 0.1)
	if useAsinh {
		k = quantileSorted(pos, 0.5)
	}
	if !(k > 0) || math.IsInf(k, 0) {
		return transform{}, false
	}
	return transform{on: true, asinh: useAsinh, k: k, logK: math.Log(k)}, true
}

// quantileSorted is the q-quantile of sorted xs, interpolated linearly.
func quantileSorted(xs []float64, q float64) float64 {
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	f := pos - float64(i)
	return xs[i] + f*(xs[i+1]-xs[i])
}
