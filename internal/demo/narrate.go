package demo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/sim"
)

// narrator watches the fleet (in-process, every second) and Prometheus
// (every few seconds) and says what changed, in the order it happened.
type narrator struct {
	o     Options
	fleet *sim.Fleet
	prom  promv1.API
	nomad *api.Client
	sc    Scenario
	say   func(string, ...any)

	counts     map[string]int
	pools      map[string]int
	eligible   map[string]bool
	alerts     map[string]bool
	overloaded map[string]time.Time
	children   map[string]bool
	forecasts  int

	events                      []Event
	firstScaleOut, poolScaleOut time.Time
	// lastGroupAction is when the rushed group's count last changed;
	// despiteAt when AnomalyDespiteAction first fired for it, and
	// escalated when it grew after that (escalatedTo: "8 -> 11").
	lastGroupAction, despiteAt, escalated time.Time
	escalatedTo                           string
}

func newNarrator(o Options, f *sim.Fleet, promURL string, sc Scenario, say func(string, ...any)) *narrator {
	n := &narrator{o: o, fleet: f, sc: sc, say: say,
		counts: map[string]int{}, pools: map[string]int{}, eligible: map[string]bool{},
		alerts: map[string]bool{}, overloaded: map[string]time.Time{}, children: map[string]bool{}}
	if c, err := promapi.NewClient(promapi.Config{Address: promURL}); err == nil {
		n.prom = promv1.NewAPI(c)
	}
	for _, j := range f.Jobs() {
		if j.ParentID != "" {
			n.children[j.ID] = true
			continue
		}
		for _, g := range j.Groups {
			n.counts[j.ID+"/"+g.Name] = g.Count
		}
	}
	for _, nd := range f.Nodes() {
		if nd.Status != "down" {
			n.pools[nd.Pool]++
		}
		n.eligible[nd.ID] = nd.Eligible
	}
	return n
}

// useNomad sets the client through which scaling reasons are read: the
// actuator's messages on Nomad's scaling events, as an operator reads them.
func (n *narrator) useNomad(addr string) {
	if c, err := api.NewClient(&api.Config{Address: addr}); err == nil {
		n.nomad = c
	}
}

func (n *narrator) event(e Event) { n.events = append(n.events, e) }

// poll asks Prometheus first, so an alert is told before the action it
// caused (the actuator acts within a second of Alertmanager's notification).
func (n *narrator) poll(ctx context.Context, now time.Time) {
	if n.prom != nil {
		n.pollProm(ctx, now)
	}
	n.pollFleet(now)
}

func (n *narrator) pollFleet(now time.Time) {
	for _, j := range n.fleet.Jobs() {
		if j.ParentID != "" {
			if !n.children[j.ID] {
				n.children[j.ID] = true
				placed, queued := 0, 0
				for _, g := range j.Groups {
					placed += g.Running + g.Pending
					queued += g.Queued
				}
				what := fmt.Sprintf("%d allocations placed", placed)
				if queued > 0 {
					what += fmt.Sprintf(", %d could not be placed", queued)
				}
				n.event(Event{At: now, Kind: "launch", Object: j.ParentID, What: what})
				n.say("periodic job %s launched %s: %s.", j.ParentID, j.ID, what)
			}
			continue
		}
		for _, g := range j.Groups {
			key := j.ID + "/" + g.Name
			if old, ok := n.counts[key]; ok && old != g.Count {
				reason := n.reason(j.ID, g.Name)
				n.event(Event{At: now, Kind: "scale_group", Object: key, What: fmt.Sprintf("%d -> %d %s", old, g.Count, reason)})
				n.say("ACTION scaled task group %s %d -> %d%s", key, old, g.Count, reason)
				if j.ID == n.sc.Job && g.Name == n.sc.Group {
					n.lastGroupAction = now
					if g.Count > old && !n.despiteAt.IsZero() && n.escalated.IsZero() {
						n.escalated, n.escalatedTo = now, fmt.Sprintf("%d -> %d", old, g.Count)
						n.say("       ... the escalation: %s after AnomalyDespiteAction fired.", now.Sub(n.despiteAt).Round(time.Second))
					}
					if g.Count > old && n.firstScaleOut.IsZero() {
						n.firstScaleOut = now
						if !n.sc.ShortageAt.IsZero() && now.Before(n.sc.ShortageAt) {
							n.say("       ... %s before the shortage is due.", n.sc.ShortageAt.Sub(now).Round(time.Second))
						}
					}
				}
			}
			n.counts[key] = g.Count
			if g.Overloaded && g.DemandMHz > 0 {
				if _, ok := n.overloaded[key]; !ok {
					n.overloaded[key] = now
					n.event(Event{At: now, Kind: "overload", Object: key, What: fmt.Sprintf("demand %.0f MHz, served %.0f", g.DemandMHz, g.ServedMHz)})
					n.say("OVERLOAD %s: demand %.0f MHz, its %d running allocations serve %.0f.", key, g.DemandMHz, g.Running, g.ServedMHz)
				}
			} else if since, ok := n.overloaded[key]; ok {
				delete(n.overloaded, key)
				n.say("overload of %s over after %s.", key, now.Sub(since).Round(time.Second))
			}
		}
	}
	pools := map[string]int{}
	for _, nd := range n.fleet.Nodes() {
		if nd.Status != "down" {
			pools[nd.Pool]++
		}
		if old, ok := n.eligible[nd.ID]; ok && old && !nd.Eligible && !nd.Draining && nd.Status == "ready" {
			n.event(Event{At: now, Kind: "migrate", Object: nd.Name, What: "marked ineligible; allocations moved off"})
			n.say("ACTION node %s marked ineligible and work moved off it (migration).", nd.Name)
		} else if ok && !old && nd.Eligible {
			n.say("node %s eligible again.", nd.Name)
		}
		n.eligible[nd.ID] = nd.Eligible
	}
	for p, c := range pools {
		if old, ok := n.pools[p]; ok && old != c {
			n.event(Event{At: now, Kind: "scale_pool", Object: p, What: fmt.Sprintf("%d -> %d nodes", old, c)})
			n.say("ACTION node pool %s %d -> %d nodes (new nodes boot first).", p, old, c)
			if c > old && p == n.sc.BatchPool && n.poolScaleOut.IsZero() {
				n.poolScaleOut = now
				if now.Before(n.sc.BatchAt) {
					n.say("       ... %s before %s launches.", n.sc.BatchAt.Sub(now).Round(time.Second), n.sc.BatchJob)
				}
			}
		}
		n.pools[p] = c
	}
}

