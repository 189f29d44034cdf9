package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/fleetcast/fleetcast/sim"
)

func runSim(args []string, stdout, stderr io.Writer) int {
	return serveSim(context.Background(), args, stdout, stderr)
}

// serveSim is the command; it stops on SIGTERM or SIGINT, or when ctx ends.
func serveSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sim", `
Run a simulated Nomad fleet: it answers the Nomad HTTP API subset fleetcast
uses (jobs, scaling, allocations, nodes, drains, variables and locks) with
Nomad's JSON, serves Nomad's metric names and its own ground truth at
/metrics, and grows or shrinks node pools through
POST /v1/fleetcast/pool/<name>/size. With --history it first writes the
fleet's past as OpenMetrics for 'promtool tsdb create-blocks-from
openmetrics', then continues the same process in real time.`, `
fleetcast sim --config.file examples/fleet.yml
fleetcast sim --config.file examples/fleet.yml --history 14d --history.out history.om --speed 60
curl -s -XPOST 127.0.0.1:4646/v1/fleetcast/pool/default/size -d '{"Count": 6}'`, stderr)
	var (
		cfgFile     = fs.String("config.file", "examples/fleet.yml", "the fleet to simulate (YAML, see sim/README.md)")
		listen      = fs.String("web.listen-address", ":4646", "address to serve the Nomad API and /metrics on")
		webConfig   = fs.String("web.config.file", "", "exporter-toolkit web config for TLS and basic auth")
		checkConfig = fs.Bool("check-config", false, "validate the config file and exit")
		history     = fs.String("history", "0", "how much past to simulate before now, e.g. 14d (0: start now)")
		historyOut  = fs.String("history.out", "", "write the simulated past to this file as OpenMetrics (needs --history)")
		historyStep = fs.String("history.step", "1m", "sample interval of the written history")
		historyJob  = fs.String("history.scrape-job", "nomad", "label the history as scraped by this Prometheus job (the metrics' own job label becomes exported_job, as in a scrape); empty: unlabelled")
		historyRE   = fs.String("history.metrics", "", "regular expression: write only the metric families whose whole name matches (default: all); backfilling takes time in proportion to the file's size times its length in two-hour blocks")
		historyInst = fs.String("history.instance", "", "instance label of the history (default: --web.listen-address with 127.0.0.1 for an empty host)")
		speed       = fs.Float64("speed", 1, "how many simulated seconds pass per real second")
		tick        = fs.Duration("tick", time.Second, "how often the fleet advances in real time")
	)
	var lf logFlags
	lf.register(fs)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast sim: %v\n", err)
		return 2
	}
	cfg, err := sim.LoadConfig(*cfgFile)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast sim: %v\n", err)
		return 1
	}
	pastD, err := model.ParseDuration(*history)
	past := time.Duration(pastD)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast sim: --history=%q: %v; want a duration such as 14d or 36h\n", *history, err)
		return 2
	}
	stepD, err := model.ParseDuration(*historyStep)
	step := time.Duration(stepD)
	if err != nil || step <= 0 {
		fmt.Fprintf(stderr, "fleetcast sim: --history.step=%q: want a positive duration such as 1m\n", *historyStep)
		return 2
	}
	if *speed <= 0 {
		fmt.Fprintf(stderr, "fleetcast sim: --speed=%g: must be positive\n", *speed)
		return 2
	}
	if *historyOut != "" && past == 0 {
		fmt.Fprintln(stderr, "fleetcast sim: --history.out needs --history, e.g. --history 14d")
		return 2
	}
	// Building the fleet also loads demand traces, so it is part of the check.
	now := time.Now().Truncate(time.Second)
	// History samples fall on whole steps, so queries at round times hit them.
	start := now.Add(-past).Truncate(step)
	f, err := sim.New(cfg, start)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast sim: %s: %v\n", *cfgFile, err)
		return 1
	}
	if *checkConfig {
		fmt.Fprintf(stdout, "%s: OK (%d node pools, %d jobs)\n", *cfgFile, len(cfg.NodePools), len(cfg.Jobs))
		return 0
	}
	f.SetLogger(logger)
	if *historyOut != "" {
		inst := *historyInst
		if inst == "" && *historyJob != "" {
			inst = *listen
			if strings.HasPrefix(inst, ":") {
				inst = "127.0.0.1" + inst
			}
		}
		opts := sim.HistoryOptions{Target: sim.ScrapeTarget{Job: *historyJob, Instance: inst}}
		if *historyRE != "" {
			re, err := regexp.Compile("^(?:" + *historyRE + ")$")
			if err != nil {
				fmt.Fprintf(stderr, "fleetcast sim: --history.metrics: %v\n", err)
				return 2
			}
			opts.Metrics = re
		}
		if err := writeHistoryFile(f, *historyOut, start, now, step, opts); err != nil {
			fmt.Fprintf(stderr, "fleetcast sim: %v\n", err)
			return 1
		}
		logger.Info("wrote history", "file", *historyOut, "from", start, "to", now, "step", step)
	} else {
		f.Advance(now)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	wall0, sim0 := time.Now(), f.Now()
	clock := func() time.Time {
		return sim0.Add(time.Duration(float64(time.Since(wall0)) * *speed))
	}
	// SIGHUP and POST /-/reload start the simulated fleet anew from the
	// config file at the current simulated time (the old one is kept if the
	// file is bad); /metrics serves whichever fleet is in force.
	gauges := newReloadGauges("fleetcast_sim")
	fleetMetrics := &swapCollector{}
	reg := prometheus.NewRegistry()
	reg.MustRegister(fleetMetrics)
	reg.MustRegister(gauges.collectors()...)
	var (
		mu      sync.Mutex
		cur     = f
		stopRun context.CancelFunc
	)
	handler := &swapHandler{}
	var aclToken atomic.Pointer[string]
	aclToken.Store(&cfg.ACLToken)
	handler.token = func() string { return *aclToken.Load() } // /-/reload needs the ACL token when one is set
	mount := func(f *sim.Fleet) {
		fleetMetrics.set(f.Collector())
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.Handle("/", f.Handler())
		handler.set(mux)
		var rctx context.Context
		rctx, stopRun = context.WithCancel(ctx)
		go f.Run(rctx, *tick, clock)
	}
	mount(f)
	handler.reload = func() error {
		mu.Lock()
		defer mu.Unlock()
		c, err := sim.LoadConfig(*cfgFile)
		var next *sim.Fleet
		if err == nil {
			next, err = sim.New(c, clock())
		}
		if err != nil {
			gauges.failed()
			logger.Error("config reload failed; the running fleet stays", "file", *cfgFile, "err", err)
			return err
		}
		next.SetLogger(logger)
		aclToken.Store(&c.ACLToken)
		stopRun()
		cur = next
		mount(next)
		gauges.succeeded()
		logger.Info("config reloaded: the fleet starts anew from it at the current simulated time", "file", *cfgFile,
			"nodes", len(next.Nodes()), "jobs", len(next.Jobs()))
		return nil
	}
	onSIGHUP(ctx, handler.reload)

	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() {
		errc <- web.ListenAndServe(srv, &web.FlagConfig{
			WebListenAddresses: &[]string{*listen},
			WebSystemdSocket:   new(false),
			WebConfigFile:      webConfig,
		}, logger)
	}()
	logger.Info("simulated Nomad fleet running", "address", *listen, "speed", *speed, "nodes", len(f.Nodes()), "jobs", len(f.Jobs()))
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "fleetcast sim: %v\n", err)
			return 1
		}
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			fmt.Fprintf(stderr, "fleetcast sim: shutdown: %v\n", err)
			return 1
		}
	}
	mu.Lock()
	f = cur
	mu.Unlock()
	t := f.Truth()
	logger.Info("stopped", "sim_time", t.Time, "overload_seconds", t.OverloadSeconds, "node_hours", t.NodeHours)
	return 0
}

func writeHistoryFile(f *sim.Fleet, path string, from, to time.Time, step time.Duration, opts sim.HistoryOptions) (err error) {
	out, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("history: close %s: %w", path, cerr)
		}
	}()
	if err := f.WriteHistoryWith(out, from, to, step, opts); err != nil {
		return fmt.Errorf("history %s: %w", path, err)
	}
	return nil
}
