// Package demo runs fleetcast's whole closed loop on one machine and tells
// the story in the terminal: the simulated Nomad fleet (with its past
// backfilled into a real Prometheus), the rules of rules/ in that
// Prometheus, a real Alertmanager routing to the actuator's webhook, and the
// exporter and the actuator as subprocesses of the fleetcast binary, each
// with its config from examples/. It arranges a scheduled rush and a
// periodic batch job to be due within minutes, injects an anomaly, and
// reports what was done and how much overload got through.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fleetcast/fleetcast/internal/stack"
	"github.com/fleetcast/fleetcast/sim"
)

// DefaultHistory is the past a demo backfills: three and a half days, so
// that two days of training leave room for a backtest of the whole fit
// horizon (the exporter's targets forecast a day ahead plus the refit
// interval). With three days exactly the first fits used to drop the daily
// season, and ForecastQualityDegraded fired for nine targets at the start;
// the forecaster now keeps it, backtested over less than the horizon.
const DefaultHistory = 84 * time.Hour

// DefaultStep is the step at which the demo's exporter reads its targets,
// and its history is backfilled: one minute, where the example reads most
// targets every five. AnomalyDespiteAction waits three of the target's
// steps after an action before a detection counts against it (the action's
// own step in the series is flagged within them); three 5-minute steps are
// 15 minutes, past the end of a story of minutes, three 1-minute steps are
// 3. A 1-minute history is five times the 5-minute one to backfill.
const DefaultStep = time.Minute

// Options configure a demo run. Zero values mean the defaults in brackets.
type Options struct {
	// Binary is the fleetcast binary that runs the exporter and the
	// actuator [the running executable].
	Binary string
	// Examples holds fleet.yml, fleetcast.yml, actuator.yml and
	// alertmanager.yml [examples]; Rules the *.rules.yml files [rules].
	Examples, Rules string
	// Duration ends the demo by itself; 0 runs until ctx ends.
	// AfterShortage, if set, ends it instead that long after the rush's
	// shortage was due (what a test needs to see both sides of it).
	Duration, AfterShortage time.Duration
	// History is the past backfilled into Prometheus [DefaultHistory], sampled every
	// HistoryStep [Step].
	History, HistoryStep time.Duration
	// Step is the step at which the exporter reads every target [DefaultStep].
	// AnomalyDespiteAction's settle is three of it in the demo's rules, as
	// the shipped one is three of the exporter's default 5-minute step.
	Step time.Duration
	// Setup is how long starting everything is expected to take [60s]
	// (backfilling the history with promtool is most of it); the times
	// below count from the start plus Setup (or from when everything was
	// up, if that took longer), and so does Duration.
	Setup time.Duration
	// Lead is when the rush is due after the start [40% of Duration, at
	// least 75s; 3m without a duration]; BatchLead when the periodic job
	// launches [75% of Duration; 5m]; AnomalyAt the earliest time demand
	// leaves its band [30% of Duration, at least 1m; 2m]. The anomaly
	// comes no sooner than the settle (plus a few seconds) after
	// fleetcast's last action on the rushed group, so that it is one an
	// action has not absorbed, and multiplies the rushed job's demand by
	// AnomalyFactor [1.6] for an hour.
	Lead, BatchLead, AnomalyAt time.Duration
	AnomalyFactor              float64
	// AfterEscalation, if set, ends the demo that long after the rushed
	// group was escalated (a test's end; Duration still bounds it).
	AfterEscalation time.Duration
	// AlertFor caps every alert's `for` [20s]; Refresh is the exporter's
	// refit interval [15s].
	AlertFor, Refresh time.Duration
	// Dir is the working directory (configs, logs, TSDB); empty means a
	// temporary one, removed at the end unless Keep.
	Dir  string
	Keep bool
	// Out receives the narration [os.Stdout]; Logger the details [discarded].
	Out    io.Writer
	Logger *slog.Logger
	Now    func() time.Time
	// BeforeStop, if set, runs after the loop ends and before anything is
	// stopped, with the parts' URLs (keys as in Summary.URLs): tests check
	// the live stack through it. Its error ends Run with that error.
	BeforeStop func(ctx context.Context, urls map[string]string) error
}

