// Package sim is a simulated Nomad fleet: node pools, jobs with task groups
// and periodic batch jobs, allocations placed by a bin-packing scheduler, and
// per-job demand that follows a daily and weekly pattern or replays a trace.
// It answers the Nomad HTTP API subset fleetcast uses with Nomad's own JSON,
// exposes Nomad's metric names, and keeps the ground truth (overload, unplaced
// demand, capacity used) that the demo, the end-to-end tests and the
// closed-loop benchmark judge fleetcast by. Time is virtual: Advance moves it,
// so weeks pass in seconds; Run drives it from a clock.
package sim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/cronexpr"
	"github.com/hashicorp/nomad/api"
)

// Fleet is a simulated Nomad cluster. All methods are safe for concurrent use.
type Fleet struct {
	mu      sync.RWMutex
	cfg     *Config
	start   time.Time
	now     time.Time
	step    time.Duration
	index   uint64 // Raft-like index, bumped on every change
	serial  uint64 // for IDs
	nodes   []*node
	pools   map[string]*pool
	jobs    []*job
	allocs  []*alloc
	vars    map[string]*variable
	deploys []*deployment
	dirty   bool // the scheduler must run
	truth   truthAcc
	changed chan struct{} // closed and replaced on every change, for blocking queries
	// wallNow is the clock of variable locks, which replicas renew in real
	// time even when the fleet runs accelerated.
	wallNow func() time.Time
	logger  *slog.Logger
	// The metric families (their labels depend on the config) and the
	// series that stopped being updated but are still exported.
	fams   []family
	famIdx map[string]int
	ghosts []ghost
}

type pool struct {
	cfg    PoolConfig
	nextID int // serial of the next node's name
}

type node struct {
	id, name, pool, dc, class string
	cpu, mem, cores           int
	resCPU, resMem            int
	meta                      map[string]string
	eligible                  bool
	drain                     *api.DrainStrategy
	lastDrain                 *api.DrainMetadata
	status                    string // initializing, ready, down
	readyAt, downAt           time.Time
	createIndex, modifyIndex  uint64
	// state of the last step
	demand, usage float64
	overloadSec   float64
}

type job struct {
	cfg                                    JobConfig
	id, ns, typ, parentID                  string
	groups                                 []*group
	createIndex, modifyIndex, jobModifyIdx uint64
	version                                uint64
	submitTime                             int64
	cron                                   *cronexpr.Expression
	cronLoc                                *time.Location
	nextLaunch                             time.Time
	endAt                                  time.Time // children of periodic jobs finish then
	status                                 string    // pending, running, dead
	deadAt                                 time.Time
	anomalies                              []anomaly
	overloadSec                            float64
	unplaced                               float64 // MHz, last step
}

type group struct {
	cfg        GroupConfig
	count      int
	events     []api.ScalingEvent
	model      *demandModel
	override   func(time.Time) float64
	demand     float64 // last step
	served     float64
	queued     int
	overloaded bool
	// blocked is the ID of the blocked evaluation Nomad keeps while
	// allocations of the group cannot be placed, and since when.
	blocked      string
	blockedSince time.Time
	// deployedAt is when the job's latest deployment began (a count change
	// of a service or system job starts one); zero for the deployment that
	// was done before the fleet's start.
	deployedAt time.Time
}

type anomaly struct {
	factor   float64
	from, to time.Time
}

type alloc struct {
	id, name, evalID        string
	job                     *job
	group                   *group
	node                    *node
	index                   int
	desired, desiredDesc    string // run, stop
	client, clientDesc      string // pending, running, complete, lost
	createTime, modifyTime  time.Time
	startAt                 time.Time
	createIndex, modifyIdx  uint64
	prevAlloc, nextAlloc    string
	migrate                 bool
	usage, mem, demandShare float64
}

type deployment struct {
	id          string
	job         *job
	status      string // running, successful
	until       time.Time
	createIndex uint64
	modifyIndex uint64
	desired     map[string]int
}

type truthAcc struct {
	jobOverloadSec    map[string]float64
	nodeOverloadSec   map[string]float64 // by node ID; kept after a node is gone
	unplacedMHzSec    float64
	nodeSeconds       float64
	capacityMHzSec    float64
	allocatedMHzSec   float64
	demandMHzSec      float64
	servedMHzSec      float64
	anyOverloadSecond float64
}

