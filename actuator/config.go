// Package actuator is fleetcast's Alertmanager webhook receiver: policies
// map predicted-shortage alerts to actions, the pure planners in
// actuator/planner size and place them, and a Nomad executor carries them
// out, bounded by cooldowns, rate limits, per-object locks, a dry-run mode and
// an emergency stop file, with one audit line per decision.
package actuator

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/fleetcast/fleetcast/actuator/planner"
	"github.com/fleetcast/fleetcast/internal/promclient"
	"github.com/fleetcast/fleetcast/internal/yamlcfg"
)

// Action names, as the alerts' action label spells them.
const (
	ActionScaleGroup = "scale_group"
	ActionMigrate    = "migrate"
	ActionScalePool  = "scale_pool"
	ActionEscalate   = "escalate"
)

// Config is the actuator's YAML configuration file.
type Config struct {
	Global     Global         `yaml:"global"`
	Nomad      NomadConfig    `yaml:"nomad"`
	Prometheus PromConfig     `yaml:"prometheus"`
	Leader     LeaderConfig   `yaml:"leader"`
	Policies   []Policy       `yaml:"policies"`
	byName     map[string]int `yaml:"-"`
	// warnings: what validates but will not do what it seems to (Warnings).
	warnings []string
}

// Warnings says what the config allows but will not work as it reads, each
// naming the field (and, from LoadConfig, the file) and what to change: an
// escalation ladder with no rung for an object AnomalyDespiteAction can
// name. The actuator starts with them, and logs them at start and reload;
// --check-config prints them.
func (c *Config) Warnings() []string { return c.warnings }

// Global holds the safety limits that apply to every action.
type Global struct {
	// DryRun decides and logs but changes nothing.
	DryRun bool `yaml:"dry_run"`
	// MaxActionsPerHour is the global rate limit over all actions (0 = 60).
	MaxActionsPerHour int `yaml:"max_actions_per_hour"`
	// EmergencyStopFile: while this file exists, nothing is changed.
	EmergencyStopFile string `yaml:"emergency_stop_file"`
	// MaxBodyBytes bounds a webhook request body (0 = 1 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxAlertsPerRequest bounds the alerts one notification may carry
	// (0 = 1000); set Alertmanager's webhook max_alerts at or below it.
	MaxAlertsPerRequest int `yaml:"max_alerts_per_request"`
	// WebhookBearerTokenFile, if set, holds the token every webhook request must present.
	WebhookBearerTokenFile string `yaml:"webhook_bearer_token_file"`
	// DedupeFor is how long an alert (fingerprint + startsAt) is remembered (0 = 24h).
	DedupeFor model.Duration `yaml:"dedupe_for"`
	// DeploymentRetryFor bounds waiting for an active deployment (0 = 30s);
	// the wait never outlasts the alert's own validity (endsAt).
	DeploymentRetryFor model.Duration `yaml:"deployment_retry_for"`
}

// NomadConfig says how to reach Nomad. The token comes from TokenFile or
// the NOMAD_TOKEN environment variable and is never logged.
type NomadConfig struct {
	Address   string `yaml:"address"`
	Region    string `yaml:"region"`
	TokenFile string `yaml:"token_file"`
	// Timeout bounds each Nomad call (default 30s).
	Timeout model.Duration `yaml:"timeout"`
}

// PromConfig says where the sizing queries go, and how to reach it: the
// same prometheus/common HTTP client config as the exporter's (basic auth,
// bearer, OAuth2, TLS, http_headers such as X-Scope-OrgID) and extra
// query parameters.
type PromConfig struct {
	URL         string                  `yaml:"url"`
	Timeout     model.Duration          `yaml:"timeout"`
	QueryParams map[string]string       `yaml:"query_params,omitempty"`
	HTTPConfig  config.HTTPClientConfig `yaml:"http_config,omitempty"`
}

