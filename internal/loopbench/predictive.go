package loopbench

import (
	"fmt"
	"math"
	"time"

	"github.com/fleetcast/fleetcast/actuator/planner"
	"github.com/fleetcast/fleetcast/forecast"
)

// Predictive is fleetcast's policy: the forecast engine the exporter runs,
// fitted on the samples this policy has seen so far, and the actuator's own
// planner (actuator/planner) sizing the task group and the node pool from
// the forecast peak, as the JobPredictedSaturation and FleetPredictedShortage
// alerts and their surplus counterparts would ask it to.
//
// It never holds the trace: it keeps only the samples the driver showed it
// at their time (as Prometheus keeps scrapes), and the forecaster gets a
// copy of those, so it cannot peek at the future by construction.
type Predictive struct {
	S Settings

	times  []int64
	values []float64

	fitAt   time.Time
	fcTimes []int64
	fcQ     []float64
	fcUp    []float64 // upper bound of the band
	fitErr  error
	fits    int

	groupSurplusSince, poolSurplusSince time.Time

	// truth is set for the oracle only: the demand the fleet will replay,
	// which replaces the forecast. The predictive policy has none.
	truth func(time.Time) float64

	// escalation state: since when demand is outside the band, when the
	// policy last acted, and when it escalated in the last hour.
	outsideSince, lastAction time.Time
	escalations              planner.Escalations

	recent []shown // the demand shown over the last boot delay

	// held is a scale-out waiting for nodes (planner.HeldScaleOut).
	held    planner.HeldScaleOut
	waiting bool
}

// WaitingForNodes says whether the last decision left a scale-out waiting
// for nodes: the group held below what it decided, until nodes are ready.
func (p *Predictive) WaitingForNodes() bool { return p.waiting }

// NewOracle is the predictive policy with perfect foresight: the same
// planner, sizing and alert emulation, with the forecast replaced by demand,
// the true demand the fleet replays. Its peak over a window is the true
// peak at the decision steps within it, and demand never leaves its band, so
// it never escalates. It measures what prediction could buy at best.
func NewOracle(s Settings, demand func(time.Time) float64) *Predictive {
	return &Predictive{S: s, truth: demand}
}

// Name implements Policy.
func (p *Predictive) Name() string {
	if p.truth != nil {
		return "oracle"
	}
	return "predictive"
}

// Fits is how many times the forecaster was called.
func (p *Predictive) Fits() int { return p.fits }

func (p *Predictive) observe(now time.Time, demand float64) {
	t := now.Unix()
	if n := len(p.times); n > 0 && t-p.times[n-1] < int64(p.S.Scrape/time.Second) {
		return
	}
	p.times = append(p.times, t)
	p.values = append(p.values, demand)
	// Keep only what the next fit may use.
	keep := int64(p.S.History / time.Second)
	i := 0
	for i < len(p.times) && p.times[i] < t-keep {
		i++
	}
	if i > len(p.times)/2 {
		p.times = append([]int64(nil), p.times[i:]...)
		p.values = append([]float64(nil), p.values[i:]...)
	}
}

// refit fits the forecast on a copy of the samples seen up to now.
func (p *Predictive) refit(now time.Time) {
	p.fitAt = now
	p.fcTimes, p.fcQ, p.fcUp = nil, nil, nil
	keep := now.Unix() - int64(p.S.History/time.Second)
	i := 0
	for i < len(p.times) && p.times[i] < keep {
		i++
	}
	if len(p.times)-i < 12 {
		p.fitErr = fmt.Errorf("%d samples, want 12 before forecasting", len(p.times)-i)
		return
	}
	past := forecast.Series{
		Times:  append([]int64(nil), p.times[i:]...),
		Values: append([]float64(nil), p.values[i:]...),
	}
	scrape := int64(p.S.Scrape / time.Second)
	h := int((p.S.Refit+p.S.Window)/p.S.Scrape) + 1
	p.fits++
	f, err := p.S.FitCache.Fit(past, forecast.Options{Horizon: h, Step: scrape, Level: 0.8})
	if err != nil {
		p.fitErr = err
		return
	}
	p.fitErr = nil
	p.fcTimes = f.Times
	p.fcQ = f.Quantile(p.S.Quantile)
	p.fcUp = f.Upper
}

// outside says whether demand lies above the band forecast for now (the
// forecast step that covers now), as fleetcast_anomaly_score > 0 does.
func (p *Predictive) outside(now time.Time, demand float64) bool {
	t := now.Unix()
	for i, ft := range p.fcTimes {
		if ft >= t {
			return i < len(p.fcUp) && demand > p.fcUp[i]
		}
	}
	return false
}

