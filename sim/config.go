package sim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleetcast/fleetcast/internal/nomadver"
	"github.com/fleetcast/fleetcast/internal/yamlcfg"
	"github.com/hashicorp/cronexpr"
	"github.com/prometheus/common/model"
)

// Config describes a simulated fleet: its node pools, its jobs and how their
// demand moves. It is read from YAML (see examples/fleet.yml and sim/README.md).
type Config struct {
	// Seed makes noise and IDs reproducible: the same seed, start and
	// config give the same fleet and the same demand.
	Seed int64 `yaml:"seed"`
	// Region and the agent name only show in JSON answers.
	Region string `yaml:"region"`
	// NomadVersion is the Nomad release the simulator claims to be (default
	// DefaultNomadVersion, 1.6.0 or later). /v1/agent/self and the nodes
	// report it, and the behaviours that differ between releases follow it:
	// variable locks from 1.7.0, the scale endpoint's JobModifyIndex check
	// from 1.8.2.
	NomadVersion string `yaml:"nomad_version"`
	// DisableHostname is the agents' telemetry.disable_hostname: when set,
	// client metrics carry no host label (Nomad's default is to add it).
	DisableHostname bool `yaml:"disable_hostname"`
	// Step is the resolution of the simulation (default 10s). Demand,
	// usage and ground truth are integrated in steps of this size.
	Step model.Duration `yaml:"step"`
	// ACLToken, when set, must be sent as X-Nomad-Token on /v1/ requests.
	ACLToken string `yaml:"acl_token"`
	// NamespaceTokens are further tokens (acl_token must be set) whose
	// policy reaches some namespaces only: what a token without read-job
	// in a namespace sees.
	NamespaceTokens []NamespaceToken `yaml:"namespace_tokens"`
	// BootDelay is how long a node added by a pool size change takes to
	// become ready (default 2m).
	BootDelay model.Duration `yaml:"boot_delay"`
	// AllocStartDelay is how long a placed allocation takes to start
	// running and serve demand (default 15s).
	AllocStartDelay model.Duration `yaml:"alloc_start_delay"`
	// TimeZone is the default zone for daily and weekly demand shapes and
	// cron specs (default UTC).
	TimeZone  string         `yaml:"time_zone"`
	NodePools []PoolConfig   `yaml:"node_pools"`
	Jobs      []JobConfig    `yaml:"jobs"`
	Variables []VarConfig    `yaml:"variables"`
	file      string         // where the config came from, for trace paths
	loc       *time.Location // resolved TimeZone
	version   nomadVersion   // parsed NomadVersion
}

// NamespaceToken is a token with every namespace capability in
// Namespaces and none in the others (node, node pool and agent access as
// acl_token's).
type NamespaceToken struct {
	Secret     string   `yaml:"secret"`
	Namespaces []string `yaml:"namespaces"`
}

// PoolConfig is a node pool: Count identical nodes that a pool size change
// can grow or shrink between Min and Max.
type PoolConfig struct {
	Name        string            `yaml:"name"`
	Datacenter  string            `yaml:"datacenter"`
	NodeClass   string            `yaml:"node_class"`
	CPUMHz      int               `yaml:"cpu_mhz"`
	Cores       int               `yaml:"cores"`
	MemoryMB    int               `yaml:"memory_mb"`
	Count       int               `yaml:"count"`
	Min         int               `yaml:"min"`
	Max         int               `yaml:"max"`
	Meta        map[string]string `yaml:"meta"`
	Ineligible  []string          `yaml:"ineligible"` // node names that start ineligible
	ReservedCPU int               `yaml:"reserved_cpu_mhz"`
	ReservedMem int               `yaml:"reserved_memory_mb"`
}

// JobConfig is one Nomad job.
type JobConfig struct {
	ID          string            `yaml:"id"`
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Type        string            `yaml:"type"` // service (default), batch, system
	Priority    int               `yaml:"priority"`
	Datacenters []string          `yaml:"datacenters"`
	NodePool    string            `yaml:"node_pool"`
	Meta        map[string]string `yaml:"meta"`
	// DistinctHosts applies Nomad's distinct_hosts constraint to the whole job.
	DistinctHosts bool            `yaml:"distinct_hosts"`
	Periodic      *PeriodicConfig `yaml:"periodic"`
	// Deployment, when set, is how long a deployment started by a count
	// change stays active; Nomad refuses to scale the job meanwhile.
	Deployment model.Duration `yaml:"deployment"`
	// ActiveDeployment starts the job with a deployment running for this long.
	ActiveDeployment model.Duration `yaml:"active_deployment"`
	Groups           []GroupConfig  `yaml:"groups"`
}

