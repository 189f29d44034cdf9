// Package loopbench is fleetcast's closed-loop benchmark: it replays a demand
// trace on the simulated Nomad fleet in virtual time (weeks in seconds) and
// lets a policy act on it step by step, either fleetcast's predictive policy
// (the forecast engine the exporter runs and the planner the actuator runs)
// or the reactive baseline users run today (nomad-autoscaler's target-value
// strategy). It reports what each policy cost and what shortages it let
// through, so the two can be compared on equal terms.
package loopbench

import (
	"fmt"
	"math"
	"time"
)

// Result is what one policy did on one trace (or, summed, on many).
type Result struct {
	// Dataset names the family of traces (nab, cluster); Series the one
	// series of a per-series result, empty in a sum.
	Dataset string `json:"dataset,omitempty"`
	Series  string `json:"series_name,omitempty"`
	Policy  string `json:"policy"`
	// OverloadMinutes: minutes the running allocations served less than
	// they could have, the demand capped at what the group's maximum count
	// serves (the avoidable overload).
	OverloadMinutes float64 `json:"overload_minutes"`
	// UnservableMinutes: minutes the demand exceeded what the group's
	// maximum count (on the pool's maximum size) could serve; no policy
	// serves them, so they are counted apart.
	UnservableMinutes float64 `json:"unservable_minutes"`
	// UnplacedMinutes: minutes the job had allocations the scheduler could
	// not place (no node with room), so demand waited for nodes.
	UnplacedMinutes float64 `json:"unplaced_minutes"`
	// NodeWaitMinutes: minutes a scale-out the policy decided waited for
	// nodes to boot, the group held at what ready nodes place (predictive
	// and oracle; see planner.WaitForNodes). It is the wait reactive
	// leaves as unplaced allocations, kept out of Nomad's queue: the pool
	// did not lead the group by enough.
	NodeWaitMinutes float64 `json:"node_wait_minutes"`
	// CapacityHours: node-hours paid for (ready and booting nodes).
	CapacityHours float64 `json:"capacity_hours"`
	Actions       int     `json:"actions"`
	Migrations    int     `json:"migrations"`

	NSeries        int     `json:"series"`
	ScoredHours    float64 `json:"scored_hours"`
	Fits           int     `json:"forecast_fits,omitempty"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`

	// Filled by Compare for the predictive and oracle rows, against the
	// reactive row of the same dataset (and series):
	// AvoidableRemoved is (reactive - predictive) / (reactive - oracle) of
	// the overload minutes, the share of what foresight could remove that
	// the policy removed (1 for the oracle itself; absent when reactive
	// leaves nothing for the oracle to remove).
	AvoidableRemoved *float64 `json:"avoidable_overload_removed,omitempty"`
	// CapacityToReactive is capacity-hours over reactive's.
	CapacityToReactive *float64 `json:"capacity_hours_to_reactive,omitempty"`

	Log []Action `json:"-"`
}

// WaitedMinutes is the unplaced and the node-wait minutes together: the
// minutes allocations a policy asked for, or decided on and held back,
// waited for nodes. Reactive's are all unplaced; the predictive policy and
// the oracle hold theirs back (planner.WaitForNodes). The target compares
// these, so holding back is no way around it.
func (r Result) WaitedMinutes() float64 { return r.UnplacedMinutes + r.NodeWaitMinutes }

// Add sums o into r.
func (r *Result) Add(o Result) {
	r.OverloadMinutes += o.OverloadMinutes
	r.UnservableMinutes += o.UnservableMinutes
	r.UnplacedMinutes += o.UnplacedMinutes
	r.NodeWaitMinutes += o.NodeWaitMinutes
	r.CapacityHours += o.CapacityHours
	r.Actions += o.Actions
	r.Migrations += o.Migrations
	r.NSeries += o.NSeries
	r.ScoredHours += o.ScoredHours
	r.Fits += o.Fits
	r.ElapsedSeconds += o.ElapsedSeconds
}

// Run drives fleet with policy from start to end in steps of s.Step, and
// scores from scoreFrom on. The fleet replays its demand on its own; the
// policy sees only each step's view.
func Run(fleet Fleet, policy Policy, s Settings, start, scoreFrom, end time.Time) (Result, error) {
	res := Result{Policy: policy.Name(), NSeries: 1}
	servable := s.MaxServable()
	began := time.Now()
	dt := s.Step.Minutes()
	for t := start; !t.After(end); t = t.Add(s.Step) {
		if err := fleet.Advance(t); err != nil {
			return res, fmt.Errorf("advance to %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		v, err := fleet.View()
		if err != nil {
			return res, fmt.Errorf("view at %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		if !t.Before(scoreFrom) {
			if v.Demand > servable*(1+1e-9)+1e-9 {
				res.UnservableMinutes += dt
			}
			if math.Min(v.Demand, servable) > v.Served*(1+1e-9)+1e-9 {
				res.OverloadMinutes += dt
			}
			if v.Queued > 0 && v.Demand > 0 {
				res.UnplacedMinutes += dt
			}
			res.CapacityHours += float64(v.PoolSize) * dt / 60
			res.ScoredHours += dt / 60
		}
		acts, err := policy.Decide(t, v)
		if err != nil {
			return res, fmt.Errorf("%s policy at %s: %w", policy.Name(), t.UTC().Format(time.RFC3339), err)
		}
		if w, ok := policy.(interface{ WaitingForNodes() bool }); ok && w.WaitingForNodes() && !t.Before(scoreFrom) {
			res.NodeWaitMinutes += dt
		}
		for _, a := range acts {
			switch a.Kind {
			case "scale_group":
				err = fleet.ScaleGroup(a.To, a.Reason)
			case "scale_pool":
				err = fleet.ScalePool(a.To, a.Remove, a.Reason)
			default:
				err = fmt.Errorf("unknown action kind %q", a.Kind)
			}
			if err != nil {
				return res, fmt.Errorf("%s at %s: %w", a.Kind, t.UTC().Format(time.RFC3339), err)
			}
			if !t.Before(scoreFrom) {
				res.Actions++
				if a.Kind == "migrate" {
					res.Migrations++
				}
			}
			res.Log = append(res.Log, a)
		}
	}
	if p, ok := policy.(*Predictive); ok {
		res.Fits = p.Fits()
	}
	res.ElapsedSeconds = time.Since(began).Seconds()
	return res, nil
}

func secondsDuration(s int64) time.Duration { return time.Duration(s) * time.Second }

// Compare fills AvoidableRemoved and CapacityToReactive of every
// predictive and oracle result against the reactive result of the same
// dataset and series.
func Compare(rs []Result) {
	type key struct{ dataset, series string }
	react := map[key]*Result{}
	oracle := map[key]*Result{}
	for i := range rs {
		k := key{rs[i].Dataset, rs[i].Series}
		switch rs[i].Policy {
		case "reactive":
			react[k] = &rs[i]
		case "oracle":
			oracle[k] = &rs[i]
		}
	}
	for i := range rs {
		r := &rs[i]
		if r.Policy == "reactive" {
			continue
		}
		k := key{r.Dataset, r.Series}
		re, ok := react[k]
		if !ok {
			continue
		}
		if re.CapacityHours > 0 {
			c := r.CapacityHours / re.CapacityHours
			r.CapacityToReactive = &c
		}
		if o, ok := oracle[k]; ok && re.OverloadMinutes-o.OverloadMinutes > 0 {
			sh := (re.OverloadMinutes - r.OverloadMinutes) / (re.OverloadMinutes - o.OverloadMinutes)
			r.AvoidableRemoved = &sh
		}
	}
}