// escalation emulates AnomalyDespiteAction and the actuator's ladder: it
// returns the rung to apply now, if any.
func (p *Predictive) escalation(now time.Time, demand float64) (planner.Escalation, bool) {
	if p.S.EscalationsPerHour <= 0 || len(p.S.Ladder) == 0 {
		return planner.Escalation{}, false
	}
	if !p.outside(now, demand) {
		p.outsideSince = time.Time{}
		return planner.Escalation{}, false
	}
	if p.outsideSince.IsZero() {
		p.outsideSince = now
	}
	if now.Sub(p.outsideSince) < p.S.AnomalyFor || p.lastAction.IsZero() || now.Sub(p.lastAction) > p.S.ActionRecent {
		return planner.Escalation{}, false
	}
	// The actuator's own bookkeeping: the hourly cap and the interval
	// between rungs.
	p.escalations = p.escalations.LastHour(now)
	if soon, _ := p.escalations.TooSoon(now, p.S.EscalationInterval); soon {
		return planner.Escalation{}, false
	}
	rung, _, ok, _ := p.escalations.Next(now, p.S.Ladder, p.S.EscalationsPerHour)
	if !ok {
		return planner.Escalation{}, false
	}
	return planner.Escalation{StepFactor: rung.StepFactor, BypassCooldown: rung.BypassCooldown}, true
}

// peak is the forecast's quantile peak over (now, now+Window], and never
// less than the demand seen now: a forecast below the present is no reason to
// have less than the present.
func (p *Predictive) peak(now time.Time, demand float64, window time.Duration) float64 {
	pk, _ := p.peaks(now, demand, window, window)
	return pk
}

// peaks is peak over (now, now+short] and over (now, now+long], with
// short <= long, in one pass over the forecast (or the oracle's truth).
func (p *Predictive) peaks(now time.Time, demand float64, short, long time.Duration) (float64, float64) {
	ps, pl := demand, demand
	if p.truth != nil {
		end := now.Add(short)
		for t := now.Add(p.S.Step); !t.After(now.Add(long)); t = t.Add(p.S.Step) {
			d := p.truth(t)
			pl = math.Max(pl, d)
			if !t.After(end) {
				ps = math.Max(ps, d)
			}
		}
		return ps, pl
	}
	lo, mid, hi := now.Unix(), now.Add(short).Unix(), now.Add(long).Unix()
	for i, t := range p.fcTimes {
		if t <= lo || t > hi || math.IsNaN(p.fcQ[i]) {
			continue
		}
		if p.fcQ[i] > pl {
			pl = p.fcQ[i]
		}
		if t <= mid && p.fcQ[i] > ps {
			ps = p.fcQ[i]
		}
	}
	return ps, pl
}

// sized is what to size for: the forecast peak plus Headroom, and, with a
// DemandHeadroom, never less than the demand now plus that fraction.
func (p *Predictive) sized(demand, peak float64) float64 {
	v := peak * (1 + p.S.Headroom)
	if p.S.DemandHeadroom >= 0 {
		v = math.Max(v, demand*(1+p.S.DemandHeadroom))
	}
	return v
}

