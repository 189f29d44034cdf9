// Package planner decides what the actuator should do: fleet state, forecasts
// and policy in, a plan of actions out. It is pure (no HTTP, no Prometheus, no
// Nomad, no clock of its own) so the webhook, the demo and the closed-loop
// benchmark all run exactly the same decisions.
package planner

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Direction says which way an alert asks to move capacity.
type Direction int

const (
	// Out adds capacity: a predicted shortage or saturation.
	Out Direction = iota
	// In removes capacity: a predicted surplus. Only surplus alerts scale in.
	In
)

func (d Direction) String() string {
	if d == In {
		return "in"
	}
	return "out"
}

// Forecast is the value a sizing query returned at decision time. Query is
// empty when the policy has no sizing query; then the plan moves by one step.
type Forecast struct {
	Query string
	// Value is the predicted peak demand, in the same unit as the policy's
	// per-unit capacity (for example CPU MHz, requests per second).
	Value float64
}

// Escalation loosens a policy for one decision, as a rung of the escalation
// ladder says. The zero value changes nothing.
type Escalation struct {
	// StepFactor multiplies max_step; values below 1 mean 1.
	StepFactor float64
	// BypassCooldown ignores the cooldown (the caller enforces the hourly cap).
	BypassCooldown bool
}

func (e Escalation) step(maxStep int) int {
	f := e.StepFactor
	if f < 1 {
		f = 1
	}
	s := int(math.Ceil(float64(maxStep) * f))
	if s < 1 {
		s = 1
	}
	return s
}

// Sizing is how many units (allocations, nodes) a forecast needs.
type Sizing struct {
	// PerUnitCapacity is what one allocation or node can serve.
	PerUnitCapacity float64
	// Headroom is the fraction added on top of the forecast (0.2 = 20%).
	Headroom float64
}

// Units returns ceil(value*(1+headroom)/capacity), never below 0.
func (s Sizing) Units(value float64) (int, error) {
	if s.PerUnitCapacity <= 0 || math.IsNaN(s.PerUnitCapacity) || math.IsInf(s.PerUnitCapacity, 0) {
		return 0, fmt.Errorf("per-unit capacity %v must be a positive number", s.PerUnitCapacity)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, fmt.Errorf("forecast value %v is not a finite number", value)
	}
	if value <= 0 {
		return 0, nil
	}
	u := math.Ceil(value * (1 + s.Headroom) / s.PerUnitCapacity)
	if u > 1e6 {
		return 1e6, nil
	}
	return int(u), nil
}

// Bounds are the limits every count change respects.
type Bounds struct {
	Min, Max int
	// MaxStep is the largest change in one action.
	MaxStep int
	// CooldownOut is the time after the last change before scaling out again.
	CooldownOut time.Duration
	// CooldownIn (the stabilisation window) is the time after the last change
	// before scaling in; it should be longer than CooldownOut.
	CooldownIn time.Duration
}

// Validate reports bounds that cannot work.
func (b Bounds) Validate() error {
	switch {
	case b.Min < 0:
		return fmt.Errorf("min %d must be >= 0", b.Min)
	case b.Max < b.Min:
		return fmt.Errorf("max %d must be >= min %d", b.Max, b.Min)
	case b.MaxStep < 1:
		return fmt.Errorf("max_step %d must be >= 1", b.MaxStep)
	case b.CooldownOut < 0 || b.CooldownIn < 0:
		return fmt.Errorf("cooldowns must not be negative")
	}
	return nil
}

// CountPlan is a decision to change a count (task group or node pool).
type CountPlan struct {
	From, To int
	// Wanted is what the forecast asked for before bounds, step and direction.
	Wanted int
	// Noop is true when nothing should change; Reason says why either way.
	Noop   bool
	Reason string
	// CooldownRemaining is how long the cooldown still holds (0 if none).
	CooldownRemaining time.Duration
	// Held is true when max_step stopped the change short of what the
	// forecast wants within min and max: the shortage (or surplus) is only
	// partly answered, and a later decision should take the next step.
	Held bool
}

