package demo

// This file starts the demo's parts, in order: the working directory, the
// simulated fleet with its past backfilled, then Prometheus, Alertmanager,
// the exporter and the actuator; each registers how it is stopped.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/fleetcast/fleetcast/internal/stack"
	"github.com/fleetcast/fleetcast/sim"
)

// onStop registers f to run when the demo ends, before what was started
// earlier is stopped.
func (r *demoRun) onStop(f func()) { r.stops = append(r.stops, f) }

func (r *demoRun) cleanup() {
	for i := len(r.stops) - 1; i >= 0; i-- {
		r.stops[i]()
	}
}

// workDir makes the working directory (configs, logs, TSDB); a temporary
// one is removed at the end unless Keep.
func (r *demoRun) workDir() error {
	r.dir = r.o.Dir
	if r.dir != "" {
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			return fmt.Errorf("work directory: %w", err)
		}
		return nil
	}
	var err error
	if r.dir, err = os.MkdirTemp("", "fleetcast-demo-"); err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	if !r.o.Keep {
		dir := r.dir
		r.onStop(func() { _ = os.RemoveAll(dir) })
	}
	return nil
}

// startFleet arranges the story in the simulated fleet, writes its past
// for Prometheus, and serves the present as the Nomad API.
func (r *demoRun) startFleet(ctx context.Context) error {
	o := r.o
	now := o.Now().Truncate(time.Second)
	// The story's times count from when everything should be up.
	r.planned = now.Add(o.Setup)
	cfg, sc, err := arrange(filepath.Join(o.Examples, "fleet.yml"), r.planned, o.Lead, o.BatchLead)
	if err != nil {
		return err
	}
	trial, err := sim.New(cfg, now)
	if err != nil {
		return fmt.Errorf("simulated fleet: %w", err)
	}
	sizeBatch(cfg, &sc, trial)
	fleet, err := sim.New(cfg, now.Add(-o.History))
	if err != nil {
		return fmt.Errorf("simulated fleet: %w", err)
	}
	// The simulator logs every change it makes; that goes to sim.log, the
	// terminal gets the story.
	simLog, err := os.Create(filepath.Join(r.dir, "sim.log"))
	if err != nil {
		return fmt.Errorf("sim log: %w", err)
	}
	r.onStop(func() { _ = simLog.Close() })
	fleet.SetLogger(slog.New(slog.NewTextHandler(simLog, nil)))
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the simulated Nomad: %w", err)
	}
	r.onStop(func() { _ = simLn.Close() })
	r.simAddr = simLn.Addr().String()
	r.say("simulating %s of the fleet's past (examples/fleet.yml) for Prometheus ...", o.History)
	// Labelled as Prometheus will store the live scrapes of job "nomad",
	// so the backfilled past and the present join without a seam; only
	// Nomad's own metric families, which is what the exporter and the rules
	// read (promtool's time grows with the file).
	if err := fleet.WriteHistoryWith(&r.hist, now.Add(-o.History), now, o.HistoryStep, sim.HistoryOptions{
		Target:  sim.ScrapeTarget{Job: "nomad", Instance: r.simAddr},
		Metrics: regexp.MustCompile(`^nomad_`),
	}); err != nil {
		return fmt.Errorf("fleet history: %w", err)
	}
	findShortage(fleet, &sc, now, o.Setup+2*max(o.Duration, 10*time.Minute))
	r.sum.Scenario, r.sc, r.fleet = sc, sc, fleet
	runCtx, cancel := context.WithCancel(ctx)
	r.runCtx = runCtx
	r.onStop(cancel)
	r.simURL = "http://" + r.simAddr
	simSrv := &http.Server{Handler: fleet.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	r.onStop(func() { _ = simSrv.Close() })
	go fleet.Run(runCtx, time.Second, o.Now)
	r.sum.URLs["nomad (simulated)"] = r.simURL
	return nil
}

