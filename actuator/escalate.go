package actuator

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fleetcast/fleetcast/actuator/planner"
)

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
