package demo

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetcast/fleetcast/sim"
)

// Scenario is what the demo arranged in the fleet so that its story
// happens within minutes of the start.
type Scenario struct {
	// Job and Group are the service whose scheduled rush is due.
	Job, Group string
	// Capacity is what the group serves at the start (count × capacity).
	Capacity float64
	// ShortageAt is when its demand first exceeds Capacity, as the
	// simulator's own demand model says: the shortage a forecast must beat.
	ShortageAt time.Time
	// RushAt is when the rush starts.
	RushAt time.Time
	// BatchJob, BatchPool and BatchAt: the periodic job due soon, whose
	// launch does not fit the free room of its pool; BatchCount × BatchCPU
	// is what it asks.
	BatchJob, BatchPool string
	BatchAt             time.Time
	BatchCount          int
	BatchCPU            int
	BatchFree           int
	// Spread is set when the demo dropped the rushed group's
	// distinct_hosts (see arrange).
	Spread bool
}

// loadFleet reads a fleet file without validating it, so the demo can move
// its times before the simulator validates it.
func loadFleet(path string) (*sim.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fleet: %w", err)
	}
	var c sim.Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// arrange rewrites the fleet so that, seen from now, the first service
// group with a scheduled peak gets that peak (and its daily shape, moved
// by the same amount) at now+lead, every day, and the first periodic batch
// job launches at now+batchLead with one allocation more than its pool can
// hold. The history written later is generated from the same rewritten
// fleet, so the forecaster learns the very pattern that arrives.
func arrange(path string, now time.Time, lead, batchLead time.Duration) (*sim.Config, Scenario, error) {
	var sc Scenario
	cfg, err := loadFleet(path)
	if err != nil {
		return nil, sc, err
	}
	loc := time.UTC
	if cfg.TimeZone != "" && cfg.TimeZone != "UTC" {
		if loc, err = time.LoadLocation(cfg.TimeZone); err != nil {
			return nil, sc, fmt.Errorf("%s: time_zone %q: %w", path, cfg.TimeZone, err)
		}
	}
	local := now.In(loc)
	// The showcase: a service group with a scaling block and a cron peak.
	for ji := range cfg.Jobs {
		j := &cfg.Jobs[ji]
		if j.Type != "" && j.Type != "service" {
			continue
		}
		for gi := range j.Groups {
			g := &j.Groups[gi]
			if g.Scaling == nil || len(g.Demand.Peaks) == 0 || g.Demand.Peaks[0].Cron == "" {
				continue
			}
			p := &g.Demand.Peaks[0]
			h, m, err := cronClock(p.Cron)
			if err != nil {
				return nil, sc, fmt.Errorf("%s: job %s peak: %w", path, j.ID, err)
			}
			rush := ceilMinute(local.Add(lead))
			// Move the rush to now+lead, and the daily shape with it.
			delta := minuteOfDay(rush) - (h*60 + m)
			p.Cron = fmt.Sprintf("%d %d * * *", rush.Minute(), rush.Hour())
			if g.Demand.DailyPeak != "" {
				if t, err := time.Parse("15:04", g.Demand.DailyPeak); err == nil {
					mod := ((t.Hour()*60+t.Minute()+delta)%1440 + 1440) % 1440
					g.Demand.DailyPeak = fmt.Sprintf("%02d:%02d", mod/60, mod%60)
				}
			}
			sc.Job, sc.Group, sc.RushAt = j.ID, g.Name, rush
			// fleetcast sizes node pools by resources, not by placement
			// constraints: with distinct_hosts a group cannot outgrow the
			// pool's node count, and nothing grows the pool for that (a
			// known limit, see demo/README.md). The demo lets the rushed
			// group share nodes so that its scale-out can land.
			if g.DistinctHosts || j.DistinctHosts {
				g.DistinctHosts, j.DistinctHosts, sc.Spread = false, false, true
			}
			capa := g.Capacity
			if capa == 0 {
				capa = float64(g.CPU)
			}
			sc.Capacity = float64(g.Count) * capa
			break
		}
		if sc.Job != "" {
			break
		}
	}
	if sc.Job == "" {
		return nil, sc, fmt.Errorf("%s: no service group with a scaling block and a cron peak to show a predicted shortage on", path)
	}
	for ji := range cfg.Jobs {
		j := &cfg.Jobs[ji]
		if j.Periodic == nil || len(j.Groups) == 0 {
			continue
		}
		at := ceilMinute(local.Add(batchLead))
		pl := loc
		if j.Periodic.TimeZone != "" && j.Periodic.TimeZone != "UTC" {
			if pl, err = time.LoadLocation(j.Periodic.TimeZone); err != nil {
				return nil, sc, fmt.Errorf("%s: job %s periodic time_zone: %w", path, j.ID, err)
			}
		} else if j.Periodic.TimeZone == "UTC" {
			pl = time.UTC
		}
		at = at.In(pl)
		j.Periodic.Cron = fmt.Sprintf("%d %d * * *", at.Minute(), at.Hour())
		sc.BatchJob, sc.BatchAt = j.ID, at
		sc.BatchPool = j.NodePool
		if sc.BatchPool == "" && len(cfg.NodePools) > 0 {
			sc.BatchPool = cfg.NodePools[0].Name
		}
		break
	}
	return cfg, sc, nil
}

// sizeBatch makes the periodic job ask one allocation more than the free
// room of its pool on a fleet built from cfg, so its launch would leave
// work unplaced unless the pool grows first.
func sizeBatch(cfg *sim.Config, sc *Scenario, f *sim.Fleet) {
	if sc.BatchJob == "" {
		return
	}
	for ji := range cfg.Jobs {
		j := &cfg.Jobs[ji]
		if j.ID != sc.BatchJob {
			continue
		}
		g := &j.Groups[0]
		free, fit := 0, 0
		for _, n := range f.Nodes() {
			if n.Pool == sc.BatchPool && n.Status == "ready" && g.CPU > 0 {
				free += n.CPUMHz - n.AllocatedCPU
				fit += (n.CPUMHz - n.AllocatedCPU) / g.CPU
			}
		}
		g.Count = fit + 1
		sc.BatchCount, sc.BatchCPU, sc.BatchFree = g.Count, g.CPU, free
	}
}

// findShortage scans the showcase group's demand from `from` for the first
// time it exceeds the group's starting capacity.
func findShortage(f *sim.Fleet, sc *Scenario, from time.Time, within time.Duration) {
	for t := from; t.Before(from.Add(within)); t = t.Add(5 * time.Second) {
		d, err := f.DemandAt("", sc.Job, sc.Group, t)
		if err == nil && d > sc.Capacity {
			sc.ShortageAt = t
			return
		}
	}
}

// cronClock reads the minute and hour of a cron spec whose first two
// fields are plain numbers ("0 18 * * 1-5").
func cronClock(spec string) (hour, minute int, err error) {
	f := strings.Fields(spec)
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("cron %q: want at least minute and hour fields", spec)
	}
	m, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || m < 0 || m > 59 || h < 0 || h > 23 {
		return 0, 0, fmt.Errorf("cron %q: the demo moves only peaks at a fixed minute and hour", spec)
	}
	return h, m, nil
}

func minuteOfDay(t time.Time) int { return t.Hour()*60 + t.Minute() }

// ceilMinute rounds up to a whole minute, the resolution of cron specs, so
// that nothing falls due sooner than asked.
func ceilMinute(t time.Time) time.Time {
	if r := t.Truncate(time.Minute); !r.Equal(t) {
		return r.Add(time.Minute)
	}
	return t
}