func (o *Options) defaults() error {
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the fleetcast binary: %w", err)
		}
		o.Binary = exe
	}
	if o.Examples == "" {
		o.Examples = "examples"
	}
	if o.Rules == "" {
		o.Rules = "rules"
	}
	if o.History == 0 {
		o.History = DefaultHistory
	}
	if o.Setup == 0 {
		o.Setup = time.Minute
	}
	if o.Step == 0 {
		o.Step = DefaultStep
	}
	if o.HistoryStep == 0 {
		o.HistoryStep = o.Step
	}
	frac := func(f float64, min, def time.Duration) time.Duration {
		if o.Duration == 0 {
			return def
		}
		return max(min, time.Duration(f*float64(o.Duration)).Truncate(time.Second))
	}
	if o.Lead == 0 {
		o.Lead = frac(0.4, 75*time.Second, 3*time.Minute)
	}
	if o.BatchLead == 0 {
		o.BatchLead = frac(0.75, 2*time.Minute, 5*time.Minute)
	}
	if o.AnomalyAt == 0 {
		// The earliest time: play holds the anomaly back until the settle
		// after the last action on the rushed group has passed.
		o.AnomalyAt = frac(0.3, time.Minute, 2*time.Minute)
	}
	if o.AnomalyFactor == 0 {
		o.AnomalyFactor = 1.6
	}
	if o.AlertFor == 0 {
		o.AlertFor = 20 * time.Second
	}
	if o.Refresh == 0 {
		o.Refresh = 15 * time.Second
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if _, err := os.Stat(filepath.Join(o.Examples, "fleet.yml")); err != nil {
		return fmt.Errorf("the demo fleet: %w (run the demo from the repository's top directory, or pass --examples)", err)
	}
	return nil
}

// Event is one thing that happened to the fleet during the demo.
type Event struct {
	At     time.Time
	Kind   string // scale_group, scale_pool, migrate, alert, forecast, anomaly, overload
	Object string
	What   string
}

// Summary is what the demo did and what got through.
type Summary struct {
	Start, End time.Time
	Scenario   Scenario
	Events     []Event
	// Actions counts the changes the actuator made to the fleet.
	Actions int
	// Step is the exporter's step and Settle AnomalyDespiteAction's settle
	// in the demo's rules (three steps); AnomalyAt is when the anomaly was
	// injected (zero if it was not), and ActedBefore the rushed group's
	// last action before it (zero if none).
	Step, Settle           time.Duration
	AnomalyAt, ActedBefore time.Time
	// DespiteAt is when AnomalyDespiteAction first fired for the rushed
	// group, Escalated when the group then grew (EscalatedTo: "8 -> 11");
	// zero if not.
	DespiteAt, Escalated time.Time
	EscalatedTo          string
	// RushOverloadBeforeAnomaly and RushOverloadAtEscalation are the rushed
	// job's overload seconds (as in JobOverloadSeconds) counted up to the
	// anomaly's injection and up to the escalation.
	RushOverloadBeforeAnomaly, RushOverloadAtEscalation float64
	// FirstScaleOut is when the rushed group's count first grew; zero if
	// it never did. PoolScaleOut likewise for the batch job's pool.
	FirstScaleOut, PoolScaleOut time.Time
	// OverloadSeconds is how long any node or job of the fleet was
	// overloaded during the run (the simulator's ground truth);
	// JobOverloadSeconds per job.
	OverloadSeconds    float64
	JobOverloadSeconds map[string]float64
	// Missing names the parts that did not run, and why.
	Missing []string
	URLs    map[string]string
}

