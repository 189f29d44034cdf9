package exporter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/internal/testenv"

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

// TestInvalidConfigs loads every invalid config under testdata/ (conf.*.yml,
// as Alertmanager's config tests have them) and checks that the error names
// the file, the field and what would be valid.
func TestInvalidConfigs(t *testing.T) {
	testenv.InvalidConfigs(t, func(p string) error { _, err := LoadConfig(p); return err }, ": ", [][3]string{ // file, field, what is valid
		{"conf.bad-duration.yml", "targets[0].step", "want a number and a unit (ms, s, m, h, d, w, y)"},
		{"conf.bad-horizon-syntax.yml", "targets[0].horizons[1]", "want a number and a unit"},
		{"conf.bad-name.yml", "targets[0].name", "want letters, digits, _ : . - and a letter or _ first"},
		{"conf.bad-promql.yml", "targets[0].query", "want an expression that returns an instant vector or a scalar"},
		{"conf.bad-url.yml", "prometheus.url", "want e.g. http://prometheus:9090"},
		{"conf.capacity-on.yml", "targets[0].capacity.on[0]", "want letters, digits and _, not starting with a digit"},
		{"conf.capacity-query.yml", "targets[0].capacity.query", "want an expression that returns an instant vector or a scalar"},
		{"conf.demand-job-label.yml", "targets[0].scheduled_demand.job_label", "want letters, digits and _"},
		{"conf.demand-resource.yml", "targets[0].scheduled_demand.resource", "valid are cpu (MHz) and memory (bytes)"},
		{"conf.demand-scale.yml", "targets[0].scheduled_demand.scale", "want a positive factor"},
		{"conf.demand-without-nomad.yml", "targets[0].scheduled_demand", "add one (nomad.address) or remove scheduled_demand"},
		{"conf.duplicate-name.yml", "targets[1].name", "names must be unique"},
		{"conf.empty.yml", "", "want at least prometheus.url and one entry in targets"},
		{"conf.fractional-duration.yml", "targets[0].history", "write 1d12h"},
		{"conf.go-duration-unit.yml", "targets[0].refresh", "the smallest unit is ms"},
		{"conf.history-short.yml", "targets[0].history", "want at least three steps (3 × 5m)"},
		{"conf.horizon-duplicate.yml", "targets[0].horizons[1]", "list each once"},
		{"conf.horizon-not-multiple.yml", "targets[0].horizons[1]", "is not a multiple of step 5m"},
		{"conf.horizon-too-long.yml", "targets[0].horizons[0]", "want at most 20000 steps of 1s"},
		{"conf.http-config-both-tokens.yml", "prometheus.http_config", "at most one of bearer_token & bearer_token_file"},
		{"conf.level.yml", "fit.level", "want a coverage strictly between 0 and 1"},
		{"conf.max--inf.yml", "targets[0].max", "want a number such as 100"},
		{"conf.min-nan.yml", "targets[0].min", "want a number such as 0"},
		{"conf.min-not-below-max.yml", "targets[0].max", "is not above min 100"},
		{"conf.missing-name.yml", "targets[0].name", "want a name such as node_cpu"},
		{"conf.missing-query.yml", "targets[0].query", "want a PromQL expression"},
		{"conf.missing-url.yml", "prometheus.url", "want the base URL of a Prometheus-API store"},
		{"conf.model.yml", "targets[0].model", "valid are auto, naive"},
		{"conf.negative-step.yml", "targets[0].step", "want a duration >= 0"},
		{"conf.negative-timeout.yml", "prometheus.timeout", "want a duration >= 0"},
		{"conf.no-targets.yml", "targets", "want at least one target with a name and a query"},
		{"conf.nomad-address.yml", "nomad.address", "want the Nomad HTTP API address"},
		{"conf.nomad-horizons.yml", "nomad.horizons[0]", "want a positive duration such as 1h"},
		{"conf.nomad-namespaces.yml", "nomad.namespaces[0]", "want a namespace name or * for all"},
		{"conf.nomad-refresh.yml", "nomad.refresh", "want at least 1s"},
		{"conf.nomad-token-twice.yml", "nomad.token_file", "use one of them"},
		{"conf.peak-window.yml", "targets[0].peak_windows[0]", "is not a multiple of step 5m"},
		{"conf.quantile-duplicate.yml", "targets[0].quantiles[1]", "list each once"},
		{"conf.quantile-out-of-range.yml", "targets[0].quantiles[1]", "want a probability strictly between 0 and 1"},
		{"conf.range-vector.yml", "targets[0].query", "want an instant vector or a scalar"},
		{"conf.refit-below-refresh.yml", "targets[0].refit", "want a multiple of step 5m, at least refresh 5m"},
		{"conf.refit-long.yml", "targets[0].refit", "want at most the history"},
		{"conf.refit-not-multiple.yml", "targets[0].refit", "want a multiple of step 5m"},
		{"conf.refresh.yml", "targets[0].refresh", "want at least 1s"},
		{"conf.regressor-dup.yml", "targets[0].regressors[1].name", "give each regressor its own name"},
		{"conf.regressor-name.yml", "targets[0].regressors[0].name", "want a name of letters, digits and _"},
		{"conf.regressor-query.yml", "targets[0].regressors[0].query", "want an expression that returns an instant vector or a scalar"},
		{"conf.reserved-query-param.yml", "prometheus.query_params.step", "valid are extra parameters such as partial_response"},
		{"conf.seasonality-long.yml", "targets[0].seasonality[0]", "is longer than history 1d"},
		{"conf.seasonality-multiple.yml", "targets[0].seasonality[0]", "want a positive multiple of step 5m"},
		{"conf.step-too-small.yml", "targets[0].step", "want at least 1s"},
		{"conf.token-without-calendar.yml", "events_api.token_file", "needs a calendar file"},
		{"conf.unknown-capacity-field.yml", "targets[0].capacity.querry", "valid are query, on"},
		{"conf.unknown-field.yml", "targets[0].stepp", "valid are name, query, step"},
		{"conf.unknown-top-field.yml", "prometheus.timout", "valid are url, timeout, query_params, http_config"},
		{"conf.wrong-kind.yml", "fit.workers", "want an integer"},
		{"conf.workers.yml", "fit.workers", "want 0 (GOMAXPROCS) to 1024"},
	})
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

// TestNomadAddressFromEnvironment: a nomad section without an address
// takes NOMAD_ADDR, as Nomad's CLI and the actuator do; without either it
// is refused, saying both ways to set it.
func TestNomadAddressFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fleetcast.yml")
	cfg := "prometheus: {url: http://127.0.0.1:9090}\n" +
		"targets:\n- {name: cpu, query: 'up'}\n" +
		"nomad: {namespaces: [default]}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOMAD_ADDR", "http://127.0.0.1:4646")
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatalf("with NOMAD_ADDR set: %v", err)
	}
	if c.Nomad == nil || c.Nomad.Address != "http://127.0.0.1:4646" {
		t.Fatalf("nomad address %+v, want NOMAD_ADDR's", c.Nomad)
	}
	t.Setenv("NOMAD_ADDR", "")
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "nomad.address") || !strings.Contains(err.Error(), "NOMAD_ADDR") {
		t.Fatalf("without an address: %v, want an error naming nomad.address and NOMAD_ADDR", err)
	}
}
