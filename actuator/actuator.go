package actuator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/actuator/planner"
	"github.com/fleetcast/fleetcast/internal/nomadver"
)

// Results of a decision: the result label of fleetcast_actuator_actions_total
// and the "result" field of the audit line.
const (
	ResultActed             = "acted"
	ResultDryRun            = "dry_run"
	ResultNoop              = "noop"
	ResultCooldown          = "cooldown"
	ResultDuplicate         = "duplicate"
	ResultRateLimited       = "rate_limited"
	ResultStopped           = "stopped"
	ResultBusy              = "busy"
	ResultRejected          = "rejected"
	ResultNoPolicy          = "no_policy"
	ResultResolved          = "resolved"
	ResultNotLeader         = "not_leader"
	ResultNoLeader          = "no_leader"
	ResultError             = "error"
	ResultForecastError     = "forecast_error"
	ResultDeploymentBlocked = "deployment_blocked"
	ResultCapped            = "capped"
)

// Outcome is what became of one alert. Code is the HTTP status it asks the
// webhook to answer with: 200, a 4xx for a bad alert, 503 to be retried.
type Outcome struct {
	Result string `json:"result"`
	Code   int    `json:"-"`
	Detail string `json:"detail,omitempty"`
	Action string `json:"action,omitempty"`
	Policy string `json:"policy,omitempty"`
}

// final outcomes are remembered so a repeated notification does nothing.
// Refusals (noop, cooldown) are not: a firing that persists is planned
// again on Alertmanager's next repeat, when the cooldown may have passed or
// the forecast grown.
func (o Outcome) final() bool {
	switch o.Result {
	case ResultActed, ResultDryRun, ResultRejected, ResultCapped:
		return true
	}
	return false
}

// Options are the actuator's dependencies; Config, Nomad and Forecasts are required.
type Options struct {
	Config    *Config
	Nomad     Nomad
	Forecasts Forecasts
	// Pools overrides the node-pool targets by policy name (tests, demo).
	Pools map[string]PoolScaler
	// Audit gets one JSON line per decision; Log the operational messages.
	Audit, Log *slog.Logger
	Metrics    *Metrics
	Now        func() time.Time
	// Sleep waits (for retries); it returns early with ctx's error.
	Sleep func(ctx context.Context, d time.Duration) error
	// IsLeader says whether this replica may act; nil means always.
	IsLeader func() bool
	// OtherLeads says whether another replica is known to hold the leader
	// lock. A replica that is not the leader answers not_leader (200) only
	// then, and 503 otherwise so Alertmanager retries until one leads.
	OtherLeads func() bool
	// NomadAddress and NomadToken are used by the nomad_sim pool target.
	NomadAddress string
	NomadToken   string
	// NomadVersion is the server's release as read at start; the zero
	// value means unknown. Before 1.8.2 Nomad ignores a scale's job modify
	// index, and the actuator checks for a concurrent change itself.
	NomadVersion nomadver.Version
	// State keeps what must survive a restart and be shared by replicas
	// (NomadAPI: Nomad variables). Nil, or a dry run, means in memory.
	State StateStore
}

// Actuator turns alerts into decisions and decisions into Nomad calls.
type Actuator struct {
	o        Options
	bgCtx    context.Context
	bgStop   context.CancelFunc
	bg       sync.WaitGroup
	mu       sync.Mutex
	seen     map[string]time.Time // alert key -> when decided
	budgetMu sync.Mutex           // serialises the hourly budget's read-modify-write
	inflight map[int64]inflight   // actions Nomad is carrying out now
	nextID   int64
	idle     *sync.Cond      // signalled when inflight empties
	busy     map[string]bool // objects being acted on
	pruned   time.Time       // last sweep of seen
	// lv is what a reload replaces: the config and what is built from it.
	lv      atomic.Pointer[live]
	durable StateStore // Options.State, or memory
	mem     *MemState  // the dry run's state, kept across reloads
}

// live is the configuration in force and what depends on it.
type live struct {
	cfg   *Config
	pools map[string]PoolScaler
	state StateStore
}

func (a *Actuator) cur() *live { return a.lv.Load() }

// Config returns the configuration in force.
func (a *Actuator) Config() *Config { return a.cur().cfg }

