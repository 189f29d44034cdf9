package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

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
	fs := newFlagSet("exporter", exporterAbout, exporterExample, stderr)
	cfgFile := fs.String("config.file", "fleetcast.yml", "exporter configuration file (YAML)")
	listen := fs.String("web.listen-address", ":9810", "address to serve /metrics, the status page and the events API on")
	webCfg := fs.String("web.config.file", "", "exporter-toolkit web configuration file for TLS and basic auth")
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
	cfg, err := exporter.LoadConfig(*cfgFile)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: %v\n", err)
		return 1
	}
	if *webCfg != "" {
		if err := web.Validate(*webCfg); err != nil {
			fmt.Fprintf(stderr, "fleetcast exporter: --web.config.file=%s: %v\n", *webCfg, err)
			return 1
		}
	}
	if cfg.Nomad != nil && cfg.Nomad.TokenFile != "" {
		// Read now, so --check-config catches a missing or empty file.
		if _, err := readSecret(cfg.Nomad.TokenFile, "nomad.token_file"); err != nil {
			fmt.Fprintf(stderr, "fleetcast exporter: %s: %v\n", *cfgFile, err)
			return 1
		}
	}
	if *check {
		fmt.Fprintf(stdout, "%s: OK, %d targets\n", *cfgFile, len(cfg.Targets))
		return 0
	}

	q, err := exporter.NewPrometheusQuerier(cfg.Prometheus, logger)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: %s: %v\n", *cfgFile, err)
		return 1
	}
	var jobs exporter.JobLister
	if cfg.Nomad != nil {
		if jobs, err = exporter.NewNomadLister(cfg.Nomad); err != nil {
			fmt.Fprintf(stderr, "fleetcast exporter: %s: %v\n", *cfgFile, err)
			return 1
		}
	}
	exp, err := exporter.New(exporter.Options{Config: cfg, Querier: q, Jobs: jobs, Logger: logger, Shard: si, Shards: sn})
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: %s: %v\n", *cfgFile, err)
		return 1
	}

	ln, err := bindListen(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast exporter: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		exp.Run(ctx)
	}()
	srv := &http.Server{Handler: exp.Handler(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: webCfg}, logger)
	}()
	logger.Info("fleetcast exporter started", "config", *cfgFile, "listen", *listen, "targets", len(cfg.Targets), "shard", *shard)

	code := 0
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serve", "err", err)
			code = 1
		}
		stop()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Error("shutdown", "err", err)
	}
	select {
	case <-runDone:
	case <-sctx.Done():
		logger.Warn("cycles did not stop within 10s")
	}
	return code
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