// Decide implements Policy: it sizes the task group for the forecast peak
// (decideGroup) and the node pool for what the group will hold when new
// nodes are ready (decidePool). Every decision past the forecast and the
// emulated alerts is the planner's (actuator/planner): the sizing, the
// pool's lead (AllocNodes.PoolWants), the wait for nodes (HeldScaleOut),
// the scale-in with the pool (ScaleInWaitsForPool, PoolSheds) and the
// escalation bookkeeping (Escalations).
func (p *Predictive) Decide(now time.Time, v View) ([]Action, error) {
	if p.truth == nil {
		p.observe(now, v.Demand)
		if p.fitAt.IsZero() || now.Sub(p.fitAt) >= p.S.Refit {
			p.refit(now)
		}
	}
	peak := p.sized(v.Demand, p.peak(now, v.Demand, p.S.Window))
	gp := planner.ScalePolicy{
		Bounds: planner.Bounds{Min: p.S.MinCount, Max: p.S.MaxCount, MaxStep: p.S.MaxCount,
			CooldownOut: p.S.Cooldown, CooldownIn: p.S.Cooldown},
		Sizing: planner.Sizing{PerUnitCapacity: v.AllocCPU},
	}
	want, err := gp.Units(peak)
	if err != nil {
		return nil, fmt.Errorf("size task group: %w", err)
	}
	want = clamp(want, p.S.MinCount, p.S.MaxCount)
	// The pool leads the group by the boot delay: nodes asked for now are
	// ready when the group asks for the allocations they hold. Its floor
	// is the demand the present's momentum reaches when they are: the
	// demand now plus its rise over the last boot delay.
	lead := p.momentum(now, v.Demand)
	leadPeak, keepPeak := p.peaks(now, lead, p.poolWindow(), p.poolWindow()+p.S.Cooldown)
	poolWant, err := gp.Units(p.sized(lead, leadPeak))
	if err != nil {
		return nil, fmt.Errorf("size task group for the pool: %w", err)
	}
	poolWant = clamp(poolWant, p.S.MinCount, p.S.MaxCount)
	// A scale-in of the pool must hold until the pool can act again: the
	// cooldown it starts blocks a scale-out, and nodes asked for then take
	// the boot delay. So it is sized for the lead window plus the cooldown.
	poolKeep, err := gp.Units(p.sized(lead, keepPeak))
	if err != nil {
		return nil, fmt.Errorf("size task group for the pool's scale-in: %w", err)
	}
	poolKeep = clamp(max(poolKeep, poolWant), p.S.MinCount, p.S.MaxCount)
	esc, escalate := p.escalation(now, v.Demand)

	an := planner.AllocNodes{PerAlloc: v.AllocCPU, NodeCapacity: v.NodeCPU}
	pb := p.poolBounds()
	// The group scales in with its pool (planner.ScaleInWaitsForPool).
	shedLead := planner.PoolLead{Out: max(poolWant, v.Count, p.held.Goal), In: max(poolKeep, want, p.held.Goal)}
	shedWant, err := an.PoolWants(v.PoolSize, shedLead, pb)
	if err != nil {
		return nil, fmt.Errorf("size node pool: %w", err)
	}
	sheds := planner.PoolSheds(shedWant, v.PoolSize, p.poolSurplusSince, p.S.SurplusFor, v.PoolLastChange, p.S.Cooldown, now)

	acts, count, err := p.decideGroup(now, v, gp, peak, want, esc, escalate, sheds)
	if err != nil {
		return nil, err
	}
	// The pool must hold the allocations the forecast asks for, and those
	// already asked for, before they are due: nodes take BootDelay to boot.
	pact, err := p.decidePool(now, v, an, planner.PoolLead{Out: max(poolWant, count, p.held.Goal), In: shedLead.In}, count, esc, escalate)
	if err != nil {
		return nil, err
	}
	if pact != nil {
		acts = append(acts, *pact)
	}
	if len(acts) > 0 {
		p.lastAction = now
	}
	p.waiting = p.held.Waiting(count)
	return acts, nil
}

// poolBounds are the node pool's bounds as the planner takes them.
func (p *Predictive) poolBounds() planner.Bounds {
	return planner.Bounds{Min: p.S.MinNodes, Max: p.S.MaxNodes, MaxStep: p.S.MaxNodes,
		CooldownOut: p.S.Cooldown, CooldownIn: p.S.Cooldown}
}

// decideGroup scales the task group toward want (or out by the escalation
// ladder), as far as the ready nodes place it, and catches up on a
// scale-out held for nodes. It returns the actions and the group's count
// after them.
//
// poolSheds says whether the pool lets a node go this minute; a scale-in
// (its surplus held) waits for it.
func (p *Predictive) decideGroup(now time.Time, v View, gp planner.ScalePolicy, peak float64, want int, esc planner.Escalation, escalate, poolSheds bool) ([]Action, int, error) {
	dir, fire := p.direction(now, want, v.Count, &p.groupSurplusSince)
	if escalate {
		dir, fire = planner.Out, true
	}
	if fire && planner.ScaleInWaitsForPool(dir, poolSheds) {
		fire = false
	}
	p.held.Want(want, v.Count)
	placeable := planner.Slots(v.Nodes, v.AllocCPU)
	if fire {
		plan, err := planner.PlanScaleGroup(planner.GroupState{Job: "bench", Group: "demand", Count: v.Count,
			LastChange: p.held.CooldownFrom(v.GroupLastChange)},
			gp, planner.Forecast{Query: "peak", Value: peak}, dir, esc, now)
		if err != nil {
			return nil, 0, fmt.Errorf("plan task group: %w", err)
		}
		// The group grows only as far as the ready nodes place it; the
		// pool is asked for the rest and the group catches up when the
		// nodes are ready.
		plan = p.held.Hold(plan, placeable, now)
		if !plan.Noop {
			reason := plan.Reason
			if escalate {
				p.escalations = append(p.escalations, now)
				reason = "escalated (demand above the band despite a recent action): " + reason
			}
			return []Action{{At: now, Kind: "scale_group", From: plan.From, To: plan.To, Reason: reason}}, plan.To, nil
		}
	}
	// Catch up on a scale-out held for nodes, as far as the ready nodes
	// place it now.
	if plan := p.held.CatchUp(v.Count, want, placeable, now); !plan.Noop {
		return []Action{{At: now, Kind: "scale_group", From: plan.From, To: plan.To, Reason: plan.Reason}}, plan.To, nil
	}
	return nil, v.Count, nil
}