// LeaderConfig enables leader election by a lock on a Nomad variable.
type LeaderConfig struct {
	Enabled bool `yaml:"enabled"`
	// VariablePath is the Nomad variable holding the lock (default fleetcast/actuator/leader).
	VariablePath string `yaml:"variable_path"`
	// Namespace of the variable (default "default").
	Namespace string `yaml:"namespace"`
	// TTL of the lock (default 15s).
	TTL model.Duration `yaml:"ttl"`
}

// Match selects alerts by name and labels (all must be equal).
type Match struct {
	Alertnames []string          `yaml:"alertname"`
	Labels     map[string]string `yaml:"labels"`
}

// Policy maps matching alerts to one action and its bounds.
type Policy struct {
	Name       string            `yaml:"name"`
	Match      Match             `yaml:"match"`
	Action     string            `yaml:"action"`
	ScaleGroup *ScaleGroupPolicy `yaml:"scale_group"`
	Migrate    *MigratePolicy    `yaml:"migrate"`
	ScalePool  *ScalePoolPolicy  `yaml:"scale_pool"`
	Escalate   *EscalatePolicy   `yaml:"escalate"`
	// AlertLabels names labels beyond the known ones (see alertLabels)
	// that the policy's alerts carry, for its query templates to use.
	AlertLabels []string `yaml:"alert_labels"`
}

// ScaleGroupPolicy sizes a task group from a forecast.
type ScaleGroupPolicy struct {
	// Query is a PromQL text/template over the alert's labels, e.g.
	// max(fleetcast_forecast_peak{job="{{.job}}",q="0.9"}); empty
	// means move by max_step.
	Query            string         `yaml:"query"`
	PerAllocCapacity float64        `yaml:"per_alloc_capacity"`
	Headroom         float64        `yaml:"headroom"`
	Min              int            `yaml:"min"`
	Max              int            `yaml:"max"`
	MaxStep          int            `yaml:"max_step"`
	Cooldown         model.Duration `yaml:"cooldown"`
	ScaleInCooldown  model.Duration `yaml:"scale_in_cooldown"`
	query            *template.Template
}

// MigratePolicy moves allocations off a node predicted to overload.
type MigratePolicy struct {
	// NodeQuery returns the node's predicted peak (template over labels).
	NodeQuery string `yaml:"node_query"`
	// AllocQuery returns one series per allocation with an alloc_id label;
	// allocations it misses are profiled by their resource ask.
	AllocQuery string `yaml:"alloc_query"`
	// FleetQuery returns one series per node with a node_id label: each
	// node's predicted peak, for the room check.
	FleetQuery string  `yaml:"fleet_query"`
	Threshold  float64 `yaml:"threshold"`
	MaxAllocs  int     `yaml:"max_allocs"`
	// OverloadWindow is how long the node stays ineligible (default 1h).
	OverloadWindow model.Duration `yaml:"overload_window"`
	// HealthyTimeout bounds waiting for replacements (default 5m).
	HealthyTimeout        model.Duration `yaml:"healthy_timeout"`
	nodeQ, allocQ, fleetQ *template.Template
}

// ScalePoolPolicy sizes a node pool through a target.
type ScalePoolPolicy struct {
	Query           string         `yaml:"query"`
	PerNodeCapacity float64        `yaml:"per_node_capacity"`
	Headroom        float64        `yaml:"headroom"`
	Min             int            `yaml:"min"`
	Max             int            `yaml:"max"`
	MaxStep         int            `yaml:"max_step"`
	Cooldown        model.Duration `yaml:"cooldown"`
	ScaleInCooldown model.Duration `yaml:"scale_in_cooldown"`
	RemoveOrder     string         `yaml:"remove_order"`
	DrainDeadline   model.Duration `yaml:"drain_deadline"`
	Target          PoolTarget     `yaml:"target"`
	query           *template.Template
}

// PoolTarget is where a node pool's size is changed.
type PoolTarget struct {
	// Type is "nomad_sim" (the simulator's POST /v1/fleetcast/pool/:name/size)
	// or "command".
	Type string `yaml:"type"`
	// Command is the program and arguments for type command; it gets
	// FLEETCAST_POOL, FLEETCAST_DESIRED, FLEETCAST_CURRENT, FLEETCAST_REMOVE
	// and FLEETCAST_REASON in its environment.
	Command []string       `yaml:"command"`
	Timeout model.Duration `yaml:"timeout"`
}

