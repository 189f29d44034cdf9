package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetcast/fleetcast/loop"
)

// listFlag collects a repeatable flag; each value may also hold a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

func runBenchLoop(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench loop", `Replays a demand trace on the simulated Nomad fleet in virtual time, once with
fleetcast's predictive policy (the exporter's forecast engine and the
actuator's planner) and once with the reactive baseline (nomad-autoscaler's
target-value strategy), with the same bounds, node boot delay and cooldowns,
and prints overload minutes, unplaced-demand minutes, capacity-hours, actions
and migrations for each, and their ratios. Each series of the trace drives one
job on its own node pool; the 95th percentile of its warm-up becomes
--ref-allocs fully used allocations. See loop/README.md.`,
		`fleetcast bench loop --trace ../shared/data/nab/train.csv --trace ../shared/data/nab/test.csv
fleetcast bench loop --trace nab.csv --policy reactive --json`, stderr)
	var traces listFlag
	fs.Var(&traces, "trace", "long CSV file series,timestamp,value (repeat, or separate by commas, to join files such as train and test)")
	policy := fs.String("policy", "both", "policy to run: predictive, reactive or both")
	asJSON := fs.Bool("json", false, "print one JSON object per policy instead of the table")
	perSeries := fs.Bool("per-series", false, "also print the figures of every series")
	match := fs.String("series", "", "only the series whose name matches this regular expression")
	s := loop.DefaultSettings()
	fs.DurationVar(&s.Refit, "refit", s.Refit, "predictive: refit the forecast every this much virtual time")
	fs.DurationVar(&s.Window, "window", s.Window, "predictive: size for the forecast peak over this lead window")
	fs.DurationVar(&s.PoolWindow, "pool-window", s.PoolWindow, "predictive: size the node pool for the peak over this lead window (0: --window)")
	fs.Float64Var(&s.DemandHeadroom, "demand-headroom", s.DemandHeadroom, "predictive: never size below the demand now plus this fraction (negative: off)")
	fs.Float64Var(&s.Headroom, "headroom", s.Headroom, "predictive: fraction added to the forecast peak")
	fs.Float64Var(&s.Quantile, "quantile", s.Quantile, "predictive: forecast quantile to size for")
	fs.DurationVar(&s.SurplusFor, "surplus-for", s.SurplusFor, "predictive: how long a predicted surplus must hold before scaling in")
	fs.DurationVar(&s.History, "history", s.History, "predictive: most history each fit uses")
	fs.DurationVar(&s.AnomalyFor, "anomaly-for", s.AnomalyFor, "predictive: how long demand must stay above the band, after an action, before escalating")
	fs.IntVar(&s.EscalationsPerHour, "escalations-per-hour", s.EscalationsPerHour, "predictive: escalation cap per hour (0: never escalate)")
	fs.Float64Var(&s.Target, "target", s.Target, "reactive: target CPU utilisation of the task group, percent")
	fs.DurationVar(&s.Cooldown, "cooldown", s.Cooldown, "cooldown after each scaling action, both policies")
	fs.DurationVar(&s.BootDelay, "boot-delay", s.BootDelay, "time a new node takes to become ready, both policies")
	fs.DurationVar(&s.Warmup, "warmup", s.Warmup, "start of each trace that scales it and is not scored")
	fs.Float64Var(&s.RefAllocs, "ref-allocs", s.RefAllocs, "fully used allocations the warm-up's 95th percentile of a series stands for")
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	var policies []string
	switch *policy {
	case "both":
		policies = []string{"predictive", "reactive"}
	case "predictive", "reactive":
		policies = []string{*policy}
	default:
		fmt.Fprintf(stderr, "fleetcast bench loop: --policy=%q: valid policies are predictive, reactive, both\n", *policy)
		return 2
	}
	if len(traces) == 0 {
		fmt.Fprintln(stderr, "fleetcast bench loop: --trace is required (a long CSV series,timestamp,value)")
		return 2
	}
	var re *regexp.Regexp
	if *match != "" {
		var err error
		if re, err = regexp.Compile(*match); err != nil {
			fmt.Fprintf(stderr, "fleetcast bench loop: --series=%q: %v\n", *match, err)
			return 2
		}
	}
	if err := s.Validate(); err != nil {
		fmt.Fprintf(stderr, "fleetcast bench loop: %v\n", err)
		return 2
	}
	raw, err := loop.ReadTraces(traces)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast bench loop: %v\n", err)
		return 1
	}
	var trs []loop.Trace
	for _, r := range raw {
		if re != nil && !re.MatchString(r.Name) {
			continue
		}
		tr, err := loop.ScaleTrace(r, int64(s.Warmup/time.Second), s.RefAllocs, s.AllocCPU)
		if err != nil {
			fmt.Fprintf(stderr, "fleetcast bench loop: skipped: %v\n", err)
			continue
		}
		if tr.Times[len(tr.Times)-1]-tr.Times[0] <= int64(s.Warmup/time.Second) {
			fmt.Fprintf(stderr, "fleetcast bench loop: skipped %s: shorter than the warm-up %s\n", tr.Name, s.Warmup)
			continue
		}
		trs = append(trs, tr)
	}
	if len(trs) == 0 {
		fmt.Fprintln(stderr, "fleetcast bench loop: no series to run")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	began := time.Now()
	sums, per, err := loop.Bench(ctx, trs, s, policies, loop.NewSimFleet)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast bench loop: %v\n", err)
		return 1
	}
	if *asJSON {
		if err := loop.WriteJSON(stdout, sums); err != nil {
			fmt.Fprintf(stderr, "fleetcast bench loop: %v\n", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "%d series, each scored after a %s warm-up; boot delay %s, cooldown %s; ran in %s\n\n",
		len(trs), s.Warmup, s.BootDelay, s.Cooldown, time.Since(began).Round(100*time.Millisecond))
	if *perSeries {
		sort.Slice(per, func(i, j int) bool {
			if per[i].Series != per[j].Series {
				return per[i].Series < per[j].Series
			}
			return per[i].Policy < per[j].Policy
		})
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "series\tpolicy\toverload min\tunplaced min\tcapacity h\tactions\tfits")
		for _, r := range per {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.1f\t%d\t%d\n", r.Series, r.Policy, r.OverloadMinutes, r.UnplacedMinutes, r.CapacityHours, r.Actions, r.Fits)
		}
		if err := tw.Flush(); err != nil {
			return 1
		}
		fmt.Fprintln(stdout)
	}
	if err := loop.WriteTable(stdout, sums); err != nil {
		fmt.Fprintf(stderr, "fleetcast bench loop: %v\n", err)
		return 1
	}
	return 0
}
