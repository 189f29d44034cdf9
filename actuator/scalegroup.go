package actuator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/fleetcast/fleetcast/actuator/planner"
	"github.com/fleetcast/fleetcast/internal/nomadver"
)

// GroupScaler is what the scale_group action asks of Nomad: a job's groups
// with their counts and scaling events, the job itself (its groups'
// scaling blocks bound the count; its node pool and its groups' asks say
// what the pool can place), the pool's nodes and their live allocations,
// listed once (a scale-out waits for nodes, readRoom), and a group's new
// count.
type GroupScaler interface {
	ScaleStatus(ctx context.Context, namespace, job string) (*api.JobScaleStatusResponse, error)
	// Scale sets a group's count; a non-zero jobModifyIndex makes Nomad
	// refuse if the job changed since it was read (ErrJobChanged).
	Scale(ctx context.Context, namespace, job, group string, count int, message string, meta map[string]any, jobModifyIndex uint64) error
	Job(ctx context.Context, namespace, job string) (*api.Job, error)
	NodeReader
	AllocLister
}

func (a *Actuator) scaleGroup(ctx context.Context, d *decision, p *Policy) Outcome {
	l := d.alert.Labels
	ns, job, tg := l["namespace"], l["job"], l["task_group"]
	st, err := a.groups.ScaleStatus(ctx, ns, job)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	g, found := st.TaskGroups[tg]
	if !found {
		return Outcome{Result: ResultRejected, Code: 422, Detail: fmt.Sprintf("job %s/%s has no task group %q", ns, job, tg)}
	}
	state := planner.GroupState{Namespace: ns, Job: job, Group: tg, Count: g.Desired}
	latest, done := latestScaling(g.Events, d.actKey)
	if done {
		return ok(ResultDuplicate, "Nomad's scaling events already hold this alert's action")
	}
	if latest != nil {
		state.LastChange = time.Unix(0, int64(latest.Time))
	}
	// A scale-out that waited for nodes, as the group's newest scaling
	// event records it: its catch-up has no cooldown of its own, and the
	// cooldown runs from the decision (planner.HeldScaleOut).
	held := heldFrom(latest, d.actKey)
	state.LastChange = held.CooldownFrom(state.LastChange)
	sg := p.ScaleGroup
	f, bad := a.forecastFor(ctx, d, sg.query, l)
	if bad != nil {
		return *bad
	}
	pol := sg.planner()
	// Nomad refuses counts outside the group's own scaling block, so the
	// policy's bounds narrow to it.
	j, err := a.groups.Job(ctx, ns, job)
	if err != nil {
		return a.nomadFailed(d, err)
	}
	if lo, hi, found := groupScaling(j, tg); found {
		if lo != nil && int(*lo) > pol.Min {
			pol.Min = int(*lo)
		}
		if hi != nil && int(*hi) < pol.Max {
			pol.Max = int(*hi)
		}
	}
	plan, err := planner.PlanScaleGroup(state, pol, f, d.dir, d.esc, a.o.Now())
	if err != nil {
		return Outcome{Result: ResultRejected, Code: 422, Detail: err.Error()}
	}
	a.o.Metrics.Cooldown.WithLabelValues(ns, job, tg).Set(plan.CooldownRemaining.Seconds())
	// A scale-out asks for no more allocations than the pool's ready nodes
	// can place (planner.WaitForNodes, as the closed-loop benchmark does):
	// the rest would wait unplaced and serve nothing. The pool's own alert
	// and scale_pool policy add the nodes; a later notification of this
	// firing (not remembered while it waits) takes the rest.
	var waiting, catchUp bool
	scaleOut := !plan.Noop && plan.To > plan.From
	if scaleOut || (d.dir == planner.Out && held.Waiting(state.Count)) {
		room, err := a.readRoom(ctx, j, ns, job, tg)
		if err != nil {
			return a.nomadFailed(d, err)
		}
		if room.known {
			d.room = &room
			now := a.o.Now()
			if scaleOut {
				plan = held.Hold(plan, room.Placeable, now)
			} else if want := min(max(plan.Wanted, pol.Min), pol.Max); want > state.Count {
				// The rest of this firing's decision, as nodes became ready.
				if c := held.CatchUp(state.Count, want, room.Placeable, now); !c.Noop {
					plan, catchUp = c, true
				} else if held.Waiting(state.Count) {
					plan.Reason = fmt.Sprintf("scale-out to %d decided at %s waits for nodes: the ready nodes place %d",
						held.Goal, held.DecidedAt.UTC().Format(time.RFC3339), max(room.Placeable, state.Count))
				}
			}
			if waiting = held.Waiting(plan.To); waiting {
				plan.Reason += "; " + a.poolNote(room.Pool)
			}
		}
	}
	d.plan = plan
	if plan.Noop {
		switch {
		case waiting:
			return ok(ResultWaitingForNodes, plan.Reason)
		case plan.CooldownRemaining > 0:
			return ok(ResultCooldown, plan.Reason)
		}
		return ok(ResultNoop, plan.Reason)
	}
	return a.act(ctx, d, plan.Reason, func() Outcome {
		return a.scaleRetrying(ctx, d, j, tg, plan, scaleMeta(d, p, f, plan, held, waiting, catchUp), st.JobModifyIndex)
	})
}

