package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetcast/fleetcast/internal/loopbench"
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

// datasetFlag collects --dataset NAME=FILE[,FILE...], in order.
type datasetFlag struct {
	names []string
	files map[string][]string
}

func (d *datasetFlag) String() string { return strings.Join(d.names, ",") }

func (d *datasetFlag) Set(v string) error {
	name, files, ok := strings.Cut(v, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(files) == "" {
		return fmt.Errorf("want NAME=FILE[,FILE...], for example nab=train.csv,test.csv")
	}
	if d.files == nil {
		d.files = map[string][]string{}
	}
	if _, dup := d.files[name]; !dup {
		d.names = append(d.names, name)
	}
	var l listFlag
	if err := l.Set(files); err != nil {
		return err
	}
	d.files[name] = append(d.files[name], l...)
	return nil
}

func runBenchLoop(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench loop", `Replays demand traces on the simulated Nomad fleet in virtual time with three
policies under the same bounds, node boot delay and cooldowns: fleetcast's
predictive policy (the exporter's forecast engine and the actuator's planner),
the reactive baseline (nomad-autoscaler's target-value strategy), and the
oracle (the predictive policy with the forecast replaced by the true future
demand: what prediction could buy at best). Prints, per dataset, avoidable
overload minutes, unservable minutes (demand beyond the group's maximum),
unplaced-demand minutes, minutes a scale-out waited for nodes, capacity-hours and actions per policy, the share of
avoidable overload removed, (reactive - predictive) / (reactive - oracle),
and capacity-hours over reactive's. Each series drives one job on its own
node pool; the 95th percentile of its warm-up becomes --ref-allocs fully used
allocations. See internal/loopbench/README.md.`,
		`fleetcast bench loop --dataset nab=../shared/data/nab/train.csv,../shared/data/nab/test.csv --dataset cluster=../shared/data/cluster/full.csv
fleetcast bench loop --trace nab.csv --policy reactive --json`, stderr)
	var f benchLoopFlags
	f.register(fs)
	if ok, code := parseFlags(fs, args); !ok {
		return code
	}
	policies, re, code := f.check(stderr)
	if code != 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(f.vary) > 0 {
		return runSweep(ctx, fs, &f.s, f.vary, f.datasets, re, stdout, stderr)
	}
	began := time.Now()
	var runs []loopRun
	for _, name := range f.datasets.names {
		trs, code := loadDataset(name, f.datasets.files[name], re, f.s, stderr)
		if code != 0 {
			return code
		}
		t0 := time.Now()
		sums, per, err := loopbench.Bench(ctx, name, trs, f.s, policies, loopbench.NewSimFleet)
		if err != nil {
			fmt.Fprintf(stderr, "fleetcast bench loop: dataset %s: %v\n", name, err)
			return 1
		}
		runs = append(runs, loopRun{name, len(trs), sums, per, time.Since(t0)})
	}
	if err := f.print(stdout, stderr, runs, time.Since(began)); err != nil {
		fmt.Fprintf(stderr, "fleetcast bench loop: %v\n", err)
		return 1
	}
	return 0
}

// benchLoopFlags are the flags of fleetcast bench loop.
type benchLoopFlags struct {
	traces            listFlag
	datasets          datasetFlag
	policy, match     *string
	asJSON, perSeries *bool
	s                 loopbench.Settings
	vary              varyFlag
}

func (f *benchLoopFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.traces, "trace", "long CSV file series,timestamp,value (repeat, or separate by commas, to join files such as train and test); its dataset is named trace")
	fs.Var(&f.datasets, "dataset", "NAME=FILE[,FILE...]: a dataset of long CSV files joined as --trace joins them, with its own table (repeat for more)")
	f.policy = fs.String("policy", "both", "policy to run: predictive, reactive, oracle, or both (all three)")
	f.asJSON = fs.Bool("json", false, "print one JSON object per dataset and policy (and per series with --per-series) instead of the tables")
	f.perSeries = fs.Bool("per-series", false, "also print the figures of every series")
	f.match = fs.String("series", "", "only the series whose name matches this regular expression")
	f.s = loopbench.DefaultSettings()
	s := &f.s
	fs.DurationVar(&s.Refit, "refit", s.Refit, "predictive: refit the forecast every this much virtual time")
	fs.DurationVar(&s.Window, "window", s.Window, "predictive and oracle: size for the peak over this lead window")
	fs.DurationVar(&s.PoolWindow, "pool-window", s.PoolWindow, "predictive and oracle: size the node pool for the peak over this lead window plus the boot delay (0: --window)")
	fs.Float64Var(&s.DemandHeadroom, "demand-headroom", s.DemandHeadroom, "predictive and oracle: never size below the demand now plus this fraction (negative: off)")
	fs.Float64Var(&s.Headroom, "headroom", s.Headroom, "predictive and oracle: fraction added to the peak")
	fs.Float64Var(&s.Quantile, "quantile", s.Quantile, "predictive: forecast quantile to size for")
	fs.DurationVar(&s.SurplusFor, "surplus-for", s.SurplusFor, "predictive and oracle: how long a predicted surplus must hold before scaling in")
	fs.DurationVar(&s.History, "history", s.History, "predictive: most history each fit uses")
	fs.DurationVar(&s.AnomalyFor, "anomaly-for", s.AnomalyFor, "predictive: how long demand must stay above the band, after an action, before escalating")
	fs.IntVar(&s.EscalationsPerHour, "escalations-per-hour", s.EscalationsPerHour, "predictive: escalation cap per hour (0: never escalate)")
	fs.Float64Var(&s.Target, "target", s.Target, "reactive: target CPU utilisation of the task group, percent")
	fs.DurationVar(&s.Cooldown, "cooldown", s.Cooldown, "cooldown after each scaling action, all policies")
	fs.DurationVar(&s.BootDelay, "boot-delay", s.BootDelay, "time a new node takes to become ready, all policies")
	fs.DurationVar(&s.Warmup, "warmup", s.Warmup, "start of each trace that scales it and is not scored")
	fs.Float64Var(&s.RefAllocs, "ref-allocs", s.RefAllocs, "fully used allocations the warm-up's 95th percentile of a series stands for")
	fs.Var(&f.vary, "vary", "FLAG=V1,V2,...: a sweep; run every combination of these flags' values (repeat for more flags), print one line per combination and dataset, and the combination chosen on each dataset as reported on the others")
}

// check validates the flags, and returns the policies to run and the
// series filter; code is the exit status when it is not 0.
func (f *benchLoopFlags) check(stderr io.Writer) (policies []string, re *regexp.Regexp, code int) {
	switch *f.policy {
	case "both", "all":
		policies = loopbench.Policies
	case "predictive", "reactive", "oracle":
		policies = []string{*f.policy}
	default:
		fmt.Fprintf(stderr, "fleetcast bench loop: --policy=%q: valid policies are predictive, reactive, oracle, both (all three)\n", *f.policy)
		return nil, nil, 2
	}
	if len(f.traces) > 0 {
		if err := f.datasets.Set("trace=" + f.traces.String()); err != nil {
			fmt.Fprintf(stderr, "fleetcast bench loop: --trace: %v\n", err)
			return nil, nil, 2
		}
	}
	if len(f.datasets.names) == 0 {
		fmt.Fprintln(stderr, "fleetcast bench loop: --trace or --dataset is required (long CSV series,timestamp,value)")
		return nil, nil, 2
	}
	if *f.match != "" {
		var err error
		if re, err = regexp.Compile(*f.match); err != nil {
			fmt.Fprintf(stderr, "fleetcast bench loop: --series=%q: %v\n", *f.match, err)
			return nil, nil, 2
		}
	}
	if err := f.s.Validate(); err != nil {
		fmt.Fprintf(stderr, "fleetcast bench loop: %v\n", err)
		return nil, nil, 2
	}
	return policies, re, 0
}

// loopRun is one dataset's run: the sums per policy, the figures per series.
type loopRun struct {
	name      string
	nseries   int
	sums, per []loopbench.Result
	took      time.Duration
}

// print writes the runs as JSON lines or as tables, as the flags ask.
func (f *benchLoopFlags) print(stdout, stderr io.Writer, runs []loopRun, took time.Duration) error {
	if *f.asJSON {
		for _, r := range runs {
			out := r.sums
			if *f.perSeries {
				out = append(append([]loopbench.Result(nil), out...), r.per...)
			}
			if err := loopbench.WriteJSON(stdout, out); err != nil {
				return err
			}
		}
		fmt.Fprintf(stderr, "fleetcast bench loop: ran in %s on %d CPUs\n", took.Round(100*time.Millisecond), runtime.GOMAXPROCS(0))
		return nil
	}
	fmt.Fprintf(stdout, "each series scored after a %s warm-up; boot delay %s, cooldown %s; ran in %s on %d CPUs\n",
		f.s.Warmup, f.s.BootDelay, f.s.Cooldown, took.Round(100*time.Millisecond), runtime.GOMAXPROCS(0))
	for _, r := range runs {
		fmt.Fprintf(stdout, "\ndataset %s: %d series, ran in %s\n", r.name, r.nseries, r.took.Round(100*time.Millisecond))
		if *f.perSeries {
			if err := loopbench.WriteTable(stdout, r.per); err != nil {
				return err
			}
			fmt.Fprintln(stdout)
		}
		if err := loopbench.WriteTable(stdout, r.sums); err != nil {
			return err
		}
	}
	return nil
}

// loadDataset reads and scales the series of one dataset, skipping (with a
// note) those that cannot be scaled or are shorter than the warm-up.
func loadDataset(name string, files []string, re *regexp.Regexp, s loopbench.Settings, stderr io.Writer) ([]loopbench.Trace, int) {
	raw, err := loopbench.ReadTraces(files)
	if err != nil {
		fmt.Fprintf(stderr, "fleetcast bench loop: dataset %s: %v\n", name, err)
		return nil, 1
	}
	var trs []loopbench.Trace
	for _, r := range raw {
		if re != nil && !re.MatchString(r.Name) {
			continue
		}
		tr, err := loopbench.ScaleTrace(r, int64(s.Warmup/time.Second), s.RefAllocs, s.AllocCPU)
		if err != nil {
			fmt.Fprintf(stderr, "fleetcast bench loop: dataset %s: skipped: %v\n", name, err)
			continue
		}
		if tr.Times[len(tr.Times)-1]-tr.Times[0] <= int64(s.Warmup/time.Second) {
			fmt.Fprintf(stderr, "fleetcast bench loop: dataset %s: skipped %s: shorter than the warm-up %s\n", name, tr.Name, s.Warmup)
			continue
		}
		trs = append(trs, tr)
	}
	if len(trs) == 0 {
		fmt.Fprintf(stderr, "fleetcast bench loop: dataset %s: no series to run\n", name)
		return nil, 1
	}
	return trs, 0
}

// varyFlag collects --vary FLAG=V1,V2,...
type varyFlag []struct {
	name   string
	values []string
}

func (v *varyFlag) String() string { return "" }

func (v *varyFlag) Set(x string) error {
	name, vals, ok := strings.Cut(x, "=")
	var l listFlag
	if err := l.Set(vals); err != nil || !ok || strings.TrimSpace(name) == "" || len(l) == 0 {
		return fmt.Errorf("want FLAG=V1,V2,..., for example headroom=0,0.1,0.25")
	}
	*v = append(*v, struct {
		name   string
		values []string
	}{strings.TrimSpace(name), l})
	return nil
}

// runSweep runs every combination of the --vary values on every dataset,
// all three policies each, sharing forecasts between combinations (a
// FitCache: the demand a policy sees does not depend on what it did), and
// prints one line per combination and dataset, then for each dataset the
// combination loopbench.Choose picks there and what it gives on the other
// datasets: a setting chosen on one family is evidence only on another.
func runSweep(ctx context.Context, fs *flag.FlagSet, s *loopbench.Settings, vary varyFlag, datasets datasetFlag, re *regexp.Regexp, stdout, stderr io.Writer) int {
	base := *s
	base.FitCache = loopbench.NewFitCache()
	combos := []loopbench.Settings{base}
	labels := []string{""}
	for _, v := range vary {
		if fs.Lookup(v.name) == nil || v.name == "vary" {
			fmt.Fprintf(stderr, "fleetcast bench loop: --vary %s: no such flag; vary a settings flag such as headroom\n", v.name)
			return 2
		}
		var next []loopbench.Settings
		var nextLabels []string
		for i, c := range combos {
			for _, val := range v.values {
				*s = c
				if err := fs.Set(v.name, val); err != nil {
					fmt.Fprintf(stderr, "fleetcast bench loop: --vary %s=%s: %v\n", v.name, val, err)
					return 2
				}
				if err := s.Validate(); err != nil {
					fmt.Fprintf(stderr, "fleetcast bench loop: --vary %s=%s: %v\n", v.name, val, err)
					return 2
				}
				next = append(next, *s)
				nextLabels = append(nextLabels, strings.TrimSpace(labels[i]+" --"+v.name+"="+val))
			}
		}
		combos, labels = next, nextLabels
	}
	*s = base
	began := time.Now()
	trials := map[string][]loopbench.Trial{}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "dataset\tsettings\tremoved\tcapacity/reactive\tavoidable overload min r/p/o\twaited for nodes min r/p\tunservable min\tmeets\t")
	for _, name := range datasets.names {
		trs, code := loadDataset(name, datasets.files[name], re, base, stderr)
		if code != 0 {
			return code
		}
		// Reactive runs once per dataset unless a knob it reads is varied.
		var reactive []loopbench.Result
		for i, c := range combos {
			t0 := time.Now()
			policies := loopbench.Policies
			if reactive != nil {
				policies = []string{"predictive", "oracle"}
			}
			sums, _, err := loopbench.Bench(ctx, name, trs, c, policies, loopbench.NewSimFleet)
			if err != nil {
				fmt.Fprintf(stderr, "fleetcast bench loop: dataset %s, %s: %v\n", name, labels[i], err)
				return 1
			}
			if reactive != nil {
				sums = append(sums, reactive...)
				loopbench.Compare(sums)
			} else if !variesReactive(vary) {
				for _, r := range sums {
					if r.Policy == "reactive" {
						reactive = append(reactive, r)
					}
				}
			}
			t := loopbench.Trial{Label: labels[i], Dataset: name}
			for _, r := range sums {
				switch r.Policy {
				case "reactive":
					t.Reactive = r
				case "predictive":
					t.Predictive = r
				case "oracle":
					t.Oracle = r
				}
			}
			trials[name] = append(trials[name], t)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.0f/%.0f/%.0f\t%.0f/%.0f\t%.0f\t%v\t\n", name, labels[i],
				fmtPtr(t.Predictive.AvoidableRemoved), fmtPtr(t.Predictive.CapacityToReactive),
				t.Reactive.OverloadMinutes, t.Predictive.OverloadMinutes, t.Oracle.OverloadMinutes,
				t.Reactive.WaitedMinutes(), t.Predictive.WaitedMinutes(), t.Predictive.UnservableMinutes, t.Meets(sweepMinShare, sweepMaxCapacity))
			fmt.Fprintf(stderr, "fleetcast bench loop: %s %s done in %s\n", name, labels[i], time.Since(t0).Round(100*time.Millisecond))
		}
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	fmt.Fprintf(stdout, "\nchosen on one dataset (the most avoidable overload removed within %gx reactive's capacity-hours and its minutes waiting for nodes), reported on the others:\n", sweepMaxCapacity)
	for _, from := range datasets.names {
		k := loopbench.Choose(trials[from], sweepMaxCapacity)
		if k < 0 {
			continue
		}
		for _, to := range datasets.names {
			if to == from {
				continue
			}
			t := trials[to][k]
			fmt.Fprintf(stdout, "chosen on %s: %s -> on %s: removed %s at %s of reactive's capacity-hours, waited for nodes %.0f min vs reactive %.0f, meets %v\n",
				from, labels[k], to, fmtPtr(t.Predictive.AvoidableRemoved), fmtPtr(t.Predictive.CapacityToReactive),
				t.Predictive.WaitedMinutes(), t.Reactive.WaitedMinutes(), t.Meets(sweepMinShare, sweepMaxCapacity))
		}
	}
	fmt.Fprintf(stdout, "ran in %s on %d CPUs\n", time.Since(began).Round(100*time.Millisecond), runtime.GOMAXPROCS(0))
	return 0
}

// The targets a sweep's trial is held to: at least this share of
// the avoidable overload removed, at most this many times reactive's
// capacity-hours.
const (
	sweepMinShare    = 0.8
	sweepMaxCapacity = 1.05
)

func fmtPtr(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f", *v)
}

// variesReactive says whether a sweep varies a knob the reactive policy
// reads; if not, reactive runs once per dataset.
func variesReactive(vary varyFlag) bool {
	for _, v := range vary {
		switch v.name {
		case "target", "cooldown", "boot-delay", "warmup", "ref-allocs":
			return true
		}
	}
	return false
}
