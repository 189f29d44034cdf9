package actuator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetcast/fleetcast/internal/nomadver"
)

// Options are the actuator's dependencies; Config, Nomad and Forecasts are required.
type Options struct {
	Config *Config
	// Nomad is the cluster the actions act on. It implements the interface
	// each action of the config's policies declares: GroupScaler for
	// scale_group, NodeMigrator for migrate, PoolNodes for scale_pool
	// (NomadAPI implements them all; a stand-in only those its config
	// uses). New and Reload refuse a policy whose action it cannot carry out.
	Nomad     any
	Forecasts Forecasts
	// Pools overrides the node-pool targets by policy name (tests, demo).
	Pools map[string]PoolScaler
	// Audit gets one JSON line per decision; Log the operational messages.
	Audit, Log *slog.Logger
	Metrics    *Metrics
	Now        func() time.Time
	// Sleep waits (for retries); it returns early with ctx's error.
	Sleep func(ctx context.Context, d time.Duration) error
	// IsLeader says whether this replica may act; nil means always.
	IsLeader func() bool
	// OtherLeads says whether another replica is known to hold the leader
	// lock. A replica that is not the leader answers not_leader (200) only
	// then, and 503 otherwise so Alertmanager retries until one leads.
	OtherLeads func() bool
	// NomadAddress and NomadToken are used by the nomad_sim pool target.
	NomadAddress string
	NomadToken   string
	// NomadVersion is the server's release as read at start; the zero
	// value means unknown. Before 1.8.2 Nomad ignores a scale's job modify
	// index, and the actuator checks for a concurrent change itself.
	NomadVersion nomadver.Version
	// State keeps what must survive a restart and be shared by replicas
	// (NomadAPI: Nomad variables). Nil, or a dry run, means in memory.
	State StateStore
}

// Actuator turns alerts into decisions and decisions into Nomad calls.
type Actuator struct {
	o        Options
	bgCtx    context.Context
	bgStop   context.CancelFunc
	bg       sync.WaitGroup
	mu       sync.Mutex
	seen     map[string]time.Time // alert key -> when decided
	budgetMu sync.Mutex           // serialises the hourly budget's read-modify-write
	inflight map[int64]inflight   // actions Nomad is carrying out now
	nextID   int64
	idle     *sync.Cond      // signalled when inflight empties
	busy     map[string]bool // objects being acted on
	pruned   time.Time       // last sweep of seen
	// lv is what a reload replaces: the config and what is built from it.
	lv      atomic.Pointer[live]
	durable StateStore // Options.State, or memory
	mem     *MemState  // the dry run's state, kept across reloads
	// Options.Nomad as each action sees it; nil where it cannot carry the action out.
	groups    GroupScaler
	migrator  NodeMigrator
	poolNodes PoolNodes

	gens atomic.Uint64 // the last live.gen given
}

// live is the configuration in force and what depends on it.
type live struct {
	cfg   *Config
	pools map[string]PoolScaler
	state StateStore
	// gen counts the configs put in force: what was refused under one is
	// decided again under the next (refuseOnce).
	gen uint64
}

func (a *Actuator) cur() *live { return a.lv.Load() }

// Config returns the configuration in force.
func (a *Actuator) Config() *Config { return a.cur().cfg }

// build makes the live set for a config: pool targets, and the state store
// (memory in a dry run, which changes nothing in Nomad, its variables
// included).
func (a *Actuator) build(c *Config) (*live, error) {
	if err := a.checkNomad(c); err != nil {
		return nil, err
	}
	lv := &live{cfg: c, pools: map[string]PoolScaler{}, state: a.durable}
	if c.Global.DryRun {
		lv.state = a.mem
	}
	for _, p := range c.Policies {
		if p.ScalePool == nil {
			continue
		}
		if s, ok := a.o.Pools[p.Name]; ok {
			lv.pools[p.Name] = s
			continue
		}
		s, err := newPoolScaler(p.ScalePool.Target, a.o.NomadAddress, a.o.NomadToken)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", p.Name, err)
		}
		lv.pools[p.Name] = s
	}
	return lv, nil
}