// startStack starts Alertmanager, Prometheus (backfilled with the fleet's
// past), the exporter and the actuator. A part that cannot start is named
// in Summary.Missing and the rest goes on, except for Alertmanager and
// Prometheus, without which there is no loop.
func (r *demoRun) startStack() error {
	o, sum, dir := r.o, r.sum, r.dir
	actAddr, err := stack.FreeAddr()
	if err != nil {
		return err
	}
	expAddr, err := stack.FreeAddr()
	if err != nil {
		return err
	}
	amDir, promDir := filepath.Join(dir, "alertmanager"), filepath.Join(dir, "prometheus")
	for _, d := range []string{amDir, promDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	amCfg, err := alertmanagerConfig(filepath.Join(o.Examples, "alertmanager.yml"), "http://"+actAddr+"/webhook")
	if err != nil {
		sum.Missing = append(sum.Missing, fmt.Sprintf("examples/alertmanager.yml (%v): Alertmanager routes everything to the actuator with a built-in route instead", err))
		amCfg = fmt.Sprintf("route:\n  receiver: fleetcast\n  group_by: [alertname, job, task_group, node_pool, node_id]\n  group_wait: 1s\n  group_interval: 5s\nreceivers:\n  - name: fleetcast\n    webhook_configs:\n      - url: %q\n", "http://"+actAddr+"/webhook")
	}
	am, err := stack.StartAlertmanager(r.runCtx, stack.AlertmanagerOptions{Dir: amDir, Config: amCfg})
	if err != nil {
		return err
	}
	r.onStop(func() { _ = am.Stop() })
	sum.URLs["alertmanager"] = am.URL

	rules, settle, err := demoRules(o.Rules, dir, o.AlertFor, o.Step)
	r.settle, sum.Step, sum.Settle = settle, o.Step, settle
	if err != nil {
		sum.Missing = append(sum.Missing, fmt.Sprintf("rules (%v): no alerts will fire", err))
	}
	r.say("backfilling Prometheus with %.1f MB of history (promtool) ...", float64(r.hist.Len())/1e6)
	prom, err := stack.StartPrometheus(r.runCtx, stack.PrometheusOptions{
		Dir: promDir, Config: prometheusConfig(r.simAddr, expAddr, actAddr),
		RuleFiles: rules, AlertmanagerURL: am.URL, OpenMetrics: r.hist.String(),
	})
	if err != nil {
		return err
	}
	r.onStop(func() { _ = prom.Stop() })
	r.prom = prom
	sum.URLs["prometheus"] = prom.URL

	expCfg := filepath.Join(dir, "fleetcast.yml")
	if err := exporterConfig(filepath.Join(o.Examples, "fleetcast.yml"), expCfg, prom.URL, r.simURL, o.Refresh, o.Step); err != nil {
		sum.Missing = append(sum.Missing, fmt.Sprintf("exporter: config examples/fleetcast.yml: %v; no forecasts will be published", err))
	} else {
		r.exp = r.startPart("exporter", expAddr, "--config.file="+expCfg)
	}
	actCfg := filepath.Join(dir, "actuator.yml")
	if err := actuatorConfig(filepath.Join(o.Examples, "actuator.yml"), actCfg, prom.URL, r.simURL, filepath.Join(dir, "STOP")); err != nil {
		sum.Missing = append(sum.Missing, fmt.Sprintf("actuator: config examples/actuator.yml: %v; nothing will act", err))
	} else {
		r.act = r.startPart("actuator", actAddr, "--config.file="+actCfg)
	}
	return nil
}

// startPart starts the exporter or the actuator as a subprocess of the
// fleetcast binary listening on addr; nil, and a line in Missing, if it
// cannot.
func (r *demoRun) startPart(name, addr, cfgFlag string) *stack.Process {
	p, err := stack.StartProcess(r.runCtx, name, r.dir, addr, r.o.Binary, name, cfgFlag, "--web.listen-address="+addr)
	if err != nil {
		r.sum.Missing = append(r.sum.Missing, fmt.Sprintf("%s: %v", name, err))
		return nil
	}
	r.onStop(func() { _ = p.Stop() })
	r.sum.URLs[name] = p.URL
	return p
}
