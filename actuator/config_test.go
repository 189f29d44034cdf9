package actuator

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetcast/fleetcast/internal/testenv"
)

// TestInvalidConfigs loads every invalid config under testdata/ (conf.*.yml,
// as Alertmanager's config tests have them; among them configs that used
// to pass --check-config and then failed every alert) and checks that the
// error names the file, the field and what would be valid.
func TestInvalidConfigs(t *testing.T) {
	testenv.InvalidConfigs(t, func(p string) error { _, err := LoadConfig(p); return err }, "", [][3]string{ // file, field, what is valid
		{"conf.bad-action.yml", `policies[0] (a).action "reboot"`, "valid actions are scale_group, migrate, scale_pool, escalate"},
		{"conf.bad-duration.yml", "global.dedupe_for", "want a number and a unit (ms, s, m, h, d, w, y)"},
		{"conf.bad-policy-duration.yml", "policies[0].scale_group.cooldown", `"soon" is not a valid duration; want a number and a unit`},
		{"conf.bad-template.yml", "policies[0] (a).scale_group.query", "want PromQL with labels as {{.label}}"},
		{"conf.block-mismatch.yml", `policies[0] (a).action "migrate"`, "needs a migrate block"},
		{"conf.duplicate-name.yml", "policies[1] (a).name", "give each policy its own name"},
		{"conf.empty-match.yml", "policies[0] (a).match", "give alertname or labels"},
		{"conf.empty-name.yml", "policies[0].name", "must not be empty"},
		{"conf.escalate-no-cap.yml", "policies[0] (e).escalate.max_per_hour", "must be > 0"},
		{"conf.escalate-no-ladder.yml", "policies[0] (e).escalate.ladder", "give at least one rung"},
		{"conf.fractional-duration.yml", "nomad.timeout", "write 1m30s"},
		{"conf.http-config.yml", "prometheus.http_config", "at most one of bearer_token & bearer_token_file"},
		{"conf.invalid-promql.yml", "policies[0] (a).scale_group.query", "want an expression that returns an instant vector or a scalar"},
		{"conf.ladder-action.yml", "policies[0] (e).escalate.ladder[0].action", "valid actions are scale_group, migrate, scale_pool"},
		{"conf.ladder-bad-policy.yml", "policies[0] (e).escalate.policies.scale_group", "valid are none: add a policy with action scale_group"},
		{"conf.ladder-no-policy.yml", "policies[0] (e).escalate.policies", "name the scale_group policy its ladder uses"},
		{"conf.max-below-min.yml", "policies[0] (a).scale_group", "max 2 must be >= min 3"},
		{"conf.migrate-fleet-label.yml", "policies[0] (m).migrate.fleet_query", "they carry action, alertname, datacenter"},
		{"conf.migrate-no-query.yml", "policies[0] (m).migrate.node_query", "want a PromQL template"},
		{"conf.migrate-promql.yml", "policies[0] (m).migrate.node_query", "want an expression that returns an instant vector or a scalar"},
		{"conf.migrate-threshold.yml", "policies[0] (m).migrate.threshold", "must be in (0, 1]"},
		{"conf.negative-actions.yml", "global.max_actions_per_hour", "must be >= 0 (0 means 60)"},
		{"conf.negative-alerts.yml", "global.max_alerts_per_request", "must be >= 0 (0 means 1000)"},
		{"conf.negative-body.yml", "global.max_body_bytes", "must be >= 0 (0 means 1 MiB)"},
		{"conf.negative-duration.yml", "leader.ttl", "want a duration >= 0"},
		{"conf.negative-headroom.yml", "policies[0] (a).scale_group.headroom", "must be a number >= 0"},
		{"conf.no-capacity.yml", "policies[0] (a).scale_group.per_alloc_capacity", "must be > 0 when query is set"},
		{"conf.no-policies.yml", "policies", "at least one policy is needed"},
		{"conf.pool-bounds.yml", "policies[0] (p).scale_pool", "max_step 0 must be >= 1"},
		{"conf.pool-command-empty.yml", "policies[0] (p).scale_pool.target.command", "must name a program"},
		{"conf.pool-headroom.yml", "policies[0] (p).scale_pool.headroom", "must be a number >= 0"},
		{"conf.pool-label.yml", "policies[0] (p).scale_pool.query", `names label "pool", which scale_pool alerts do not carry (they carry action`},
		{"conf.pool-no-capacity.yml", "policies[0] (p).scale_pool.per_node_capacity", "must be > 0 when query is set"},
		{"conf.pool-no-target.yml", "policies[0] (p).scale_pool.target.type", "valid types are nomad_sim, command"},
		{"conf.pool-remove-order.yml", "policies[0] (p).scale_pool.remove_order", "valid orders are empty_first, least_busy"},
		{"conf.pool-scale-in-faster.yml", "policies[0] (p).scale_pool.scale_in_cooldown", "must be at least cooldown 1h0m0s"},
		{"conf.query-params.yml", "prometheus.query_params.query", "valid are extra parameters"},
		{"conf.range-vector.yml", "policies[0] (a).scale_group.query", "returns a matrix; want an instant vector or a scalar"},
		{"conf.scale-in-faster.yml", "policies[0] (a).scale_group.scale_in_cooldown", "must be at least cooldown 10m0s"},
		{"conf.two-blocks.yml", "policies[0] (a)", "give exactly one of scale_group, migrate, scale_pool, escalate (got 2)"},
		{"conf.unknown-field.yml", "global.dryrun", "valid are dry_run, max_actions_per_hour"},
		{"conf.unknown-label.yml", "policies[0] (a).scale_group.query", `names label "jobb", which scale_group alerts do not carry`},
		{"conf.wrong-kind.yml", "global.max_actions_per_hour", "want an integer"},
	})
}

