package exporter

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/fleetcast/fleetcast/internal/yamlcfg"
)

// Defaults applied to fields a target leaves out.
const (
	defaultStep    = model.Duration(5 * time.Minute)
	defaultHistory = model.Duration(14 * 24 * time.Hour)
	defaultTimeout = model.Duration(2 * time.Minute)
	// maxStepsPerSeries keeps every range query under Prometheus's limit of
	// 11,000 points per series (with a margin).
	maxStepsPerSeries = 10000
	// maxForecastSteps bounds the work of one fit, whatever the config says.
	maxForecastSteps = 20000
)

var (
	defaultHorizons    = []model.Duration{model.Duration(15 * time.Minute), model.Duration(time.Hour), model.Duration(6 * time.Hour), model.Duration(24 * time.Hour)}
	defaultQuantiles   = []float64{0.1, 0.5, 0.9}
	defaultPeakWindows = []model.Duration{model.Duration(24 * time.Hour)}
	targetNameRE       = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_:.-]*$`)
)

// Config is the exporter's YAML configuration file.
type Config struct {
	Prometheus PrometheusConfig `yaml:"prometheus"`
	Nomad      *NomadConfig     `yaml:"nomad,omitempty"`
	// EventsFile is the default calendar of planned events for every target
	// without its own; the events API writes to it.
	EventsFile string `yaml:"events_file,omitempty"`
	// EventsAPI guards POST/GET/DELETE /api/v1/events.
	EventsAPI EventsAPIConfig `yaml:"events_api,omitempty"`
	// Fit tunes the worker pool that fits the series.
	Fit     FitConfig      `yaml:"fit,omitempty"`
	Targets []TargetConfig `yaml:"targets"`

	// dir is the directory of the file, for relative paths.
	dir string
}

// PrometheusConfig says where and how to query Prometheus (or any store with
// the Prometheus HTTP API: Thanos, Mimir, VictoriaMetrics).
type PrometheusConfig struct {
	URL     string         `yaml:"url"`
	Timeout model.Duration `yaml:"timeout,omitempty"`
	// QueryParams are added to every query, e.g. Thanos' partial_response
	// or a Mimir tenant's dedup=true.
	QueryParams map[string]string       `yaml:"query_params,omitempty"`
	HTTPConfig  config.HTTPClientConfig `yaml:"http_config,omitempty"`
}

// NomadConfig turns on the reading of Nomad periodic jobs.
type NomadConfig struct {
	Address    string   `yaml:"address"`
	Token      string   `yaml:"token,omitempty"`
	TokenFile  string   `yaml:"token_file,omitempty"`
	Namespaces []string `yaml:"namespaces,omitempty"`
	// Refresh is how often the jobs are listed; default 1m.
	Refresh model.Duration `yaml:"refresh,omitempty"`
	// Horizons of fleetcast_scheduled_demand; default those of the targets.
	Horizons []model.Duration `yaml:"horizons,omitempty"`
	// JobDuration is how long a launch is assumed to run when the job has
	// no meta "fleetcast_duration"; default 30m.
	JobDuration model.Duration `yaml:"job_duration,omitempty"`
}

// EventsAPIConfig guards the events API. Without a token file the API is
// off: an unauthenticated write API is never a default.
type EventsAPIConfig struct {
	TokenFile string `yaml:"token_file,omitempty"`
}

// FitConfig tunes fitting.
type FitConfig struct {
	// Workers is the number of fits in parallel; 0 means GOMAXPROCS.
	Workers int `yaml:"workers,omitempty"`
	// Level of the band used for the anomaly score and exhaustion; default 0.8.
	Level float64 `yaml:"level,omitempty"`
}

// TargetConfig is one PromQL query whose series are forecast.
type TargetConfig struct {
	Name        string           `yaml:"name"`
	Query       string           `yaml:"query"`
	Step        model.Duration   `yaml:"step,omitempty"`
	History     model.Duration   `yaml:"history,omitempty"`
	Horizons    []model.Duration `yaml:"horizons,omitempty"`
	Quantiles   []float64        `yaml:"quantiles,omitempty"`
	PeakWindows []model.Duration `yaml:"peak_windows,omitempty"`
	Refresh     model.Duration   `yaml:"refresh,omitempty"`
	// Refit is how often each series is refit; between fits its forecast
	// is read further along. Default: every refresh. Fits are spread over
	// the interval, so a large target costs refresh/refit of its fits per
	// cycle.
	Refit       model.Duration   `yaml:"refit,omitempty"`
	Capacity    *CapacityConfig  `yaml:"capacity,omitempty"`
	Model       string           `yaml:"model,omitempty"`
	Seasonality []model.Duration `yaml:"seasonality,omitempty"`
	// Min and Max bound every forecast of the target (max: 100 for a
	// percentage). Without min, a series whose history is non-negative is
	// bounded below by 0; min: -Inf turns that off.
	Min *float64 `yaml:"min,omitempty"`
	Max *float64 `yaml:"max,omitempty"`
	// EventsFile overrides the top-level calendar for this target.
	EventsFile      string                 `yaml:"events_file,omitempty"`
	Regressors      []RegressorConfig      `yaml:"regressors,omitempty"`
	ScheduledDemand *ScheduledDemandConfig `yaml:"scheduled_demand,omitempty"`
}

// CapacityConfig is the query of the ceiling each series is compared with.
type CapacityConfig struct {
	Query string `yaml:"query"`
	// On lists the labels that join a capacity series to a target series;
	// empty means all labels of the capacity series.
	On []string `yaml:"on,omitempty"`
}

// RegressorConfig is a query whose future values are known (Prometheus
// evaluates it past now: time(), hour(), or samples written ahead).
type RegressorConfig struct {
	Name  string `yaml:"name"`
	Query string `yaml:"query"`
}

// ScheduledDemandConfig opts a target in to Nomad periodic jobs: every
// launch becomes a known future event on top of the learned pattern.
type ScheduledDemandConfig struct {
	// Resource is cpu (MHz) or memory (bytes).
	Resource string `yaml:"resource"`
	// Scale converts the job's ask into the target's unit; default 1.
	Scale float64 `yaml:"scale,omitempty"`
	// JobLabel, if set, adds only the jobs whose ID equals this label of
	// the series; otherwise every job adds (a fleet total).
	JobLabel string `yaml:"job_label,omitempty"`
}

// Dir is the directory relative paths in the config are read from.
func (c *Config) Dir() string { return c.dir }

// LoadConfig reads and validates a config file. Errors name the file, the
// field and what would be valid.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := ParseConfig(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses and validates config text; dir resolves relative paths.
func ParseConfig(b []byte, dir string) (*Config, error) {
	c := &Config{dir: dir}
	c.Prometheus.HTTPConfig = config.DefaultHTTPClientConfig
	if err := yamlcfg.Decode(b, c); err != nil {
		if errors.Is(err, yamlcfg.ErrEmpty) {
			return nil, errors.New("empty config: want at least prometheus.url and one entry in targets")
		}
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func fieldErr(path, format string, a ...any) error { return yamlcfg.Errorf(path, format, a...) }

func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

func (c *Config) validate() error {
	if err := c.Prometheus.validate(c.dir); err != nil {
		return err
	}
	c.EventsFile = c.path(c.EventsFile)
	c.EventsAPI.TokenFile = c.path(c.EventsAPI.TokenFile)
	if c.EventsAPI.TokenFile != "" && c.EventsFile == "" {
		return fieldErr("events_api.token_file", "set, but events_file is empty; the events API needs a calendar file to persist to")
	}
	if err := c.Fit.validate(); err != nil {
		return err
	}
	if len(c.Targets) == 0 {
		return fieldErr("targets", "empty; want at least one target with a name and a query")
	}
	seen := map[string]int{}
	for i := range c.Targets {
		t := &c.Targets[i]
		tp := fmt.Sprintf("targets[%d]", i)
		if err := t.validate(c, tp); err != nil {
			return err
		}
		if j, dup := seen[t.Name]; dup {
			return fieldErr(tp+".name", "%q is also the name of targets[%d]; names must be unique", t.Name, j)
		}
		seen[t.Name] = i
	}
	if c.Nomad != nil {
		if err := c.Nomad.validate(c); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the prometheus section and fills its defaults; the files
// http_config names are read relative to dir.
func (p *PrometheusConfig) validate(dir string) error {
	if p.URL == "" {
		return fieldErr("prometheus.url", "missing; want the base URL of a Prometheus-API store, e.g. http://prometheus:9090")
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr("prometheus.url", "%q is not an http:// or https:// URL with a host; want e.g. http://prometheus:9090", p.URL)
	}
	if p.Timeout < 0 {
		return fieldErr("prometheus.timeout", "%s is negative; want a duration such as 2m", p.Timeout)
	}
	if p.Timeout == 0 {
		p.Timeout = defaultTimeout
	}
	for k := range p.QueryParams {
		switch k {
		case "query", "start", "end", "step", "time", "timeout":
			return fieldErr("prometheus.query_params."+k, "is set by the exporter itself; valid are extra parameters such as partial_response or dedup")
		}
	}
	if err := p.HTTPConfig.Validate(); err != nil {
		return fieldErr("prometheus.http_config", "%v", err)
	}
	p.HTTPConfig.SetDirectory(dir)
	return nil
}

// validate checks the fit section and fills its defaults.
func (f *FitConfig) validate() error {
	if f.Workers < 0 || f.Workers > 1024 {
		return fieldErr("fit.workers", "%d; want 0 (GOMAXPROCS) to 1024", f.Workers)
	}
	if f.Level == 0 {
		f.Level = 0.8
	}
	if f.Level <= 0 || f.Level >= 1 {
		return fieldErr("fit.level", "%g; want a coverage strictly between 0 and 1, e.g. 0.8", f.Level)
	}
	return nil
}

// validate checks the nomad section and fills its defaults; its horizons
// default to those of c's targets, so it runs after them.
func (n *NomadConfig) validate(c *Config) error {
	if n.Address == "" {
		// As Nomad's own CLI and the actuator: the environment's address
		// when the file sets none.
		n.Address = os.Getenv("NOMAD_ADDR")
	}
	u, err := url.Parse(n.Address)
	if n.Address == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr("nomad.address", "%q; want the Nomad HTTP API address, e.g. http://127.0.0.1:4646 (or leave it out and set NOMAD_ADDR)", n.Address)
	}
	if n.Token != "" && n.TokenFile != "" {
		return fieldErr("nomad.token_file", "set together with nomad.token; use one of them")
	}
	n.TokenFile = c.path(n.TokenFile)
	if n.Refresh == 0 {
		n.Refresh = model.Duration(time.Minute)
	}
	if n.Refresh < model.Duration(time.Second) {
		return fieldErr("nomad.refresh", "%s; want at least 1s", n.Refresh)
	}
	if n.JobDuration == 0 {
		n.JobDuration = model.Duration(30 * time.Minute)
	}
	if n.JobDuration < 0 {
		return fieldErr("nomad.job_duration", "%s is negative; want a duration such as 30m", n.JobDuration)
	}
	for i, h := range n.Horizons {
		if h <= 0 {
			return fieldErr(fmt.Sprintf("nomad.horizons[%d]", i), "%s; want a positive duration such as 1h", h)
		}
	}
	if len(n.Horizons) == 0 {
		set := map[model.Duration]bool{}
		for _, t := range c.Targets {
			for _, h := range t.Horizons {
				if !set[h] {
					set[h] = true
					n.Horizons = append(n.Horizons, h)
				}
			}
		}
		slices.Sort(n.Horizons)
	}
	for i, ns := range n.Namespaces {
		if ns == "" {
			return fieldErr(fmt.Sprintf("nomad.namespaces[%d]", i), "empty; want a namespace name or * for all")
		}
	}
	return nil
}

// validateTarget checks one target and fills in its defaults; tp is its
// field path (targets[2]).
// validate checks a target (at tp, targets[i]) of c and fills its defaults.
func (t *TargetConfig) validate(c *Config, tp string) error {
	if t.Name == "" {
		return fieldErr(tp+".name", "missing; want a name such as node_cpu (letters, digits, _ : . -)")
	}
	if !targetNameRE.MatchString(t.Name) {
		return fieldErr(tp+".name", "%q; want letters, digits, _ : . - and a letter or _ first", t.Name)
	}
	if err := checkPromQL(t.Query); err != nil {
		return fieldErr(tp+".query", "%v", err)
	}
	if err := t.validateSchedule(tp); err != nil {
		return err
	}
	if err := t.validateOutputs(tp); err != nil {
		return err
	}
	if t.Capacity != nil {
		if err := checkPromQL(t.Capacity.Query); err != nil {
			return fieldErr(tp+".capacity.query", "%v", err)
		}
		for i, l := range t.Capacity.On {
			if !validLabelName(l) {
				return fieldErr(fmt.Sprintf("%s.capacity.on[%d]", tp, i), "%q is not a valid label name; %s", l, labelNameRule)
			}
		}
	}
	if err := t.validateModel(tp); err != nil {
		return err
	}
	t.EventsFile = c.path(t.EventsFile)
	return t.validateKnownFuture(tp, c.Nomad != nil)
}

// labelNameRE is the classic label name syntax, which every store accepts.
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// labelNameRule says what validLabelName accepts, for error messages.
const labelNameRule = "want letters, digits and _, not starting with a digit"

func validLabelName(s string) bool { return labelNameRE.MatchString(s) }

// checkPromQL parses a query so that a typo fails at start, not at 3 a.m.
func checkPromQL(q string) error {
	if strings.TrimSpace(q) == "" {
		return errors.New("missing; want a PromQL expression")
	}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
	if err != nil {
		return fmt.Errorf("invalid PromQL: %v; want an expression that returns an instant vector or a scalar", err)
	}
	switch expr.Type() {
	case parser.ValueTypeVector, parser.ValueTypeScalar:
		return nil
	default:
		return fmt.Errorf("%q returns a %s; want an instant vector or a scalar", q, expr.Type())
	}
}
