package exporter

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestLoadGoodConfig(t *testing.T) {
	c, err := LoadConfig("testdata/good.yml")
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if len(c.Targets) != 2 {
		t.Fatalf("targets: got %d, want 2", len(c.Targets))
	}
	fc := c.Targets[1]
	if fc.Step != model.Duration(5*time.Minute) || fc.History != model.Duration(14*24*time.Hour) || fc.Refresh != fc.Step {
		t.Errorf("defaults: step %s history %s refresh %s", fc.Step, fc.History, fc.Refresh)
	}
	if len(fc.Horizons) != 4 || len(fc.Quantiles) != 3 || len(fc.PeakWindows) != 1 {
		t.Errorf("default horizons/quantiles/peak windows: %v %v %v", fc.Horizons, fc.Quantiles, fc.PeakWindows)
	}
	if !strings.HasSuffix(c.EventsFile, "testdata/events.yml") || !strings.HasSuffix(c.EventsAPI.TokenFile, "testdata/token") {
		t.Errorf("relative paths not resolved against the config's directory: %q %q", c.EventsFile, c.EventsAPI.TokenFile)
	}
	if c.Prometheus.HTTPConfig.BasicAuth == nil || c.Prometheus.HTTPConfig.BasicAuth.Username != "fleetcast" {
		t.Errorf("http_config not read: %+v", c.Prometheus.HTTPConfig)
	}
	if !c.Prometheus.HTTPConfig.FollowRedirects {
		t.Errorf("http_config defaults lost")
	}
}