// build makes the live set for a config: pool targets, and the state store
// (memory in a dry run, which changes nothing in Nomad, its variables
// included).
func (a *Actuator) build(c *Config) (*live, error) {
	lv := &live{cfg: c, pools: map[string]PoolScaler{}, state: a.durable}
	if c.Global.DryRun {
		lv.state = a.mem
	}
	for _, p := range c.Policies {
		if p.ScalePool == nil {
			continue
		}
		if s, ok := a.o.Pools[p.Name]; ok {
			lv.pools[p.Name] = s
			continue
		}
		s, err := newPoolScaler(p.ScalePool.Target, a.o.NomadAddress, a.o.NomadToken)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", p.Name, err)
		}
		lv.pools[p.Name] = s
	}
	return lv, nil
}

// Reload puts a new, already validated configuration in force for the
// decisions that start from now on; decisions under way finish with the
// one they started with. nomad, prometheus and leader settings are read at
// start only (the caller says so).
func (a *Actuator) Reload(c *Config) error {
	if c == nil {
		return errors.New("reload: no config")
	}
	lv, err := a.build(c)
	if err != nil {
		return err
	}
	a.lv.Store(lv)
	return nil
}

// New builds an actuator.
func New(o Options) (*Actuator, error) {
	if o.Config == nil || o.Nomad == nil || o.Forecasts == nil {
		return nil, errors.New("actuator: Config, Nomad and Forecasts are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Audit == nil {
		o.Audit = o.Log
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	a := &Actuator{o: o, seen: map[string]time.Time{}, busy: map[string]bool{}, durable: o.State, mem: NewMemState(), inflight: map[int64]inflight{}}
	a.idle = sync.NewCond(&a.mu)
	if a.durable == nil {
		a.durable = a.mem
	}
	a.bgCtx, a.bgStop = context.WithCancel(context.Background())
	if err := a.Reload(o.Config); err != nil {
		return nil, err
	}
	return a, nil
}

// Metrics returns the actuator's metrics.
func (a *Actuator) Metrics() *Metrics { return a.o.Metrics }

// Close stops background work (migrations waiting to restore eligibility,
// drains waiting to finish) and waits for it.
func (a *Actuator) Close() {
	a.bgStop()
	a.bg.Wait()
}

// Wait waits for background work to finish by itself (tests).
func (a *Actuator) Wait() { a.bg.Wait() }

// alertKey identifies one firing of one alert: Alertmanager repeats the same
// fingerprint and startsAt on every notification.
func alertKey(al template.Alert) string {
	fp := al.Fingerprint
	if fp == "" {
		ls := make(model.LabelSet, len(al.Labels))
		for k, v := range al.Labels {
			ls[model.LabelName(k)] = model.LabelValue(v)
		}
		fp = ls.Fingerprint().String()
	}
	return fp + "@" + al.StartsAt.UTC().Format(time.RFC3339Nano)
}

// decision carries what the audit line reports.
type decision struct {
	alert template.Alert
	key   string
	// actKey is what an action writes into Nomad (scaling event meta, state
	// variables) to be recognised later: the alert key, plus the step for
	// escalations, whose one firing may climb several rungs.
	actKey   string
	policy   *Policy
	action   string
	object   string
	query    string
	forecast *float64
	plan     any
	nomad    string
	rung     *int
	esc      planner.Escalation
	// held: the action took a step but max_step kept it short of the
	// forecast, so the firing is not done with; its next repeat after the
	// cooldown takes the next step.
	held bool
	// overwrote: Nomad applied the scale over a count someone else had
	// set after it was read (a server that does not guard by index).
	overwrote bool
}

// Handle decides and acts on one alert.
func (a *Actuator) Handle(ctx context.Context, al template.Alert) Outcome {
	start := time.Now()
	key := alertKey(al)
	d := &decision{alert: al, key: key, actKey: key}
	out := a.handle(ctx, d)
	out.Action, out.Policy = d.action, ""
	if d.policy != nil {
		out.Policy = d.policy.Name
	}
	// Escalations keep their own memory (per object, in the state store):
	// a firing that persists may climb the next rung after the interval.
	if out.final() && !(out.Result == ResultActed && d.held) && (d.policy == nil || d.policy.Action != ActionEscalate) {
		a.remember(d.key)
	}
	act := d.action
	if act == "" {
		act = "none"
	}
	m := a.o.Metrics
	m.Actions.WithLabelValues(act, out.Result).Inc()
	m.DecisionDuration.Observe(time.Since(start).Seconds())
	if out.Result == ResultDryRun {
		m.DryRun.WithLabelValues(act).Inc()
	}
	a.audit(d, out, time.Since(start))
	out.Detail = clip(out.Detail, maxDetailBytes)
	return out
}

func (a *Actuator) audit(d *decision, out Outcome, took time.Duration) {
	attrs := []slog.Attr{
		slog.Group("alert", "name", clip(d.alert.Labels["alertname"], maxLabelBytes), "status", clip(d.alert.Status, maxLabelBytes),
			"fingerprint", clip(d.alert.Fingerprint, maxLabelBytes), "starts_at", d.alert.StartsAt, "labels", clipLabels(d.alert.Labels)),
		slog.String("key", clip(d.key, maxDetailBytes)),
		slog.String("action", d.action),
		slog.String("object", clip(d.object, maxDetailBytes)),
		slog.String("result", out.Result),
		slog.Int("http_status", out.Code),
		slog.String("reason", clip(out.Detail, maxDetailBytes)),
		slog.Bool("dry_run", a.cur().cfg.Global.DryRun),
		slog.Float64("took_seconds", took.Seconds()),
	}
	if d.policy != nil {
		attrs = append(attrs, slog.String("policy", d.policy.Name))
	}
	if d.query != "" || d.forecast != nil {
		g := []any{"query", clip(d.query, maxDetailBytes)}
		if d.forecast != nil {
			g = append(g, "value", *d.forecast)
		}
		attrs = append(attrs, slog.Group("forecast", g...))
	}
	if d.plan != nil {
		attrs = append(attrs, slog.Any("plan", d.plan))
	}
	if d.nomad != "" {
		attrs = append(attrs, slog.String("nomad", clip(d.nomad, maxDetailBytes)))
	}
	if d.rung != nil {
		attrs = append(attrs, slog.Int("escalation_rung", *d.rung))
	}
	lvl := slog.LevelInfo
	switch out.Result {
	case ResultError, ResultForecastError, ResultDeploymentBlocked, ResultRejected, ResultStopped, ResultNoLeader:
		lvl = slog.LevelWarn
	}
	if d.rung != nil || d.overwrote {
		lvl = slog.LevelWarn // escalations and overwritten changes are said loudly
	}
	a.o.Audit.LogAttrs(context.Background(), lvl, "decision", attrs...)
}

func ok(result, detail string) Outcome { return Outcome{Result: result, Code: 200, Detail: detail} }

func (a *Actuator) handle(ctx context.Context, d *decision) Outcome {
	al := d.alert
	if al.Status == "resolved" {
		return ok(ResultResolved, "resolved alerts change nothing")
	}
	p := a.cur().cfg.Policy(al.Labels)
	if p == nil {
		return ok(ResultNoPolicy, "no policy matches this alert")
	}
	d.policy, d.action = p, p.Action
	d.object = objectOf(p.Action, al.Labels)
	a.mu.Lock()
	at, dup := a.seen[d.key]
	a.mu.Unlock()
	dup = dup && p.Action != ActionEscalate
	if dup {
		return ok(ResultDuplicate, fmt.Sprintf("already decided at %s (fingerprint+startsAt)", at.UTC().Format(time.RFC3339)))
	}
	if a.o.IsLeader != nil && !a.o.IsLeader() {
		if a.o.OtherLeads != nil && a.o.OtherLeads() {
			return ok(ResultNotLeader, "another replica holds the leader lock")
		}
		return Outcome{Result: ResultNoLeader, Code: 503, Detail: "no replica is known to hold the leader lock (yet): retry"}
	}
	if f := a.cur().cfg.Global.EmergencyStopFile; f != "" {
		if _, err := os.Stat(f); err == nil {
			return ok(ResultStopped, "emergency stop file "+f+" exists: changing nothing")
		}
	}
	if p.Action == ActionEscalate {
		return a.escalate(ctx, d, p)
	}
	return a.dispatch(ctx, d, p)
}

func missing(labels template.KV, names []string) []string {
	var m []string
	for _, n := range names {
		if labels[n] == "" {
			m = append(m, n)
		}
	}
	return m
}

func (a *Actuator) dispatch(ctx context.Context, d *decision, p *Policy) Outcome {
	if m := missing(d.alert.Labels, requiredLabels(p.Action)); len(m) > 0 {
		return Outcome{Result: ResultRejected, Code: 422, Detail: fmt.Sprintf("policy %s (%s) needs labels %s on the alert", p.Name, p.Action, strings.Join(m, ", "))}
	}
	d.object = objectOf(p.Action, d.alert.Labels)
	if !a.lock(d.object) {
		return Outcome{Result: ResultBusy, Code: 503, Detail: "another alert is acting on " + d.object + " right now"}
	}
	defer a.unlock(d.object)
	switch p.Action {
	case ActionScaleGroup:
		return a.scaleGroup(ctx, d, p)
	case ActionMigrate:
		return a.migrate(ctx, d, p)
	case ActionScalePool:
		return a.scalePool(ctx, d, p)
	}
	return Outcome{Result: ResultRejected, Code: 422, Detail: "unknown action " + p.Action}
}

func (a *Actuator) lock(obj string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.busy[obj] {
		return false
	}
	a.busy[obj] = true
	return true
}

func (a *Actuator) unlock(obj string) {
	a.mu.Lock()
	delete(a.busy, obj)
	a.mu.Unlock()
}

// budgetKey is the state variable holding the times of the last hour's
// actions: the global max_actions_per_hour survives restarts and is shared
// by replicas, as the rest of the durable state is.
const budgetKey = "budget/actions"

// reserve takes one action from the hourly budget, recorded in the state
// store before the action runs; release gives it back when the action did
// not happen. The token is the recorded time, to release exactly it.
func (a *Actuator) reserve(ctx context.Context) (okay bool, why string, token int64, err error) {
	limit := a.cur().cfg.Global.MaxActionsPerHour
	if limit == 0 {
		limit = 60
	}
	now := a.o.Now()
	a.budgetMu.Lock()
	defer a.budgetMu.Unlock()
	times, err := a.loadBudget(ctx, now)
	if err != nil {
		return false, "", 0, err
	}
	if len(times) >= limit {
		return false, fmt.Sprintf("global rate limit: %d actions in the last hour (max_actions_per_hour %d)", len(times), limit), 0, nil
	}
	token = now.UnixNano()
	for slices.Contains(times, token) {
		token++
	}
	if err := a.saveBudget(ctx, append(times, token)); err != nil {
		return false, "", 0, err
	}
	return true, "", token, nil
}

func (a *Actuator) loadBudget(ctx context.Context, now time.Time) ([]int64, error) {
	items, err := a.cur().state.Get(ctx, budgetKey)
	if err != nil {
		return nil, fmt.Errorf("read the action budget (max_actions_per_hour): %w", err)
	}
	var times []int64
	for _, f := range strings.Split(items["times"], ",") {
		if ns, err := strconv.ParseInt(f, 10, 64); err == nil && now.Sub(time.Unix(0, ns)) < time.Hour {
			times = append(times, ns)
		}
	}
	return times, nil
}

func (a *Actuator) saveBudget(ctx context.Context, times []int64) error {
	f := make([]string, len(times))
	for i, t := range times {
		f[i] = strconv.FormatInt(t, 10)
	}
	if err := a.cur().state.Put(ctx, budgetKey, map[string]string{"times": strings.Join(f, ",")}); err != nil {
		return fmt.Errorf("record the action in the budget (max_actions_per_hour): %w", err)
	}
	return nil
}

// maxSeen bounds the memory of handled alerts; past it a tenth is
// forgotten (scale_group still finds its own actions in Nomad's scaling
// events, so those never repeat).
const maxSeen = 100000

// remember marks an alert key as decided, forgetting expired keys at most
// once a minute so a flood of alerts costs O(1) each.
func (a *Actuator) remember(key string) {
	now := a.o.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen[key] = now
	if now.Sub(a.pruned) < time.Minute && len(a.seen) <= maxSeen {
		return
	}
	a.pruned = now
	ttl := a.cur().cfg.Global.DedupeFor.D(24 * time.Hour)
	for k, t := range a.seen {
		if now.Sub(t) > ttl {
			delete(a.seen, k)
		}
	}
	if len(a.seen) > maxSeen {
		// A flood past the cap: forget a tenth (map order is random), so
		// the cost stays amortised O(1).
		for k := range a.seen {
			if len(a.seen) <= maxSeen*9/10 {
				break
			}
			delete(a.seen, k)
		}
	}
}

func (a *Actuator) release(ctx context.Context, token int64) {
	a.budgetMu.Lock()
	defer a.budgetMu.Unlock()
	// The action did not happen: give its slot back, even if the request
	// that wanted it was cancelled meanwhile.
	ctx = context.WithoutCancel(ctx)
	times, err := a.loadBudget(ctx, a.o.Now())
	if err == nil {
		if i := slices.Index(times, token); i >= 0 {
			err = a.saveBudget(ctx, slices.Delete(times, i, i+1))
		}
	}
	if err != nil {
		a.o.Log.Warn("an action that did not happen still counts against max_actions_per_hour for an hour", "err", err)
	}
}

// nomadFailed turns a Nomad error into an outcome: 503 when retrying may
// help, 422 when Nomad says the alert names something wrong.
func (a *Actuator) nomadFailed(d *decision, err error) Outcome {
	a.o.Metrics.NomadErrors.Inc()
	d.nomad = err.Error()
	var ne *NomadError
	if errors.As(err, &ne) && !ne.Retryable() {
		detail := err.Error()
		if ne.Status == http.StatusNotFound && !strings.Contains(detail, "target works only") {
			// Say what to look at: the alert names something Nomad lacks.
			// The hint goes first: the rest may be cut short.
			switch d.action {
			case ActionScaleGroup:
				detail = "Nomad has no such job; check the alert's namespace, job and task_group labels (the rule's by-clause) against nomad job status: " + detail
			case ActionMigrate:
				detail = "Nomad has no such node; check the alert's node_id label against nomad node status: " + detail
			case ActionScalePool:
				detail = "check the alert's node_pool label against nomad node pool list: " + detail
			}
		}
		return Outcome{Result: ResultRejected, Code: 422, Detail: detail}
	}
	return Outcome{Result: ResultError, Code: 503, Detail: err.Error()}
}

// Bounds on what one alert may put into a log line or a response: label
// values come from whoever can post alerts, and one 900 KB value once made
// megabytes of logs.
const (
	maxLabelBytes  = 256
	maxDetailBytes = 2048
)

// clip shortens s to at most n bytes (on a rune boundary), saying how long
// it was.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

func clipLabels(l template.KV) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[clip(k, maxLabelBytes)] = clip(v, maxLabelBytes)
	}
	return out
}