// planCount is the shared arithmetic of task-group and node-pool sizing.
func planCount(current int, lastChange time.Time, b Bounds, sz Sizing, f Forecast, dir Direction, esc Escalation, now time.Time) (CountPlan, error) {
	if err := b.Validate(); err != nil {
		return CountPlan{}, err
	}
	p := CountPlan{From: current, To: current}
	step := esc.step(b.MaxStep)
	if f.Query == "" {
		// No sizing query: move one (escalated) step in the alert's direction.
		p.Wanted = current + step
		if dir == In {
			p.Wanted = current - step
		}
	} else {
		w, err := sz.Units(f.Value)
		if err != nil {
			return CountPlan{}, err
		}
		p.Wanted = w
	}
	cooldown := b.CooldownOut
	if dir == In {
		cooldown = b.CooldownIn
	}
	if !lastChange.IsZero() && !esc.BypassCooldown {
		if rem := lastChange.Add(cooldown).Sub(now); rem > 0 {
			p.Noop = true
			p.CooldownRemaining = rem
			p.Reason = fmt.Sprintf("cooldown: last change %s ago, scale-%s cooldown %s, %s left",
				now.Sub(lastChange).Round(time.Second), dir, cooldown, rem.Round(time.Second))
			return p, nil
		}
	}
	to := p.Wanted
	// A shortage alert never shrinks and a surplus alert never grows: the
	// safest answer wins when the forecast and the alert disagree.
	if dir == Out && to < current {
		to = current
	}
	if dir == In && to > current {
		to = current
	}
	if to > current+step {
		to = current + step
	}
	if to < current-step {
		to = current - step
	}
	if to > b.Max {
		to = b.Max
	}
	if to < b.Min {
		to = b.Min
	}
	// Bounds may pull the count against the alert's direction (a count
	// already above max); never move the wrong way on an alert.
	if (dir == Out && to < current) || (dir == In && to > current) {
		to = current
	}
	p.To = to
	// What the forecast wants within the bounds and the alert's direction:
	// anything short of it was held back by the step limit.
	goal := min(max(p.Wanted, b.Min), b.Max)
	if (dir == Out && goal < current) || (dir == In && goal > current) {
		goal = current
	}
	p.Held = to != goal
	if to == current {
		p.Noop = true
		switch {
		case dir == Out && current >= b.Max:
			p.Reason = fmt.Sprintf("at max %d; forecast wants %d", b.Max, p.Wanted)
		case dir == In && current <= b.Min:
			p.Reason = fmt.Sprintf("at min %d; forecast wants %d", b.Min, p.Wanted)
		default:
			p.Reason = fmt.Sprintf("forecast wants %d, current %d already fits scale-%s", p.Wanted, current, dir)
		}
		return p, nil
	}
	p.Reason = fmt.Sprintf("scale-%s %d -> %d: forecast %s wants %d (step %d, bounds %d..%d)",
		dir, current, to, readable(f.Value), p.Wanted, step, b.Min, b.Max)
	return p, nil
}

// readable prints a forecast for people: four significant digits, never in
// exponent form (4179.520662021816 is "4180", 0.85231 is "0.852").
func readable(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	d := max(0, 3-int(math.Floor(math.Log10(math.Abs(v)))))
	s := strconv.FormatFloat(v, 'f', d, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// GroupState is what Nomad says about one task group.
type GroupState struct {
	Namespace, Job, Group string
	Count                 int
	// LastChange is the time of the last successful scaling event (zero if
	// none); reading it from Nomad makes cooldowns survive restarts.
	LastChange time.Time
}

// ScalePolicy bounds and sizes a task group.
type ScalePolicy struct {
	Bounds
	Sizing
}

// PlanScaleGroup decides the next count of a task group from its state, the
// policy, the forecast read at action time and the alert's direction.
func PlanScaleGroup(s GroupState, p ScalePolicy, f Forecast, dir Direction, esc Escalation, now time.Time) (CountPlan, error) {
	return planCount(s.Count, s.LastChange, p.Bounds, p.Sizing, f, dir, esc, now)
}
