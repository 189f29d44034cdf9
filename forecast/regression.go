package forecast

import (
	"math"
)

// The regression model, in the spirit of Prophet:
//
//	y(t) = a + b·u + Σ δj·max(0, u-cj) + Σ Fourier terms of each season
//	       + Σ βe·[event e active] + Σ βr·covariate r + AR(p) residual
//
// u is time in units of the history's length, the changepoints cj are
// evenly spread over its first 80%, and their slope changes δj are shrunk
// by a ridge penalty (the Gaussian counterpart of Prophet's Laplace
// prior). The Fourier terms of every detected season are fitted at once.
// Events whose effect is not known get one indicator column per name, with
// the Effect given as the prior mean. An autoregressive model of the
// residuals carries the latest deviations into the first steps, which
// Prophet lacks.
//
// The normal equations are accumulated row by row in time order and solved
// at each backtest origin, so the rolling-origin refits cost a small solve
// each rather than a pass over the history.
const (
	regChangepoints = 6
	regCPRange      = 0.8
	regCPPenalty    = 0.05 // per history point, in units of the slope change squared
	regFourierDaily = 10   // harmonics of the shortest season at most
	regFourierLong  = 6    // harmonics of longer seasons at most
	regSmallRidge   = 1e-4 // per history point, for Fourier and covariate columns
	regEventRidge   = 1.0  // pull of the Effect prior, in history points
	regARMax        = 8
	regRows         = 1500 // rows the normal equations are built from, at most (see stride)
)

type regWork struct {
	p                              int
	iHinge, nHinge, iFour, iEv, iR int
	nEv, nR                        int
	cp                             []float64 // changepoint positions in u
	four                           []fourier
	x, fut                         []float64 // history and future design rows
	a, chol, b, beta, betaK, pen   []float64
	prior, resid                   []float64
	ar                             [regARMax]float64
	nar                            int
}

type fourier struct {
	secs float64
	k    int
	skip int // harmonics that are multiples of skip are left out (they repeat a shorter season)

	s1, c1, ds, dc float64 // running phasor of the fundamental and its turn per step
}

// runRegression fits the regression on y (NaN gaps, outliers already
// blanked) and fills c's fold (Hb steps from each origin) and final (H
// steps) forecasts. The AR term starts from
// the residuals of raw, the series before outliers were blanked: the latest
// observations are the AR term's whole point, even when they are unusual.
func (w *Fitter) runRegression(g *grid, y, raw []float64, pers []period, o Options, origins []int, H, Hb int, c *cand) {
	r := &w.reg
	n := len(y)
	w.regLayout(n, pers, o)
	p := r.p
	w.regPenalties(n, o)

	// Design rows for the history and the future.
	x := grow(&r.x, n*p)
	fut := grow(&r.fut, H*p)
	w.regRows(g, 0, n, n, x, o, false)
	w.regRows(g, n, n+H, n, fut, o, true)

	// Accumulate XᵀX and Xᵀy in time order, solving at each origin.
	a := grow(&r.a, p*p)
	b := grow(&r.b, p)
	for j := range a {
		a[j] = 0
	}
	for j := range b {
		b[j] = 0
	}
	K := len(origins)
	betaK := grow(&r.betaK, K*p)
	// A long history is fitted on every stride-th row: neighbouring steps
	// carry nearly the same information about a trend and a few harmonics,
	// and the cost is in the rows. The AR term still sees every residual.
	stride := max(1, (n+regRows-1)/regRows)
	prev := 0
	for k, o := range origins {
		accumulate(a, b, x, y, p, prev, o, stride)
		prev = o
		w.regSolve(betaK[k*p:(k+1)*p], float64(o)/float64(n))
	}
	accumulate(a, b, x, y, p, prev, n, stride)
	beta := grow(&r.beta, p)
	w.regSolve(beta, 1)

	// AR model of the residuals of the full fit.
	res := grow(&r.resid, n)
	for i := 0; i < n; i++ {
		if math.IsNaN(y[i]) {
			res[i] = math.NaN()
			continue
		}
		res[i] = y[i] - dot(x[i*p:(i+1)*p], beta)
	}
	r.nar = fitAR(res, r.ar[:])

	// Forecasts: the regression plus the AR path of the residuals from
	// each origin.
	for k, o := range origins {
		bk := betaK[k*p : (k+1)*p]
		dst := c.folds[k*Hb : (k+1)*Hb]
		for h := range dst {
			dst[h] = dot(x[(o+h)*p:(o+h+1)*p], bk)
		}
		w.addAR(dst, raw, x, bk, o, p)
	}
	for h := range c.mean {
		c.mean[h] = dot(fut[h*p:(h+1)*p], beta)
	}
	w.addAR(c.mean, raw, x, beta, n, p)
}