func (a *Actuator) readScalar(ctx context.Context, d *decision, q string) (float64, error) {
	d.query = q
	s, err := a.o.Forecasts.Query(ctx, q, a.o.Now())
	if err != nil {
		return 0, err
	}
	v, err := scalar(q, s)
	if err != nil {
		return 0, err
	}
	d.forecast = &v
	return v, nil
}

func direction(labels template.KV) planner.Direction {
	if strings.Contains(labels["alertname"], "Surplus") {
		return planner.In
	}
	return planner.Out
}

func (a *Actuator) scaleGroup(ctx context.Context, d *decision, p *Policy) Outcome {
	l := d.alert.Labels
	ns, job, tg := l["namespace"], l["job"], l["task_group"]
	st, err := a.o.Nomad.ScaleStatus(ctx, ns, job)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	g, found := st.TaskGroups[tg]
	if !found {
		return Outcome{Result: ResultRejected, Code: 422, Detail: fmt.Sprintf("job %s/%s has no task group %q", ns, job, tg)}
	}
	state := planner.GroupState{Namespace: ns, Job: job, Group: tg, Count: g.Desired}
	for _, ev := range g.Events {
		// Our own earlier action for this very alert: done already, even if
		// this process restarted since. A step that max_step held short of
		// the forecast is not done: the next one is planned (and meets the
		// cooldown that step started).
		if k, _ := ev.Meta["fleetcast_alert_key"].(string); k == d.actKey && !ev.Error && ev.Meta["fleetcast_held"] != true {
			return ok(ResultDuplicate, "Nomad's scaling events already hold this alert's action")
		}
		if ev.Error || ev.Count == nil {
			continue
		}
		if t := time.Unix(0, int64(ev.Time)); t.After(state.LastChange) {
			state.LastChange = t
		}
	}
	sg := p.ScaleGroup
	f := planner.Forecast{}
	if sg.query != nil {
		q, err := render(sg.query, l)
		if err != nil {
			return Outcome{Result: ResultRejected, Code: 422, Detail: err.Error()}
		}
		v, err := a.readScalar(ctx, d, q)
		if err != nil {
			return Outcome{Result: ResultForecastError, Code: 503, Detail: err.Error()}
		}
		f = planner.Forecast{Query: q, Value: v}
	}
	pol := sg.planner()
	// Nomad refuses counts outside the group's own scaling block, so the
	// policy's bounds narrow to it.
	if j, err := a.o.Nomad.Job(ctx, ns, job); err != nil {
		return a.nomadFailed(d, err)
	} else if lo, hi, found := groupScaling(j, tg); found {
		if lo != nil && int(*lo) > pol.Min {
			pol.Min = int(*lo)
		}
		if hi != nil && int(*hi) < pol.Max {
			pol.Max = int(*hi)
		}
	}
	plan, err := planner.PlanScaleGroup(state, pol, f, direction(l), d.esc, a.o.Now())
	if err != nil {
		return Outcome{Result: ResultRejected, Code: 422, Detail: err.Error()}
	}
	d.plan = plan
	a.o.Metrics.Cooldown.WithLabelValues(ns, job, tg).Set(plan.CooldownRemaining.Seconds())
	if plan.Noop {
		if plan.CooldownRemaining > 0 {
			return ok(ResultCooldown, plan.Reason)
		}
		return ok(ResultNoop, plan.Reason)
	}
	return a.act(ctx, d, plan.Reason, func() Outcome {
		meta := map[string]any{
			"fleetcast_alert": l["alertname"], "fleetcast_alert_key": d.actKey, "fleetcast_policy": p.Name,
			"fleetcast_query": f.Query, "fleetcast_forecast": f.Value, "fleetcast_wanted": plan.Wanted,
		}
		if d.rung != nil {
			meta["fleetcast_escalation_rung"] = *d.rung
		}
		if plan.Held {
			meta["fleetcast_held"] = true
		}
		msg := "fleetcast: " + plan.Reason
		deadline := a.o.Now().Add(a.cur().cfg.Global.DeploymentRetryFor.D(30 * time.Second))
		if !d.alert.EndsAt.IsZero() && d.alert.EndsAt.Before(deadline) {
			deadline = d.alert.EndsAt
		}
		wait := time.Second
		// Nomad before 1.8.2 ignores the job modify index on a scale; then
		// the actuator reads the job again right before scaling, and reads
		// its own scaling event after, to see a change it raced with.
		guarded := a.o.NomadVersion.AtLeast(nomadver.ScaleIndexGuard)
		for attempt := 1; ; attempt++ {
			if !guarded {
				if err := a.recheckJob(ctx, ns, job, tg, st.JobModifyIndex, plan.From); err != nil {
					return a.nomadFailed(d, err)
				}
			}
			err := a.o.Nomad.Scale(ctx, ns, job, tg, plan.To, msg, meta, st.JobModifyIndex)
			if err == nil {
				d.held = plan.Held
				d.nomad = fmt.Sprintf("scaled %s/%s/%s to %d (attempt %d)", ns, job, tg, plan.To, attempt)
				if !guarded {
					a.checkOverwrite(ctx, d, ns, job, tg, plan.From)
				}
				a.o.Metrics.LastAction.WithLabelValues(ActionScaleGroup, ns, job, tg, "", "").Set(float64(a.o.Now().Unix()))
				return ok(ResultActed, plan.Reason)
			}
			if !errors.Is(err, ErrDeploymentActive) {
				return a.nomadFailed(d, err)
			}
			if a.o.Now().Add(wait).After(deadline) {
				d.nomad = err.Error()
				return Outcome{Result: ResultDeploymentBlocked, Code: 503, Detail: fmt.Sprintf("deployment still active after %d attempts; giving up until Alertmanager retries", attempt)}
			}
			a.o.Audit.Info("waiting for deployment", "key", clip(d.key, maxDetailBytes), "object", clip(d.object, maxDetailBytes), "attempt", attempt, "wait", wait, "nomad", err.Error())
			if a.o.Sleep(ctx, wait) != nil {
				return Outcome{Result: ResultDeploymentBlocked, Code: 503, Detail: "cancelled while waiting for a deployment"}
			}
			wait = min(wait*2, 10*time.Second)
		}
	})
}

