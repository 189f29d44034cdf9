package detect

import (
	"math"
	"testing"
)

// TestHist: ranks read from the histogram stay right after one value
// stretches its range tenfold, beyond both ends, on ties, and after a
// value far below the rest.
func TestHist(t *testing.T) {
	var h hist
	for i := range 1000 {
		h.add(float64(i))
	}
	h.add(1e4) // stretches the range tenfold
	if a, b := h.tails(500); math.Abs(a/h.n-0.5) > 0.1 || math.Abs(b/h.n-0.5) > 0.1 {
		t.Errorf("P(X >= 500) = %.3f, P(X <= 500) = %.3f, want about 0.5", a/h.n, b/h.n)
	}
	if a, b := h.tails(2e4); a != 0 || b != h.n {
		t.Errorf("above the maximum: %v %v", a, b)
	}
	if a, b := h.tails(-1); a != h.n || b != 0 {
		t.Errorf("below the minimum: %v %v", a, b)
	}
	var c hist
	for range 100 {
		c.add(3)
	}
	if lp := c.logTwoSided(3); lp < math.Log(0.4) {
		t.Errorf("ties: two-sided tail %v, want about ln 0.5", math.Exp(lp))
	}
	h.add(-1e6)
	if q := h.quantile(0.5); q < -1e5 || q > 1e5 {
		t.Errorf("median %v", q)
	}
}