// PeriodicConfig is a periodic batch job's schedule, read as Nomad reads it.
type PeriodicConfig struct {
	Cron            string         `yaml:"cron"`
	TimeZone        string         `yaml:"time_zone"`
	ProhibitOverlap bool           `yaml:"prohibit_overlap"`
	Duration        model.Duration `yaml:"duration"` // how long each launched child runs (default 10m)
}

// GroupConfig is a task group: Count allocations, each asking CPU and Memory
// and able to serve up to Capacity MHz of demand.
type GroupConfig struct {
	Name  string `yaml:"name"`
	Task  string `yaml:"task"` // task name (default: the group's name)
	Count int    `yaml:"count"`
	// CPU (MHz) and MemoryMB are the per-allocation resource asks the
	// scheduler packs.
	CPU      int `yaml:"cpu"`
	MemoryMB int `yaml:"memory_mb"`
	// Capacity is how much demand (MHz) one running allocation serves
	// before it is overloaded (default: CPU).
	Capacity      float64           `yaml:"capacity_mhz"`
	DistinctHosts bool              `yaml:"distinct_hosts"`
	Scaling       *ScalingRange     `yaml:"scaling"`
	Meta          map[string]string `yaml:"meta"`
	Demand        DemandConfig      `yaml:"demand"`
}

// ScalingRange is a group's scaling block.
type ScalingRange struct {
	Min     int   `yaml:"min"`
	Max     int   `yaml:"max"`
	Enabled *bool `yaml:"enabled"`
}

// DemandConfig says how much CPU (MHz) a group needs over time, in total
// over all its allocations. Either a pattern (Base with shapes) or a Trace.
type DemandConfig struct {
	Base float64 `yaml:"base_mhz"`
	// Daily is the relative amplitude of the daily cycle, peaking at DailyPeak (e.g. "14:00").
	Daily     float64 `yaml:"daily"`
	DailyPeak string  `yaml:"daily_peak"`
	// Weekend is the relative dip on Saturdays and Sundays.
	Weekend float64 `yaml:"weekend"`
	// Trend is the relative growth per day, from the fleet's start.
	Trend float64 `yaml:"trend_per_day"`
	// Noise is the relative standard deviation of smooth per-minute noise.
	Noise float64      `yaml:"noise"`
	Peaks []PeakConfig `yaml:"peaks"`
	Trace *TraceConfig `yaml:"trace"`
	// Memory usage per allocation as a fraction of its ask: Idle at no load,
	// rising linearly to Busy at full capacity (defaults 0.4 and 0.8).
	MemoryIdle float64 `yaml:"memory_idle"`
	MemoryBusy float64 `yaml:"memory_busy"`
	dailyPeak  time.Duration
}

// PeakConfig is a scheduled peak: demand multiplied by Factor for Duration
// from each time Cron fires (or once, from At).
type PeakConfig struct {
	Cron     string         `yaml:"cron"`
	At       time.Time      `yaml:"at"`
	Duration model.Duration `yaml:"duration"`
	Factor   float64        `yaml:"factor"`
	expr     *cronexpr.Expression
}

// TraceConfig replays a CSV trace (series,timestamp,value).
type TraceConfig struct {
	File   string `yaml:"file"`
	Series string `yaml:"series"` // default: the first series in the file
	// Scale multiplies every value; PeakMHz instead scales so that the
	// trace's largest value becomes PeakMHz. One of them (default Scale 1).
	Scale   float64 `yaml:"scale"`
	PeakMHz float64 `yaml:"peak_mhz"`
	// Align "start" (default) shifts the trace so its first sample falls
	// at the fleet's start and loops it; "absolute" uses its timestamps
	// as they are and holds the last value after its end.
	Align string `yaml:"align"`
}

// VarConfig is a Nomad variable present at start.
type VarConfig struct {
	Path      string            `yaml:"path"`
	Namespace string            `yaml:"namespace"`
	Items     map[string]string `yaml:"items"`
}

// LoadConfig reads and validates a fleet file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fleet config: %w", err)
	}
	return ParseConfig(b, path)
}