// checkNomad says which policy's action Options.Nomad cannot carry out, and
// which interface it lacks for it.
func (a *Actuator) checkNomad(c *Config) error {
	for _, p := range c.Policies {
		var lacks string
		switch {
		case p.Action == ActionScaleGroup && a.groups == nil:
			lacks = "GroupScaler"
		case p.Action == ActionMigrate && a.migrator == nil:
			lacks = "NodeMigrator"
		case p.Action == ActionScalePool && a.poolNodes == nil:
			lacks = "PoolNodes"
		default:
			continue
		}
		return fmt.Errorf("policy %s: action %s needs a Nomad that implements actuator.%s, which the given %T does not (actuator.NomadAPI implements every action's)",
			p.Name, p.Action, lacks, a.o.Nomad)
	}
	return nil
}

// Reload puts a new, already validated configuration in force for the
// decisions that start from now on; decisions under way finish with the
// one they started with. nomad, prometheus and leader settings are read at
// start only (the caller says so).
func (a *Actuator) Reload(c *Config) error {
	if c == nil {
		return errors.New("reload: no config")
	}
	lv, err := a.build(c)
	if err != nil {
		return err
	}
	lv.gen = a.gens.Add(1)
	a.lv.Store(lv)
	return nil
}

// New builds an actuator.
func New(o Options) (*Actuator, error) {
	if o.Config == nil || o.Nomad == nil || o.Forecasts == nil {
		return nil, errors.New("actuator: Config, Nomad and Forecasts are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Audit == nil {
		o.Audit = o.Log
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	a := &Actuator{o: o, seen: map[string]time.Time{}, busy: map[string]bool{}, durable: o.State, mem: NewMemState(), inflight: map[int64]inflight{}}
	a.idle = sync.NewCond(&a.mu)
	a.groups, _ = o.Nomad.(GroupScaler)
	a.migrator, _ = o.Nomad.(NodeMigrator)
	a.poolNodes, _ = o.Nomad.(PoolNodes)
	if a.durable == nil {
		a.durable = a.mem
	}
	a.bgCtx, a.bgStop = context.WithCancel(context.Background())
	if err := a.Reload(o.Config); err != nil {
		return nil, err
	}
	return a, nil
}

// Metrics returns the actuator's metrics.
func (a *Actuator) Metrics() *Metrics { return a.o.Metrics }

// Close stops background work (migrations waiting to restore eligibility,
// drains waiting to finish) and waits for it.
func (a *Actuator) Close() {
	a.bgStop()
	a.bg.Wait()
}

// Wait waits for background work to finish by itself (tests).
func (a *Actuator) Wait() { a.bg.Wait() }

// inflight is an action Nomad is carrying out right now.
type inflight struct {
	Key, Action, Object string
	Since               time.Time
}

func (a *Actuator) begin(d *decision) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nextID++
	a.inflight[a.nextID] = inflight{Key: clip(d.key, maxDetailBytes), Action: d.action, Object: clip(d.object, maxDetailBytes), Since: time.Now()}
	return a.nextID
}

func (a *Actuator) end(id int64) {
	a.mu.Lock()
	delete(a.inflight, id)
	if len(a.inflight) == 0 {
		a.idle.Broadcast()
	}
	a.mu.Unlock()
}

// Drain waits until no action is in flight or ctx ends, and returns how
// many were still running then; each of those gets an audit ERROR line
// (their intent is in the audit log, their outcome is not). The caller
// stops taking new alerts first.
func (a *Actuator) Drain(ctx context.Context) int {
	stop := context.AfterFunc(ctx, func() {
		a.mu.Lock()
		a.idle.Broadcast()
		a.mu.Unlock()
	})
	defer stop()
	a.mu.Lock()
	for len(a.inflight) > 0 && ctx.Err() == nil {
		a.idle.Wait()
	}
	left := make([]inflight, 0, len(a.inflight))
	for _, f := range a.inflight {
		left = append(left, f)
	}
	a.mu.Unlock()
	for _, f := range left {
		a.o.Audit.Error("shutting down with an action in flight: its outcome is unknown, check Nomad", "key", f.Key, "action", f.Action,
			"object", f.Object, "running_seconds", time.Since(f.Since).Seconds())
	}
	return len(left)
}
