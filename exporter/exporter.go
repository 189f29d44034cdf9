// Package exporter is fleetcast's Prometheus-facing half: it reads targets
// (PromQL queries) from a YAML config, loads their history from Prometheus
// incrementally, fits a forecast per series on its own schedule with a
// bounded worker pool, and publishes the forecasts, bands, anomaly scores and
// its own health as gauges at /metrics, with a status page and an events API.
package exporter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/forecast"
)

// Query sizing. A range query returns at most maxStepsPerSeries points per
// series; maxSamplesPerQuery bounds the whole response so that neither
// Prometheus (query.max-samples, 50M by default) nor our JSON decoding
// holds too much at once.
const maxSamplesPerQuery = 2_000_000

// fetchers is the number of range queries of one load in flight at once.
const fetchers = 2

// Options are what New needs besides the config.
type Options struct {
	Config  *Config
	Querier Querier
	// Jobs lists Nomad periodic jobs; nil when the config has no nomad section.
	Jobs   JobLister
	Logger *slog.Logger
	Now    func() time.Time
	// Shard and Shards select the series this replica forecasts: those
	// whose label hash modulo Shards is Shard. Shards 0 means 1.
	Shard, Shards int
	// NewScorer makes the anomaly scorer of a new series; nil means
	// forecast's streaming detector (score in [0, 1]).
	NewScorer func(step int64, seasons []int64) AnomalyScorer
	// Extra collectors are served with the exporter's own metrics (the
	// command's config reload gauges).
	Extra []prometheus.Collector
}

// Exporter runs the cycles of every target and holds their last results.
type Exporter struct {
	cfg       *Config
	q         Querier
	jobs      JobLister
	logger    *slog.Logger
	now       func() time.Time
	shard     int
	shards    int
	newScorer func(step int64, seasons []int64) AnomalyScorer

	targets   []*target
	calendars map[string]*Calendar // by path
	sem       chan struct{}        // the fit worker pool
	descs     *descCache
	self      selfMetrics
	nomadSnap atomic.Pointer[nomadSnapshot]
	nomadDown atomic.Bool
	started   time.Time
	extra     []prometheus.Collector
}

// target is one configured query and the series it returned.
type target struct {
	cfg     *TargetConfig
	step    int64 // seconds
	histN   int   // grid points of history
	maxH    int   // forecast steps: the longest horizon or peak window
	fitH    int   // steps each fit forecasts: maxH plus the refit interval
	refitN  int64 // steps between two fits of one series
	evKey   string
	cal     *Calendar
	mu      sync.Mutex // guards series and each series' grid
	series  map[model.Fingerprint]*series
	lastEnd int64 // time of the newest grid point, 0 before the first load
	down    bool  // for logging state changes only
	snap    atomic.Pointer[targetSnapshot]
	capDown bool
	regDown bool
	// dataWarn says what is wrong with the data Prometheus holds for the
	// target (no series, less history than configured); "" when nothing
	// is. Guarded by mu; logged when it changes, shown on the status page.
	dataWarn, dataWarnKind string
}

// series is one series of a target: a regular grid of values.
type series struct {
	fp       model.Fingerprint
	labels   model.Metric // without __name__
	start    int64        // time of vals[0]
	vals     []float64
	fedUntil int64 // newest time given to the scorer
	scorer   AnomalyScorer
	score    float64
	result   atomic.Pointer[fitResult]
}

type fitResult struct {
	f   *forecast.Forecast
	err error
	end int64 // the grid end the series was fit at
}

// targetSnapshot is everything published about a target after one
// complete cycle; /metrics and the status page read only snapshots.
type targetSnapshot struct {
	at      time.Time
	metrics []prometheus.Metric
	text    *exposition
	rows    []seriesRow
	lastErr string
}

// seriesRow is one line of the status page.
type seriesRow struct {
	fp       model.Fingerprint
	labels   string
	model    string
	mase     float64
	coverage float64
	observed float64
	score    float64
	err      string
	bounds   string  // the forecast's [min, max]
	capacity float64 // the series' capacity, NaN without one
}

