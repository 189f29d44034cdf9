package loopbench

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"sync"

	"github.com/fleetcast/fleetcast/forecast"
)

// FitCache remembers forecasts by their whole input (every sample and the
// options), so that runs which feed the forecaster the same past fit it once:
// the demand a policy observes is the trace's, whatever the policy did, so a
// sweep of sizing settings asks for the same fits again and again. The
// forecaster is deterministic, so a cached forecast is the one a fresh fit
// would return and no figure changes; the key is the input, so nothing of a
// sample's future can reach a fit through it. Safe for concurrent use.
type FitCache struct {
	mu sync.Mutex
	m  map[uint64]cachedFit
}

type cachedFit struct {
	n   int // samples, checked against a hash collision
	f   *forecast.Forecast
	err error
}

// NewFitCache returns an empty cache.
func NewFitCache() *FitCache { return &FitCache{m: map[uint64]cachedFit{}} }

// Fit returns forecast.Fit(s, o), from the cache when the same input was
// fitted before.
func (c *FitCache) Fit(s forecast.Series, o forecast.Options) (*forecast.Forecast, error) {
	if c == nil || len(o.Events) > 0 || len(o.Regressors) > 0 {
		return forecast.Fit(s, o)
	}
	k := fitKey(s, o)
	c.mu.Lock()
	hit, ok := c.m[k]
	c.mu.Unlock()
	if ok && hit.n == len(s.Times) {
		return hit.f, hit.err
	}
	f, err := forecast.Fit(s, o)
	c.mu.Lock()
	c.m[k] = cachedFit{n: len(s.Times), f: f, err: err}
	c.mu.Unlock()
	return f, err
}

func fitKey(s forecast.Series, o forecast.Options) uint64 {
	h := fnv.New64a()
	var b [8]byte
	put := func(u uint64) {
		binary.LittleEndian.PutUint64(b[:], u)
		h.Write(b[:]) //nolint:errcheck // hash writes do not fail
	}
	put(uint64(o.Horizon))
	put(uint64(o.HorizonSeconds))
	put(uint64(o.Step))
	put(math.Float64bits(o.Level))
	put(uint64(o.Folds))
	for _, p := range o.Seasons {
		put(uint64(p))
	}
	h.Write([]byte(o.Model)) //nolint:errcheck // hash writes do not fail
	for i := range s.Times {
		put(uint64(s.Times[i]))
		put(math.Float64bits(s.Values[i]))
	}
	return h.Sum64()
}
