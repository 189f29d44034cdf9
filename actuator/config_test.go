package actuator

import (
	"regexp"
	"strings"
	"testing"

	"github.com/fleetcast/fleetcast/internal/testenv"
)

// TestConfigCatchesWhatBreaksAtRunTime: configs that used to pass
// --check-config and then failed every alert.
func TestConfigCatchesWhatBreaksAtRunTime(t *testing.T) {
	sg := func(extra string) string {
		return "policies: [{name: a, match: {alertname: [X]}, action: scale_group, scale_group: {per_alloc_capacity: 100, min: 1, max: 9, max_step: 1, " + extra + "}}]"
	}
	cases := []struct{ name, text, want string }{
		{"invalid PromQL", sg(`query: 'max(fleetcast_forecast_peak{job="{{.job}}"}'`), "scale_group.query: invalid PromQL"},
		{"a range vector", sg(`query: 'fleetcast_forecast_peak{job="{{.job}}"}[5m]'`), "returns a matrix"},
		{"a label the alert cannot carry", sg(`query: 'max(fleetcast_forecast_peak{job="{{.jobb}}"})'`), `names label "jobb", which scale_group alerts do not carry`},
		{"negative headroom", sg(`headroom: -0.2`), "scale_group.headroom: -0.2 must be a number >= 0"},
		{"migrate PromQL", "policies: [{name: m, match: {alertname: [X]}, action: migrate, migrate: {threshold: 0.8, node_query: 'max(x{node_id=\"{{.node_id}}\"}) +'}}]", "migrate.node_query: invalid PromQL"},
		{"pool label", "policies: [{name: p, match: {alertname: [X]}, action: scale_pool, scale_pool: {query: 'sum(x{pool=\"{{.pool}}\"})', per_node_capacity: 1, min: 1, max: 2, max_step: 1, target: {type: nomad_sim}}}]", `names label "pool"`},
		{"pool headroom", "policies: [{name: p, match: {alertname: [X]}, action: scale_pool, scale_pool: {headroom: -1, min: 1, max: 2, max_step: 1, target: {type: nomad_sim}}}]", "scale_pool.headroom"},
	}
	for _, c := range cases {
		_, err := ParseConfig([]byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
	// What the alerts do carry passes, and alert_labels widens the set.
	for _, text := range []string{
		sg(`query: 'max(fleetcast_forecast_peak{namespace="{{.namespace}}",job="{{.job}}",resource="{{.resource}}"})'`),
		strings.Replace(sg(`query: 'max(x{team="{{.team}}"})'`), "action: scale_group,", "action: scale_group, alert_labels: [team],", 1),
	} {
		if _, err := ParseConfig([]byte(text)); err != nil {
			t.Errorf("%s: %v", text, err)
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