// recheckJob reads the job's scale status again just before a scale, for
// servers that do not enforce the job modify index: a change since the
// decision read it (an operator's scale, a job update) makes the decision
// stale, and the alert is retried from fresh state (503).
func (a *Actuator) recheckJob(ctx context.Context, ns, job, tg string, index uint64, count int) error {
	cur, err := a.o.Nomad.ScaleStatus(ctx, ns, job)
	if err != nil {
		return err
	}
	if g := cur.TaskGroups[tg]; cur.JobModifyIndex != index || g.Desired != count {
		return &NomadError{Op: "scale " + ns + "/" + job + "/" + tg, Status: http.StatusConflict,
			Err: fmt.Errorf("%w: job modify index %d -> %d, count %d -> %d (checked by fleetcast: this Nomad does not guard scales by index)",
				ErrJobChanged, index, cur.JobModifyIndex, count, g.Desired)}
	}
	return nil
}

// checkOverwrite reads back the scaling event of the scale just made: its
// previous count is what Nomad replaced. If that is not the count the plan
// started from, a change landed between the recheck and the scale, and
// this scale overwrote it; that cannot be undone safely, so it is said
// loudly (audit WARN, detail) for an operator to look at.
func (a *Actuator) checkOverwrite(ctx context.Context, d *decision, ns, job, tg string, from int) {
	st, err := a.o.Nomad.ScaleStatus(ctx, ns, job)
	if err != nil {
		d.nomad += "; could not read the scaling event back to check for a concurrent change: " + err.Error()
		return
	}
	for _, ev := range st.TaskGroups[tg].Events {
		if k, _ := ev.Meta["fleetcast_alert_key"].(string); k != d.actKey || ev.Error {
			continue
		}
		if int(ev.PreviousCount) != from {
			d.overwrote = true
			d.nomad += fmt.Sprintf("; CONCURRENT CHANGE: Nomad replaced a count of %d, not the %d this scale was planned from: another change landed meanwhile and was overwritten", ev.PreviousCount, from)
		}
		return
	}
}

