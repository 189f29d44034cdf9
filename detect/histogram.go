package detect

import "math"

const (
	histBins       = 128
	extrapolateMin = 100 // values seen before the tail is extrapolated
)

// hist is a fixed-size histogram whose range grows (by doubling the
// bin width) to hold every value seen: an O(1)-memory sketch of a
// distribution, good in the tails, which is where ranks are read.
type hist struct {
	lo, width float64
	c         [histBins]float64
	n         float64
	max       float64 // the largest value seen, to extrapolate beyond it
	seen      int     // values added
}

func (h *hist) add(x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	if h.seen == 0 && h.width == 0 {
		h.width = math.Max(math.Abs(x), 1) * 1e-6
		h.lo = x - h.width*histBins/2
	}
	for x < h.lo {
		// Grow to the left: merge pairs into the upper half.
		for i := histBins/2 - 1; i >= 0; i-- {
			h.c[histBins/2+i] = h.c[2*i] + h.c[2*i+1]
		}
		for i := 0; i < histBins/2; i++ {
			h.c[i] = 0
		}
		h.lo -= h.width * histBins
		h.width *= 2
	}
	for x >= h.lo+h.width*histBins {
		for i := 0; i < histBins/2; i++ {
			h.c[i] = h.c[2*i] + h.c[2*i+1]
		}
		for i := histBins / 2; i < histBins; i++ {
			h.c[i] = 0
		}
		h.width *= 2
	}
	h.c[int((x-h.lo)/h.width)%histBins]++
	if h.seen == 0 || x > h.max {
		h.max = x
	}
	h.n++
	h.seen++
}

// logBeyond is the log probability of exceeding the largest value seen by
// e (> 0): ranks cannot tell a new record from a huge one, so the upper
// tail is extrapolated as an exponential whose scale is the mean excess
// over the 99th percentile (at least one bin wide).
func (h *hist) logBeyond(e float64) float64 {
	// The tail's spread needs some hundred values above the 99th
	// percentile's neighbourhood to be estimated at all.
	if e <= 0 || h.seen < extrapolateMin {
		return 0
	}
	u := h.quantile(0.99)
	sum, cnt := 0.0, 0.0
	for i, c := range h.c {
		if mid := h.lo + (float64(i)+0.5)*h.width; c > 0 && mid > u {
			sum += c * (mid - u)
			cnt += c
		}
	}
	beta := h.width
	if cnt > 0 {
		beta = math.Max(beta, sum/cnt)
	}
	return -e / beta
}

// tails returns the counts of values at or above x and at or below x.
// Values in x's own bin are spread evenly over it, but at least half of
// them count on each side: at the histogram's resolution they tie with x.
func (h *hist) tails(x float64) (above, below float64) {
	if h.n == 0 {
		return 0, 0
	}
	if math.IsNaN(x) {
		return h.n, h.n // no position: no evidence either way
	}
	if x < h.lo {
		return h.n, 0
	}
	if x >= h.lo+h.width*histBins {
		return 0, h.n
	}
	b := min(int((x-h.lo)/h.width), histBins-1)
	for i := 0; i < b; i++ {
		below += h.c[i]
	}
	for i := b + 1; i < histBins; i++ {
		above += h.c[i]
	}
	frac := math.Max(0, math.Min(1, (h.lo+float64(b+1)*h.width-x)/h.width))
	above += h.c[b] * math.Max(frac, 0.5)
	below += h.c[b] * math.Max(1-frac, 0.5)
	return above, below
}

// logUpper is ln P(X >= x) with the rank estimate (count+1)/(n+2).
func (h *hist) logUpper(x float64) float64 {
	a, _ := h.tails(x)
	return math.Log((a + 1) / (h.n + 2))
}

// logTwoSided is ln of the smaller tail at x.
func (h *hist) logTwoSided(x float64) float64 {
	a, b := h.tails(x)
	return math.Log((math.Min(a, b) + 1) / (h.n + 2))
}

// quantile returns the q-quantile of the values seen (0 if none).
func (h *hist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	target := q * h.n
	s := 0.0
	for i, c := range h.c {
		if s+c >= target && c > 0 {
			return h.lo + (float64(i)+(target-s)/c)*h.width
		}
		s += c
	}
	return h.lo + h.width*histBins
}