// Run runs the demo until ctx ends or Duration passes, and stops everything
// it started before it returns.
func Run(ctx context.Context, o Options) (sum Summary, err error) {
	if err := o.defaults(); err != nil {
		return sum, err
	}
	r := &demoRun{o: o, sum: &sum}
	defer r.cleanup()
	r.say = func(format string, args ...any) {
		fmt.Fprintf(o.Out, "%s  %s\n", o.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	sum.URLs = map[string]string{}
	sum.JobOverloadSeconds = map[string]float64{}
	if err := r.workDir(); err != nil {
		return sum, err
	}
	if err := r.startFleet(ctx); err != nil {
		return sum, err
	}
	if err := r.startStack(); err != nil {
		return sum, err
	}
	r.tellStory()
	n := newNarrator(o, r.fleet, r.prom.URL, r.sc, r.say)
	n.useNomad(r.simURL)
	r.truth0 = r.fleet.Truth()
	sum.Start = r.ready
	r.play(ctx, n)
	r.summarize(n)
	printSummary(o.Out, sum)
	if o.BeforeStop != nil {
		if err := o.BeforeStop(ctx, sum.URLs); err != nil {
			return sum, fmt.Errorf("check before stopping: %w", err)
		}
	}
	return sum, nil
}

// demoRun is one run of the demo: what it started, in order, and the
// story's times.
type demoRun struct {
	o     Options
	sum   *Summary
	say   func(format string, args ...any)
	stops []func() // what to stop at the end, in the order started

	dir             string
	settle          time.Duration // AnomalyDespiteAction's, in the demo's rules
	truth0          sim.Truth     // the simulator's ground truth when the story started
	runCtx          context.Context
	fleet           *sim.Fleet
	sc              Scenario
	simAddr, simURL string
	hist            bytes.Buffer
	prom            *stack.Process
	exp, act        *stack.Process
	planned, ready  time.Time // when everything was planned to be up, and was
	t0              time.Time // when the story's clock starts
	deadline        time.Time // when the demo ends by itself (zero: never)
}

// tellStory prints where everything runs and the story to come, and sets
// the story's clock: it starts when planned, or later if starting took
// longer.
func (r *demoRun) tellStory() {
	o, sum, sc, out, say := r.o, r.sum, r.sc, r.o.Out, r.say
	fmt.Fprintln(out)
	names := slices.Sorted(maps.Keys(sum.URLs))
	for _, k := range names {
		fmt.Fprintf(out, "  %-20s %s\n", k, sum.URLs[k])
	}
	fmt.Fprintf(out, "  %-20s %s\n", "work directory", r.dir)
	for _, m := range sum.Missing {
		fmt.Fprintf(out, "  MISSING: %s\n", m)
		o.Logger.Warn("part of the demo is missing", "what", m)
	}
	for _, k := range names {
		o.Logger.Debug("started", "part", k, "url", sum.URLs[k])
	}
	fmt.Fprintln(out)
	r.ready = o.Now()
	if late := r.ready.Sub(r.planned); late > 5*time.Second {
		say("starting took %s longer than planned (--setup); the story below is that much closer.", late.Round(time.Second))
	}
	say("the story: job %s/%s serves %.0f MHz now; its daily rush starts at %s and outgrows that at %s.",
		sc.Job, sc.Group, sc.Capacity, sc.RushAt.Format("15:04:05"), fmtTime(sc.ShortageAt))
	if sc.Spread {
		say("(the demo lets %s's allocations share nodes: fleetcast does not grow a pool for distinct_hosts; see demo/README.md)", sc.Job)
	}
	if sc.BatchJob != "" {
		say("periodic job %s launches at %s: %d × %d MHz on node pool %s, which has %d MHz free: it will not fit.",
			sc.BatchJob, sc.BatchAt.Format("15:04:05"), sc.BatchCount, sc.BatchCPU, sc.BatchPool, sc.BatchFree)
	}
	r.t0 = r.planned
	if r.ready.After(r.planned) {
		r.t0 = r.ready
	}
	say("fleetcast must act before both; an anomaly is injected into %s at %s or later: %s after fleetcast's last action on it,",
		sc.Job, r.t0.Add(o.AnomalyAt).Format("15:04:05"), (r.settle + settleMargin).Round(time.Second))
	say("once that action has settled (AnomalyDespiteAction counts a detection only after %s: three of the exporter's %s steps).",
		r.settle.Round(time.Second), o.Step)
	if o.Duration > 0 {
		r.deadline = r.t0.Add(o.Duration)
	}
	if o.AfterShortage > 0 && !sc.ShortageAt.IsZero() {
		r.deadline = sc.ShortageAt.Add(o.AfterShortage)
	}
	if r.deadline.IsZero() {
		say("Ctrl-C stops everything.")
	} else {
		say("the demo ends by itself at %s (Ctrl-C ends it sooner).", r.deadline.Format("15:04:05"))
	}
}

// play runs the story every second until ctx ends or the deadline: the
// anomaly at its time, the narrator's poll, and a word when the exporter
// or the actuator exits.
func (r *demoRun) play(ctx context.Context, n *narrator) {
	o, sc, say := r.o, r.sc, r.say
	injected, escalationSeen := false, false
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(o.Out)
			say("interrupted; stopping everything ...")
			return
		case <-tick.C:
		}
		t := o.Now()
		if !injected && !t.Before(r.t0.Add(o.AnomalyAt)) && (n.lastGroupAction.IsZero() || !t.Before(n.lastGroupAction.Add(r.settle+settleMargin))) {
			injected = true
			r.sum.AnomalyAt, r.sum.ActedBefore = t, n.lastGroupAction
			r.sum.RushOverloadBeforeAnomaly = r.rushOverload()
			if err := r.fleet.InjectAnomaly(sc.Job, o.AnomalyFactor, t, t.Add(time.Hour)); err != nil {
				say("could not inject the anomaly: %v", err)
			} else {
				n.event(Event{At: t, Kind: "anomaly", Object: sc.Job, What: fmt.Sprintf("demand ×%.1f, unforeseen", o.AnomalyFactor)})
				say("ANOMALY injected: %s's demand jumps to %.1f× what its pattern says, for an hour.", sc.Job, o.AnomalyFactor)
			}
		}
		n.poll(r.runCtx, t)
		if !r.deadline.IsZero() && !t.Before(r.deadline) {
			return
		}
		if !n.escalated.IsZero() && !escalationSeen {
			escalationSeen = true
			r.sum.RushOverloadAtEscalation = r.rushOverload()
		}
		if o.AfterEscalation > 0 && !n.escalated.IsZero() && !t.Before(n.escalated.Add(o.AfterEscalation)) {
			return
		}
		if r.exp != nil && r.exp.Exited() {
			say("the exporter exited; see %s", r.exp.Log)
			r.exp = nil
		}
		if r.act != nil && r.act.Exited() {
			say("the actuator exited; see %s", r.act.Log)
			r.act = nil
		}
	}
}

