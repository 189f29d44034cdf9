package actuator

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetcast/fleetcast/actuator/planner"
)

// escalationKind is one kind of object AnomalyDespiteAction (rules/) names:
// the labels it carries for it and the rung actions that can act on it.
type escalationKind struct {
	name, prefix, labels string
	actions              []string
}

// escalationKinds: a task group grows; a node sheds allocations, then its
// pool grows (when the alert names the pool: Nomad reports the node's pool).
// An alert naming only a pool is no kind of AnomalyDespiteAction today, but
// a rule of one's own may send it.
var (
	kindGroup = escalationKind{"task group", "group/", "namespace, job, task_group", []string{ActionScaleGroup}}
	kindNode  = escalationKind{"node", "node/", "node_id, and node_pool when Nomad reports the node", []string{ActionMigrate, ActionScalePool}}
	kindPool  = escalationKind{"pool", "pool/", "node_pool only", []string{ActionScalePool}}
	// escalationKinds are those the shipped rules send, which the config
	// check warns about.
	escalationKinds = []escalationKind{kindGroup, kindNode}
)

func (k escalationKind) fits(action string) bool { return slices.Contains(k.actions, action) }

// kindOf is the kind of an object objectOf named for an escalation.
func kindOf(obj string) escalationKind {
	for _, k := range []escalationKind{kindGroup, kindNode, kindPool} {
		if strings.HasPrefix(obj, k.prefix) {
			return k
		}
	}
	return escalationKind{}
}

// refusedEscalation says whether an escalation was refused: no object, no
// rung for it, or Nomad says the object does not exist. Such a firing is
// answered duplicate on its repeats, under the same config (memoKey).
func refusedEscalation(out Outcome) bool {
	return out.Result == ResultRejected || out.Result == ResultNoRung
}

// escalate climbs the ladder for one alert, and says a refusal once per
// firing in the operational log (Handle remembers it).
func (a *Actuator) escalate(ctx context.Context, d *decision, p *Policy) Outcome {
	out := a.climb(ctx, d, p)
	if refusedEscalation(out) {
		a.o.Log.Warn("escalation refused: said once per firing, its repeats are duplicates until the config is reloaded", "result", out.Result,
			"object", clip(d.object, maxDetailBytes), "policy", p.Name, "reason", clip(out.Detail, maxDetailBytes), "alert", clip(d.alert.Labels["alertname"], maxLabelBytes),
			"fingerprint", clip(d.alert.Fingerprint, maxLabelBytes))
	}
	return out
}

func (a *Actuator) climb(ctx context.Context, d *decision, p *Policy) Outcome {
	l := d.alert.Labels
	// The object the anomaly is about decides which ladder action applies.
	obj := objectOf(ActionEscalate, l)
	if obj == "" {
		return Outcome{Result: ResultRejected, Code: 422, Detail: "escalate needs task_group (with namespace, job), node_id or node_pool on the alert"}
	}
	// The rungs that can act on this kind of object: the ladder climbs
	// those, in its order (a node skips the task-group rungs before its own).
	kind := kindOf(obj)
	applies := func(r planner.Rung) bool {
		return kind.fits(r.Action) && len(missing(l, requiredLabels(r.Action))) == 0
	}
	rungs := planner.Applicable(p.Escalate.Ladder, applies)
	if len(rungs) == 0 {
		return ok(ResultNoRung, fmt.Sprintf("nothing to escalate: no rung of policy %s's escalate.ladder applies to %s (a %s needs a %s rung)",
			p.Name, obj, kind.name, strings.Join(kind.actions, " or ")))
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
	if soon, why := hist.TooSoon(now, durOr(p.Escalate.Interval, 5*time.Minute)); soon && prev["last_key"] == d.key {
		return ok(ResultDuplicate, "this firing "+why)
	}
	var last int64
	if l := hist.Last(); !l.IsZero() {
		last = l.Unix()
	}
	// One step of this firing: a retry of it (503) is recognised in Nomad,
	// the next step is not mistaken for it.
	d.actKey = d.key + "#after-" + strconv.FormatInt(last, 10)
	rung, i, okay, why := hist.NextAmong(now, p.Escalate.Ladder, rungs, p.Escalate.MaxPerHour)
	if !okay {
		return ok(ResultCapped, why)
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
