// Package actuator is fleetcast's Alertmanager webhook receiver: policies
// map predicted-shortage alerts to actions, the pure planners in
// actuator/planner size and place them, and a Nomad executor carries them
// out, bounded by cooldowns, rate limits, per-object locks, a dry-run mode and
// an emergency stop file, with one audit line per decision.
package actuator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/fleetcast/fleetcast/actuator/planner"
	"github.com/fleetcast/fleetcast/internal/promclient"
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
}

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
	DedupeFor Duration `yaml:"dedupe_for"`
	// DeploymentRetryFor bounds waiting for an active deployment (0 = 30s);
	// the wait never outlasts the alert's own validity (endsAt).
	DeploymentRetryFor Duration `yaml:"deployment_retry_for"`
}

// NomadConfig says how to reach Nomad. The token comes from TokenFile or
// the NOMAD_TOKEN environment variable and is never logged.
type NomadConfig struct {
	Address   string `yaml:"address"`
	Region    string `yaml:"region"`
	TokenFile string `yaml:"token_file"`
	// Timeout bounds each Nomad call (default 30s).
	Timeout Duration `yaml:"timeout"`
}

// PromConfig says where the sizing queries go, and how to reach it: the
// same prometheus/common HTTP client config as the exporter's (basic auth,
// bearer, OAuth2, TLS, http_headers such as X-Scope-OrgID) and extra
// query parameters.
type PromConfig struct {
	URL         string                  `yaml:"url"`
	Timeout     Duration                `yaml:"timeout"`
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
	TTL Duration `yaml:"ttl"`
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
	Query            string   `yaml:"query"`
	PerAllocCapacity float64  `yaml:"per_alloc_capacity"`
	Headroom         float64  `yaml:"headroom"`
	Min              int      `yaml:"min"`
	Max              int      `yaml:"max"`
	MaxStep          int      `yaml:"max_step"`
	Cooldown         Duration `yaml:"cooldown"`
	ScaleInCooldown  Duration `yaml:"scale_in_cooldown"`
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
	OverloadWindow Duration `yaml:"overload_window"`
	// HealthyTimeout bounds waiting for replacements (default 5m).
	HealthyTimeout        Duration `yaml:"healthy_timeout"`
	nodeQ, allocQ, fleetQ *template.Template
}

// ScalePoolPolicy sizes a node pool through a target.
type ScalePoolPolicy struct {
	Query           string     `yaml:"query"`
	PerNodeCapacity float64    `yaml:"per_node_capacity"`
	Headroom        float64    `yaml:"headroom"`
	Min             int        `yaml:"min"`
	Max             int        `yaml:"max"`
	MaxStep         int        `yaml:"max_step"`
	Cooldown        Duration   `yaml:"cooldown"`
	ScaleInCooldown Duration   `yaml:"scale_in_cooldown"`
	RemoveOrder     string     `yaml:"remove_order"`
	DrainDeadline   Duration   `yaml:"drain_deadline"`
	Target          PoolTarget `yaml:"target"`
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
	Command []string `yaml:"command"`
	Timeout Duration `yaml:"timeout"`
}

// EscalatePolicy climbs a ladder when reality leaves the band despite an action.
type EscalatePolicy struct {
	Ladder     []planner.Rung `yaml:"ladder"`
	MaxPerHour int            `yaml:"max_per_hour"`
	// Policies names the policy each rung action uses for its bounds.
	Policies map[string]string `yaml:"policies"`
	// Interval: a firing that persists climbs the next rung no sooner than
	// this after the object's last escalation (default 5m).
	Interval Duration `yaml:"interval"`
}

// Duration is a time.Duration spelt like "5m" in YAML.
type Duration time.Duration