type nomadSnapshot struct {
	at      time.Time
	jobs    []PeriodicJob
	metrics []prometheus.Metric
	text    *exposition
}

// New builds an exporter; Run starts it.
func New(o Options) (*Exporter, error) {
	if o.Config == nil || o.Querier == nil {
		return nil, errors.New("exporter: Config and Querier are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.Shard < 0 || o.Shard >= o.Shards {
		return nil, fmt.Errorf("shard %d/%d: want 0 <= i < n", o.Shard, o.Shards)
	}
	if o.NewScorer == nil {
		o.NewScorer = defaultScorer
	}
	workers := o.Config.Fit.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	e := &Exporter{extra: o.Extra,
		cfg: o.Config, q: o.Querier, jobs: o.Jobs, logger: o.Logger, now: o.Now,
		shard: o.Shard, shards: o.Shards, newScorer: o.NewScorer,
		calendars: map[string]*Calendar{},
		sem:       make(chan struct{}, workers),
		descs:     newDescCache(),
		self:      newSelfMetrics(),
		started:   o.Now(),
	}
	for i := range o.Config.Targets {
		tc := &o.Config.Targets[i]
		t := &target{cfg: tc, step: int64(time.Duration(tc.Step) / time.Second), series: map[model.Fingerprint]*series{}}
		t.histN = int(time.Duration(tc.History) / time.Duration(tc.Step))
		for _, d := range append(cloneDurations(tc.Horizons), tc.PeakWindows...) {
			if n := int(time.Duration(d) / time.Duration(tc.Step)); n > t.maxH {
				t.maxH = n
			}
		}
		t.refitN = max(1, int64(time.Duration(tc.Refit)/time.Duration(tc.Step)))
		// A forecast must still cover the longest horizon when it is
		// refit-1 steps old.
		t.fitH = t.maxH + int(t.refitN)
		path := tc.EventsFile
		if path == "" {
			path = o.Config.EventsFile
		}
		if path != "" {
			cal, ok := e.calendars[path]
			if !ok {
				var err error
				if cal, err = OpenCalendar(path); err != nil {
					return nil, fmt.Errorf("targets[%d].events_file: %w", i, err)
				}
				e.calendars[path] = cal
			}
			t.cal = cal
		}
		e.targets = append(e.targets, t)
		e.self.init(tc.Name)
	}
	return e, nil
}

func cloneDurations(ds []model.Duration) []model.Duration {
	return append([]model.Duration(nil), ds...)
}

// Run runs every target's cycle on its refresh interval, and the Nomad
// reader, until ctx ends.
func (e *Exporter) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range e.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.loop(ctx, t)
		}()
	}
	if e.jobs != nil && e.cfg.Nomad != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.nomadLoop(ctx)
		}()
	}
	wg.Wait()
}

