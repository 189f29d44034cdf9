package exporter

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/forecast"
)

type fitResult struct {
	f   *forecast.Forecast
	err error
	end int64 // the grid end the series was fit at
}

// fitAll fits every series of the target with the worker pool and builds
// the snapshot to publish.
func (e *Exporter) fitAll(ctx context.Context, t *target) *targetSnapshot {
	tc := t.cfg
	step := t.step
	end := t.lastEnd
	histStart := end - int64(t.histN-1)*step
	horizonEnd := end + int64(t.fitH)*step
	snap := &targetSnapshot{at: e.now()}

	// Known future: calendar, Nomad launches, regressors, capacity.
	var events []forecast.Event
	if t.cal != nil {
		evs, err := t.cal.For(tc.Name, time.Unix(histStart, 0), time.Unix(horizonEnd+step, 0))
		if err != nil {
			e.self.errors.WithLabelValues(tc.Name, "calendar").Inc()
			snap.lastErr = err.Error()
			e.logger.Warn("calendar unreadable; using the events read before", "target", tc.Name, "err", err)
		}
		events = evs
	}
	var jobs []PeriodicJob
	if ns := e.nomadSnap.Load(); ns != nil && tc.ScheduledDemand != nil {
		jobs = ns.jobs
	}
	var fleetJobEvents []forecast.Event
	if tc.ScheduledDemand != nil && tc.ScheduledDemand.JobLabel == "" {
		fleetJobEvents = demandEvents(jobs, tc.ScheduledDemand, "", time.Unix(histStart-step, 0), time.Unix(horizonEnd, 0))
	}
	regs, err := e.regressors(ctx, t, histStart, horizonEnd)
	e.stage(t, snap, "regressor", &t.regDown, err, "regressor query failed; fitting without regressors", "regressor queries recovered")
	capFor, err := e.capacity(ctx, t, end)
	e.stage(t, snap, "capacity", &t.capDown, err, "capacity query failed; exhaustion not published this cycle", "capacity query recovered")

	var seasons []int64
	for _, s := range tc.Seasonality {
		seasons = append(seasons, int64(time.Duration(s)/time.Second))
	}
	opts := forecast.Options{Horizon: t.fitH, Step: step, Level: e.cfg.Fit.Level, Model: tc.Model, Seasons: seasons, Min: tc.Min, Max: tc.Max}

	list := make([]*series, 0, len(t.series))
	for _, sr := range t.series {
		list = append(list, sr)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].fp < list[j].fp })

	// A changed calendar is taken into the next fit of every series.
	evKey := fmt.Sprint(events)
	refitAll := evKey != t.evKey
	t.evKey = evKey

	var fitNanos atomic.Int64
	var fits atomic.Int64
	var wg sync.WaitGroup
	for _, sr := range list {
		select {
		case e.sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return snap
		}
		wg.Add(1)
		go func() {
			defer func() { <-e.sem; wg.Done() }()
			t0 := time.Now()
			e.observe(t, sr)
			if refitAll || t.due(sr, end) {
				e.fitOne(t, sr, opts, events, fleetJobEvents, jobs, regs)
				fits.Add(1)
			}
			fitNanos.Add(int64(time.Since(t0)))
		}()
	}
	wg.Wait()
	e.self.fitSeconds.WithLabelValues(tc.Name).Set(float64(fitNanos.Load()) / 1e9)
	e.self.fits.WithLabelValues(tc.Name).Add(float64(fits.Load()))

	fitErrs := 0
	snap.rows = make([]seriesRow, 0, len(list))
	for _, sr := range list {
		row := e.publish(snap, t, sr, capFor, end)
		if row.err != "" {
			fitErrs++
		}
		snap.rows = append(snap.rows, row)
	}
	if fitErrs > 0 {
		e.self.errors.WithLabelValues(tc.Name, "fit").Add(float64(fitErrs))
	}
	return snap
}

// due says whether a series is refit this cycle: when it has no usable
// forecast, or once per refit interval at a phase set by its fingerprint, so
// that the fits of a large target spread evenly over the interval.
func (t *target) due(sr *series, end int64) bool {
	r := sr.result.Load()
	if r == nil || r.err != nil || t.refitN <= 1 {
		return true
	}
	if end-r.end >= t.refitN*t.step {
		return true
	}
	off := int64(uint64(sr.fp)%uint64(t.refitN)) * t.step
	span := t.refitN * t.step
	return (end+off)/span != (r.end+off)/span
}