// ParseConfig reads and validates a fleet from YAML; name is used in errors
// and to find trace files relative to it.
func ParseConfig(b []byte, name string) (*Config, error) {
	var c Config
	if err := yamlcfg.Decode(b, &c); err != nil && !errors.Is(err, yamlcfg.ErrEmpty) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c.file = name
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

// validName accepts what Nomad accepts in IDs and names that end up in
// URL paths and labels: letters, digits, _ . - not starting with _ . -.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || (r != '_' && r != '.' && r != '-')) {
			return false
		}
	}
	return true
}

func (c *Config) validate() error {
	if c.Region == "" {
		c.Region = "global"
	}
	if c.NomadVersion == "" {
		c.NomadVersion = DefaultNomadVersion
	}
	v, err := parseNomadVersion(c.NomadVersion)
	if err != nil {
		return fmt.Errorf("nomad_version: %w", err)
	}
	if !v.AtLeast(nomadver.Version{Major: 1, Minor: 6}) {
		return fmt.Errorf("nomad_version: %s is older than the simulator models; want 1.6.0 or later (node pools came with 1.6)", c.NomadVersion)
	}
	c.version = v
	if c.Step == 0 {
		c.Step = model.Duration(10 * time.Second)
	}
	if time.Duration(c.Step) < time.Second {
		return fmt.Errorf("step: %s is too small; want 1s or more", time.Duration(c.Step))
	}
	if c.BootDelay == 0 {
		c.BootDelay = model.Duration(2 * time.Minute)
	}
	if c.AllocStartDelay == 0 {
		c.AllocStartDelay = model.Duration(15 * time.Second)
	}
	loc, err := loadZone(c.TimeZone)
	if err != nil {
		return fmt.Errorf("time_zone: %w", err)
	}
	c.loc = loc
	secrets := map[string]bool{c.ACLToken: true}
	for i, nt := range c.NamespaceTokens {
		where := fmt.Sprintf("namespace_tokens[%d]", i)
		switch {
		case c.ACLToken == "":
			return fmt.Errorf("%s: a namespace token needs ACLs on; set acl_token (the token that may do everything) too", where)
		case nt.Secret == "":
			return fmt.Errorf("%s.secret: must not be empty", where)
		case secrets[nt.Secret]:
			return fmt.Errorf("%s.secret: already the secret of acl_token or of another token; secrets must be unique", where)
		case len(nt.Namespaces) == 0:
			return fmt.Errorf("%s.namespaces: name at least one namespace the token may use", where)
		}
		secrets[nt.Secret] = true
		for k, ns := range nt.Namespaces {
			if ns == "" || ns == "*" {
				return fmt.Errorf("%s.namespaces[%d]: %q is not a namespace; name one (a token for all of them is acl_token)", where, k, ns)
			}
		}
	}
	if len(c.NodePools) == 0 {
		return errors.New("node_pools: at least one pool is required")
	}
	pools := map[string]bool{}
	for i := range c.NodePools {
		p := &c.NodePools[i]
		if err := p.validate(fmt.Sprintf("node_pools[%d]", i)); err != nil {
			return err
		}
		if pools[p.Name] {
			return fmt.Errorf("node_pools[%d].name: pool %q is defined twice; names must be unique", i, p.Name)
		}
		pools[p.Name] = true
	}
	jobs := map[string]bool{}
	for i := range c.Jobs {
		if err := c.validateJob(i, pools, jobs); err != nil {
			return err
		}
	}
	for i := range c.Variables {
		v := &c.Variables[i]
		if strings.Trim(v.Path, "/ ") == "" {
			return fmt.Errorf("variables[%d].path: must not be empty", i)
		}
		v.Path = strings.Trim(v.Path, "/ ")
		if v.Namespace == "" {
			v.Namespace = "default"
		}
	}
	return nil
}