// APIError is a refusal with the HTTP status Nomad answers and its message.
type APIError struct {
	Code int
	Msg  string
}

func (e *APIError) Error() string { return e.Msg }

func apiErr(code int, format string, args ...any) *APIError {
	return &APIError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// New builds the fleet as it is at start: every pool's nodes ready, every
// job's allocations placed and running.
func New(cfg *Config, start time.Time) (*Fleet, error) {
	if cfg == nil {
		return nil, errors.New("sim: nil config")
	}
	if cfg.loc == nil {
		// A Config built in Go rather than parsed: validate and default it.
		if err := cfg.validate(); err != nil {
			return nil, fmt.Errorf("fleet config: %w", err)
		}
	}
	start = start.Truncate(time.Second)
	f := &Fleet{
		cfg: cfg, start: start, now: start, step: time.Duration(cfg.Step),
		pools: map[string]*pool{}, vars: map[string]*variable{},
		changed: make(chan struct{}), wallNow: time.Now, logger: slog.New(slog.DiscardHandler),
		index: 1,
	}
	f.fams = metricFamilies(!cfg.DisableHostname)
	f.famIdx = make(map[string]int, len(f.fams))
	for i, fm := range f.fams {
		f.famIdx[fm.name] = i
	}
	f.truth.jobOverloadSec = map[string]float64{}
	f.truth.nodeOverloadSec = map[string]float64{}
	for _, pc := range cfg.NodePools {
		p := &pool{cfg: pc}
		f.pools[pc.Name] = p
		for i := 0; i < pc.Count; i++ {
			n := f.addNode(p)
			n.status = "ready"
			n.readyAt = start
			for _, name := range pc.Ineligible {
				if name == n.name {
					n.eligible = false
				}
			}
		}
	}
	for _, jc := range cfg.Jobs {
		j, err := f.newJob(jc, "")
		if err != nil {
			return nil, err
		}
		f.jobs = append(f.jobs, j)
		if jc.ActiveDeployment > 0 {
			f.startDeployment(j, time.Duration(jc.ActiveDeployment))
		}
	}
	for _, vc := range cfg.Variables {
		f.index++
		ts := start.UnixNano()
		f.vars[varKey(vc.Namespace, vc.Path)] = &variable{v: api.Variable{
			Namespace: vc.Namespace, Path: vc.Path, Items: copyMap(vc.Items),
			CreateIndex: f.index, ModifyIndex: f.index, CreateTime: ts, ModifyTime: ts,
		}}
	}
	// The fleet starts settled: allocations placed at start are running.
	f.schedule()
	for _, a := range f.allocs {
		if a.client == "pending" {
			a.client = "running"
			a.startAt = start
		}
	}
	f.computeLoad(start)
	return f, nil
}

// SetLogger sets where the fleet logs its decisions (default: nowhere).
func (f *Fleet) SetLogger(l *slog.Logger) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l != nil {
		f.logger = l
	}
}

// SetWallClock sets the clock that variable lock TTLs run on (default
// time.Now): locks are renewed by real processes even when the fleet runs
// in virtual time.
func (f *Fleet) SetWallClock(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now != nil {
		f.wallNow = now
	}
}

// Now is the fleet's simulated time.
func (f *Fleet) Now() time.Time {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.now
}

// NomadVersion is the Nomad release the fleet claims to be (the config's
// nomad_version, DefaultNomadVersion when unset).
func (f *Fleet) NomadVersion() string { return f.cfg.version.text }

// Start is the time the fleet was created at; trends count from it.
func (f *Fleet) Start() time.Time { return f.start }

// Step is the simulation's resolution.
func (f *Fleet) Step() time.Duration { return f.step }

func (f *Fleet) newID(kind string) string {
	f.serial++
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(f.cfg.Seed))
	binary.LittleEndian.PutUint64(b[8:], f.serial)
	sum := sha256.Sum256(append([]byte(kind), b[:]...))
	u := sum[:16]
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func (f *Fleet) bump() uint64 {
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
	return f.index
}