// latestScaling returns the group's newest successful scaling event (nil
// if none), and whether one of its events is this very alert's action
// already done (done), even if this process restarted since. A step that
// max_step held short of the forecast is not done: the next one is
// planned (and meets the cooldown that step started).
func latestScaling(events []api.ScalingEvent, actKey string) (latest *api.ScalingEvent, done bool) {
	for i, ev := range events {
		if k, _ := ev.Meta["fleetcast_alert_key"].(string); k == actKey && !ev.Error && ev.Meta["fleetcast_held"] != true {
			return nil, true
		}
		if ev.Error || ev.Count == nil {
			continue
		}
		if latest == nil || ev.Time > latest.Time {
			latest = &events[i]
		}
	}
	return latest, false
}

// scaleMeta is what a scale records in Nomad's scaling event: the alert
// and its key (so a retry or a restarted actuator sees it done), the
// policy, the forecast, and for a scale-out that waits for nodes, when it
// was decided and its goal (heldFrom reads them back).
func scaleMeta(d *decision, p *Policy, f planner.Forecast, plan planner.CountPlan, held planner.HeldScaleOut, waiting, catchUp bool) map[string]any {
	meta := map[string]any{
		"fleetcast_alert": d.alert.Labels["alertname"], "fleetcast_alert_key": d.actKey, "fleetcast_policy": p.Name,
		"fleetcast_query": f.Query, "fleetcast_forecast": f.Value, "fleetcast_wanted": plan.Wanted,
	}
	if d.rung != nil {
		meta["fleetcast_escalation_rung"] = *d.rung
	}
	if plan.Held {
		meta["fleetcast_held"] = true
	}
	if waiting || catchUp {
		meta["fleetcast_decided_at"] = held.DecidedAt.UTC().Format(time.RFC3339Nano)
	}
	if waiting {
		meta["fleetcast_goal"] = held.Goal
	}
	if catchUp {
		meta["fleetcast_catch_up"] = true
	}
	return meta
}

// scaleRetrying sets task group tg of job j to plan.To, retrying with
// backoff while a deployment blocks it, until the deployment retry period
// or the alert's end. index is the job modify index the decision read.
func (a *Actuator) scaleRetrying(ctx context.Context, d *decision, j *api.Job, tg string, plan planner.CountPlan, meta map[string]any, index uint64) Outcome {
	ns, job := d.alert.Labels["namespace"], d.alert.Labels["job"]
	msg := "fleetcast: " + plan.Reason
	deadline := a.o.Now().Add(durOr(a.cur().cfg.Global.DeploymentRetryFor, defaultDeploymentRetry))
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
			if err := a.recheckJob(ctx, ns, job, tg, index, plan.From); err != nil {
				return a.nomadFailed(d, err)
			}
		}
		err := a.groups.Scale(ctx, ns, job, tg, plan.To, msg, meta, index)
		if err == nil {
			d.held = plan.Held
			d.nomad = fmt.Sprintf("scaled %s/%s/%s to %d (attempt %d)", ns, job, tg, plan.To, attempt)
			if !guarded {
				a.checkOverwrite(ctx, d, ns, job, tg, plan.From)
			}
			// The job's pool too: the allocations added or stopped step the
			// series of nodes there (node_pool:fleetcast_actuator_last_placement_timestamp_seconds:max).
			a.o.Metrics.LastAction.WithLabelValues(ActionScaleGroup, ns, job, tg, "", jobPool(j)).Set(float64(a.o.Now().Unix()))
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
}

// recheckJob reads the job's scale status again just before a scale, for
// servers that do not enforce the job modify index: a change since the
// decision read it (an operator's scale, a job update) makes the decision
// stale, and the alert is retried from fresh state (503).
func (a *Actuator) recheckJob(ctx context.Context, ns, job, tg string, index uint64, count int) error {
	cur, err := a.groups.ScaleStatus(ctx, ns, job)
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
	st, err := a.groups.ScaleStatus(ctx, ns, job)
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

// groupScaling returns the min and max of a task group's scaling block.
func groupScaling(j *api.Job, group string) (lo, hi *int64, found bool) {
	if g := taskGroup(j, group); g != nil && g.Scaling != nil {
		return g.Scaling.Min, g.Scaling.Max, true
	}
	return nil, nil, false
}

// taskGroup is a job's task group of that name (Nomad keeps the names
// unique), or nil.
func taskGroup(j *api.Job, name string) *api.TaskGroup {
	if j == nil {
		return nil
	}
	for _, g := range j.TaskGroups {
		if g != nil && g.Name != nil && *g.Name == name {
			return g
		}
	}
	return nil
}

// heldFrom reads a scale-out waiting for nodes back from the group's newest
// scaling event: the goal while it is this firing's (key) and still waits,
// and when it was decided and last caught up on, whichever firing it was,
// since the group's cooldown runs from a decision, not from its catch-up.
func heldFrom(ev *api.ScalingEvent, key string) planner.HeldScaleOut {
	var h planner.HeldScaleOut
	if ev == nil {
		return h
	}
	s, _ := ev.Meta["fleetcast_decided_at"].(string)
	decided, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return h
	}
	h.DecidedAt = decided
	if ev.Meta["fleetcast_catch_up"] == true {
		h.CaughtUpAt = time.Unix(0, int64(ev.Time))
	}
	if k, _ := ev.Meta["fleetcast_alert_key"].(string); k == key {
		// JSON gives numbers back as float64; the in-memory fakes keep ints.
		switch g := ev.Meta["fleetcast_goal"].(type) {
		case float64:
			h.Goal = int(g)
		case int:
			h.Goal = g
		}
	}
	return h
}