// TestConfigAcceptsWhatAlertsCarry: a query template may name what the
// policy's alerts carry, and alert_labels widens that set.
func TestConfigAcceptsWhatAlertsCarry(t *testing.T) {
	sg := func(extra string) string {
		return "policies: [{name: a, match: {alertname: [X]}, action: scale_group, scale_group: {per_alloc_capacity: 100, min: 1, max: 9, max_step: 1, " + extra + "}}]"
	}
	for _, text := range []string{
		sg(`query: 'max(fleetcast_forecast_peak{namespace="{{.namespace}}",job="{{.job}}",resource="{{.resource}}"})'`),
		strings.Replace(sg(`query: 'max(x{team="{{.team}}"})'`), "action: scale_group,", "action: scale_group, alert_labels: [team],", 1),
	} {
		if _, err := ParseConfig([]byte(text)); err != nil {
			t.Errorf("%s: %v", text, err)
		}
	}
}

// TestDefault: a file that sets nothing but its policies gets Default's
// sections, and a 0 where the field says what 0 means is that default too.
func TestDefault(t *testing.T) {
	text := "global: {max_actions_per_hour: 0}\nleader: {namespace: ops}\n" +
		"policies: [{name: a, match: {alertname: [X]}, action: scale_group, scale_group: {min: 1, max: 2, max_step: 1}}]\n"
	c, err := ParseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.Global != d.Global || c.Nomad != d.Nomad || c.Prometheus.URL != d.Prometheus.URL || c.Prometheus.Timeout != d.Prometheus.Timeout {
		t.Errorf("got %+v %+v %+v, want the defaults %+v %+v %+v", c.Global, c.Nomad, c.Prometheus, d.Global, d.Nomad, d.Prometheus)
	}
	if !c.Prometheus.HTTPConfig.FollowRedirects || !c.Prometheus.HTTPConfig.EnableHTTP2 {
		t.Errorf("http_config lost prometheus/common's defaults: %+v", c.Prometheus.HTTPConfig)
	}
	if want := (LeaderConfig{VariablePath: d.Leader.VariablePath, Namespace: "ops", TTL: d.Leader.TTL}); c.Leader != want {
		t.Errorf("leader %+v, want %+v (the file's namespace, the rest default)", c.Leader, want)
	}
	for _, tc := range []struct{ file, env, want string }{
		{"http://nomad:4646", "http://env:4646", "http://nomad:4646"},
		{"", "http://env:4646", "http://env:4646"},
		{"", "", DefaultNomadAddress},
	} {
		if got := (NomadConfig{Address: tc.file}).AddressOr(tc.env); got != tc.want {
			t.Errorf("address %q, NOMAD_ADDR %q: got %s, want %s", tc.file, tc.env, got, tc.want)
		}
	}
}

// TestDurationsReadAsPrometheusDoes: 1d (which the actuator's own
// duration type used to refuse) and the Go forms the example files use.
func TestDurationsReadAsPrometheusDoes(t *testing.T) {
	text := "global: {dedupe_for: 1d, deployment_retry_for: 1m30s}\nnomad: {timeout: 500ms}\n" +
		"policies: [{name: a, match: {alertname: [X]}, action: scale_group, scale_group: {min: 1, max: 2, max_step: 1, cooldown: 1h30m, scale_in_cooldown: 2h}}]\n"
	c, err := ParseConfig([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want time.Duration
	}{
		{"dedupe_for", time.Duration(c.Global.DedupeFor), 24 * time.Hour},
		{"deployment_retry_for", time.Duration(c.Global.DeploymentRetryFor), 90 * time.Second},
		{"nomad.timeout", time.Duration(c.Nomad.Timeout), 500 * time.Millisecond},
		{"cooldown", time.Duration(c.Policies[0].ScaleGroup.Cooldown), 90 * time.Minute},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

// TestAlertLabelsCoverTheRules keeps alertLabels in step with the rules:
// every label an actionable alert's annotations or labels name is one a
// query template of its policy may use.
func TestAlertLabelsCoverTheRules(t *testing.T) {
	alerts := testenv.AlertRules(t, "../rules/fleetcast-alerts.rules.yml")
	ref := regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	n := 0
	for _, r := range alerts {
		action := r.Labels["action"]
		if action == "" {
			continue
		}
		known := alertLabels(&Policy{Action: action})
		var used []string
		for k := range r.Labels {
			used = append(used, k)
		}
		for _, a := range r.Annotations {
			for _, m := range ref.FindAllStringSubmatch(a, -1) {
				used = append(used, m[1])
			}
		}
		for _, u := range used {
			n++
			found := false
			for _, k := range known {
				found = found || k == u
			}
			if !found {
				t.Errorf("alert %s (%s) carries label %q, which alertLabels does not list", r.Alert, action, u)
			}
		}
	}
	if n == 0 {
		t.Fatal("no labels found in the rules")
	}
}