// act applies the global limits, then runs do unless in dry run.
func (a *Actuator) act(ctx context.Context, d *decision, reason string, do func() Outcome) Outcome {
	okay, why, token, err := a.reserve(ctx)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	if !okay {
		return Outcome{Result: ResultRateLimited, Code: 429, Detail: why}
	}
	if a.cur().cfg.Global.DryRun {
		a.release(ctx, token)
		return ok(ResultDryRun, "dry run, would: "+reason)
	}
	// The intent goes to the audit log before Nomad is touched, so an
	// action whose outcome never gets written (the process killed while
	// Nomad was slow) still has a line saying what was attempted.
	a.o.Audit.LogAttrs(context.Background(), slog.LevelInfo, "intent", slog.String("key", clip(d.key, maxDetailBytes)), slog.String("action", d.action),
		slog.String("object", clip(d.object, maxDetailBytes)), slog.String("reason", clip(reason, maxDetailBytes)), slog.Any("plan", d.plan))
	id := a.begin(d)
	out := do()
	a.end(id)
	if out.Result != ResultActed {
		a.release(ctx, token)
	}
	return out
}

// inflight is an action Nomad is carrying out right now.
type inflight struct {
	Key, Action, Object string
	Since               time.Time
}

func (a *Actuator) begin(d *decision) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nextID++
	a.inflight[a.nextID] = inflight{Key: clip(d.key, maxDetailBytes), Action: d.action, Object: clip(d.object, maxDetailBytes), Since: time.Now()}
	return a.nextID
}