func (f *Fleet) addNode(p *pool) *node {
	p.nextID++
	idx := f.bump()
	n := &node{
		id: f.newID("node"), name: fmt.Sprintf("%s-%d", p.cfg.Name, p.nextID),
		pool: p.cfg.Name, dc: p.cfg.Datacenter, class: p.cfg.NodeClass,
		cpu: p.cfg.CPUMHz, mem: p.cfg.MemoryMB, cores: p.cfg.Cores,
		resCPU: p.cfg.ReservedCPU, resMem: p.cfg.ReservedMem,
		meta: copyMap(p.cfg.Meta), eligible: true, status: "initializing",
		createIndex: idx, modifyIndex: idx,
	}
	f.nodes = append(f.nodes, n)
	return n
}

func (f *Fleet) newJob(jc JobConfig, parentID string) (*job, error) {
	idx := f.bump()
	j := &job{
		cfg: jc, id: jc.ID, ns: jc.Namespace, typ: jc.Type, parentID: parentID,
		createIndex: idx, modifyIndex: idx, jobModifyIdx: idx,
		submitTime: f.now.UnixNano(), status: "running",
	}
	if jc.Periodic != nil && parentID == "" {
		e, err := cronexpr.Parse(jc.Periodic.Cron)
		if err != nil {
			return nil, fmt.Errorf("job %s: periodic cron %q: %w", jc.ID, jc.Periodic.Cron, err)
		}
		loc, err := loadZone(jc.Periodic.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", jc.ID, err)
		}
		j.cron, j.cronLoc = e, loc
		j.nextLaunch = e.Next(f.now.In(loc))
		j.status = "running" // Nomad shows a periodic parent as running
	}
	for _, gc := range jc.Groups {
		m, err := newDemandModel(gc.Demand, f.cfg.Seed, jc.ID+"/"+gc.Name, f.start, f.cfg.loc)
		if err != nil {
			return nil, fmt.Errorf("job %s group %s: %w", jc.ID, gc.Name, err)
		}
		// A periodic parent keeps the count as its spec; only its
		// children run allocations.
		j.groups = append(j.groups, &group{cfg: gc, count: gc.Count, model: m})
	}
	f.dirty = true
	return j, nil
}

// isParent says whether a job is a periodic parent, which only launches
// children and runs nothing itself.
func (j *job) isParent() bool { return j.cron != nil }

func (f *Fleet) findJob(ns, id string) *job {
	if ns == "" {
		ns = "default"
	}
	for _, j := range f.jobs {
		if j.id == id && j.ns == ns {
			return j
		}
	}
	return nil
}

