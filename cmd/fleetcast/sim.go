package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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

	"github.com/fleetcast/fleetcast/internal/yamlcfg"
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
	var f simFlags
	f.register(fs)
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
	cfg, err := sim.LoadConfig(*f.cfgFile)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast sim: %v\n", err)
		return 1
	}
	if err := f.check(); err != nil {
		fmt.Fprintf(stderr, "fleetcast sim: %v\n", err)
		return 2
	}
	if err := checkWebConfig(*f.web.config, false); err != nil {
		fmt.Fprintf(stderr, "fleetcast sim: %v\n", err)
		return 1
	}
	// Building the fleet also loads demand traces, so it is part of the check.
	now := time.Now().Truncate(time.Second)
	// History samples fall on whole steps, so queries at round times hit them.
	start := now.Add(-f.past).Truncate(f.step)
	fl, err := sim.New(cfg, start)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast sim: %s: %v\n", *f.cfgFile, err)
		return 1
	}
	if *f.checkConfig {
		fmt.Fprintf(stdout, "%s: OK (%d node pools, %d jobs)\n", *f.cfgFile, len(cfg.NodePools), len(cfg.Jobs))
		return 0
	}
	fl.SetLogger(logger)
	ln, err := f.web.bind()
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast sim: %v\n", err)
		return 1
	}
	if *f.historyOut != "" {
		if err := writeHistoryFile(fl, *f.historyOut, start, now, f.step, f.historyOptions()); err != nil {
			fmt.Fprintf(stderr, "fleetcast sim: %v\n", err)
			return 1
		}
		logger.Info("wrote history", "file", *f.historyOut, "from", start, "to", now, "step", f.step)
	} else {
		fl.Advance(now)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	wall0, sim0, speed := time.Now(), fl.Now(), *f.speed
	clock := func() time.Time {
		return sim0.Add(time.Duration(float64(time.Since(wall0)) * speed))
	}
	run := &simRun{ctx: ctx, file: *f.cfgFile, tick: *f.tick, clock: clock, log: logger}
	handler := run.start(fl, cfg.ACLToken)
	onSIGHUP(ctx, handler.reload)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("simulated Nomad fleet running", "address", f.web.address(), "speed", speed, "nodes", len(fl.Nodes()), "jobs", len(fl.Jobs()))
	code := f.web.serve(ctx, ln, srv, logger, func(_ context.Context, err error) bool { return err == nil })
	t := run.current().Truth()
	logger.Info("stopped", "sim_time", t.Time, "overload_seconds", t.OverloadSeconds, "node_hours", t.NodeHours)
	return code
}

// simFlags are the flags of fleetcast sim.
type simFlags struct {
	cfgFile, history, historyOut, historyStep, historyJob, historyRE, historyInst *string
	checkConfig                                                                   *bool
	speed                                                                         *float64
	tick                                                                          *time.Duration
	web                                                                           webFlags
	// Set by check.
	past, step time.Duration
	metrics    *regexp.Regexp
}

func (f *simFlags) register(fs *flag.FlagSet) {
	f.cfgFile = fs.String("config.file", "examples/fleet.yml", "the fleet to simulate (YAML, see sim/README.md)")
	f.web.register(fs, ":4646", "the Nomad API and /metrics", 5*time.Second, "in-flight requests")
	f.checkConfig = fs.Bool("check-config", false, "validate the config file and exit")
	f.history = fs.String("history", "0", "how much past to simulate before now, e.g. 14d (0: start now)")
	f.historyOut = fs.String("history.out", "", "write the simulated past to this file as OpenMetrics (needs --history)")
	f.historyStep = fs.String("history.step", "1m", "sample interval of the written history")
	f.historyJob = fs.String("history.scrape-job", "nomad", "label the history as scraped by this Prometheus job (the metrics' own job label becomes exported_job, as in a scrape); empty: unlabelled")
	f.historyRE = fs.String("history.metrics", "", "regular expression: write only the metric families whose whole name matches (default: all); backfilling takes time in proportion to the file's size times its length in two-hour blocks")
	f.historyInst = fs.String("history.instance", "", "instance label of the history (default: --web.listen-address with 127.0.0.1 for an empty host)")
	f.speed = fs.Float64("speed", 1, "how many simulated seconds pass per real second")
	f.tick = fs.Duration("tick", time.Second, "how often the fleet advances in real time")
}