func (a *Actuator) end(id int64) {
	a.mu.Lock()
	delete(a.inflight, id)
	if len(a.inflight) == 0 {
		a.idle.Broadcast()
	}
	a.mu.Unlock()
}

// Drain waits until no action is in flight or ctx ends, and returns how
// many were still running then; each of those gets an audit ERROR line
// (their intent is in the audit log, their outcome is not). The caller
// stops taking new alerts first.
func (a *Actuator) Drain(ctx context.Context) int {
	stop := context.AfterFunc(ctx, func() {
		a.mu.Lock()
		a.idle.Broadcast()
		a.mu.Unlock()
	})
	defer stop()
	a.mu.Lock()
	for len(a.inflight) > 0 && ctx.Err() == nil {
		a.idle.Wait()
	}
	left := make([]inflight, 0, len(a.inflight))
	for _, f := range a.inflight {
		left = append(left, f)
	}
	a.mu.Unlock()
	for _, f := range left {
		a.o.Audit.Error("shutting down with an action in flight: its outcome is unknown, check Nomad", "key", f.Key, "action", f.Action,
			"object", f.Object, "running_seconds", time.Since(f.Since).Seconds())
	}
	return len(left)
}

func (a *Actuator) escalate(ctx context.Context, d *decision, p *Policy) Outcome {
	l := d.alert.Labels
	// The object the anomaly is about decides which ladder action applies.
	obj := objectOf(ActionEscalate, l)
	if obj == "" {
		return Outcome{Result: ResultRejected, Code: 422, Detail: "escalate needs task_group (with namespace, job), node_id or node_pool on the alert"}
	}
	now := a.o.Now()
	skey := "escalation/" + obj
	prev, err := a.cur().state.Get(ctx, skey)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	var hist planner.Escalations
	for _, f := range strings.Split(prev["times"], ",") {
		if sec, err := strconv.ParseInt(f, 10, 64); err == nil {
			hist = append(hist, time.Unix(sec, 0))
		}
	}
	// The same firing, repeated by Alertmanager, climbs again only after the
	// interval: the last step gets time to show its effect.
	if soon, why := hist.TooSoon(now, p.Escalate.Interval.D(5*time.Minute)); soon && prev["last_key"] == d.key {
		return ok(ResultDuplicate, "this firing "+why)
	}
	var last int64
	if l := hist.Last(); !l.IsZero() {
		last = l.Unix()
	}
	// One step of this firing: a retry of it (503) is recognised in Nomad,
	// the next step is not mistaken for it.
	d.actKey = d.key + "#after-" + strconv.FormatInt(last, 10)
	rung, i, okay, why := hist.Next(now, p.Escalate.Ladder, p.Escalate.MaxPerHour)
	d.object = obj
	if !okay {
		return ok(ResultCapped, why)
	}
	// A rung whose action cannot apply to this object (a migrate rung for a
	// task group, a scale_group rung for a node) falls back to the highest
	// lower rung that can.
	for len(missing(l, requiredLabels(rung.Action))) > 0 {
		if i == 0 {
			return Outcome{Result: ResultRejected, Code: 422, Detail: fmt.Sprintf("no rung of the ladder applies to %s", obj)}
		}
		i--
		rung = p.Escalate.Ladder[i]
	}
	d.rung = &i
	d.esc = planner.Escalation{StepFactor: rung.StepFactor, BypassCooldown: rung.BypassCooldown}
	cfg := a.cur().cfg
	ti, found := cfg.byName[p.Escalate.Policies[rung.Action]]
	if !found {
		return Outcome{Result: ResultError, Code: 503, Detail: "the config was reloaded during this decision: retry"}
	}
	target := &cfg.Policies[ti]
	a.o.Log.Warn("ESCALATING: reality left the forecast band despite a recent action", "object", clip(obj, maxDetailBytes), "rung", i, "action", rung.Action,
		"step_factor", rung.StepFactor, "bypass_cooldown", rung.BypassCooldown, "policy", target.Name, "alert", clip(l["alertname"], maxLabelBytes))
	out := a.dispatch(ctx, d, target)
	d.action = ActionEscalate + ":" + rung.Action
	if out.Result == ResultActed || out.Result == ResultDryRun {
		var times []string
		for _, t := range append(hist.LastHour(now), now) {
			times = append(times, strconv.FormatInt(t.Unix(), 10))
		}
		if err := a.cur().state.Put(ctx, skey, map[string]string{"times": strings.Join(times, ","), "last_key": d.key}); err != nil {
			a.o.Log.Warn("escalation acted but its history was not saved: the hourly cap may undercount", "object", clip(obj, maxDetailBytes), "err", err)
		}
	}
	out.Detail = fmt.Sprintf("escalation rung %d (%s): %s", i, rung.Action, out.Detail)
	return out
}

// groupScaling returns the min and max of a task group's scaling block.
func groupScaling(j *api.Job, group string) (lo, hi *int64, found bool) {
	if j == nil {
		return nil, nil, false
	}
	for _, g := range j.TaskGroups {
		if g != nil && g.Name != nil && *g.Name == group && g.Scaling != nil {
			return g.Scaling.Min, g.Scaling.Max, true
		}
	}
	return nil, nil, false
}

// objectOf names the object an alert is about, the key of the per-object
// lock and of the escalation history.
func objectOf(action string, l template.KV) string {
	switch action {
	case ActionScaleGroup:
		return "group/" + l["namespace"] + "/" + l["job"] + "/" + l["task_group"]
	case ActionMigrate:
		return "node/" + l["node_id"]
	case ActionScalePool:
		return "pool/" + l["node_pool"]
	case ActionEscalate:
		switch {
		case l["task_group"] != "":
			return objectOf(ActionScaleGroup, l)
		case l["node_id"] != "":
			return objectOf(ActionMigrate, l)
		case l["node_pool"] != "":
			return objectOf(ActionScalePool, l)
		}
	}
	return ""
}
