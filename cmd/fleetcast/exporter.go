package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fleetcast/fleetcast/exporter"
)

const exporterAbout = `Queries Prometheus ranges for the targets of the config file, fits a forecast
per series on each target's refresh interval, and serves the fleetcast_* gauges
at /metrics for Prometheus to scrape, a status page with charts at /, and the
events API at /api/v1/events.`

const exporterExample = `fleetcast exporter --config.file=examples/fleetcast.yml
fleetcast exporter --config.file=fleetcast.yml --check-config
fleetcast exporter --config.file=fleetcast.yml --shard=0/4 --web.listen-address=:9810`

func runExporter(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return serveExporter(ctx, args, stdout, stderr)
}

// serveExporter is the command; it stops when ctx ends.
func serveExporter(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("exporter", exporterAbout, exporterExample, stderr)
	cfgFile := fs.String("config.file", "fleetcast.yml", "exporter configuration file (YAML)")
	var w webFlags
	w.register(fs, ":9810", "/metrics, the status page and the events API", 10*time.Second,
		"in-flight requests and the running cycles")
	check := fs.Bool("check-config", false, "validate the configuration file (and the web configuration file) and exit")
	shard := fs.String("shard", "0/1", "forecast only the series whose label hash falls in shard i of n, written i/n")
	var lf logFlags
	lf.register(fs)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: %v\n", err)
		return 2
	}
	si, sn, err := parseShard(*shard)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: --shard=%q: %v\n", *shard, err)
		return 2
	}
	cfg, err := loadExporterConfig(*cfgFile)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: %v\n", err)
		return 1
	}
	if err := checkWebConfig(*w.config, false); err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: %v\n", err)
		return 1
	}
	if *check {
		fmt.Fprintf(stdout, "%s: OK, %d targets\n", *cfgFile, len(cfg.Targets))
		return 0
	}

	gauges := newReloadGauges("fleetcast_exporter")
	build := func(cfg *exporter.Config) (*exporter.Exporter, error) {
		q, err := exporter.NewPrometheusQuerier(cfg.Prometheus, logger)
		if err != nil {
			return nil, err
		}
		var jobs exporter.JobLister
		if cfg.Nomad != nil {
			if jobs, err = exporter.NewNomadLister(cfg.Nomad); err != nil {
				return nil, err
			}
		}
		return exporter.New(exporter.Options{Config: cfg, Querier: q, Jobs: jobs, Logger: logger, Shard: si, Shards: sn, Extra: gauges.collectors()})
	}
	exp, err := build(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: %s: %v\n", *cfgFile, err)
		return 1
	}

	ln, err := w.bind()
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: %v\n", err)
		return 1
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	rs := &exporterRuns{ctx: ctx}
	rs.start(exp)
	handler := &swapHandler{}
	handler.set(exp.Handler())
	var token eventsToken
	token.set(cfg)
	handler.token = token.get
	handler.reload = func() error {
		c, err := loadExporterConfig(*cfgFile)
		var next *exporter.Exporter
		if err == nil {
			next, err = build(c)
		}
		if err != nil {
			gauges.failed()
			logger.Error("config reload failed; the previous config stays in force", "file", *cfgFile, "err", err)
			return err
		}
		gauges.succeeded()
		token.set(c)
		logger.Info("config reloaded; the new targets take over after their first cycle", "file", *cfgFile, "targets", len(c.Targets))
		rs.replace(next, handler, logger)
		return nil
	}
	onSIGHUP(ctx, handler.reload)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("fleetcast exporter started", "config", *cfgFile, "listen", w.address(), "targets", len(cfg.Targets), "shard", *shard)
	return w.serve(ctx, ln, srv, logger, func(sctx context.Context, _ error) bool {
		stop()
		if !rs.wait(sctx) {
			logger.Warn("cycles did not stop within --shutdown.timeout", "timeout", *w.drain)
		}
		return true
	})
}

// loadExporterConfig reads the config file and the Nomad token file it
// names, so that --check-config and a reload catch a missing or empty one.
func loadExporterConfig(file string) (*exporter.Config, error) {
	c, err := exporter.LoadConfig(file)
	if err != nil {
		return nil, err
	}
	if c.Nomad != nil && c.Nomad.TokenFile != "" {
		if _, err := readSecret(c.Nomad.TokenFile, "nomad.token_file"); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return c, nil
}

// eventsToken is the events API's token file of the config in force:
// /-/reload takes its bearer token when there is one.
type eventsToken struct{ file atomic.Pointer[string] }

func (e *eventsToken) set(c *exporter.Config) {
	f := c.EventsAPI.TokenFile
	e.file.Store(&f)
}

func (e *eventsToken) get() string {
	if p := e.file.Load(); p != nil && *p != "" {
		b, _ := os.ReadFile(*p)
		if t := strings.TrimSpace(string(b)); t != "" {
			return t
		}
		return "\x00unreadable" // a token file that cannot be read lets nobody in
	}
	return ""
}

// exporterRuns owns the running exporter and, after a reload, the one
// warming up to replace it: the new one runs a first cycle of every target
// while the old one keeps serving, so /metrics never goes empty; then the
// handler is swapped and the old one's cycles stop.
type exporterRuns struct {
	ctx     context.Context
	mu      sync.Mutex
	cancel  context.CancelFunc
	warmup  context.CancelFunc
	running sync.WaitGroup
}

func (r *exporterRuns) start(e *exporter.Exporter) {
	rctx, cancel := context.WithCancel(r.ctx)
	r.cancel = cancel
	r.running.Add(1)
	go func() {
		defer r.running.Done()
		e.Run(rctx)
	}()
}

func (r *exporterRuns) replace(next *exporter.Exporter, h *swapHandler, logger *slog.Logger) {
	r.mu.Lock()
	if r.warmup != nil {
		r.warmup() // a newer reload wins over one still warming up
	}
	wctx, wcancel := context.WithCancel(r.ctx)
	r.warmup = wcancel
	r.mu.Unlock()
	r.running.Add(1)
	go func() {
		defer r.running.Done()
		if err := next.CycleAll(wctx); err != nil && wctx.Err() == nil {
			logger.Warn("first cycle after the reload had errors; switching to the new config anyway", "err", err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if wctx.Err() != nil {
			return
		}
		r.warmup = nil
		h.set(next.Handler())
		r.cancel()
		r.start(next)
		logger.Info("reloaded config in force")
	}()
}

// wait waits for every run to stop, or ctx.
func (r *exporterRuns) wait(ctx context.Context) bool {
	done := make(chan struct{})
	go func() { r.running.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// parseShard reads "i/n" with 0 <= i < n.
func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, errors.New("want i/n with 0 <= i < n, e.g. 0/4")
	}
	return i, n, nil
}