func (f *Fleet) findNode(id string) *node {
	for _, n := range f.nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

func (f *Fleet) findAlloc(id string) *alloc {
	for _, a := range f.allocs {
		if a.id == id {
			return a
		}
	}
	return nil
}

func (j *job) group(name string) *group {
	for _, g := range j.groups {
		if g.cfg.Name == name {
			return g
		}
	}
	return nil
}

// Advance moves simulated time forward to `to` in steps, running the
// scheduler, periodic launches, boots and drains and integrating the ground
// truth. Times at or before the fleet's current time are ignored.
func (f *Fleet) Advance(to time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.advance(to)
}

func (f *Fleet) advance(to time.Time) {
	for f.now.Before(to) {
		next := f.now.Add(f.step)
		if next.After(to) {
			next = to
		}
		dt := next.Sub(f.now).Seconds()
		f.now = next
		f.tick(next, dt)
	}
}

// Run advances the fleet to now() every tick until ctx ends. With an
// accelerated now (see cmd sim --speed) simulated time runs faster.
func (f *Fleet) Run(ctx context.Context, tick time.Duration, now func() time.Time) {
	if tick <= 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		f.Advance(now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (f *Fleet) tick(t time.Time, dt float64) {
	// The state computed at the previous step held until now.
	f.integrate(dt)
	// Nodes finish booting; removed nodes are forgotten after a while.
	kept := f.nodes[:0]
	for _, n := range f.nodes {
		if n.status == "initializing" && !t.Before(n.readyAt) {
			n.status = "ready"
			n.modifyIndex = f.bump()
			f.dirty = true
			f.logger.Info("node ready", "node", n.name, "pool", n.pool)
		}
		if n.status == "down" && t.Sub(n.downAt) > time.Hour {
			continue
		}
		kept = append(kept, n)
	}
	f.nodes = kept
	for _, a := range f.allocs {
		if a.client == "pending" && a.desired == "run" && !t.Before(a.startAt) {
			a.client = "running"
			a.modifyIdx = f.bump()
			a.modifyTime = t
		}
	}
	for _, d := range f.deploys {
		if d.status == "running" && !t.Before(d.until) {
			d.status = "successful"
			d.modifyIndex = f.bump()
		}
	}
	f.periodic(t)
	if f.dirty || f.anyQueued() {
		f.schedule()
	}
	f.finishDrains(t)
	f.gc(t)
	f.pruneGhosts(t)
	f.computeLoad(t)
}

func (f *Fleet) anyQueued() bool {
	for _, j := range f.jobs {
		for _, g := range j.groups {
			if g.queued > 0 {
				return true
			}
		}
	}
	return false
}

// periodic launches children of periodic jobs when their cron fires and
// finishes children whose run is over.
func (f *Fleet) periodic(t time.Time) {
	for _, j := range f.jobs {
		if j.parentID != "" && j.status == "running" && !t.Before(j.endAt) {
			j.status = "dead"
			j.deadAt = t
			j.modifyIndex = f.bump()
			for _, a := range f.allocs {
				if a.job == j && !a.terminal() {
					if exportsAllocMetrics(a) {
						f.retire(f.allocSamples(a))
					}
					a.desired, a.client, a.clientDesc = "run", "complete", "All tasks have completed"
					a.modifyIdx = f.bump()
					a.modifyTime = t
				}
			}
			f.dirty = true
		}
	}
	for _, j := range append([]*job(nil), f.jobs...) {
		if !j.isParent() {
			continue
		}
		for n := 0; !j.nextLaunch.IsZero() && !t.Before(j.nextLaunch) && n < 1000; n++ {
			launch := j.nextLaunch
			j.nextLaunch = j.cron.Next(launch.In(j.cronLoc))
			if j.cfg.Periodic.ProhibitOverlap && f.childRunning(j) {
				continue
			}
			jc := j.cfg
			jc.ID = fmt.Sprintf("%s/periodic-%d", j.id, launch.Unix())
			jc.Periodic = nil
			child, err := f.newJob(jc, j.id)
			if err != nil {
				f.logger.Error("launch periodic child", "job", j.id, "err", err)
				continue
			}
			child.submitTime = launch.UnixNano()
			child.endAt = launch.Add(time.Duration(j.cfg.Periodic.Duration))
			f.jobs = append(f.jobs, child)
			f.logger.Info("periodic launch", "job", j.id, "child", child.id, "at", launch)
		}
	}
}

func (f *Fleet) childRunning(parent *job) bool {
	for _, j := range f.jobs {
		if j.parentID == parent.id && j.ns == parent.ns && j.status == "running" {
			return true
		}
	}
	return false
}

// gc forgets dead periodic children an hour after they finished and
// terminal allocations that have been replaced long ago, as Nomad's garbage
// collector does, so that a long run keeps a bounded state.
func (f *Fleet) gc(t time.Time) {
	keptJobs := f.jobs[:0]
	gone := map[*job]bool{}
	for _, j := range f.jobs {
		if j.parentID != "" && j.status == "dead" && t.Sub(j.deadAt) > time.Hour {
			gone[j] = true
			continue
		}
		keptJobs = append(keptJobs, j)
	}
	f.jobs = keptJobs
	keptAllocs := f.allocs[:0]
	for _, a := range f.allocs {
		if gone[a.job] || (a.terminal() && t.Sub(a.modifyTime) > time.Hour) {
			continue
		}
		keptAllocs = append(keptAllocs, a)
	}
	f.allocs = keptAllocs
}

func (a *alloc) terminal() bool {
	return a.desired != "run" || a.client == "complete" || a.client == "failed" || a.client == "lost"
}

// live says whether an allocation holds resources on its node.
func (a *alloc) live() bool { return !a.terminal() }

// desiredCount is how many allocations a group should have.
func (f *Fleet) desiredCount(j *job, g *group) int {
	if j.isParent() || j.status == "dead" {
		return 0
	}
	if j.typ == "system" {
		if g.count == 0 {
			return 0
		}
		n := 0
		for _, nd := range f.nodes {
			if f.nodeFits(j, nd) {
				n++
			}
		}
		return n
	}
	return g.count
}

func (f *Fleet) finishDrains(t time.Time) {
	for _, n := range f.nodes {
		if n.drain == nil {
			continue
		}
		busy := false
		for _, a := range f.allocs {
			if a.node == n && a.live() && !(a.job.typ == "system" && n.drain.IgnoreSystemJobs) {
				busy = true
				break
			}
		}
		if !busy {
			n.lastDrain = &api.DrainMetadata{StartedAt: n.drain.StartedAt, UpdatedAt: t, Status: "complete"}
			n.drain = nil
			n.modifyIndex = f.bump()
			f.logger.Info("drain complete", "node", n.name)
		}
	}
}

// demandOf is a group's demand at t, anomalies included.
func (f *Fleet) demandOf(j *job, g *group, t time.Time) float64 {
	if j.isParent() || j.status == "dead" {
		return 0
	}
	var d float64
	switch {
	case g.override != nil:
		d = g.override(t)
	case j.typ == "batch" && g.cfg.Demand.Base == 0 && g.cfg.Demand.Trace == nil:
		// A batch job works flat out: every allocation it asked for is busy.
		d = float64(g.count) * g.cfg.Capacity
	case j.typ == "system" && g.cfg.Demand.Base == 0 && g.cfg.Demand.Trace == nil:
		d = float64(f.desiredCount(j, g)) * g.cfg.Capacity * 0.5
	default:
		d = g.model.at(t)
	}
	for _, an := range j.anomalies {
		if !t.Before(an.from) && t.Before(an.to) {
			d *= an.factor
		}
	}
	if j.parentID != "" {
		for _, p := range f.jobs {
			if p.id == j.parentID && p.ns == j.ns {
				for _, an := range p.anomalies {
					if !t.Before(an.from) && t.Before(an.to) {
						d *= an.factor
					}
				}
			}
		}
	}
	if d < 0 || math.IsNaN(d) || math.IsInf(d, 0) {
		return 0
	}
	return d
}

// computeLoad spreads each group's demand evenly over its running
// allocations; an allocation serves at most its capacity and its node's CPU.
func (f *Fleet) computeLoad(t time.Time) {
	for _, n := range f.nodes {
		n.demand, n.usage = 0, 0
	}
	running := map[*group][]*alloc{}
	for _, a := range f.allocs {
		a.usage, a.mem, a.demandShare = 0, 0, 0
		if a.live() && a.client == "running" {
			running[a.group] = append(running[a.group], a)
		}
	}
	for _, j := range f.jobs {
		j.unplaced = 0
		for _, g := range j.groups {
			d := f.demandOf(j, g, t)
			g.demand = d
			rs := running[g]
			g.served = 0
			if len(rs) > 0 {
				share := d / float64(len(rs))
				for _, a := range rs {
					a.demandShare = share
					a.usage = math.Min(share, g.cfg.Capacity)
					a.node.demand += share
					a.node.usage += a.usage
				}
			}
			if want := f.desiredCount(j, g); want > 0 && g.queued > 0 {
				j.unplaced += d * float64(g.queued) / float64(want)
			}
		}
	}
	// A node cannot give more CPU than it has: scale its allocations down.
	for _, n := range f.nodes {
		capacity := float64(n.cpu - n.resCPU)
		if n.usage > capacity && n.usage > 0 {
			k := capacity / n.usage
			for _, a := range f.allocs {
				if a.node == n && a.usage > 0 {
					a.usage *= k
				}
			}
			n.usage = capacity
		}
	}
	for _, a := range f.allocs {
		if a.usage > 0 || (a.live() && a.client == "running") {
			g := a.group
			util := 0.0
			if g.cfg.Capacity > 0 {
				util = math.Min(1, a.usage/g.cfg.Capacity)
			}
			dm := g.cfg.Demand
			a.mem = float64(g.cfg.MemoryMB) * (dm.MemoryIdle + (dm.MemoryBusy-dm.MemoryIdle)*util)
		}
	}
	for _, j := range f.jobs {
		for _, g := range j.groups {
			g.served = 0
		}
	}
	for _, a := range f.allocs {
		if a.usage > 0 {
			a.group.served += a.usage
		}
	}
}

// integrate adds dt seconds of the current state to the ground truth.
func (f *Fleet) integrate(dt float64) {
	anyOver := false
	for _, n := range f.nodes {
		if n.status != "ready" {
			continue
		}
		f.truth.nodeSeconds += dt
		f.truth.capacityMHzSec += float64(n.cpu) * dt
		if n.demand > float64(n.cpu-n.resCPU)*(1+1e-9) {
			n.overloadSec += dt
			f.truth.nodeOverloadSec[n.id] += dt
			anyOver = true
		}
	}
	for _, a := range f.allocs {
		if a.live() && a.node != nil {
			f.truth.allocatedMHzSec += float64(a.group.cfg.CPU) * dt
		}
	}
	for _, j := range f.jobs {
		over := false
		for _, g := range j.groups {
			f.truth.demandMHzSec += g.demand * dt
			f.truth.servedMHzSec += g.served * dt
			if j.typ == "batch" {
				// Batch work waits rather than degrades: it is short of
				// capacity only when allocations cannot be placed.
				g.overloaded = g.queued > 0
			} else {
				g.overloaded = g.demand > g.served*(1+1e-9)+1e-9
			}
			if g.overloaded {
				over = true
			}
		}
		if over {
			j.overloadSec += dt
			key := j.id
			if j.parentID != "" {
				key = j.parentID
			}
			f.truth.jobOverloadSec[key] += dt
			anyOver = true
		}
		f.truth.unplacedMHzSec += j.unplaced * dt
	}
	if anyOver {
		f.truth.anyOverloadSecond += dt
	}
}

// Truth is the simulator's ground truth: what a perfect observer would know.
type Truth struct {
	Time time.Time
	// NodeOverloadSeconds: per node ID (removed nodes included), seconds
	// during which the demand sent to the node's allocations exceeded its CPU.
	NodeOverloadSeconds map[string]float64
	// JobOverloadSeconds: per job ID (periodic children count for their
	// parent), seconds during which some group's demand exceeded what its
	// running allocations could serve.
	JobOverloadSeconds map[string]float64
	// OverloadSeconds: seconds during which any node or job was overloaded.
	OverloadSeconds float64
	// UnplacedDemandMHz: per job ID, demand now waiting for allocations the
	// scheduler could not place; UnplacedMHzSeconds integrates all of it.
	UnplacedDemandMHz  map[string]float64
	UnplacedMHzSeconds float64
	// Now: demand, served demand, CPU of ready nodes and CPU asked by
	// placed allocations, all in MHz, and ready nodes.
	DemandMHz, ServedMHz, CapacityMHz, AllocatedMHz float64
	ReadyNodes                                      int
	// Integrals since start.
	NodeHours, CapacityMHzHours, AllocatedMHzHours, DemandMHzHours, ServedMHzHours float64
}

// Truth returns the ground truth so far.
func (f *Fleet) Truth() Truth {
	f.mu.RLock()
	defer f.mu.RUnlock()
	tr := Truth{
		Time:                f.now,
		NodeOverloadSeconds: map[string]float64{},
		JobOverloadSeconds:  map[string]float64{},
		UnplacedDemandMHz:   map[string]float64{},
		OverloadSeconds:     f.truth.anyOverloadSecond,
		UnplacedMHzSeconds:  f.truth.unplacedMHzSec,
		NodeHours:           f.truth.nodeSeconds / 3600,
		CapacityMHzHours:    f.truth.capacityMHzSec / 3600,
		AllocatedMHzHours:   f.truth.allocatedMHzSec / 3600,
		DemandMHzHours:      f.truth.demandMHzSec / 3600,
		ServedMHzHours:      f.truth.servedMHzSec / 3600,
	}
	for k, v := range f.truth.jobOverloadSec {
		tr.JobOverloadSeconds[k] = v
	}
	for id, v := range f.truth.nodeOverloadSec {
		tr.NodeOverloadSeconds[id] = v
	}
	for _, n := range f.nodes {
		if _, ok := tr.NodeOverloadSeconds[n.id]; !ok {
			tr.NodeOverloadSeconds[n.id] = 0
		}
		if n.status == "ready" {
			tr.ReadyNodes++
			tr.CapacityMHz += float64(n.cpu)
		}
	}
	for _, j := range f.jobs {
		key := j.id
		if j.parentID != "" {
			key = j.parentID
		}
		if j.unplaced > 0 {
			tr.UnplacedDemandMHz[key] += j.unplaced
		}
		for _, g := range j.groups {
			tr.DemandMHz += g.demand
			tr.ServedMHz += g.served
		}
	}
	for _, a := range f.allocs {
		if a.live() {
			tr.AllocatedMHz += float64(a.group.cfg.CPU)
		}
	}
	return tr
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
