// Package loop is fleetcast's closed-loop benchmark: it replays a demand
// trace on the simulated Nomad fleet in virtual time (weeks in seconds) and
// lets a policy act on it step by step, either fleetcast's predictive policy
// (the forecast engine the exporter runs and the planner the actuator runs)
// or the reactive baseline users run today (nomad-autoscaler's target-value
// strategy). It reports what each policy cost and what shortages it let
// through, so the two can be compared on equal terms.
package loop

import (
	"fmt"
	"time"
)

// Result is what one policy did on one trace (or, summed, on many).
type Result struct {
	Policy string `json:"policy"`
	// OverloadMinutes: minutes the job wanted more CPU than its running
	// allocations served.
	OverloadMinutes float64 `json:"overload_minutes"`
	// UnplacedMinutes: minutes the job had allocations the scheduler could
	// not place (no node with room), so demand waited for nodes.
	UnplacedMinutes float64 `json:"unplaced_minutes"`
	// CapacityHours: node-hours paid for (ready and booting nodes).
	CapacityHours float64 `json:"capacity_hours"`
	Actions       int     `json:"actions"`
	Migrations    int     `json:"migrations"`

	Series         int     `json:"series"`
	ScoredHours    float64 `json:"scored_hours"`
	Fits           int     `json:"forecast_fits,omitempty"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`

	Log []Action `json:"-"`
}

// Add sums o into r.
func (r *Result) Add(o Result) {
	r.OverloadMinutes += o.OverloadMinutes
	r.UnplacedMinutes += o.UnplacedMinutes
	r.CapacityHours += o.CapacityHours
	r.Actions += o.Actions
	r.Migrations += o.Migrations
	r.Series += o.Series
	r.ScoredHours += o.ScoredHours
	r.Fits += o.Fits
	r.ElapsedSeconds += o.ElapsedSeconds
}

// Run drives fleet with policy from start to end in steps of s.Step, and
// scores from scoreFrom on. The fleet replays its demand on its own; the
// policy sees only each step's view.
func Run(fleet Fleet, policy Policy, s Settings, start, scoreFrom, end time.Time) (Result, error) {
	res := Result{Policy: policy.Name(), Series: 1}
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
			if v.Demand > v.Served*(1+1e-9)+1e-9 {
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
