package exporter

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
)

// scheduleNote ends every HELP text: the values are computed on the
// exporter's schedule and cached, not at scrape time.
const scheduleNote = " Computed on the exporter's own schedule (each target's refresh) and cached; a scrape returns the last complete cycle."

var helps = map[string]string{
	"fleetcast_forecast":                    "Forecast value at now+horizon, at the quantile level in label q.",
	"fleetcast_forecast_peak":               "Highest forecast value over (now, now+window], at the quantile level in label q.",
	"fleetcast_observed":                    "Last observed value the model saw.",
	"fleetcast_anomaly_score":               "Anomaly score in [0, 1] of the newest observation against the band expected for it before it arrived (the streaming detector of package detect); above detect.Threshold it is an anomaly.",
	"fleetcast_capacity_exhaustion_seconds": "Seconds until the upper forecast band reaches the target's capacity series; +Inf if not within the forecast horizon.",
	"fleetcast_model_info":                  "The forecasting model in use for the series (value 1).",
	"fleetcast_backtest_mase":               "Mean absolute scaled error of the model in a rolling-origin backtest on the series' own history.",
	"fleetcast_backtest_coverage_ratio":     "Share of backtest observations inside the model's prediction band (a ratio).",
}

var descScheduledDemand = prometheus.NewDesc("fleetcast_scheduled_demand",
	"Resource ask of a Nomad periodic job with a launch due within the horizon (cpu in MHz, memory in bytes), else 0."+scheduleNote,
	[]string{"resource", "job", "namespace", "node_pool", "horizon"}, nil)

// descCache shares one Desc per metric and label-name set: series of a
// target nearly always share their label names, and building a Desc is
// far dearer than a map lookup.
type descCache struct {
	mu sync.Mutex
	m  map[string]*prometheus.Desc
}

func newDescCache() *descCache { return &descCache{m: map[string]*prometheus.Desc{}} }

func (c *descCache) get(metric string, names, extra []string) *prometheus.Desc {
	var b strings.Builder
	b.WriteString(metric)
	for _, n := range names {
		b.WriteByte(0)
		b.WriteString(n)
	}
	b.WriteByte(1)
	for _, n := range extra {
		b.WriteByte(0)
		b.WriteString(n)
	}
	key := b.String()
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.m[key]; ok {
		return d
	}
	all := make([]string, 0, len(names)+1+len(extra))
	all = append(append(append(all, names...), "target"), extra...)
	d := prometheus.NewDesc(metric, helps[metric]+scheduleNote, all, nil)
	c.m[key] = d
	return d
}

// selfMetrics are the exporter's own health, updated live.
type selfMetrics struct {
	cycles           *prometheus.CounterVec
	errors           *prometheus.CounterVec
	samples          *prometheus.CounterVec
	fits             *prometheus.CounterVec
	cycleDuration    *prometheus.GaugeVec
	fitSeconds       *prometheus.GaugeVec
	series           *prometheus.GaugeVec
	lastSuccess      *prometheus.GaugeVec
	up               *prometheus.GaugeVec
	scrapesInFlight  prometheus.Gauge
	nomadJobs        prometheus.Gauge
	nomadLastSuccess prometheus.Gauge
}

func newSelfMetrics() selfMetrics {
	return selfMetrics{
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetcast_exporter_cycles_total",
			Help: "Cycles (query, refit, publish) run per target, successful or not."}, []string{"target"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetcast_exporter_errors_total",
			Help: "Errors per target and stage (query, capacity, regressor, calendar, fit, nomad)."}, []string{"target", "stage"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetcast_exporter_samples_fetched_total",
			Help: "Samples read from Prometheus per target."}, []string{"target"}),
		fits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetcast_exporter_fits_total",
			Help: "Series fits run per target (each series is refit once per refit interval)."}, []string{"target"}),
		cycleDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fleetcast_exporter_cycle_duration_seconds",
			Help: "Wall time of the target's last successful cycle."}, []string{"target"}),
		fitSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fleetcast_exporter_fit_cpu_seconds",
			Help: "Time spent fitting in the target's last cycle, summed over the workers."}, []string{"target"}),
		series: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fleetcast_exporter_series",
			Help: "Series of the target held in memory and forecast by this shard."}, []string{"target"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fleetcast_exporter_last_success_timestamp_seconds",
			Help: "Unix time of the target's last successful cycle; the forecasts are as old as this."}, []string{"target"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "fleetcast_exporter_prometheus_up",
			Help: "1 if the target's last query of Prometheus succeeded, else 0."}, []string{"target"}),
		scrapesInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fleetcast_exporter_scrapes_in_flight",
			Help: "Scrapes of /metrics being served."}),
		nomadJobs: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fleetcast_exporter_nomad_periodic_jobs",
			Help: "Nomad periodic jobs read at the last successful listing."}),
		nomadLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Name: "fleetcast_exporter_nomad_last_success_timestamp_seconds",
			Help: "Unix time of the last successful listing of Nomad periodic jobs."}),
	}
}

// init creates the series of a target so that they exist before the first
// cycle ends (a 0 counter is better than an absent one for rate()).
func (s *selfMetrics) init(target string) {
	s.cycles.WithLabelValues(target)
	s.samples.WithLabelValues(target)
	s.up.WithLabelValues(target)
	for _, st := range []string{"query", "capacity", "regressor", "calendar", "fit", "render"} {
		s.errors.WithLabelValues(target, st)
	}
}

func (s *selfMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.cycles, s.fits, s.errors, s.samples, s.cycleDuration, s.fitSeconds, s.series, s.lastSuccess, s.up, s.scrapesInFlight, s.nomadJobs, s.nomadLastSuccess}
}

// Collector returns the collector of the forecast gauges: it sends the
// metrics of the last complete snapshot of every target and of Nomad, and
// never waits for a cycle.
func (e *Exporter) Collector() prometheus.Collector { return snapshotCollector{e} }

type snapshotCollector struct{ e *Exporter }

// Describe sends nothing: the label names come from the series, so the
// collector is unchecked.
func (snapshotCollector) Describe(chan<- *prometheus.Desc) {}

func (c snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	var xs []*exposition
	for _, t := range c.e.targets {
		if s := t.snap.Load(); s != nil && s.text != nil {
			xs = append(xs, s.text)
		}
	}
	if ns := c.e.nomadSnap.Load(); ns != nil && ns.text != nil {
		xs = append(xs, ns.text)
	}
	for _, x := range xs {
		x.collect(ch)
	}
}

// Registry returns a registry with the forecast collector, the exporter's
// own metrics and the Go and process collectors, for embedding the exporter
// in another program. /metrics serves the same content from the rendered
// snapshots instead (see exposition.go).
func (e *Exporter) Registry() *prometheus.Registry {
	reg := e.liveRegistry()
	reg.MustRegister(e.Collector())
	return reg
}

// liveRegistry holds the metrics updated as things happen: the exporter's
// own health and the Go and process collectors.
func (e *Exporter) liveRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.self.collectors()...)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector("fleetcast"))
	reg.MustRegister(e.extra...)
	return reg
}