// stage counts and records a failed optional stage of a target's cycle,
// logging only when it goes down (warn) or comes back (info), not every
// cycle; *down holds that state between cycles.
func (e *Exporter) stage(t *target, snap *targetSnapshot, name string, down *bool, err error, failed, recovered string) {
	switch {
	case err != nil:
		e.self.errors.WithLabelValues(t.cfg.Name, name).Inc()
		snap.lastErr = err.Error()
		if !*down {
			e.logger.Warn(failed, "target", t.cfg.Name, "err", err)
		}
		*down = true
	case *down:
		*down = false
		e.logger.Info(recovered, "target", t.cfg.Name)
	}
}

// observe feeds the scorer the series' new samples.
func (e *Exporter) observe(t *target, sr *series) {
	step := t.step
	if sr.scorer == nil {
		var seasons []int64
		for _, s := range t.cfg.Seasonality {
			seasons = append(seasons, int64(time.Duration(s)/time.Second))
		}
		sr.scorer = e.newScorer(step, seasons)
	}
	// Each new sample goes to the scorer once, in order, before the refit
	// that will include it, so it is scored against the band forecast for
	// it before it arrived. The published score is the highest among this
	// cycle's new samples, so a detection between two cycles is not lost
	// when refresh is longer than the step.
	//
	// A series' first cycle feeds the scorer its whole history, which it
	// learns from, but only the samples a running exporter's last cycle
	// would have brought (those of the last refresh, at least the newest)
	// count for the published score. Otherwise every start of the exporter
	// would publish the highest score of days of history as current, and
	// ForecastAnomaly would fire on detections days old.
	from := sr.fedUntil
	if sr.fedUntil == 0 {
		// One refresh (at least one step) before the newest finite
		// sample; with none, nothing below is scored.
		from = lastTime(sr, step) - max(step, int64(time.Duration(t.cfg.Refresh)/time.Second))
	}
	// The samples up to fedUntil were fed in earlier cycles: start after
	// them rather than walking the whole window again every cycle.
	first := 0
	if sr.fedUntil >= sr.start {
		first = int((sr.fedUntil-sr.start)/step) + 1
	}
	fed := false
	cycleMax := 0.0
	for i := first; i < len(sr.vals); i++ {
		v := sr.vals[i]
		if math.IsNaN(v) {
			continue
		}
		ts := sr.start + int64(i)*step
		score := sr.scorer.Observe(ts, v)
		if ts > from {
			cycleMax = math.Max(cycleMax, score)
		}
		sr.fedUntil = ts
		fed = true
	}
	if fed {
		sr.score = cycleMax
	}
}

// fitOne refits one series.
func (e *Exporter) fitOne(t *target, sr *series, opts forecast.Options, events, fleetJobEvents []forecast.Event, jobs []PeriodicJob, regs []namedValues) {
	step := t.step
	times := make([]int64, len(sr.vals))
	for i := range times {
		times[i] = sr.start + int64(i)*step
	}
	o := opts
	o.Events = events
	if len(fleetJobEvents) > 0 {
		o.Events = append(append([]forecast.Event(nil), events...), fleetJobEvents...)
	} else if t.cfg.ScheduledDemand != nil && t.cfg.ScheduledDemand.JobLabel != "" {
		job := string(sr.labels[model.LabelName(t.cfg.ScheduledDemand.JobLabel)])
		je := demandEvents(jobs, t.cfg.ScheduledDemand, job, time.Unix(times[0]-step, 0), time.Unix(times[len(times)-1]+int64(t.fitH)*step, 0))
		o.Events = append(append([]forecast.Event(nil), events...), je...)
	}
	if len(regs) > 0 {
		o.Regressors = make([]forecast.Regressor, 0, len(regs))
		for _, r := range regs {
			reg := forecast.Regressor{Name: r.name, Past: make([]float64, len(times)), Future: make([]float64, t.fitH)}
			for i, ts := range times {
				reg.Past[i] = r.at(ts)
			}
			for h := range t.fitH {
				reg.Future[h] = r.at(t.lastEnd + int64(h+1)*step)
			}
			o.Regressors = append(o.Regressors, reg)
		}
	}
	f, err := fitSafely(forecast.Series{Times: times, Values: sr.vals}, o)
	if err == nil {
		sr.scorer.Forecast(f)
	}
	sr.result.Store(&fitResult{f: f, err: err, end: t.lastEnd})
}

// fitSafely turns a panic of the forecasting library into an error, so one
// odd series never takes the exporter down.
func fitSafely(s forecast.Series, o forecast.Options) (f *forecast.Forecast, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("forecast panicked: %v", r)
		}
	}()
	return forecast.Fit(s, o)
}