// validate checks a pool and fills its defaults; where is its path.
func (p *PoolConfig) validate(where string) error {
	if !validName(p.Name) {
		return fmt.Errorf("%s.name: %q is not a valid name (letters, digits, _ . -)", where, p.Name)
	}
	if p.Datacenter == "" {
		p.Datacenter = "dc1"
	}
	if p.CPUMHz <= 0 {
		return fmt.Errorf("%s.cpu_mhz: must be positive, got %d", where, p.CPUMHz)
	}
	if p.MemoryMB <= 0 {
		return fmt.Errorf("%s.memory_mb: must be positive, got %d", where, p.MemoryMB)
	}
	if p.Cores <= 0 {
		p.Cores = max(1, p.CPUMHz/2500)
	}
	if p.Count < 0 {
		return fmt.Errorf("%s.count: must not be negative, got %d", where, p.Count)
	}
	if p.Max == 0 {
		p.Max = max(p.Count, 1) * 4
	}
	if p.Min < 0 || p.Min > p.Max || p.Count < p.Min || p.Count > p.Max {
		return fmt.Errorf("%s: want 0 <= min (%d) <= count (%d) <= max (%d)", where, p.Min, p.Count, p.Max)
	}
	if p.ReservedCPU < 0 || p.ReservedCPU >= p.CPUMHz || p.ReservedMem < 0 || p.ReservedMem >= p.MemoryMB {
		return fmt.Errorf("%s: reserved_cpu_mhz and reserved_memory_mb must be below the node's cpu_mhz and memory_mb", where)
	}
	return nil
}

func (c *Config) validateJob(i int, pools, jobs map[string]bool) error {
	j := &c.Jobs[i]
	where := fmt.Sprintf("jobs[%d]", i)
	if !validName(j.ID) {
		return fmt.Errorf("%s.id: %q is not a valid job ID (letters, digits, _ . -)", where, j.ID)
	}
	where = fmt.Sprintf("jobs[%d] (%s)", i, j.ID)
	if j.Name == "" {
		j.Name = j.ID
	}
	if j.Namespace == "" {
		j.Namespace = "default"
	}
	key := j.Namespace + "/" + j.ID
	if jobs[key] {
		return fmt.Errorf("%s.id: job %q is defined twice in namespace %q; IDs must be unique in a namespace", where, j.ID, j.Namespace)
	}
	jobs[key] = true
	switch j.Type {
	case "":
		j.Type = "service"
	case "service", "batch", "system":
	default:
		return fmt.Errorf("%s.type: %q; valid types are service, batch, system", where, j.Type)
	}
	if j.Priority == 0 {
		j.Priority = 50
	}
	if j.Priority < 1 || j.Priority > 100 {
		return fmt.Errorf("%s.priority: %d; want 1 to 100", where, j.Priority)
	}
	if j.NodePool == "" {
		j.NodePool = c.NodePools[0].Name
	}
	if !pools[j.NodePool] {
		return fmt.Errorf("%s.node_pool: no pool %q in node_pools", where, j.NodePool)
	}
	if len(j.Datacenters) == 0 {
		j.Datacenters = []string{"*"}
	}
	if j.Periodic != nil {
		if j.Type != "batch" {
			return fmt.Errorf("%s.periodic: only batch jobs can be periodic, this one is %q", where, j.Type)
		}
		p := j.Periodic
		if _, err := cronexpr.Parse(p.Cron); err != nil {
			return fmt.Errorf("%s.periodic.cron: %q: %w; %s", where, p.Cron, err, cronRule)
		}
		if _, err := loadZone(p.TimeZone); err != nil {
			return fmt.Errorf("%s.periodic.time_zone: %w", where, err)
		}
		if p.TimeZone == "" {
			p.TimeZone = "UTC"
		}
		if p.Duration == 0 {
			p.Duration = model.Duration(10 * time.Minute)
		}
	}
	if len(j.Groups) == 0 {
		return fmt.Errorf("%s.groups: at least one task group is required", where)
	}
	groups := map[string]bool{}
	for k := range j.Groups {
		g := &j.Groups[k]
		gw := fmt.Sprintf("%s.groups[%d]", where, k)
		if !validName(g.Name) {
			return fmt.Errorf("%s.name: %q is not a valid group name (letters, digits, _ . -)", gw, g.Name)
		}
		if groups[g.Name] {
			return fmt.Errorf("%s.name: group %q is defined twice; names must be unique in a job", gw, g.Name)
		}
		groups[g.Name] = true
		if err := g.validate(c, j.Type, gw); err != nil {
			return err
		}
	}
	return nil
}

