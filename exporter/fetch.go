package exporter

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/fleetcast/fleetcast/forecast"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Query sizing. A range query returns at most maxStepsPerSeries points per
// series; maxSamplesPerQuery bounds the whole response so that neither
// Prometheus (query.max-samples, 50M by default) nor our JSON decoding
// holds too much at once.
const maxSamplesPerQuery = 2_000_000

// fetchers is the number of range queries of one load in flight at once.
const fetchers = 2

// fetch brings the target's grids up to now: the whole history on the first
// load (or after an outage longer than it), else only the new steps.
func (e *Exporter) fetch(ctx context.Context, t *target) error {
	l := e.newLoad(t)
	step := t.step
	chunk := int64(maxStepsPerSeries)
	if l.full {
		chunk = min(chunk, 288) // the first chunk tells how many series there are
	}
	// The first chunk goes alone: on a full load it tells how many series
	// there are, which sizes the others.
	e2 := min(l.end, l.from+(chunk-1)*step)
	m, err := e.queryRange(ctx, t, l.from, e2)
	if err != nil {
		return err
	}
	t.mu.Lock()
	n := l.apply(m)
	t.mu.Unlock()
	if l.full && n > 0 {
		chunk = max(1, min(int64(maxStepsPerSeries), int64(maxSamplesPerQuery/n)))
	}
	if err := e.fetchChunks(ctx, l, e2+step, chunk); err != nil {
		return err
	}
	e.self.samples.WithLabelValues(t.cfg.Name).Add(float64(l.fetched))

	t.mu.Lock()
	defer t.mu.Unlock()
	l.settle()
	e.checkData(t, l.end, step)
	return nil
}

// load is one fetch of a target: the window it asks for and the grids it
// fills. Its fields other than t are written under t.mu.
type load struct {
	t             *target
	shard, shards uint64
	full          bool  // the whole history, into new grids
	from, end     int64 // the window, both ends included
	fresh         map[model.Fingerprint]*series
	seen          map[model.Fingerprint]bool
	fetched       int // samples written
}

func (e *Exporter) newLoad(t *target) *load {
	step := t.step
	end := e.now().Unix() / step * step
	full := t.lastEnd == 0 || end-t.lastEnd >= int64(t.histN)*step
	// Later cycles ask again for the newest step they already have: its
	// value may have been incomplete (a late scrape, a rule not yet
	// evaluated), and it makes every cycle a liveness check of Prometheus.
	from := t.lastEnd
	if full {
		from = end - int64(t.histN-1)*step
	}
	fresh := t.series
	if full {
		fresh = make(map[model.Fingerprint]*series, len(t.series))
	}
	return &load{t: t, shard: uint64(e.shard), shards: uint64(e.shards), full: full, from: from, end: end,
		fresh: fresh, seen: make(map[model.Fingerprint]bool, len(fresh))}
}

// queryRange asks Prometheus for the target's query over [s, e2].
func (e *Exporter) queryRange(ctx context.Context, t *target, s, e2 int64) (model.Matrix, error) {
	return e.q.QueryRange(ctx, t.cfg.Query, promv1.Range{Start: time.Unix(s, 0), End: time.Unix(e2, 0), Step: time.Duration(t.step) * time.Second})
}

// fetchChunks loads the window from start on in chunks of chunk steps, two
// at a time, so that Prometheus encodes one response while this process
// decodes another. It returns the first error.
func (e *Exporter) fetchChunks(ctx context.Context, l *load, start, chunk int64) error {
	t, step := l.t, l.t.step
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, fetchers)
	for s := start; s <= l.end; s += chunk * step {
		s, e2 := s, min(l.end, s+(chunk-1)*step)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, err := e.queryRange(ctx, t, s, e2)
			if err != nil {
				errMu.Lock()
				firstErr = cmp.Or(firstErr, err)
				errMu.Unlock()
				return
			}
			t.mu.Lock()
			l.apply(m)
			t.mu.Unlock()
		}()
	}
	wg.Wait()
	return firstErr
}

