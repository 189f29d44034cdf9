package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetcast/fleetcast/internal/demo"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", `Runs the whole closed loop on this machine and narrates it: a simulated Nomad
fleet (examples/fleet.yml) with its past backfilled into a real Prometheus that
loads the rules of rules/, a real Alertmanager routing to the actuator's
webhook, and the exporter and the actuator run from this binary with the
configs of examples/. A daily rush and a periodic batch job are arranged to be
due within minutes, and an anomaly is injected once fleetcast's action on the
rushed group has settled; watch fleetcast act before the shortage arrives,
and escalate when the anomaly persists despite the action. Everything listens on 127.0.0.1 only. Ctrl-C stops
everything; --duration ends by itself and prints a summary. Needs prometheus,
promtool and alertmanager ('make tools'). See internal/demo/README.md.`,
		`make demo
fleetcast demo --duration 6m`, stderr)
	duration := fs.Duration("duration", 0, "end by itself after this long and print the summary (0: until Ctrl-C)")
	examples := fs.String("examples", "examples", "directory with fleet.yml, fleetcast.yml, actuator.yml and alertmanager.yml")
	rules := fs.String("rules", "rules", "directory with the *.rules.yml files Prometheus loads")
	history := fs.Duration("history", demo.DefaultHistory, "simulated past backfilled into Prometheus")
	setup := fs.Duration("setup", time.Minute, "how long starting everything may take; the story is timed from then")
	dir := fs.String("dir", "", "working directory for configs, logs and the TSDB (default: a temporary one, removed at the end)")
	keep := fs.Bool("keep", false, "keep the temporary working directory")
	var lf logFlags
	lf.register(fs)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	if *duration < 0 || *history <= 0 {
		fmt.Fprintln(stderr, "fleetcast demo: --duration must not be negative and --history must be positive")
		return 2
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast demo: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err = demo.Run(ctx, demo.Options{
		Examples: *examples, Rules: *rules, Duration: *duration, History: *history, Setup: *setup,
		Dir: *dir, Keep: *keep, Out: stdout, Logger: logger,
	})
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast demo: %v\n", err)
		return 1
	}
	return 0
}