// EscalatePolicy climbs a ladder when reality leaves the band despite an action.
type EscalatePolicy struct {
	Ladder     []planner.Rung `yaml:"ladder"`
	MaxPerHour int            `yaml:"max_per_hour"`
	// Policies names the policy each rung action uses for its bounds.
	Policies map[string]string `yaml:"policies"`
	// Interval: a firing that persists climbs the next rung no sooner than
	// this after the object's last escalation (default 5m).
	Interval model.Duration `yaml:"interval"`
}

// Defaults that Default gives the sections of the file.
const (
	DefaultNomadAddress      = "http://127.0.0.1:4646"
	DefaultPrometheusURL     = "http://127.0.0.1:9090"
	DefaultLeaderVariable    = "fleetcast/actuator/leader"
	defaultMaxActionsPerHour = 60
	defaultMaxAlerts         = 1000
	defaultDedupeFor         = 24 * time.Hour
	defaultDeploymentRetry   = 30 * time.Second
	defaultPromTimeout       = 10 * time.Second
)

// Default is the configuration a file starts from, as nomad-autoscaler's
// agent config has it: the global limits, the Nomad and Prometheus clients
// and the leader lock with every default filled in. A field the file leaves
// out, or sets to 0 where its comment says what 0 means, keeps the default.
// Policies have none: their defaults depend on the action (see bounds).
// The Nomad address is not here: it is nomad.address, else NOMAD_ADDR
// (NomadConfig.AddressOr).
func Default() *Config {
	return &Config{
		Global: Global{MaxActionsPerHour: defaultMaxActionsPerHour, MaxBodyBytes: DefaultMaxBodyBytes,
			MaxAlertsPerRequest: defaultMaxAlerts, DedupeFor: model.Duration(defaultDedupeFor),
			DeploymentRetryFor: model.Duration(defaultDeploymentRetry)},
		Nomad: NomadConfig{Timeout: model.Duration(DefaultNomadTimeout)},
		Prometheus: PromConfig{URL: DefaultPrometheusURL, Timeout: model.Duration(defaultPromTimeout),
			HTTPConfig: config.DefaultHTTPClientConfig},
		Leader: LeaderConfig{VariablePath: DefaultLeaderVariable, Namespace: "default", TTL: model.Duration(15 * time.Second)},
	}
}

// fillDefaults puts Default's value in every field of the top-level
// sections that is zero.
func (c *Config) fillDefaults() {
	d := Default()
	fill := func(v *model.Duration, def model.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	g := &c.Global
	g.MaxActionsPerHour = cmp.Or(g.MaxActionsPerHour, d.Global.MaxActionsPerHour)
	g.MaxBodyBytes = cmp.Or(g.MaxBodyBytes, d.Global.MaxBodyBytes)
	g.MaxAlertsPerRequest = cmp.Or(g.MaxAlertsPerRequest, d.Global.MaxAlertsPerRequest)
	fill(&g.DedupeFor, d.Global.DedupeFor)
	fill(&g.DeploymentRetryFor, d.Global.DeploymentRetryFor)
	fill(&c.Nomad.Timeout, d.Nomad.Timeout)
	c.Prometheus.URL = cmp.Or(c.Prometheus.URL, d.Prometheus.URL)
	fill(&c.Prometheus.Timeout, d.Prometheus.Timeout)
	c.Leader.VariablePath = cmp.Or(c.Leader.VariablePath, d.Leader.VariablePath)
	c.Leader.Namespace = cmp.Or(c.Leader.Namespace, d.Leader.Namespace)
	fill(&c.Leader.TTL, d.Leader.TTL)
}

// AddressOr is nomad.address, else env (the NOMAD_ADDR environment
// variable, as Nomad's own CLI reads it), else DefaultNomadAddress.
func (n NomadConfig) AddressOr(env string) string {
	return cmp.Or(n.Address, env, DefaultNomadAddress)
}

// durOr returns d, or def when d is zero (the field was left out).
func durOr(d model.Duration, def time.Duration) time.Duration { return yamlcfg.Or(d, def) }

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, w := range c.warnings {
		c.warnings[i] = path + ": " + w
	}
	// Files named in http_config are relative to the config file.
	c.Prometheus.HTTPConfig.SetDirectory(filepath.Dir(path))
	return c, nil
}