// UnmarshalYAML parses Go durations (time.ParseDuration: 30s, 5m, 1h30m);
// Prometheus's day and week units (1d, 1w) are not accepted.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: duration %q: want e.g. 30s, 5m, 1h", n.Line, s)
	}
	if v < 0 {
		return fmt.Errorf("line %d: duration %q must not be negative", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// D returns the duration, or def when it is zero.
func (d Duration) D(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

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
	// Files named in http_config are relative to the config file.
	c.Prometheus.HTTPConfig.SetDirectory(filepath.Dir(path))
	return c, nil
}

// ParseConfig parses and validates config text.
func ParseConfig(b []byte) (*Config, error) {
	var c Config
	c.Prometheus.HTTPConfig = config.DefaultHTTPClientConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, errEOF()) {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func errEOF() error { return io.EOF }

func parseQuery(field, q string) (*template.Template, error) {
	if q == "" {
		return nil, nil
	}
	t, err := template.New(field).Option("missingkey=error").Parse(q)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid template: %w", field, err)
	}
	return t, nil
}

func (c *Config) validate() error {
	if err := c.Prometheus.HTTPConfig.Validate(); err != nil {
		return fmt.Errorf("prometheus.http_config: %w", err)
	}
	if err := promclient.CheckQueryParams("prometheus.query_params", c.Prometheus.QueryParams); err != nil {
		return err
	}
	g := &c.Global
	if g.MaxActionsPerHour < 0 {
		return fmt.Errorf("global.max_actions_per_hour %d must be >= 0 (0 means 60)", g.MaxActionsPerHour)
	}
	if g.MaxAlertsPerRequest < 0 {
		return fmt.Errorf("global.max_alerts_per_request must be >= 0 (0 means 1000)")
	}
	if g.MaxBodyBytes < 0 {
		return fmt.Errorf("global.max_body_bytes must be >= 0 (0 means 1 MiB)")
	}
	if len(c.Policies) == 0 {
		return fmt.Errorf("policies: at least one policy is needed")
	}
	c.byName = map[string]int{}
	for i := range c.Policies {
		p := &c.Policies[i]
		where := fmt.Sprintf("policies[%d]", i)
		if p.Name == "" {
			return fmt.Errorf("%s.name: must not be empty", where)
		}
		where = fmt.Sprintf("policies[%d] (%s)", i, p.Name)
		if _, dup := c.byName[p.Name]; dup {
			return fmt.Errorf("%s.name: duplicate policy name", where)
		}
		c.byName[p.Name] = i
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
		var err error
		switch p.Action {
		case ActionScaleGroup:
			if p.ScaleGroup == nil {
				return fmt.Errorf("%s.action %q needs a scale_group block", where, p.Action)
			}
			s := p.ScaleGroup
			if err = s.bounds().Validate(); err != nil {
				return fmt.Errorf("%s.scale_group: %w", where, err)
			}
			if err = checkCooldowns(where+".scale_group", s.Cooldown, s.ScaleInCooldown); err != nil {
				return err
			}
			if s.Query != "" && s.PerAllocCapacity <= 0 {
				return fmt.Errorf("%s.scale_group.per_alloc_capacity: must be > 0 when query is set", where)
			}
			if err = checkHeadroom(where+".scale_group.headroom", s.Headroom); err != nil {
				return err
			}
			if s.query, err = parseQuery(where+".scale_group.query", s.Query); err != nil {
				return err
			}
			if err = checkQuery(where+".scale_group.query", s.query, p); err != nil {
				return err
			}
		case ActionMigrate:
			if p.Migrate == nil {
				return fmt.Errorf("%s.action %q needs a migrate block", where, p.Action)
			}
			m := p.Migrate
			if m.Threshold <= 0 || m.Threshold > 1 {
				return fmt.Errorf("%s.migrate.threshold: %v must be in (0, 1], e.g. 0.8", where, m.Threshold)
			}
			if m.NodeQuery == "" {
				return fmt.Errorf("%s.migrate.node_query: must not be empty", where)
			}
			if m.nodeQ, err = parseQuery(where+".migrate.node_query", m.NodeQuery); err != nil {
				return err
			}
			if m.allocQ, err = parseQuery(where+".migrate.alloc_query", m.AllocQuery); err != nil {
				return err
			}
			if m.fleetQ, err = parseQuery(where+".migrate.fleet_query", m.FleetQuery); err != nil {
				return err
			}
			for _, q := range []struct {
				field string
				t     *template.Template
			}{{".migrate.node_query", m.nodeQ}, {".migrate.alloc_query", m.allocQ}, {".migrate.fleet_query", m.fleetQ}} {
				if err = checkQuery(where+q.field, q.t, p); err != nil {
					return err
				}
			}
		case ActionScalePool:
			if p.ScalePool == nil {
				return fmt.Errorf("%s.action %q needs a scale_pool block", where, p.Action)
			}
			s := p.ScalePool
			if err = s.bounds().Validate(); err != nil {
				return fmt.Errorf("%s.scale_pool: %w", where, err)
			}
			if err = checkCooldowns(where+".scale_pool", s.Cooldown, s.ScaleInCooldown); err != nil {
				return err
			}
			if s.Query != "" && s.PerNodeCapacity <= 0 {
				return fmt.Errorf("%s.scale_pool.per_node_capacity: must be > 0 when query is set", where)
			}
			switch s.RemoveOrder {
			case "", "empty_first", "least_busy":
			default:
				return fmt.Errorf("%s.scale_pool.remove_order %q: valid orders are empty_first, least_busy", where, s.RemoveOrder)
			}
			switch s.Target.Type {
			case "nomad_sim":
			case "command":
				if len(s.Target.Command) == 0 {
					return fmt.Errorf("%s.scale_pool.target.command: must name a program for type command", where)
				}
			default:
				return fmt.Errorf("%s.scale_pool.target.type %q: valid types are nomad_sim, command", where, s.Target.Type)
			}
			if err = checkHeadroom(where+".scale_pool.headroom", s.Headroom); err != nil {
				return err
			}
			if s.query, err = parseQuery(where+".scale_pool.query", s.Query); err != nil {
				return err
			}
			if err = checkQuery(where+".scale_pool.query", s.query, p); err != nil {
				return err
			}
		case ActionEscalate:
			if p.Escalate == nil {
				return fmt.Errorf("%s.action %q needs an escalate block", where, p.Action)
			}
			if len(p.Escalate.Ladder) == 0 {
				return fmt.Errorf("%s.escalate.ladder: give at least one rung", where)
			}
			if p.Escalate.MaxPerHour <= 0 {
				return fmt.Errorf("%s.escalate.max_per_hour: must be > 0, the hard cap on escalations per object", where)
			}
		default:
			return fmt.Errorf("%s.action %q: valid actions are scale_group, migrate, scale_pool, escalate", where, p.Action)
		}
	}
	// Escalation ladders refer to other policies by name; check them once all are known.
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
				return fmt.Errorf("policies[%d] (%s).escalate.policies.%s: %q is not a %s policy", i, p.Name, r.Action, name, r.Action)
			}
		}
	}
	return nil
}