// check validates the flag values and reads the durations and the
// metrics filter.
func (f *simFlags) check() error {
	past, err := yamlcfg.ParseDuration(*f.history)
	if err != nil {
		return fmt.Errorf("--history: %v", err)
	}
	step, err := yamlcfg.ParseDuration(*f.historyStep)
	if err != nil || step <= 0 {
		return fmt.Errorf("--history.step=%q: want a positive duration such as 1m", *f.historyStep)
	}
	f.past, f.step = past, step
	if *f.speed <= 0 {
		return fmt.Errorf("--speed=%g: must be positive", *f.speed)
	}
	if *f.historyOut != "" && f.past == 0 {
		return errors.New("--history.out needs --history, e.g. --history 14d")
	}
	if *f.historyRE != "" {
		if f.metrics, err = regexp.Compile("^(?:" + *f.historyRE + ")$"); err != nil {
			return fmt.Errorf("--history.metrics: %v", err)
		}
	}
	return nil
}

// historyOptions labels the written history as a scrape of this simulator.
func (f *simFlags) historyOptions() sim.HistoryOptions {
	inst := *f.historyInst
	if inst == "" && *f.historyJob != "" {
		inst = *f.web.listen
		if strings.HasPrefix(inst, ":") {
			inst = "127.0.0.1" + inst
		}
	}
	return sim.HistoryOptions{Target: sim.ScrapeTarget{Job: *f.historyJob, Instance: inst}, Metrics: f.metrics}
}

// simRun is the simulated fleet in force. SIGHUP and POST /-/reload start
// the fleet anew from the config file at the current simulated time (the
// old one is kept if the file is bad); /metrics serves whichever fleet is
// in force.
type simRun struct {
	ctx   context.Context
	file  string
	tick  time.Duration
	clock func() time.Time
	log   *slog.Logger

	mu           sync.Mutex
	cur          *sim.Fleet
	stopRun      context.CancelFunc
	handler      *swapHandler
	fleetMetrics *swapCollector
	reg          *prometheus.Registry
	gauges       *reloadGauges
	aclToken     atomic.Pointer[string]
}

// start mounts the first fleet and returns the handler that serves it.
func (r *simRun) start(f *sim.Fleet, aclToken string) *swapHandler {
	r.gauges = newReloadGauges("fleetcast_sim")
	r.fleetMetrics = &swapCollector{}
	r.reg = prometheus.NewRegistry()
	r.reg.MustRegister(r.fleetMetrics)
	r.reg.MustRegister(r.gauges.collectors()...)
	r.handler = &swapHandler{reload: r.reload}
	r.handler.token = func() string { return *r.aclToken.Load() } // /-/reload needs the ACL token when one is set
	r.aclToken.Store(&aclToken)
	r.mount(f)
	return r.handler
}

func (r *simRun) mount(f *sim.Fleet) {
	r.cur = f
	r.fleetMetrics.set(f.Collector())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	mux.Handle("/", f.Handler())
	r.handler.set(mux)
	var rctx context.Context
	rctx, r.stopRun = context.WithCancel(r.ctx)
	go f.Run(rctx, r.tick, r.clock)
}

func (r *simRun) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := sim.LoadConfig(r.file)
	var next *sim.Fleet
	if err == nil {
		next, err = sim.New(c, r.clock())
	}
	if err != nil {
		r.gauges.failed()
		r.log.Error("config reload failed; the running fleet stays", "file", r.file, "err", err)
		return err
	}
	next.SetLogger(r.log)
	r.aclToken.Store(&c.ACLToken)
	r.stopRun()
	r.mount(next)
	r.gauges.succeeded()
	r.log.Info("config reloaded: the fleet starts anew from it at the current simulated time", "file", r.file,
		"nodes", len(next.Nodes()), "jobs", len(next.Jobs()))
	return nil
}

// current is the fleet in force.
func (r *simRun) current() *sim.Fleet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
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