// apply writes one response into the grids and returns how many of its
// series belong to this shard; the caller holds t.mu.
func (l *load) apply(m model.Matrix) int {
	step := l.t.step
	n := 0
	for _, ss := range m {
		lbls := make(model.Metric, len(ss.Metric))
		for k, v := range ss.Metric {
			if k != model.MetricNameLabel {
				lbls[k] = v
			}
		}
		fp := lbls.Fingerprint()
		if uint64(fp)%l.shards != l.shard {
			continue
		}
		n++
		sr := l.fresh[fp]
		if sr == nil {
			if len(ss.Values) == 0 {
				continue
			}
			// On a full load every grid starts at the load's start, so
			// chunks can arrive in any order.
			first := l.from
			if !l.full {
				first = int64(ss.Values[0].Timestamp) / 1000 / step * step
			}
			sr = &series{fp: fp, labels: lbls, start: first, vals: make([]float64, 0, min(l.t.histN, int((l.end-first)/step)+1))}
			l.fresh[fp] = sr
		}
		l.seen[fp] = true
		for _, p := range ss.Values {
			ts := int64(p.Timestamp) / 1000
			i := int((ts - sr.start) / step)
			if i < 0 {
				continue
			}
			for len(sr.vals) <= i {
				sr.vals = append(sr.vals, math.NaN())
			}
			sr.vals[i] = float64(p.Value)
			l.fetched++
		}
	}
	return n
}

// settle drops the vanished series, brings every grid to end and trims it
// to the history, and makes the load the target's; the caller holds t.mu.
func (l *load) settle() {
	t, step, end := l.t, l.t.step, l.end
	stale := end - 2*step
	for fp, sr := range l.fresh {
		if !l.seen[fp] && lastTime(sr, step) < stale {
			delete(l.fresh, fp) // vanished: gone from memory and from /metrics
			continue
		}
		// Every grid ends at end, so all forecasts start at end+step.
		for sr.start+int64(len(sr.vals)-1)*step < end {
			sr.vals = append(sr.vals, math.NaN())
		}
		if drop := len(sr.vals) - t.histN; drop > 0 {
			n := copy(sr.vals, sr.vals[drop:])
			sr.vals = sr.vals[:n]
			sr.start += int64(drop) * step
		}
		if lastTime(sr, step) < stale {
			delete(l.fresh, fp)
		}
	}
	t.series = l.fresh
	t.lastEnd = end
}

// historyShortFraction: a target whose oldest sample is younger than this
// share of its configured history gets a warning.
const historyShortFraction = 0.9

// checkData sets t.dataWarn from the grids just loaded and logs a change:
// a query that matches no series, or Prometheus holding less history than
// the target's history (retention, or series younger than it), which
// keeps long seasons from being learnt. The caller holds t.mu.
func (e *Exporter) checkData(t *target, end, step int64) {
	warn, kind := "", ""
	if len(t.series) == 0 {
		kind = "no series"
		warn = "the query returned 0 series; check it in Prometheus (a metric or label name typo, or nothing scraped yet)"
	} else {
		oldest := end
		for _, sr := range t.series {
			for i, v := range sr.vals {
				if !math.IsNaN(v) {
					oldest = min(oldest, sr.start+int64(i)*step)
					break
				}
			}
		}
		want := time.Duration(int64(t.histN)*step) * time.Second
		have := time.Duration(end-oldest+step) * time.Second
		if float64(have) < historyShortFraction*float64(want) {
			kind = "short history"
			// What forecast.Fit does with this much history: the
			// seasons it keeps, and those it backtests over the
			// whole fit horizon.
			stepDur := time.Duration(step) * time.Second
			fitSpan := time.Duration(t.fitH) * stepDur
			kept, whole := forecast.SeasonLimits(int(have/stepDur), t.fitH)
			learnt := (time.Duration(kept) * stepDur).Truncate(time.Hour)
			warn = fmt.Sprintf("Prometheus holds %s of the %s of history configured (its retention, or series younger than that); seasons longer than %s cannot be learnt",
				model.Duration(have.Truncate(time.Minute)), model.Duration(want), model.Duration(learnt))
			if whole := (time.Duration(whole) * stepDur).Truncate(time.Hour); whole < learnt {
				warn += fmt.Sprintf(", and with forecasts %s ahead those longer than %s are backtested over less than that",
					model.Duration(fitSpan), model.Duration(whole))
			}
		}
	}
	// The text follows the data (history grows every cycle); the log
	// line only marks a change of kind.
	if kind != t.dataWarnKind {
		if kind != "" {
			e.logger.Warn("target data", "target", t.cfg.Name, "warning", warn)
		} else {
			e.logger.Info("target data is as configured again", "target", t.cfg.Name)
		}
	}
	t.dataWarn, t.dataWarnKind = warn, kind
}

// warning returns the target's data warning, "" if none.
func (t *target) warning() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dataWarn
}

// lastTime is the time of the newest finite value of a series, or 0.
func lastTime(sr *series, step int64) int64 {
	for i := len(sr.vals) - 1; i >= 0; i-- {
		if !math.IsNaN(sr.vals[i]) {
			return sr.start + int64(i)*step
		}
	}
	return 0
}