// reason is the message of the group's latest scaling event, which the
// actuator fills with what it saw and why it acted.
func (n *narrator) reason(job, group string) string {
	if n.nomad == nil {
		return ""
	}
	st, _, err := n.nomad.Jobs().ScaleStatus(job, nil)
	if err != nil || st == nil {
		return ""
	}
	tg, ok := st.TaskGroups[group]
	if !ok || len(tg.Events) == 0 || tg.Events[0].Message == "" {
		return ""
	}
	return ": " + tg.Events[0].Message
}

func (n *narrator) pollProm(ctx context.Context, now time.Time) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if v, _, _, err := n.prom.Query(ctx, `count by (target) (fleetcast_forecast)`, now); err == nil {
		if vec, ok := v.(model.Vector); ok {
			total := 0
			var targets []string
			for _, s := range vec {
				total += int(s.Value)
				targets = append(targets, string(s.Metric["target"]))
			}
			sort.Strings(targets)
			if total > 0 && n.forecasts == 0 {
				n.event(Event{At: now, Kind: "forecast", Object: "exporter", What: fmt.Sprintf("%d forecast series", total)})
				n.say("FORECASTS published by the exporter: %d series for targets %s.", total, strings.Join(targets, ", "))
				n.peak(ctx, now)
			}
			n.forecasts = total
		}
	}
	v, _, _, err := n.prom.Query(ctx, `ALERTS{alertstate="firing"}`, now)
	if err != nil {
		return
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return
	}
	// Alerts for the actuator (with an action label) are told one by one;
	// the ones for people are counted per name, so the story stays readable.
	firing := map[string]bool{}
	people := map[string]int{}
	for _, s := range vec {
		m := s.Metric
		var parts []string
		for _, l := range []model.LabelName{"action", "direction", "namespace", "job", "exported_job", "task_group", "node_pool", "node_id", "resource", "target"} {
			if v := m[l]; v != "" && !(l == "job" && v == "fleetcast-exporter") {
				parts = append(parts, fmt.Sprintf("%s=%s", l, v))
			}
		}
		key := string(m["alertname"]) + "{" + strings.Join(parts, ",") + "}"
		firing[key] = true
		if n.alerts[key] {
			continue
		}
		n.event(Event{At: now, Kind: "alert", Object: string(m["alertname"]), What: strings.Join(parts, ",")})
		if m["alertname"] == "AnomalyDespiteAction" && string(m["job"]) == n.sc.Job && string(m["task_group"]) == n.sc.Group && n.despiteAt.IsZero() {
			n.despiteAt = now
		}
		if m["action"] != "" {
			n.say("ALERT %s fired {%s} -> Alertmanager -> actuator", m["alertname"], strings.Join(parts, ", "))
		} else {
			people[string(m["alertname"])]++
		}
	}
	if len(people) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(people)) {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, people[k]))
		}
		n.say("alerts for people fired: %s", strings.Join(parts, ", "))
	}
	for k := range n.alerts {
		if !firing[k] && strings.Contains(k, "action=") {
			n.say("alert %s resolved.", k)
		}
	}
	n.alerts = firing
}

// peak says what the exporter predicts for the rushed job, once.
func (n *narrator) peak(ctx context.Context, now time.Time) {
	q := fmt.Sprintf(`max by (window, q) (label_replace(fleetcast_forecast_peak, "job", "$1", "exported_job", "(.+)"){job=%q})`, n.sc.Job)
	v, _, _, err := n.prom.Query(ctx, q, now)
	if err != nil {
		return
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) == 0 {
		return
	}
	sort.Slice(vec, func(i, j int) bool { return vec[i].Metric.String() < vec[j].Metric.String() })
	var parts []string
	for _, s := range vec {
		parts = append(parts, fmt.Sprintf("%.0f MHz (window %s, q%s)", float64(s.Value), s.Metric["window"], s.Metric["q"]))
	}
	n.say("         predicted peak of %s: %s; it has %.0f MHz.", n.sc.Job, strings.Join(parts, "; "), n.sc.Capacity)
}