// decidePool sizes the node pool for l (planner.AllocNodes.PoolWants),
// booting nodes counted, and returns its action, if any. A scale-in goes
// no further than the count allocations the group keeps need
// (planner.AllocNodes.PoolScaleIn).
func (p *Predictive) decidePool(now time.Time, v View, an planner.AllocNodes, l planner.PoolLead, count int, esc planner.Escalation, escalate bool) (*Action, error) {
	sz, err := an.Sizing()
	if err != nil {
		return nil, fmt.Errorf("size node pool: %w", err)
	}
	pp := planner.PoolPolicy{Bounds: p.poolBounds(), Sizing: sz, RemoveOrder: "empty_first"}
	wantNodes, err := an.PoolWants(v.PoolSize, l, pp.Bounds)
	if err != nil {
		return nil, fmt.Errorf("size node pool: %w", err)
	}
	pdir, pfire := p.direction(now, wantNodes, v.PoolSize, &p.poolSurplusSince)
	if !pfire {
		return nil, nil
	}
	allocs := l.Out
	if pdir == planner.In {
		in, ok, err := an.PoolScaleIn(v.PoolSize, l, count, pp.Bounds)
		if err != nil {
			return nil, fmt.Errorf("size node pool's scale-in: %w", err)
		}
		if !ok {
			return nil, nil
		}
		allocs = in
	}
	nodes := append([]planner.Node(nil), v.Nodes...)
	for i := 0; i < v.Booting; i++ {
		nodes = append(nodes, planner.Node{ID: fmt.Sprintf("booting-%d", i), Capacity: v.NodeCPU})
	}
	// Nodes for an escalated scale-out must not wait out the cooldown either.
	pesc := planner.Escalation{}
	if escalate && pdir == planner.Out {
		pesc = esc
	}
	plan, err := planner.PlanPool(planner.PoolState{Name: "bench", Nodes: nodes, LastChange: v.PoolLastChange},
		pp, planner.Forecast{Query: "allocated", Value: float64(allocs) * v.AllocCPU}, pdir, pesc, now)
	if err != nil {
		return nil, fmt.Errorf("plan node pool: %w", err)
	}
	if plan.Noop {
		return nil, nil
	}
	return &Action{At: now, Kind: "scale_pool", From: plan.From, To: plan.To, Remove: plan.Remove, Reason: plan.Reason}, nil
}

// momentum is the demand now plus its rise over the last boot delay (no
// less than the demand now): where demand that keeps climbing as it has
// will be when nodes asked for now are ready. It uses only the demand the
// policy was shown.
func (p *Predictive) momentum(now time.Time, demand float64) float64 {
	p.recent = append(p.recent, shown{now, demand})
	i := 0
	for i < len(p.recent)-1 && now.Sub(p.recent[i+1].at) >= p.S.BootDelay {
		i++
	}
	p.recent = p.recent[i:]
	if ago := p.recent[0]; now.Sub(ago.at) >= p.S.BootDelay && demand > ago.demand {
		return demand + (demand - ago.demand)
	}
	return demand
}

// shown is the demand a decision was shown.
type shown struct {
	at     time.Time
	demand float64
}

// poolWindow is the lead the pool is sized for: PoolWindow (or Window)
// plus the boot delay.
func (p *Predictive) poolWindow() time.Duration {
	w := p.S.PoolWindow
	if w <= 0 {
		w = p.S.Window
	}
	return w + p.S.BootDelay
}

// direction emulates the alerting rules: a predicted shortage fires at once,
// a predicted surplus only after it has held for SurplusFor (the rule's
// long `for`).
func (p *Predictive) direction(now time.Time, want, have int, since *time.Time) (planner.Direction, bool) {
	switch {
	case want > have:
		*since = time.Time{}
		return planner.Out, true
	case want < have:
		if since.IsZero() {
			*since = now
		}
		return planner.In, now.Sub(*since) >= p.S.SurplusFor
	default:
		*since = time.Time{}
		return planner.Out, false
	}
}