// regLayout lays out the design's columns for a history of n steps: level
// and slope, the trend's changepoint hinges (none on a short history), the
// Fourier pairs of each season (harmonics a shorter season repeats left
// out), one column per unknown event name and one per regressor.
func (w *Fitter) regLayout(n int, pers []period, o Options) {
	r := &w.reg
	r.four = r.four[:0]
	for i, p := range pers {
		maxK := (p.steps - 1) / 2
		k := min(regFourierLong, maxK)
		skip := 0
		if i == 0 {
			k = min(regFourierDaily, maxK)
		} else {
			skip = int(math.Round(float64(p.secs) / float64(pers[0].secs)))
			if skip*int(pers[0].secs) != int(p.secs) {
				skip = 0
			}
		}
		r.four = append(r.four, fourier{secs: float64(p.secs), k: k, skip: skip})
	}
	nCP := regChangepoints
	if n < 8*(nCP+1) {
		nCP = 0
	}
	r.cp = grow(&r.cp, nCP)
	for j := range r.cp {
		r.cp[j] = regCPRange * float64(j+1) / float64(nCP+1)
	}
	p := 2
	r.iHinge, r.nHinge = p, nCP
	p += nCP
	r.iFour = p
	for _, f := range r.four {
		for k := 1; k <= f.k; k++ {
			if f.skip > 0 && k%f.skip == 0 {
				continue
			}
			p += 2
		}
	}
	r.iEv = p
	w.unknownEventNames = w.unknownEventNames[:0]
	for _, e := range o.Events {
		if e.Known {
			continue
		}
		dup := false
		for _, nm := range w.unknownEventNames {
			dup = dup || nm == e.Name
		}
		if !dup {
			w.unknownEventNames = append(w.unknownEventNames, e.Name)
		}
	}
	r.nEv = len(w.unknownEventNames)
	p += r.nEv
	r.iR = p
	r.nR = len(o.Regressors)
	p += r.nR
	r.p = p
}

// regPenalties sets the ridge penalty and prior mean of every column: the
// level and slope nearly free, the changepoints' and the Fourier and
// covariate columns' penalties per history point, and each unknown event
// pulled toward the Effect given for it.
func (w *Fitter) regPenalties(n int, o Options) {
	r := &w.reg
	p, nCP := r.p, r.nHinge
	pen := grow(&r.pen, p)
	prior := grow(&r.prior, p)
	for j := range pen {
		pen[j], prior[j] = regSmallRidge*float64(n), 0
	}
	pen[0], pen[1] = 1e-9*float64(n), 1e-9*float64(n)
	for j := 0; j < nCP; j++ {
		pen[r.iHinge+j] = regCPPenalty * float64(n)
	}
	for j, nm := range w.unknownEventNames {
		pen[r.iEv+j] = regEventRidge
		for _, e := range o.Events {
			if !e.Known && e.Name == nm {
				prior[r.iEv+j] = e.Effect
				break
			}
		}
	}
}

// regSolve solves the penalised normal equations accumulated so far for a
// fit whose history ends at uEnd (in units of the full history), leaving
// out the changepoints past regCPRange of that history.
func (w *Fitter) regSolve(beta []float64, uEnd float64) {
	r := &w.reg
	p := r.p
	ch := grow(&r.chol, p*p)
	copy(ch, r.a)
	rhs := beta
	copy(rhs, r.b)
	for j := 0; j < p; j++ {
		pj := r.pen[j]
		if j >= r.iHinge && j < r.iHinge+r.nHinge && r.cp[j-r.iHinge] > regCPRange*uEnd {
			pj = 1e12
		}
		ch[j*p+j] += pj
		rhs[j] += pj * r.prior[j]
	}
	if !cholSolve(ch, rhs, p) {
		for j := range beta {
			beta[j] = 0
		}
	}
}