// validate checks a task group of a job of type jobType and fills its
// defaults; gw is its path.
func (g *GroupConfig) validate(c *Config, jobType, gw string) error {
	if g.Task == "" {
		g.Task = g.Name
	}
	if g.CPU <= 0 {
		return fmt.Errorf("%s.cpu: the per-allocation CPU ask (MHz) must be positive, got %d", gw, g.CPU)
	}
	if g.MemoryMB <= 0 {
		return fmt.Errorf("%s.memory_mb: the per-allocation memory ask must be positive, got %d", gw, g.MemoryMB)
	}
	if g.Capacity == 0 {
		g.Capacity = float64(g.CPU)
	}
	if g.Capacity < 0 {
		return fmt.Errorf("%s.capacity_mhz: must be positive, got %g", gw, g.Capacity)
	}
	if jobType == "system" {
		g.Count = 1
	}
	if g.Count < 0 {
		return fmt.Errorf("%s.count: must not be negative, got %d", gw, g.Count)
	}
	if s := g.Scaling; s != nil {
		if s.Min < 0 || s.Max < s.Min {
			return fmt.Errorf("%s.scaling: want 0 <= min (%d) <= max (%d)", gw, s.Min, s.Max)
		}
		if s.Max == 0 {
			return fmt.Errorf("%s.scaling.max: must be set and positive", gw)
		}
		if g.Count < s.Min || g.Count > s.Max {
			return fmt.Errorf("%s.count: %d is outside scaling min %d and max %d", gw, g.Count, s.Min, s.Max)
		}
	}
	return g.Demand.validate(gw+".demand", c.file)
}

// validate checks a group's demand (at where) and fills its defaults; a
// trace file is read relative to the fleet file, file.
func (d *DemandConfig) validate(where, file string) error {
	if d.Base < 0 {
		return fmt.Errorf("%s.base_mhz: must not be negative, got %g", where, d.Base)
	}
	if d.Daily < 0 || d.Daily > 1 {
		return fmt.Errorf("%s.daily: relative amplitude %g; want 0 to 1", where, d.Daily)
	}
	if d.Weekend < 0 || d.Weekend > 1 {
		return fmt.Errorf("%s.weekend: relative dip %g; want 0 to 1", where, d.Weekend)
	}
	if d.Noise < 0 || d.Noise > 1 {
		return fmt.Errorf("%s.noise: relative deviation %g; want 0 to 1", where, d.Noise)
	}
	if d.DailyPeak == "" {
		d.DailyPeak = "14:00"
	}
	pk, err := time.Parse("15:04", d.DailyPeak)
	if err != nil {
		return fmt.Errorf("%s.daily_peak: %q; want a time of day like 14:00", where, d.DailyPeak)
	}
	d.dailyPeak = time.Duration(pk.Hour())*time.Hour + time.Duration(pk.Minute())*time.Minute
	if d.MemoryIdle == 0 {
		d.MemoryIdle = 0.4
	}
	if d.MemoryBusy == 0 {
		d.MemoryBusy = 0.8
	}
	for i := range d.Peaks {
		p := &d.Peaks[i]
		pw := fmt.Sprintf("%s.peaks[%d]", where, i)
		if (p.Cron == "") == p.At.IsZero() {
			return fmt.Errorf("%s: set exactly one of cron and at", pw)
		}
		if p.Cron != "" {
			e, err := cronexpr.Parse(p.Cron)
			if err != nil {
				return fmt.Errorf("%s.cron: %q: %w; %s", pw, p.Cron, err, cronRule)
			}
			p.expr = e
		}
		if p.Duration <= 0 {
			return fmt.Errorf("%s.duration: must be positive", pw)
		}
		if p.Factor <= 0 {
			return fmt.Errorf("%s.factor: must be positive, got %g", pw, p.Factor)
		}
	}
	if t := d.Trace; t != nil {
		if t.File == "" {
			return fmt.Errorf("%s.trace.file: must be set; want a CSV file of series,timestamp,value", where)
		}
		if !filepath.IsAbs(t.File) && file != "" {
			t.File = filepath.Join(filepath.Dir(file), t.File)
		}
		if t.Scale < 0 || t.PeakMHz < 0 || (t.Scale > 0 && t.PeakMHz > 0) {
			return fmt.Errorf("%s.trace: set at most one of scale and peak_mhz, positive", where)
		}
		switch t.Align {
		case "":
			t.Align = "start"
		case "start", "absolute":
		default:
			return fmt.Errorf("%s.trace.align: %q; valid values are start and absolute", where, t.Align)
		}
	}
	return nil
}

// cronRule says what a valid cron spec is, for errors.
const cronRule = "want a cron spec as Nomad reads it (hashicorp/cronexpr), e.g. 0 */2 * * * or @hourly"

func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Berlin)", name)
	}
	return loc, nil
}