// ParseConfig parses and validates config text.
func ParseConfig(b []byte) (*Config, error) {
	c := Default()
	if err := yamlcfg.Decode(b, c); err != nil && !errors.Is(err, yamlcfg.ErrEmpty) {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) validate() error {
	if err := c.Prometheus.HTTPConfig.Validate(); err != nil {
		return fmt.Errorf("prometheus.http_config: %w", err)
	}
	if err := promclient.CheckQueryParams("prometheus.query_params", c.Prometheus.QueryParams); err != nil {
		return err
	}
	if err := c.Global.validate(); err != nil {
		return err
	}
	c.fillDefaults()
	if len(c.Policies) == 0 {
		return fmt.Errorf("policies: at least one policy is needed")
	}
	c.byName = map[string]int{}
	for i := range c.Policies {
		p := &c.Policies[i]
		if p.Name == "" {
			return fmt.Errorf("policies[%d].name: must not be empty; want a name the audit log and escalation ladders can use", i)
		}
		where := fmt.Sprintf("policies[%d] (%s)", i, p.Name)
		if _, dup := c.byName[p.Name]; dup {
			return fmt.Errorf("%s.name: duplicate policy name; give each policy its own name", where)
		}
		c.byName[p.Name] = i
		if err := p.validate(where); err != nil {
			return err
		}
	}
	return c.checkLadders()
}

func (g *Global) validate() error {
	if g.MaxActionsPerHour < 0 {
		return fmt.Errorf("global.max_actions_per_hour %d must be >= 0 (0 means 60)", g.MaxActionsPerHour)
	}
	if g.MaxAlertsPerRequest < 0 {
		return fmt.Errorf("global.max_alerts_per_request must be >= 0 (0 means 1000)")
	}
	if g.MaxBodyBytes < 0 {
		return fmt.Errorf("global.max_body_bytes must be >= 0 (0 means 1 MiB)")
	}
	return nil
}

// validate checks a policy (at where) and parses its query templates.
func (p *Policy) validate(where string) error {
	if len(p.Match.Alertnames) == 0 && len(p.Match.Labels) == 0 {
		return fmt.Errorf("%s.match: give alertname or labels, or the policy would match every alert", where)
	}
	set := 0
	for _, x := range []bool{p.ScaleGroup != nil, p.Migrate != nil, p.ScalePool != nil, p.Escalate != nil} {
		if x {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("%s: give exactly one of scale_group, migrate, scale_pool, escalate (got %d)", where, set)
	}
	block := map[string]bool{ActionScaleGroup: p.ScaleGroup != nil, ActionMigrate: p.Migrate != nil,
		ActionScalePool: p.ScalePool != nil, ActionEscalate: p.Escalate != nil}
	has, known := block[p.Action]
	if !known {
		return fmt.Errorf("%s.action %q: valid actions are scale_group, migrate, scale_pool, escalate", where, p.Action)
	}
	if !has {
		article := "a"
		if p.Action == ActionEscalate {
			article = "an"
		}
		return fmt.Errorf("%s.action %q needs %s %s block", where, p.Action, article, p.Action)
	}
	switch p.Action {
	case ActionScaleGroup:
		return p.ScaleGroup.validate(where+".scale_group", p)
	case ActionMigrate:
		return p.Migrate.validate(where+".migrate", p)
	case ActionScalePool:
		return p.ScalePool.validate(where+".scale_pool", p)
	default:
		return p.Escalate.validate(where + ".escalate")
	}
}

func (s *ScaleGroupPolicy) validate(where string, p *Policy) error {
	if err := s.bounds().Validate(); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := checkCooldowns(where, s.Cooldown, s.ScaleInCooldown); err != nil {
		return err
	}
	if s.Query != "" && s.PerAllocCapacity <= 0 {
		return fmt.Errorf("%s.per_alloc_capacity: must be > 0 when query is set", where)
	}
	if err := checkHeadroom(where+".headroom", s.Headroom); err != nil {
		return err
	}
	var err error
	if s.query, err = parseQuery(where+".query", s.Query); err != nil {
		return err
	}
	return checkQuery(where+".query", s.query, p)
}

func (m *MigratePolicy) validate(where string, p *Policy) error {
	if m.Threshold <= 0 || m.Threshold > 1 {
		return fmt.Errorf("%s.threshold: %v must be in (0, 1], e.g. 0.8", where, m.Threshold)
	}
	if m.NodeQuery == "" {
		return fmt.Errorf("%s.node_query: must not be empty; want a PromQL template of the node's predicted peak", where)
	}
	for _, q := range []struct {
		field, text string
		t           **template.Template
	}{{"node_query", m.NodeQuery, &m.nodeQ}, {"alloc_query", m.AllocQuery, &m.allocQ}, {"fleet_query", m.FleetQuery, &m.fleetQ}} {
		t, err := parseQuery(where+"."+q.field, q.text)
		if err != nil {
			return err
		}
		*q.t = t
	}
	for _, q := range []struct {
		field string
		t     *template.Template
	}{{"node_query", m.nodeQ}, {"alloc_query", m.allocQ}, {"fleet_query", m.fleetQ}} {
		if err := checkQuery(where+"."+q.field, q.t, p); err != nil {
			return err
		}
	}
	return nil
}

func (s *ScalePoolPolicy) validate(where string, p *Policy) error {
	if err := s.bounds().Validate(); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if err := checkCooldowns(where, s.Cooldown, s.ScaleInCooldown); err != nil {
		return err
	}
	if s.Query != "" && s.PerNodeCapacity <= 0 {
		return fmt.Errorf("%s.per_node_capacity: must be > 0 when query is set", where)
	}
	switch s.RemoveOrder {
	case "", "empty_first", "least_busy":
	default:
		return fmt.Errorf("%s.remove_order %q: valid orders are empty_first, least_busy", where, s.RemoveOrder)
	}
	switch s.Target.Type {
	case "nomad_sim":
	case "command":
		if len(s.Target.Command) == 0 {
			return fmt.Errorf("%s.target.command: must name a program for type command", where)
		}
	default:
		return fmt.Errorf("%s.target.type %q: valid types are nomad_sim, command", where, s.Target.Type)
	}
	if err := checkHeadroom(where+".headroom", s.Headroom); err != nil {
		return err
	}
	var err error
	if s.query, err = parseQuery(where+".query", s.Query); err != nil {
		return err
	}
	return checkQuery(where+".query", s.query, p)
}

func (e *EscalatePolicy) validate(where string) error {
	if len(e.Ladder) == 0 {
		return fmt.Errorf("%s.ladder: give at least one rung", where)
	}
	if e.MaxPerHour <= 0 {
		return fmt.Errorf("%s.max_per_hour: must be > 0, the hard cap on escalations per object", where)
	}
	return nil
}

// checkLadders checks that every escalation rung names a policy of its
// action, once all policies are known.
func (c *Config) checkLadders() error {
	for i := range c.Policies {
		p := &c.Policies[i]
		if p.Escalate == nil {
			continue
		}
		for j, r := range p.Escalate.Ladder {
			switch r.Action {
			case ActionScaleGroup, ActionMigrate, ActionScalePool:
			default:
				return fmt.Errorf("policies[%d] (%s).escalate.ladder[%d].action %q: valid actions are scale_group, migrate, scale_pool", i, p.Name, j, r.Action)
			}
			name, ok := p.Escalate.Policies[r.Action]
			if !ok {
				return fmt.Errorf("policies[%d] (%s).escalate.policies: name the %s policy its ladder uses", i, p.Name, r.Action)
			}
			k, ok := c.byName[name]
			if !ok || c.Policies[k].Action != r.Action {
				return fmt.Errorf("policies[%d] (%s).escalate.policies.%s: %q is not a %s policy; valid are %s", i, p.Name, r.Action, name, r.Action, c.policiesOf(r.Action))
			}
		}
		for _, k := range escalationKinds {
			if len(planner.Applicable(p.Escalate.Ladder, func(r planner.Rung) bool { return k.fits(r.Action) })) == 0 {
				c.warnings = append(c.warnings, fmt.Sprintf("policies[%d] (%s).escalate.ladder: no rung applies to a %s (AnomalyDespiteAction with %s): "+
					"such an alert escalates nothing (result %s); add a %s rung", i, p.Name, k.name, k.labels, ResultNoRung, strings.Join(k.actions, " or ")))
			}
		}
	}
	return nil
}

// policiesOf lists the names of the policies of an action, for errors.
func (c *Config) policiesOf(action string) string {
	var names []string
	for _, p := range c.Policies {
		if p.Action == action {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return "none: add a policy with action " + action
	}
	return strings.Join(names, ", ")
}

func checkHeadroom(field string, h float64) error {
	if !(h >= 0) || math.IsInf(h, 0) {
		return fmt.Errorf("%s: %v must be a number >= 0 (0.2 adds 20%% on top of the forecast)", field, h)
	}
	return nil
}

// cooldowns fills in defaults: scale-out after out (default def), scale-in
// after in (default the longer of defIn and the scale-out cooldown).
func cooldowns(out, in model.Duration, def, defIn time.Duration) (time.Duration, time.Duration) {
	o := durOr(out, def)
	return o, durOr(in, max(defIn, o))
}

func checkCooldowns(where string, out, in model.Duration) error {
	if in != 0 && out != 0 && in < out {
		return fmt.Errorf("%s.scale_in_cooldown %s must be at least cooldown %s: scale-in waits longer than scale-out", where, time.Duration(in), time.Duration(out))
	}
	return nil
}

func (s *ScaleGroupPolicy) bounds() planner.Bounds {
	o, i := cooldowns(s.Cooldown, s.ScaleInCooldown, 5*time.Minute, 30*time.Minute)
	return planner.Bounds{Min: s.Min, Max: s.Max, MaxStep: s.MaxStep, CooldownOut: o, CooldownIn: i}
}

func (s *ScaleGroupPolicy) planner() planner.ScalePolicy {
	return planner.ScalePolicy{Bounds: s.bounds(), Sizing: planner.Sizing{PerUnitCapacity: s.PerAllocCapacity, Headroom: s.Headroom}}
}

func (s *ScalePoolPolicy) bounds() planner.Bounds {
	o, i := cooldowns(s.Cooldown, s.ScaleInCooldown, 10*time.Minute, time.Hour)
	return planner.Bounds{Min: s.Min, Max: s.Max, MaxStep: s.MaxStep, CooldownOut: o, CooldownIn: i}
}

func (s *ScalePoolPolicy) planner() planner.PoolPolicy {
	return planner.PoolPolicy{Bounds: s.bounds(), Sizing: planner.Sizing{PerUnitCapacity: s.PerNodeCapacity, Headroom: s.Headroom}, RemoveOrder: s.RemoveOrder}
}

// requiredLabels are the labels each action needs to name its object.
func requiredLabels(action string) []string {
	switch action {
	case ActionScaleGroup:
		return []string{"namespace", "job", "task_group"}
	case ActionMigrate:
		return []string{"node_id"}
	case ActionScalePool:
		return []string{"node_pool"}
	}
	return nil
}

// matches reports whether a policy selects an alert.
func (p *Policy) matches(labels map[string]string) bool {
	if len(p.Match.Alertnames) > 0 {
		ok := false
		for _, n := range p.Match.Alertnames {
			if labels["alertname"] == n {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for k, v := range p.Match.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Policy returns the first policy that matches the labels, or nil.
func (c *Config) Policy(labels map[string]string) *Policy {
	for i := range c.Policies {
		if c.Policies[i].matches(labels) {
			return &c.Policies[i]
		}
	}
	return nil
}