// accumulate adds the rows of x (and y) in [from, to) whose index is a
// multiple of stride to the upper triangle of a and to b, four rows at a
// time, skipping the rows where y is NaN.
func accumulate(a, b, x, y []float64, p, from, to, stride int) {
	i := (from + stride - 1) / stride * stride
	for ; i+3*stride < to; i += 4 * stride {
		i1, i2, i3 := i+stride, i+2*stride, i+3*stride
		if y[i] != y[i] || y[i1] != y[i1] || y[i2] != y[i2] || y[i3] != y[i3] {
			break // finish this stretch row by row
		}
		x0 := x[i*p : (i+1)*p]
		x1 := x[i1*p : (i1+1)*p]
		x2 := x[i2*p : (i2+1)*p]
		x3 := x[i3*p : (i3+1)*p]
		y0, y1, y2, y3 := y[i], y[i1], y[i2], y[i3]
		for c := 0; c < p; c++ {
			c0, c1, c2, c3 := x0[c], x1[c], x2[c], x3[c]
			b[c] += c0*y0 + c1*y1 + c2*y2 + c3*y3
			row := a[c*p+c : c*p+p]
			s0, s1, s2, s3 := x0[c:p], x1[c:p], x2[c:p], x3[c:p]
			s0, s1, s2, s3 = s0[:len(row)], s1[:len(row)], s2[:len(row)], s3[:len(row)]
			for j := range row {
				row[j] += c0*s0[j] + c1*s1[j] + c2*s2[j] + c3*s3[j]
			}
		}
	}
	for ; i < to; i += stride {
		if y[i] != y[i] {
			continue
		}
		xi := x[i*p : (i+1)*p]
		yi := y[i]
		for c := 0; c < p; c++ {
			cv := xi[c]
			b[c] += cv * yi
			row := a[c*p+c : c*p+p]
			s := xi[c:p]
			s = s[:len(row)]
			for j := range row {
				row[j] += cv * s[j]
			}
		}
	}
}