// rushOverload is the rushed job's overload seconds since the story started.
func (r *demoRun) rushOverload() float64 {
	return r.fleet.Truth().JobOverloadSeconds[r.sc.Job] - r.truth0.JobOverloadSeconds[r.sc.Job]
}

// summarize fills the summary from the narrator's events and the
// simulator's ground truth since r.truth0.
func (r *demoRun) summarize(n *narrator) {
	truth0 := r.truth0
	sum := r.sum
	truth := r.fleet.Truth()
	sum.End = r.o.Now()
	sum.Events = n.events
	sum.FirstScaleOut, sum.PoolScaleOut = n.firstScaleOut, n.poolScaleOut
	sum.DespiteAt, sum.Escalated, sum.EscalatedTo = n.despiteAt, n.escalated, n.escalatedTo
	sum.OverloadSeconds = truth.OverloadSeconds - truth0.OverloadSeconds
	for k, v := range truth.JobOverloadSeconds {
		if d := v - truth0.JobOverloadSeconds[k]; d > 0 {
			sum.JobOverloadSeconds[k] = d
		}
	}
	for _, e := range n.events {
		if e.Kind == "scale_group" || e.Kind == "scale_pool" || e.Kind == "migrate" {
			sum.Actions++
		}
	}
}

// settleMargin is how long after the settle the anomaly comes, so that the
// actuator's own record of its action (a second or so after the narrator
// sees it) is behind it too.
const settleMargin = 5 * time.Second

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "(not within the demo)"
	}
	return t.Format("15:04:05")
}

