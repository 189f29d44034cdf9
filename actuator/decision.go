package actuator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/actuator/planner"
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
	// ResultWaitingForNodes: a scale-out found no room on the pool's ready
	// nodes for even one more allocation; the next notification plans again.
	ResultWaitingForNodes = "waiting_for_nodes"
	// ResultNoRung: an escalation whose object no rung of the ladder applies
	// to (a ladder without a migrate or scale_pool rung, for a node). It
	// answers 200 so Alertmanager does not send it again at every
	// group_interval, once per firing (its repeats are duplicates).
	ResultNoRung = "no_rung"
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

// memoKey is the key a.seen remembers a decision's final outcome under, so
// that Alertmanager's repeats of the firing are answered duplicate: the
// alert key. An escalation's steps are kept per object in the state store
// instead (a persisting firing climbs the next rung after the interval);
// only its refusals are remembered here, under the config that refused
// them, so that a reload decides again.
func (a *Actuator) memoKey(d *decision) string {
	if d.policy != nil && d.policy.Action == ActionEscalate {
		return "refused/" + strconv.FormatUint(a.cur().gen, 10) + "/" + d.key
	}
	return d.key
}

// remembers says whether an outcome is remembered under memoKey: a final
// one, but not a step max_step held short of the forecast (its next repeat
// takes the next step); for an escalation, a refusal (refusedEscalation).
func (d *decision) remembers(out Outcome) bool {
	if d.policy != nil && d.policy.Action == ActionEscalate {
		return refusedEscalation(out)
	}
	return out.final() && !(out.Result == ResultActed && d.held)
}

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
	actKey string
	// memo is the key this decision's final outcome is remembered under
	// (memoKey); empty until a policy matches.
	memo     string
	policy   *Policy
	action   string
	object   string
	query    string
	forecast *float64
	plan     any
	nomad    string
	rung     *int
	esc      planner.Escalation
	// dir is the way a scale_group or scale_pool alert moves capacity.
	dir planner.Direction
	// held: the action took a step but max_step kept it short of the
	// forecast, so the firing is not done with; its next repeat after the
	// cooldown takes the next step.
	held bool
	// room: what the group's node pool could place when a scale-out was
	// planned (nil when not read).
	room *groupRoom
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
	if d.memo != "" && d.remembers(out) {
		a.remember(d.memo)
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
	d.memo = a.memoKey(d)
	a.mu.Lock()
	at, dup := a.seen[d.memo]
	a.mu.Unlock()
	if dup {
		if p.Action == ActionEscalate {
			return ok(ResultDuplicate, fmt.Sprintf("this firing was refused at %s (fingerprint+startsAt); a config reload decides again", at.UTC().Format(time.RFC3339)))
		}
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
	if p.Action == ActionScaleGroup || p.Action == ActionScalePool {
		dir, err := a.scaleDirection(d)
		if err != nil {
			return Outcome{Result: ResultRejected, Code: 422, Detail: err.Error()}
		}
		d.dir = dir
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

// forecastFor renders a policy's query template with the alert's labels
// and reads its value; a nil template is no forecast. A template the
// labels cannot fill is the alert's fault (422); a query that fails is
// Prometheus's (503).
func (a *Actuator) forecastFor(ctx context.Context, d *decision, t *texttemplate.Template, l template.KV) (planner.Forecast, *Outcome) {
	if t == nil {
		return planner.Forecast{}, nil
	}
	q, err := render(t, l)
	if err != nil {
		return planner.Forecast{}, &Outcome{Result: ResultRejected, Code: 422, Detail: err.Error()}
	}
	v, err := a.readScalar(ctx, d, q)
	if err != nil {
		return planner.Forecast{}, &Outcome{Result: ResultForecastError, Code: 503, Detail: err.Error()}
	}
	return planner.Forecast{Query: q, Value: v}, nil
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