// loop runs the cycles of one target: on success every refresh; on failure
// it retries with a doubling backoff capped at the refresh interval, and
// logs only when the state changes.
func (e *Exporter) loop(ctx context.Context, t *target) {
	refresh := time.Duration(t.cfg.Refresh)
	backoff := time.Second
	for {
		start := e.now()
		err := e.cycle(ctx, t)
		wait := refresh - e.now().Sub(start)
		if err != nil {
			wait = min(backoff, refresh)
			backoff = min(2*backoff, refresh)
		} else {
			backoff = time.Second
		}
		if wait < 0 {
			wait = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// CycleAll runs one cycle of every target, in order; for tests and the
// benchmark.
func (e *Exporter) CycleAll(ctx context.Context) error {
	var errs []error
	for _, t := range e.targets {
		if err := e.cycle(ctx, t); err != nil {
			errs = append(errs, err)
		}
	}
	if e.jobs != nil && e.cfg.Nomad != nil {
		if err := e.refreshNomad(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cycle loads the new samples of a target, refits its series and publishes
// a new snapshot. On a query error the previous snapshot stays published.
func (e *Exporter) cycle(ctx context.Context, t *target) error {
	name := t.cfg.Name
	began := e.now()
	err := e.fetch(ctx, t)
	e.self.cycles.WithLabelValues(name).Inc()
	if err != nil {
		e.self.errors.WithLabelValues(name, "query").Inc()
		e.self.up.WithLabelValues(name).Set(0)
		if !t.down {
			e.logger.Warn("target down: keeping the last forecasts and retrying with backoff", "target", name, "err", err)
			t.down = true
		} else {
			e.logger.Debug("target still down", "target", name, "err", err)
		}
		if s := t.snap.Load(); s != nil {
			c := *s
			c.lastErr = err.Error()
			t.snap.Store(&c)
		} else {
			t.snap.Store(&targetSnapshot{lastErr: err.Error()})
		}
		return err
	}
	if t.down {
		e.logger.Info("target recovered", "target", name)
		t.down = false
	}
	e.self.up.WithLabelValues(name).Set(1)
	snap := e.fitAll(ctx, t)
	if snap.text, err = render(snap.metrics); err != nil {
		e.self.errors.WithLabelValues(name, "render").Inc()
		e.logger.Error("render the forecasts; keeping the last ones", "target", name, "err", err)
		return err
	}
	snap.metrics = nil // the text is what is kept
	t.snap.Store(snap)
	d := e.now().Sub(began)
	e.self.cycleDuration.WithLabelValues(name).Set(d.Seconds())
	e.self.lastSuccess.WithLabelValues(name).Set(float64(e.now().UnixNano()) / 1e9)
	e.self.series.WithLabelValues(name).Set(float64(len(snap.rows)))
	e.logger.Debug("cycle done", "target", name, "series", len(snap.rows), "duration", d)
	return nil
}

// fetch brings the target's grids up to now: the whole history on the first
// load (or after an outage longer than it), else only the new steps.
func (e *Exporter) fetch(ctx context.Context, t *target) error {
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
	seen := make(map[model.Fingerprint]bool, len(fresh))
	chunk := int64(maxStepsPerSeries)
	if full {
		chunk = min(chunk, 288) // the first chunk tells how many series there are
	}
	var fetched int
	// apply writes one response into the grids; the caller holds t.mu.
	apply := func(m model.Matrix) int {
		n := 0
		for _, ss := range m {
			lbls := make(model.Metric, len(ss.Metric))
			for k, v := range ss.Metric {
				if k != model.MetricNameLabel {
					lbls[k] = v
				}
			}
			fp := lbls.Fingerprint()
			if uint64(fp)%uint64(e.shards) != uint64(e.shard) {
				continue
			}
			n++
			sr := fresh[fp]
			if sr == nil {
				if len(ss.Values) == 0 {
					continue
				}
				// On a full load every grid starts at the load's start, so
				// chunks can arrive in any order.
				first := from
				if !full {
					first = int64(ss.Values[0].Timestamp) / 1000 / step * step
				}
				sr = &series{fp: fp, labels: lbls, start: first, vals: make([]float64, 0, min(t.histN, int((end-first)/step)+1))}
				fresh[fp] = sr
			}
			seen[fp] = true
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
				fetched++
			}
		}
		return n
	}
	query := func(s, e2 int64) (model.Matrix, error) {
		return e.q.QueryRange(ctx, t.cfg.Query, promv1.Range{Start: time.Unix(s, 0), End: time.Unix(e2, 0), Step: time.Duration(step) * time.Second})
	}
	// The first chunk goes alone: on a full load it tells how many series
	// there are, which sizes the others.
	e2 := min(end, from+(chunk-1)*step)
	m, err := query(from, e2)
	if err != nil {
		return err
	}
	t.mu.Lock()
	n := apply(m)
	t.mu.Unlock()
	if full && n > 0 {
		chunk = max(1, min(int64(maxStepsPerSeries), int64(maxSamplesPerQuery/n)))
	}
	// The rest go two at a time, so that Prometheus encodes one response
	// while this process decodes another.
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, fetchers)
	for s := e2 + step; s <= end; s += chunk * step {
		s, e2 := s, min(end, s+(chunk-1)*step)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, err := query(s, e2)
			if err != nil {
				errMu.Lock()
				firstErr = cmp.Or(firstErr, err)
				errMu.Unlock()
				return
			}
			t.mu.Lock()
			apply(m)
			t.mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	e.self.samples.WithLabelValues(t.cfg.Name).Add(float64(fetched))

	t.mu.Lock()
	defer t.mu.Unlock()
	stale := end - 2*step
	for fp, sr := range fresh {
		if !seen[fp] && lastTime(sr, step) < stale {
			delete(fresh, fp) // vanished: gone from memory and from /metrics
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
			delete(fresh, fp)
		}
	}
	t.series = fresh
	t.lastEnd = end
	e.checkData(t, end, step)
	return nil
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
			warn = fmt.Sprintf("Prometheus holds %s of the %s of history configured (its retention, or series younger than that); seasons longer than %s cannot be learnt",
				model.Duration(have.Truncate(time.Minute)), model.Duration(want), model.Duration((have / 2).Truncate(time.Hour)))
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
	if err != nil {
		e.self.errors.WithLabelValues(tc.Name, "regressor").Inc()
		snap.lastErr = err.Error()
		if !t.regDown {
			e.logger.Warn("regressor query failed; fitting without regressors", "target", tc.Name, "err", err)
		}
		t.regDown = true
	} else if t.regDown {
		t.regDown = false
		e.logger.Info("regressor queries recovered", "target", tc.Name)
	}
	capFor, err := e.capacity(ctx, t, end)
	if err != nil {
		e.self.errors.WithLabelValues(tc.Name, "capacity").Inc()
		snap.lastErr = err.Error()
		if !t.capDown {
			e.logger.Warn("capacity query failed; exhaustion not published this cycle", "target", tc.Name, "err", err)
		}
		t.capDown = true
	} else if t.capDown {
		t.capDown = false
		e.logger.Info("capacity query recovered", "target", tc.Name)
	}

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
	fed := false
	cycleMax := 0.0
	for i, v := range sr.vals {
		ts := sr.start + int64(i)*step
		if ts <= sr.fedUntil || math.IsNaN(v) {
			continue
		}
		cycleMax = math.Max(cycleMax, sr.scorer.Observe(ts, v))
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

// publish appends the series' gauges to the snapshot and returns its row.
func (e *Exporter) publish(snap *targetSnapshot, t *target, sr *series, capFor func(model.Metric) (float64, bool), end int64) seriesRow {
	tc := t.cfg
	row := seriesRow{fp: sr.fp, labels: sr.labels.String(), mase: math.NaN(), coverage: math.NaN(), observed: math.NaN(), score: sr.score, capacity: math.NaN()}
	names, values := exportedLabels(sr.labels)
	base := append(values, tc.Name)
	add := func(metric string, v float64, extraNames []string, extra ...string) {
		d := e.descs.get(metric, names, extraNames)
		lv := append(append(make([]string, 0, len(base)+len(extra)), base...), extra...)
		snap.metrics = append(snap.metrics, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...))
	}
	for i := len(sr.vals) - 1; i >= 0; i-- {
		if !math.IsNaN(sr.vals[i]) {
			row.observed = sr.vals[i]
			break
		}
	}
	if !math.IsNaN(row.observed) {
		add("fleetcast_observed", row.observed, nil)
	}
	add("fleetcast_anomaly_score", sr.score, nil)
	r := sr.result.Load()
	if r == nil {
		return row
	}
	if r.err != nil {
		row.err = r.err.Error()
		return row
	}
	f := r.f
	row.model, row.mase, row.coverage = f.Model, f.MASE, f.Coverage
	row.bounds = fmt.Sprintf("[%g, %g]", f.Min, f.Max)
	add("fleetcast_model_info", 1, []string{"model"}, f.Model)
	if !math.IsNaN(f.MASE) && !math.IsInf(f.MASE, 0) {
		add("fleetcast_backtest_mase", f.MASE, nil)
	}
	if !math.IsNaN(f.Coverage) {
		add("fleetcast_backtest_coverage_ratio", f.Coverage, nil)
	}
	qs := make([][]float64, len(tc.Quantiles))
	for i, q := range tc.Quantiles {
		qs[i] = f.Quantile(q)
	}
	// The forecast may be a few steps old (refit); index it by time.
	at := func(ts int64) int {
		if len(f.Times) == 0 || ts < f.Times[0] {
			return -1
		}
		return int((ts - f.Times[0]) / t.step)
	}
	for _, h := range tc.Horizons {
		k := at(end + int64(time.Duration(h)/time.Second))
		if k < 0 {
			continue
		}
		for i, q := range tc.Quantiles {
			if k < len(qs[i]) && !math.IsNaN(qs[i][k]) {
				add("fleetcast_forecast", qs[i][k], []string{"horizon", "q"}, h.String(), formatQ(q))
			}
		}
	}
	from := max(0, at(end+t.step))
	for _, w := range tc.PeakWindows {
		k := at(end + int64(time.Duration(w)/time.Second))
		for i, q := range tc.Quantiles {
			peak := math.Inf(-1)
			for _, v := range qs[i][min(from, len(qs[i])):max(from, min(k+1, len(qs[i])))] {
				if v > peak {
					peak = v
				}
			}
			if !math.IsInf(peak, -1) {
				add("fleetcast_forecast_peak", peak, []string{"window", "q"}, w.String(), formatQ(q))
			}
		}
	}
	if capFor != nil {
		if c, ok := capFor(sr.labels); ok {
			row.capacity = c
			secs := math.Inf(1)
			if row.observed >= c {
				secs = 0
			} else {
				for i, u := range f.Upper {
					if f.Times[i] > end && f.Times[i] <= end+int64(t.maxH)*t.step && u >= c {
						secs = float64(f.Times[i] - end)
						break
					}
				}
			}
			add("fleetcast_capacity_exhaustion_seconds", secs, nil)
		}
	}
	return row
}

func formatQ(q float64) string { return strconv.FormatFloat(q, 'g', -1, 64) }

// reservedLabels are added by the exporter; a series label of the same
// name is published as exported_<name>, as Prometheus does on conflicts.
var reservedLabels = map[model.LabelName]bool{"target": true, "horizon": true, "q": true, "window": true, "model": true}

// exportedLabels returns the series' label names and values, sorted, with
// reserved names renamed.
func exportedLabels(m model.Metric) ([]string, []string) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, string(k))
	}
	sort.Strings(names)
	values := make([]string, len(names))
	for i, n := range names {
		values[i] = string(m[model.LabelName(n)])
		if reservedLabels[model.LabelName(n)] {
			names[i] = "exported_" + n
		}
	}
	return names, values
}

// namedValues is a regressor's values by time.
type namedValues struct {
	name string
	vals map[int64]float64
}

func (n namedValues) at(ts int64) float64 {
	if v, ok := n.vals[ts]; ok {
		return v
	}
	return math.NaN()
}

// regressors queries the target's regressors over history and horizon.
// Each must return one series; it applies to every series of the target.
func (e *Exporter) regressors(ctx context.Context, t *target, from, to int64) ([]namedValues, error) {
	var out []namedValues
	for _, rc := range t.cfg.Regressors {
		nv := namedValues{name: rc.Name, vals: map[int64]float64{}}
		for s := from; s <= to; {
			e2 := min(to, s+(maxStepsPerSeries-1)*t.step)
			m, err := e.q.QueryRange(ctx, rc.Query, promv1.Range{Start: time.Unix(s, 0), End: time.Unix(e2, 0), Step: time.Duration(t.step) * time.Second})
			if err != nil {
				return nil, fmt.Errorf("regressor %q: %w", rc.Name, err)
			}
			if len(m) > 1 {
				return nil, fmt.Errorf("regressor %q: query returned %d series; want one (aggregate it)", rc.Name, len(m))
			}
			for _, ss := range m {
				for _, p := range ss.Values {
					nv.vals[int64(p.Timestamp)/1000] = float64(p.Value)
				}
			}
			s = e2 + t.step
		}
		out = append(out, nv)
	}
	return out, nil
}

// capacity queries the target's capacity and returns the join function.
func (e *Exporter) capacity(ctx context.Context, t *target, end int64) (func(model.Metric) (float64, bool), error) {
	cc := t.cfg.Capacity
	if cc == nil {
		return nil, nil
	}
	vec, err := e.q.Query(ctx, cc.Query, time.Unix(end, 0))
	if err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	// Group the capacity series by their label-name sets so that the join
	// is a map lookup per set rather than a scan per series.
	type group struct {
		names []model.LabelName
		byKey map[string]float64
	}
	groups := map[string]*group{}
	keyOf := func(m model.Metric, names []model.LabelName) (string, bool) {
		var b strings.Builder
		for _, n := range names {
			v, ok := m[n]
			if !ok {
				return "", false
			}
			b.WriteString(string(v))
			b.WriteByte(0xff)
		}
		return b.String(), true
	}
	for _, s := range vec {
		var names []model.LabelName
		if len(cc.On) > 0 {
			for _, n := range cc.On {
				names = append(names, model.LabelName(n))
			}
		} else {
			for n := range s.Metric {
				if n != model.MetricNameLabel {
					names = append(names, n)
				}
			}
			sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
		}
		sig := fmt.Sprint(names)
		g := groups[sig]
		if g == nil {
			g = &group{names: names, byKey: map[string]float64{}}
			groups[sig] = g
		}
		if k, ok := keyOf(s.Metric, names); ok {
			g.byKey[k] = float64(s.Value)
		}
	}
	return func(m model.Metric) (float64, bool) {
		for _, g := range groups {
			if k, ok := keyOf(m, g.names); ok {
				if v, ok := g.byKey[k]; ok {
					return v, true
				}
			}
		}
		return 0, false
	}, nil
}

// nomadLoop refreshes the periodic jobs on the nomad refresh interval.
func (e *Exporter) nomadLoop(ctx context.Context) {
	refresh := time.Duration(e.cfg.Nomad.Refresh)
	for {
		_ = e.refreshNomad(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(refresh):
		}
	}
}

func (e *Exporter) refreshNomad(ctx context.Context) error {
	jobs, err := e.jobs.PeriodicJobs(ctx)
	if err != nil {
		e.self.errors.WithLabelValues("", "nomad").Inc()
		if !e.nomadDown.Swap(true) {
			e.logger.Warn("nomad unreachable: keeping the last periodic jobs", "err", err)
		}
		return err
	}
	if e.nomadDown.Swap(false) {
		e.logger.Info("nomad recovered")
	}
	now := e.now()
	pts, derr := scheduledDemand(jobs, now, e.cfg.Nomad.Horizons)
	if derr != nil {
		e.logger.Warn("a periodic job has a schedule fleetcast cannot read", "err", derr)
	}
	snap := &nomadSnapshot{at: now, jobs: jobs, metrics: make([]prometheus.Metric, 0, len(pts))}
	for _, p := range pts {
		snap.metrics = append(snap.metrics, prometheus.MustNewConstMetric(descScheduledDemand, prometheus.GaugeValue, p.value, p.resource, p.job, p.namespace, p.nodePool, p.horizon))
	}
	if snap.text, err = render(snap.metrics); err != nil {
		return err
	}
	snap.metrics = nil
	e.nomadSnap.Store(snap)
	e.self.nomadJobs.Set(float64(len(jobs)))
	e.self.nomadLastSuccess.Set(float64(now.UnixNano()) / 1e9)
	return nil
}

// Ready says whether every target has published a first snapshot.
func (e *Exporter) Ready() (bool, []string) {
	var pending []string
	for _, t := range e.targets {
		if s := t.snap.Load(); s == nil || s.at.IsZero() {
			pending = append(pending, t.cfg.Name)
		}
	}
	return len(pending) == 0, pending
}

func defaultScorer(step int64, seasons []int64) AnomalyScorer {
	return NewDetectorScorer(step, seasons)
}
