package planner

import (
	"fmt"
	"time"
)

// Escalations is one object's escalation history: the times it escalated,
// oldest first. The actuator keeps it in its state store and the closed-loop
// benchmark in memory; both decide the next rung with it, so the hourly cap
// and the interval between rungs are counted the same way in both.
type Escalations []time.Time

// LastHour returns the escalations within the hour before now, the ones the
// hourly cap counts.
func (e Escalations) LastHour(now time.Time) Escalations {
	var out Escalations
	for _, t := range e {
		if now.Sub(t) < time.Hour {
			out = append(out, t)
		}
	}
	return out
}

// Last is the latest escalation, zero if none.
func (e Escalations) Last() time.Time {
	var last time.Time
	for _, t := range e {
		if t.After(last) {
			last = t
		}
	}
	return last
}

// TooSoon says whether the last escalation was less than interval before
// now, with the reason: the last rung gets time to show its effect before
// the next.
func (e Escalations) TooSoon(now time.Time, interval time.Duration) (bool, string) {
	last := e.Last()
	if last.IsZero() || now.Sub(last) >= interval {
		return false, ""
	}
	return true, fmt.Sprintf("escalated %s ago; the next rung no sooner than %s after it",
		now.Sub(last).Round(time.Second), interval)
}

// Next returns the rung to climb at now: the one after as many rungs as the
// object escalated in the last hour, or ok=false with the reason when the
// hourly cap (maxPerHour) is spent.
func (e Escalations) Next(now time.Time, ladder []Rung, maxPerHour int) (rung Rung, index int, ok bool, why string) {
	return NextRung(ladder, len(e.LastHour(now)), maxPerHour)
}

// Applicable returns the places in the ladder of the rungs that applies
// accepts, in the ladder's order: the rungs that can act on one object.
func Applicable(ladder []Rung, applies func(Rung) bool) []int {
	var idx []int
	for i, r := range ladder {
		if applies(r) {
			idx = append(idx, i)
		}
	}
	return idx
}

// NextAmong is Next on the rungs at the places applicable (Applicable's
// answer for one object), so that one ladder serves task groups, nodes and
// pools alike: the n-th escalation of an object within the hour takes the
// n-th rung that applies to it, and the last of those repeats. index is the
// rung's place in the whole ladder. ok is false with the reason when the
// hourly cap is spent or no rung applies (an empty applicable; a caller
// that checks that first filters the ladder once).
func (e Escalations) NextAmong(now time.Time, ladder []Rung, applicable []int, maxPerHour int) (rung Rung, index int, ok bool, why string) {
	if len(applicable) == 0 {
		return Rung{}, 0, false, "no rung of the ladder applies to this object"
	}
	sub := make([]Rung, len(applicable))
	for j, i := range applicable {
		sub[j] = ladder[i]
	}
	rung, j, ok, why := e.Next(now, sub, maxPerHour)
	if !ok {
		return Rung{}, 0, false, why
	}
	return rung, applicable[j], true, ""
}