func checkHeadroom(field string, h float64) error {
	if !(h >= 0) || math.IsInf(h, 0) {
		return fmt.Errorf("%s: %v must be a number >= 0 (0.2 adds 20%% on top of the forecast)", field, h)
	}
	return nil
}

// commonAlertLabels are on every fleetcast alert (rules/fleetcast-alerts.rules.yml):
// its name, the rule's own labels, and what its expression keeps.
var commonAlertLabels = []string{"alertname", "action", "severity", "resource", "window", "q"}

// alertLabels are the labels an alert of a policy's action can carry: the
// common ones, those that name the action's object and what comes with
// them, the labels the policy matches on, and its alert_labels. A query
// template may name only these (TestAlertLabelsCoverTheRules keeps the list
// in step with the rules).
func alertLabels(p *Policy) []string {
	l := append([]string{}, commonAlertLabels...)
	switch p.Action {
	case ActionScaleGroup:
		l = append(l, "namespace", "job", "task_group")
	case ActionMigrate:
		l = append(l, "node_id", "node_pool", "datacenter", "node_class")
	case ActionScalePool:
		l = append(l, "node_pool", "datacenter", "node_class")
	case ActionEscalate:
		l = append(l, "target", "namespace", "job", "task_group", "node_id", "node_pool")
	}
	for k := range p.Match.Labels {
		l = append(l, k)
	}
	l = append(l, p.AlertLabels...)
	slices.Sort(l)
	return slices.Compact(l)
}

// checkQuery renders a query template with every label the policy's alerts
// can carry and parses the result as PromQL, so a typo in a label name or
// in the query fails --check-config, not every alert at run time.
func checkQuery(field string, t *template.Template, p *Policy) error {
	if t == nil {
		return nil
	}
	known := alertLabels(p)
	labels := make(map[string]string, len(known))
	for _, k := range known {
		labels[k] = "placeholder"
	}
	q, err := render(t, labels)
	if err != nil {
		if m := missingKeyRE.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("%s: names label %q, which %s alerts do not carry (they carry %s); if your rule adds it, list it in the policy's alert_labels",
				field, m[1], p.Action, strings.Join(known, ", "))
		}
		return fmt.Errorf("%s: %w", field, err)
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return fmt.Errorf("%s: invalid PromQL %q: %v", field, q, err)
	}
	if ty := expr.Type(); ty != parser.ValueTypeVector && ty != parser.ValueTypeScalar {
		return fmt.Errorf("%s: %q returns a %s; want an instant vector or a scalar", field, q, ty)
	}
	return nil
}

var missingKeyRE = regexp.MustCompile(`map has no entry for key "([^"]*)"`)

// cooldowns fills in defaults: scale-out after out (default def), scale-in
// after in (default the longer of defIn and the scale-out cooldown).
func cooldowns(out, in Duration, def, defIn time.Duration) (time.Duration, time.Duration) {
	o := out.D(def)
	return o, in.D(max(defIn, o))
}

func checkCooldowns(where string, out, in Duration) error {
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

// render fills a query template with the alert's labels.
func render(t *template.Template, labels map[string]string) (string, error) {
	if t == nil {
		return "", nil
	}
	// Escape values so a label with a quote cannot change the query's shape.
	safe := make(map[string]string, len(labels))
	for k, v := range labels {
		q := strconv.Quote(v)
		safe[k] = q[1 : len(q)-1]
	}
	var b strings.Builder
	if err := t.Execute(&b, safe); err != nil {
		return "", fmt.Errorf("render %s: %w", t.Name(), err)
	}
	return b.String(), nil
}