const minimal = `prometheus:
  url: http://127.0.0.1:9090
targets:
  - name: a
    query: up
`

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"empty", ``, "empty config"},
		{"negative step", minimal + "    step: -5m\n", "targets[0].step: line 6"},
		{"bad horizon syntax", minimal + "    horizons: [15m, 1 hour]\n", "targets[0].horizons[1]: line 6: \"1 hour\" is not a valid duration"},
		{"unknown field", minimal + "    stepp: 5m\n", "targets[0].stepp: line 6: unknown field; valid are name, query, step"},
		{"min not below max", minimal + "    min: 100\n    max: 100\n", "targets[0].max: 100 is not above min 100"},
		{"max -inf", minimal + "    max: -.inf\n", "targets[0].max: -Inf; want a number"},
		{"min nan", minimal + "    min: .nan\n", "targets[0].min: NaN; want a number"},
		{"unknown top field", "prometheus:\n  url: http://p:9090\n  timout: 1m\ntargets: []\n", "prometheus.timout: line 3: unknown field; valid are url, timeout"},
		{"unknown capacity field", minimal + "    capacity:\n      querry: up\n", "targets[0].capacity.querry: line 7: unknown field"},
		{"missing url", "targets:\n  - name: a\n    query: up\n", "prometheus.url: missing"},
		{"bad url", "prometheus:\n  url: localhost:9090\ntargets:\n  - name: a\n    query: up\n", "prometheus.url"},
		{"negative timeout", strings.Replace(minimal, "9090\n", "9090\n  timeout: -1m\n", 1), "prometheus.timeout: line 3"},
		{"reserved query param", strings.Replace(minimal, "9090\n", "9090\n  query_params:\n    step: \"1\"\n", 1), "prometheus.query_params.step"},
		{"http_config both tokens", strings.Replace(minimal, "9090\n", "9090\n  http_config:\n    bearer_token: a\n    bearer_token_file: b\n", 1), "at most one of bearer_token"},
		{"no targets", "prometheus:\n  url: http://p:9090\n", "targets: empty"},
		{"missing name", "prometheus:\n  url: http://p:9090\ntargets:\n  - query: up\n", "targets[0].name: missing"},
		{"bad name", strings.Replace(minimal, "name: a", "name: 9a b", 1), "targets[0].name"},
		{"duplicate name", minimal + "  - name: a\n    query: up\n", "targets[1].name: \"a\" is also the name of targets[0]"},
		{"missing query", "prometheus:\n  url: http://p:9090\ntargets:\n  - name: a\n", "targets[0].query: missing"},
		{"bad promql", strings.Replace(minimal, "query: up", "query: sum(rate(x[5m])", 1), "targets[0].query: invalid PromQL"},
		{"range vector", strings.Replace(minimal, "query: up", "query: up[5m]", 1), "want an instant vector"},
		{"bad duration", minimal + "    step: 5 minutes\n", "targets[0].step: line 6: \"5 minutes\" is not a valid duration"},
		{"step too small", minimal + "    step: 500ms\n", "targets[0].step: 500ms; want at least 1s"},
		{"history short", minimal + "    step: 5m\n    history: 10m\n", "targets[0].history"},
		{"horizon not multiple", minimal + "    step: 5m\n    horizons: [15m, 7m]\n", "targets[0].horizons[1]: 7m is not a multiple of step 5m"},
		{"horizon duplicate", minimal + "    horizons: [15m, 15m]\n", "targets[0].horizons[1]: 15m is listed twice"},
		{"horizon too long", minimal + "    step: 1s\n    history: 1d\n    horizons: [1d]\n", "targets[0].horizons[0]"},
		{"peak window", minimal + "    peak_windows: [3m]\n", "targets[0].peak_windows[0]"},
		{"quantile out of range", minimal + "    quantiles: [0.5, 1.5]\n", "targets[0].quantiles[1]: 1.5; want a probability"},
		{"quantile duplicate", minimal + "    quantiles: [0.5, 0.5]\n", "targets[0].quantiles[1]"},
		{"refresh", minimal + "    refresh: 10ms\n", "targets[0].refresh"},
		{"refit below refresh", minimal + "    refresh: 5m\n    refit: 1m\n", "targets[0].refit: 1m; want a multiple of step"},
		{"refit not multiple", minimal + "    refresh: 5m\n    refit: 7m\n", "targets[0].refit"},
		{"refit long", minimal + "    history: 1d\n    refit: 2d\n", "targets[0].refit: 2d is longer than history"},
		{"capacity query", minimal + "    capacity:\n      query: 'sum('\n", "targets[0].capacity.query"},
		{"capacity on", minimal + "    capacity:\n      query: up\n      on: [\"a-b\"]\n", "targets[0].capacity.on[0]"},
		{"model", minimal + "    model: prophet9\n", "targets[0].model: \"prophet9\"; valid are auto"},
		{"seasonality multiple", minimal + "    seasonality: [7m]\n", "targets[0].seasonality[0]"},
		{"seasonality long", minimal + "    history: 1d\n    seasonality: [1w]\n", "longer than history"},
		{"regressor name", minimal + "    regressors:\n      - name: ''\n        query: hour()\n", "targets[0].regressors[0].name"},
		{"regressor dup", minimal + "    regressors:\n      - name: h\n        query: hour()\n      - name: h\n        query: hour()\n", "targets[0].regressors[1].name"},
		{"regressor query", minimal + "    regressors:\n      - name: h\n        query: 'hour('\n", "targets[0].regressors[0].query"},
		{"demand without nomad", minimal + "    scheduled_demand:\n      resource: cpu\n", "targets[0].scheduled_demand: set, but there is no nomad section"},
		{"demand resource", minimal + "    scheduled_demand:\n      resource: gpu\n", "targets[0].scheduled_demand.resource"},
		{"demand scale", minimal + "    scheduled_demand:\n      resource: cpu\n      scale: -1\n", "targets[0].scheduled_demand.scale"},
		{"demand job label", minimal + "    scheduled_demand:\n      resource: cpu\n      job_label: 'a-b'\nnomad:\n  address: http://n:4646\n", "targets[0].scheduled_demand.job_label"},
		{"nomad address", minimal + "nomad:\n  address: nomad:4646\n", "nomad.address"},
		{"nomad token twice", minimal + "nomad:\n  address: http://n:4646\n  token: a\n  token_file: b\n", "nomad.token_file"},
		{"nomad refresh", minimal + "nomad:\n  address: http://n:4646\n  refresh: 1ms\n", "nomad.refresh"},
		{"nomad horizons", minimal + "nomad:\n  address: http://n:4646\n  horizons: [0s]\n", "nomad.horizons[0]"},
		{"nomad namespaces", minimal + "nomad:\n  address: http://n:4646\n  namespaces: ['']\n", "nomad.namespaces[0]"},
		{"token without calendar", minimal + "events_api:\n  token_file: t\n", "events_api.token_file"},
		{"workers", minimal + "fit:\n  workers: -1\n", "fit.workers"},
		{"level", minimal + "fit:\n  level: 1.2\n", "fit.level"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml), "/etc/fleetcast")
			if err == nil {
				t.Fatalf("no error for:\n%s", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestLoadConfigNamesFile(t *testing.T) {
	_, err := LoadConfig("testdata/does-not-exist.yml")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.yml") {
		t.Fatalf("missing file: %v", err)
	}
}

// The shipped example must stay valid.
func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig("../examples/fleetcast.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Targets) < 5 || c.Nomad == nil {
		t.Fatalf("example: %d targets, nomad %v", len(c.Targets), c.Nomad)
	}
	cal, err := OpenCalendar(c.EventsFile)
	if err != nil {
		t.Fatal(err)
	}
	if evs, err := cal.Events(); err != nil || len(evs) != 3 {
		t.Fatalf("examples/events.yml: %d events, %v", len(evs), err)
	}
}
