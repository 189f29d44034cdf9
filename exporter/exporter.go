// Package exporter is fleetcast's Prometheus-facing half: it reads targets
// (PromQL queries) from a YAML config, loads their history from Prometheus
// incrementally, fits a forecast per series on its own schedule with a
// bounded worker pool, and publishes the forecasts, bands, anomaly scores and
// its own health as gauges at /metrics, with a status page and an events API.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

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
	// the streaming detector of package detect (score in [0, 1]).
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