func printSummary(w io.Writer, s Summary) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-22s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(w, "\nsummary (%s):\n", s.End.Sub(s.Start).Round(time.Second))
	line("actions taken", "%d", s.Actions)
	lead := "never"
	if !s.FirstScaleOut.IsZero() {
		lead = s.FirstScaleOut.Format("15:04:05")
		if !s.Scenario.ShortageAt.IsZero() {
			d := s.Scenario.ShortageAt.Sub(s.FirstScaleOut).Round(time.Second)
			if d >= 0 {
				lead += fmt.Sprintf(", %s before the shortage was due", d)
			} else {
				lead += fmt.Sprintf(", %s AFTER the shortage arrived", -d)
			}
		}
	}
	line(s.Scenario.Job+" scaled out", "%s", lead)
	if s.Scenario.BatchJob != "" {
		pl := "never"
		if !s.PoolScaleOut.IsZero() {
			pl = s.PoolScaleOut.Format("15:04:05")
			d := s.Scenario.BatchAt.Sub(s.PoolScaleOut).Round(time.Second)
			if d >= 0 {
				pl += fmt.Sprintf(", %s before %s launched", d, s.Scenario.BatchJob)
			} else {
				pl += fmt.Sprintf(", %s after %s launched", -d, s.Scenario.BatchJob)
			}
		}
		line("pool "+s.Scenario.BatchPool+" grew", "%s", pl)
	}
	an := "not injected"
	if !s.AnomalyAt.IsZero() {
		an = fmt.Sprintf("%s (settle %s: three %s steps)", s.AnomalyAt.Format("15:04:05"), s.Settle, s.Step)
		if !s.ActedBefore.IsZero() {
			an = fmt.Sprintf("%s, %s after fleetcast's last action on %s (settle %s: three %s steps)", s.AnomalyAt.Format("15:04:05"),
				s.AnomalyAt.Sub(s.ActedBefore).Round(time.Second), s.Scenario.Job, s.Settle, s.Step)
		}
	}
	line("anomaly injected", "%s", an)
	esc := "never"
	if !s.Escalated.IsZero() {
		esc = fmt.Sprintf("%s (%s), AnomalyDespiteAction fired %s", s.Escalated.Format("15:04:05"), s.EscalatedTo, s.DespiteAt.Format("15:04:05"))
		if !s.AnomalyAt.IsZero() {
			esc += fmt.Sprintf(", %s after the anomaly", s.Escalated.Sub(s.AnomalyAt).Round(time.Second))
		}
	} else if !s.DespiteAt.IsZero() {
		esc = fmt.Sprintf("not (AnomalyDespiteAction fired %s)", s.DespiteAt.Format("15:04:05"))
	}
	line(s.Scenario.Job+" escalated", "%s", esc)
	over := fmt.Sprintf("%.0f (any node or job)", s.OverloadSeconds)
	if len(s.JobOverloadSeconds) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(s.JobOverloadSeconds)) {
			parts = append(parts, fmt.Sprintf("%s %.0f s", k, s.JobOverloadSeconds[k]))
		}
		over += "; by job: " + strings.Join(parts, ", ")
	}
	line("overload seconds", "%s", over)
	for _, m := range s.Missing {
		line("missing", "%s", m)
	}
}