func dot(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// cholSolve solves S·x = rhs in place for the symmetric positive definite
// S whose upper triangle is in s (row-major p×p); s is overwritten.
func cholSolve(s, rhs []float64, p int) bool {
	// Factor S = Uᵀ U with U upper triangular, in place.
	for j := 0; j < p; j++ {
		d := s[j*p+j]
		for k := 0; k < j; k++ {
			u := s[k*p+j]
			d -= u * u
		}
		if d <= 0 || math.IsNaN(d) {
			return false
		}
		d = math.Sqrt(d)
		s[j*p+j] = d
		for i := j + 1; i < p; i++ {
			v := s[j*p+i]
			for k := 0; k < j; k++ {
				v -= s[k*p+j] * s[k*p+i]
			}
			s[j*p+i] = v / d
		}
	}
	// Uᵀ z = rhs.
	for i := 0; i < p; i++ {
		v := rhs[i]
		for k := 0; k < i; k++ {
			v -= s[k*p+i] * rhs[k]
		}
		rhs[i] = v / s[i*p+i]
	}
	// U x = z.
	for i := p - 1; i >= 0; i-- {
		v := rhs[i]
		for k := i + 1; k < p; k++ {
			v -= s[i*p+k] * rhs[k]
		}
		rhs[i] = v / s[i*p+i]
	}
	return true
}

// regRows writes the design rows of grid indices [from, to) into dst; n is
// the history length (u = i/n). Future rows take the covariates' future
// values and the events at future times.
func (w *Fitter) regRows(g *grid, from, to, n int, dst []float64, o Options, future bool) {
	r := &w.reg
	p := r.p
	// Covariates aligned with the grid.
	if r.nR > 0 && !future {
		w.regPast = w.regPast[:0]
		buf := grow(&w.regPastBuf, r.nR*n)
		cnt := grow(&w.regCnt, n)
		for k, rg := range o.Regressors {
			col := buf[k*n : (k+1)*n]
			alignPast(g, w.times, rg.Past, col, cnt)
			w.regPast = append(w.regPast, col)
		}
	}
	for i := from; i < to; i++ {
		row := dst[(i-from)*p : (i-from+1)*p]
		u := float64(i) / float64(n)
		row[0], row[1] = 1, u
		for j, c := range r.cp {
			row[r.iHinge+j] = math.Max(0, u-c)
		}
		col := r.iFour
		t := g.time(i)
		for fi := range r.four {
			f := &r.four[fi]
			// The fundamental's phasor turns by a fixed angle per step;
			// it is recomputed exactly every 256 rows to stop drift.
			if (i-from)%256 == 0 {
				th := 2 * math.Pi * math.Mod(float64(t), f.secs) / f.secs
				f.s1, f.c1 = math.Sincos(th)
				f.ds, f.dc = math.Sincos(2 * math.Pi * float64(g.step) / f.secs)
			} else {
				f.s1, f.c1 = f.s1*f.dc+f.c1*f.ds, f.c1*f.dc-f.s1*f.ds
			}
			s1, c1 := f.s1, f.c1
			sk, ck := s1, c1
			for k := 1; k <= f.k; k++ {
				if f.skip == 0 || k%f.skip != 0 {
					row[col], row[col+1] = sk, ck
					col += 2
				}
				sk, ck = sk*c1+ck*s1, ck*c1-sk*s1
			}
		}
		for j, nm := range w.unknownEventNames {
			v := 0.0
			for _, e := range o.Events {
				if !e.Known && e.Name == nm && t >= e.Start && t < e.End {
					v = 1
					break
				}
			}
			row[r.iEv+j] = v
		}
		for k, rg := range o.Regressors {
			v := math.NaN()
			if future {
				if h := i - n; h < len(rg.Future) {
					v = rg.Future[h]
				}
			} else {
				v = w.regPast[k][i]
			}
			if !finite(v) {
				v = 0
			}
			row[r.iR+k] = v
		}
	}
}

// addAR adds to dst (the forecast from origin o) the autoregressive path
// of the residuals under beta just before o.
func (w *Fitter) addAR(dst, y, x, beta []float64, o, p int) {
	r := &w.reg
	if r.nar == 0 {
		return
	}
	var lag [regARMax]float64
	for j := 0; j < r.nar; j++ {
		i := o - 1 - j
		if i >= 0 && !math.IsNaN(y[i]) {
			lag[j] = y[i] - dot(x[i*p:(i+1)*p], beta)
		}
	}
	for h := range dst {
		v := 0.0
		for j := 0; j < r.nar; j++ {
			v += r.ar[j] * lag[j]
		}
		copy(lag[1:r.nar], lag[:r.nar-1])
		lag[0] = v
		dst[h] += v
		if math.Abs(v) < 1e-12 {
			break
		}
	}
}

// fitAR fits autoregressions of orders 1 to len(ar) to the residuals by
// least squares over complete windows, and keeps the order with the best
// AIC among those whose coefficients sum in absolute value below one (a
// sufficient condition for stationarity). It returns the order used (0
// when there is too little data or none qualifies).
func fitAR(res, ar []float64) int {
	q := len(ar)
	var m [regARMax * regARMax]float64
	var v [regARMax]float64
	yy := 0.0
	cnt := 0
	for t := q; t < len(res); t++ {
		ok := !math.IsNaN(res[t])
		for j := 1; j <= q && ok; j++ {
			ok = !math.IsNaN(res[t-j])
		}
		if !ok {
			continue
		}
		cnt++
		yy += res[t] * res[t]
		for a := 0; a < q; a++ {
			ra := res[t-1-a]
			v[a] += ra * res[t]
			for b := a; b < q; b++ {
				m[a*q+b] += ra * res[t-1-b]
			}
		}
	}
	if cnt < 10*q || yy == 0 {
		return 0
	}
	best, bestAIC := 0, float64(cnt)*math.Log(yy/float64(cnt))
	var coef [regARMax]float64
	for order := 1; order <= q; order++ {
		var s [regARMax * regARMax]float64
		var rhs [regARMax]float64
		for a := 0; a < order; a++ {
			rhs[a] = v[a]
			for b := a; b < order; b++ {
				s[a*order+b] = m[a*q+b]
			}
			s[a*order+a] *= 1 + 1e-9
		}
		if !cholSolve(s[:order*order], rhs[:order], order) {
			continue
		}
		sum, sse := 0.0, yy
		for a := 0; a < order; a++ {
			sum += math.Abs(rhs[a])
			sse -= rhs[a] * v[a] // residual sum of squares of the LS fit
		}
		if sum >= 0.999 || sse <= 0 {
			continue
		}
		if aic := float64(cnt)*math.Log(sse/float64(cnt)) + 2*float64(order); aic < bestAIC {
			best, bestAIC = order, aic
			coef = rhs
		}
	}
	copy(ar, coef[:best])
	return best
}
